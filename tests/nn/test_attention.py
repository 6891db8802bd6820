"""MultiheadAttention against torch.nn.MultiheadAttention in float64 (causal and not): outputs,
every gradient, the attention weights, the nodes it builds, initialisation and errors.
"""

from __future__ import annotations

import math
import random

import pytest

from chaingrad import sum_of, toposort
from chaingrad.nn import (
    MultiheadAttention,
)

from .helpers import gradcheck_module, randn, randomize
from .torch_oracle import assert_matches_torch


def causal_mask(torch, T):
    return torch.ones(T, T, dtype=torch.bool).triu(1)


def attend(causal):
    """How to call a torch nn.MultiheadAttention as our self-attention (output only)."""

    def call(mha, x):
        T = x.shape[-2]
        mask = x.new_ones(T, T).bool().triu(1) if causal else None  # True: may not attend
        return mha(x, x, x, attn_mask=mask, need_weights=False)[0]

    return call


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("heads", [1, 2, 4])
def test_attention_matches_torch(causal, bias, heads):
    pytest.importorskip("torch")
    attn = randomize(MultiheadAttention(8, heads, causal=causal, bias=bias, seed=3))
    assert_matches_torch(attn, randn(random.Random(heads), 5, 8), call=attend(causal))


@pytest.mark.parametrize("causal", [False, True])
def test_attention_with_torchs_own_init_matches_torch(causal):
    pytest.importorskip("torch")
    attn = MultiheadAttention(6, 3, causal=causal, seed=0)
    assert_matches_torch(attn, randn(random.Random(0), 4, 6), call=attend(causal))


def test_attention_on_one_position_attends_to_itself():
    pytest.importorskip("torch")
    attn = randomize(MultiheadAttention(4, 2, causal=True, seed=0))
    assert_matches_torch(attn, [[0.5, -1.0, 2.0, 0.1]], call=attend(True))
    assert attn.attention_weights == [[[1.0]], [[1.0]]]


@pytest.mark.parametrize("causal", [False, True])
def test_attention_weights_are_torchs_and_each_row_sums_to_one(causal):
    torch = pytest.importorskip("torch")
    attn = randomize(MultiheadAttention(8, 2, causal=causal, seed=5), scale=1.0)
    x = randn(random.Random(7), 6, 8)
    attn(x)
    weights = attn.attention_weights
    assert len(weights) == 2 and all(len(w) == 6 and all(len(r) == 6 for r in w) for w in weights)
    for head in weights:
        for t, row in enumerate(head):
            assert math.isclose(sum(row), 1.0, abs_tol=1e-12)
            assert all(w >= 0.0 for w in row)
            if causal:
                assert row[t + 1 :] == [0.0] * (5 - t)
    t_x = torch.tensor(x, dtype=torch.float64)
    mask = causal_mask(torch, 6) if causal else None
    _, t_weights = attn.to_torch()(t_x, t_x, t_x, attn_mask=mask, average_attn_weights=False)
    assert torch.allclose(t_weights, torch.tensor(weights, dtype=torch.float64), atol=1e-12)


def test_causal_attention_never_looks_ahead():
    x = randn(random.Random(0), 4, 4)
    changed = [row[:] for row in x]
    changed[3] = [9.0, -9.0, 9.0, -9.0]
    for causal in (True, False):
        attn = MultiheadAttention(4, 2, causal=causal, seed=1)
        before = [[v.data for v in y] for y in attn(x)]
        after = [[v.data for v in y] for y in attn(changed)]
        assert (before[:3] == after[:3]) is causal
        assert before[3] != after[3]


def test_causal_attention_builds_only_the_visible_scores():
    # One softmax per query; its two logsumexp nodes (the shift, then the exact
    # log-sum of the shifted scores) have one parent per key it sees.
    x = randn(random.Random(0), 5, 4)
    for causal, expected in ((True, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]), (False, [5] * 10)):
        attn = MultiheadAttention(4, 1, causal=causal, seed=0)
        nodes = toposort(sum_of([v for y in attn(x) for v in y]))
        keys = [len(n.parents) for n in nodes if n.op is not None and n.op.name == "logsumexp"]
        assert sorted(keys) == expected


def test_attention_init_is_torchs():
    attn = MultiheadAttention(16, 4, seed=0)
    bound = math.sqrt(6 / (16 + 48))  # xavier_uniform on the (3E, E) in_proj_weight
    w = [v.data for row in attn.in_proj_weight for v in row]
    assert len(attn.in_proj_weight) == 48 and all(len(r) == 16 for r in attn.in_proj_weight)
    assert all(abs(v) <= bound for v in w) and max(map(abs, w)) > 0.95 * bound
    assert [b.data for b in attn.in_proj_bias] == [0.0] * 48
    assert [b.data for b in attn.out_proj.bias] == [0.0] * 16
    out_w = [v.data for row in attn.out_proj.weight for v in row]
    assert all(abs(v) <= 1 / math.sqrt(16) for v in out_w)


def test_attention_nodes_one_dot_per_projection_score_and_mix():
    attn = MultiheadAttention(4, 2, bias=False, seed=0)
    y = attn([[1.0, 2.0, 3.0, 4.0]])
    assert y[0][0].op.name == "dot"  # out_proj row: one node
    mixed = y[0][0].parents[4:]  # inputs of out_proj: the heads' outputs
    assert [v.op.name for v in mixed] == ["dot"] * 4  # softmax-weighted sums of values


@pytest.mark.parametrize("causal", [False, True])
def test_attention_passes_gradcheck(causal):
    attn = randomize(MultiheadAttention(4, 2, causal=causal, seed=0), seed=1)
    assert gradcheck_module(attn, randn(random.Random(3), 3, 4))


def test_attention_state_dict_names_are_torchs():
    pytest.importorskip("torch")
    attn = MultiheadAttention(4, 2)
    assert list(attn.state_dict()) == list(attn.to_torch().state_dict())


@pytest.mark.parametrize(
    "module, x, message",
    [
        (
            MultiheadAttention(4, 2),
            [[1.0] * 4, [1.0] * 3],
            r"MultiheadAttention expects x\[t\]\[i\] with i of length 4, got length 3",
        ),
        (MultiheadAttention(4, 2), [], r"MultiheadAttention expects x\[t\]\[i\] with at least one"),
    ],
)
def test_bad_input_names_module_expected_and_got(module, x, message):
    with pytest.raises(ValueError, match=message):
        module(x)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: MultiheadAttention(6, 4), r"embed_dim \(6\) must be divisible by num_heads \(4\)"),
        (lambda: MultiheadAttention(0, 1), "embed_dim must be a positive int"),
    ],
)
def test_bad_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()
