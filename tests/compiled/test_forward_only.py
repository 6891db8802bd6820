"""jit(..., grad=False): a forward-only program, for inference.

The replay gives the eager forward pass's numbers, generates no backward code,
leaves every ``p.grad`` alone, and refuses what it cannot do (train).
"""

from __future__ import annotations

import random
import re

import pytest

from chaingrad import Value, jit
from chaingrad.nn import MLP
from chaingrad.nn import functional as F


def batch(n, seed):
    rng = random.Random(seed)
    return [[rng.uniform(-1.0, 1.0) for _ in range(3)] for _ in range(n)]


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_a_forward_only_replay_equals_eager_and_touches_no_gradient(backend):
    if backend == "numpy":
        pytest.importorskip("numpy")
    model = MLP(3, [6, 2], seed=0)
    for p in model.parameters():
        p.grad = 0.25  # whatever was there stays

    def forward(xb):
        outs = [model(x) for x in xb]
        return F.cross_entropy(outs, [0] * len(xb)), outs

    step = jit(forward, params=model, backend=backend, grad=False)
    for seed in range(3):  # the trace, then replays
        xb = batch(5, seed)
        loss, outs = step(xb)
        eager_outs = [model(x) for x in xb]
        eager_loss = F.cross_entropy(eager_outs, [0] * 5).data
        assert abs(loss - eager_loss) <= 1e-12 * abs(eager_loss)
        for row, eager_row in zip(outs, eager_outs):
            for a, b in zip(row, eager_row):
                assert abs(a - b.data) <= 1e-12 * max(1.0, abs(b.data))
    assert all(p.grad == 0.25 for p in model.parameters())
    assert not step.program.grad
    # The same step with gradients generates more code: the backward pass.
    trained = jit(forward, params=model, backend=backend)
    trained(batch(5, 0))
    assert len(trained.source) > len(step.source)
    # a chain-rule line: g5 += ..., g5 = a * b, gy3 = GR[...] (zeroed gradients do not count)
    gradient_line = re.compile(r"^\s+(g\w+ (\+= |= .*\*)|gy\w* = )", re.MULTILINE)
    assert gradient_line.search(trained.source) and not gradient_line.search(step.source)


def test_a_forward_only_step_reads_the_current_weights():
    w = Value(2.0)
    step = jit(lambda x: (w * x).tanh(), params=[w], grad=False)
    first = step(0.5)
    w.data = -1.0
    assert step(0.5) == Value(-0.5).tanh().data
    assert first != step(0.5) and w.grad == 0.0


def test_grad_false_refuses_an_optimizer_and_a_non_bool():
    from chaingrad.nn.optim import SGD

    w = Value(1.0)
    with pytest.raises(ValueError, match="grad=False compiles the forward pass only"):
        jit(lambda x: w * x, params=[w], optimizer=SGD([w], lr=0.1), grad=False)
    with pytest.raises(TypeError, match="grad must be True or False, got 0"):
        jit(lambda x: w * x, params=[w], grad=0)
