"""Every module's ``to_torch()`` twin takes the batch a torch user passes, and unbatched calls.

One row per exported module class: the twin called once on a batch
(``(B, features)``, ``(B, C, H, W)``, ``(B, C, L)``, ``(B, T, features)``,
``(B, T)`` ids) gives, for each example, what chaingrad gives on that example
alone (to 1e-9), and the unbatched call works where torch allows it. A test
walks the package, so a new exported module without a row here fails.
(Recurrent layers and cells, which return states shaped as torch's, are
checked the same way in ``test_recurrent.py``.)
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable
from typing import Any

import pytest

import chaingrad.nn as cnn
from chaingrad.nn import (
    GPT,
    MLP,
    AvgPool1d,
    AvgPool2d,
    Conv1d,
    Conv2d,
    Dropout,
    Embedding,
    Flatten,
    Layer,
    LayerNorm,
    LeakyReLU,
    Linear,
    MaxPool1d,
    MaxPool2d,
    MultiheadAttention,
    Neuron,
    ReLU,
    RMSNorm,
    Sequential,
    Sigmoid,
    Tanh,
    TransformerBlock,
)
from chaingrad.nn.module import Module

from .helpers import randn, randomize
from .torch_oracle import assert_batch_matches_examples, flatten

B = 3  # examples per batch


def _attend(causal: bool) -> Callable[[Any, Any], Any]:
    """torch's MultiheadAttention as self-attention (its causal mask is the caller's to pass)."""

    def call(mha: Any, x: Any) -> Any:
        T = x.shape[-2]
        mask = x.new_ones(T, T).bool().triu(1) if causal else None
        return mha(x, x, x, attn_mask=mask, need_weights=False)[0]

    return call


def _plain(twin: Any, x: Any) -> Any:
    return twin(x)


# (name, module factory, one example of shape..., call of the twin, ids?)
Case = tuple[str, Callable[[], Any], list[int], Callable[[Any, Any], Any], bool]
CASES: list[Case] = [
    ("Neuron", lambda: Neuron(4, seed=0), [4], _plain, False),
    ("Layer", lambda: Layer(4, 3, seed=0), [4], _plain, False),
    ("MLP", lambda: MLP(4, [5, 2], seed=0), [4], _plain, False),
    ("Linear", lambda: randomize(Linear(4, 3, seed=0)), [4], _plain, False),
    ("Dropout", lambda: Sequential(Linear(4, 3, seed=0), Dropout(0.5)).eval(), [4], _plain, False),
    ("ReLU", lambda: Sequential(Linear(4, 3, seed=0), ReLU()), [4], _plain, False),
    ("Tanh", lambda: Sequential(Linear(4, 3, seed=0), Tanh()), [4], _plain, False),
    ("Sigmoid", lambda: Sequential(Linear(4, 3, seed=0), Sigmoid()), [4], _plain, False),
    ("LeakyReLU", lambda: Sequential(Linear(4, 3, seed=0), LeakyReLU(0.1)), [4], _plain, False),
    ("LayerNorm", lambda: randomize(LayerNorm(5)), [5], _plain, False),
    ("RMSNorm", lambda: randomize(RMSNorm(5)), [5], _plain, False),
    ("Conv2d", lambda: Conv2d(2, 3, 3, padding=1, seed=0), [2, 5, 5], _plain, False),
    ("Conv1d", lambda: Conv1d(2, 3, 3, stride=2, seed=0), [2, 9], _plain, False),
    ("MaxPool2d", lambda: MaxPool2d(2), [2, 4, 4], _plain, False),
    ("AvgPool2d", lambda: AvgPool2d(2, stride=1), [2, 4, 4], _plain, False),
    ("MaxPool1d", lambda: MaxPool1d(3, stride=2), [2, 9], _plain, False),
    ("AvgPool1d", lambda: AvgPool1d(2), [2, 8], _plain, False),
    (
        "Flatten",
        lambda: Sequential(Conv2d(1, 2, 2, seed=0), Flatten(), Linear(18, 2, seed=1)),
        [1, 4, 4],
        _plain,
        False,
    ),
    (
        "Sequential",
        lambda: Sequential(Conv1d(1, 2, 3, seed=0), ReLU(), MaxPool1d(2), Flatten(), Layer(12, 2)),
        [1, 14],
        _plain,
        False,
    ),
    (
        "MultiheadAttention",
        lambda: randomize(MultiheadAttention(4, 2, seed=0)),
        [5, 4],
        _attend(False),
        False,
    ),
    (
        "MultiheadAttention causal",
        lambda: randomize(MultiheadAttention(4, 2, causal=True, seed=0)),
        [5, 4],
        _attend(True),
        False,
    ),
    ("TransformerBlock", lambda: randomize(TransformerBlock(4, 2, seed=0)), [5, 4], _plain, False),
    ("Embedding", lambda: Embedding(7, 3, seed=0), [5], _plain, True),
    ("GPT", lambda: GPT(7, 6, 4, 2, 1, seed=0), [5], _plain, True),
]

# Checked in test_recurrent.py (their outputs are (outputs, states) shaped as torch's).
ELSEWHERE = {"RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"}


def _example(shape: list[int], rng: random.Random, ids: bool) -> Any:
    if ids:
        return [rng.randrange(7) for _ in range(shape[0])]
    return randn(rng, *shape)


@pytest.mark.parametrize("name, make, shape, call, ids", CASES, ids=[c[0] for c in CASES])
def test_the_twin_on_a_batch_gives_each_examples_output(name, make, shape, call, ids):
    torch = pytest.importorskip("torch")
    module = make()
    rng = random.Random(len(name))
    examples = [_example(shape, rng, ids) for _ in range(B)]
    assert_batch_matches_examples(module, examples, call, ids=ids)
    # Unbatched, as torch allows it for every one of these layers: one example alone.
    twin = module.to_torch()
    dtype = torch.long if ids else torch.float64
    with torch.no_grad():
        one = flatten(call(twin, torch.tensor(examples[0], dtype=dtype)))
    ours = flatten(module(examples[0]))
    assert len(one) == len(ours)
    assert all(abs(a.data - t.item()) <= 1e-9 * max(1.0, abs(a.data)) for a, t in zip(ours, one))


def test_every_exported_module_has_a_batch_case():
    exported = set()
    for name, obj in vars(cnn).items():
        if (
            inspect.isclass(obj)
            and issubclass(obj, Module)
            and obj is not Module
            and not name.startswith("_")
            and "_torch_module" in {n for k in obj.__mro__[:-1] for n in vars(k)}
            and not inspect.isabstract(obj)
        ):
            exported.add(name)
    covered = {case[0].split()[0] for case in CASES} | ELSEWHERE
    assert exported - covered == set(), f"no batch case for {sorted(exported - covered)}"


def test_the_twin_is_in_the_models_mode():
    pytest.importorskip("torch")
    model = Sequential(Linear(4, 3, seed=0), Dropout(0.5), Linear(3, 2, seed=1))
    assert model.to_torch().training and all(m.training for m in model.to_torch().modules())
    model.eval()
    twin = model.to_torch()
    assert not any(m.training for m in twin.modules())  # its Dropout passes inputs through
    model.steps[1].train()  # a mixed model: each Dropout exports in its own mode
    assert model.to_torch()[1].training
