"""Attention modules against torch.nn in float64, finite differences, and clear errors.

Linear, Embedding, LayerNorm, RMSNorm, MultiheadAttention (causal and not) and
TransformerBlock: outputs, input gradients and every parameter gradient agree
with their ``to_torch()`` twins to 1e-9; backward agrees with central finite
differences; initialisations follow torch's defaults; bad input names the module.
"""

from __future__ import annotations

import math
import random
import statistics

import pytest

from chaingrad import Value, no_grad, sum_of, toposort
from chaingrad.engine.scopes import record_scopes
from chaingrad.nn import (
    Embedding,
    LayerNorm,
    Linear,
    MultiheadAttention,
    ReLU,
    RMSNorm,
    Sequential,
    StateDictError,
    TransformerBlock,
)

from .attention_helpers import gradcheck_module, randn, randomize
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


# --- Linear ---------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(bias):
    pytest.importorskip("torch")
    assert_matches_torch(Linear(5, 3, bias=bias, seed=1), randn(random.Random(0), 5))


def test_linear_init_is_torchs_uniform_bound():
    lin = Linear(16, 64, seed=0)
    bound = 1 / math.sqrt(16)
    values = [w.data for row in lin.weight for w in row] + [b.data for b in lin.bias]
    assert all(-bound <= v <= bound for v in values)
    assert max(values) > 0.9 * bound and min(values) < -0.9 * bound  # uses the whole range
    assert [v.data for v in Linear(16, 64, seed=0).parameters()] == values
    assert [v.data for v in Linear(16, 64, seed=1).parameters()] != values


def test_linear_output_is_one_dot_node_per_unit():
    lin = Linear(4, 2, bias=False, seed=0)
    y = lin([1.0, 2.0, 3.0, 4.0])
    assert [v.op.name for v in y] == ["dot", "dot"]
    assert [len(v.parents) for v in y] == [8, 8]


# --- Embedding ------------------------------------------------------------------------


def test_embedding_int_returns_the_rows_own_values():
    emb = Embedding(5, 3, seed=0)
    row = emb(2)
    assert all(a is b for a, b in zip(row, emb.weight[2]))
    row.append(Value(0.0))  # a new list each call: the parameter row is untouched
    assert len(emb.weight[2]) == 3
    rows = emb([4, 0, 4])
    assert [[v is w for v, w in zip(r, emb.weight[i])] for r, i in zip(rows, [4, 0, 4])] == [
        [True] * 3
    ] * 3


def test_embedding_value_id_is_a_take_node_reading_the_id_at_build_time():
    emb = Embedding(5, 3, seed=0)
    token = Value(3.0)
    out = emb(token)
    assert [v.op.name for v in out] == ["take"] * 3
    assert [v.data for v in out] == [w.data for w in emb.weight[3]]
    sum(out[j] * (j + 1) for j in range(3)).backward()
    assert [w.grad for w in emb.weight[3]] == [1.0, 2.0, 3.0]
    assert all(w.grad == 0.0 for i in (0, 1, 2, 4) for w in emb.weight[i])
    token.data = 1.0  # the same graph code, another id
    assert [v.data for v in emb(token)] == [w.data for w in emb.weight[1]]


def test_embedding_matches_torch_on_integer_ids():
    torch = pytest.importorskip("torch")
    emb = Embedding(7, 4, seed=3)
    ids = [3, 0, 6, 3]
    rows = emb(ids)
    twin = emb.to_torch()
    t_rows = twin(torch.tensor(ids))
    rng = random.Random(0)
    weights = randn(rng, len(ids), 4)
    loss = sum(w * v for wr, r in zip(weights, rows) for w, v in zip(wr, r))
    loss.backward()
    (t_rows * torch.tensor(weights, dtype=torch.float64)).sum().backward()
    ours = torch.tensor([[v.data for v in r] for r in rows], dtype=torch.float64)
    assert torch.equal(t_rows.detach(), ours)
    grads = torch.tensor([[w.grad for w in row] for row in emb.weight], dtype=torch.float64)
    assert torch.allclose(grads, twin.weight.grad, rtol=0, atol=1e-12)


def test_embedding_init_is_standard_normal():
    values = [v.data for v in Embedding(200, 50, seed=0).parameters()]
    assert abs(statistics.fmean(values)) < 0.03
    assert abs(statistics.pstdev(values) - 1.0) < 0.03


@pytest.mark.parametrize("bad", [5, -1, 2.0, True, "a", None, [1, 9]])
def test_embedding_rejects_bad_ids_naming_the_module_and_range(bad):
    with pytest.raises(ValueError, match=r"Embedding\(5, 3\)"):
        Embedding(5, 3)(bad)


@pytest.mark.parametrize("bad", [5.0, -1.0, 1.5])
def test_embedding_rejects_a_bad_value_id(bad):
    with pytest.raises(ValueError, match=r"Embedding\(5, 3\): token ids must be ints in \[0, 5\)"):
        Embedding(5, 3)(Value(bad))


# --- LayerNorm, RMSNorm -------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_layernorm_matches_torch(bias):
    pytest.importorskip("torch")
    norm = randomize(LayerNorm(6, bias=bias))
    assert_matches_torch(norm, randn(random.Random(1), 6, scale=3.0))


def test_layernorm_starts_as_weight_one_bias_zero_and_normalises():
    norm = LayerNorm(4)
    assert [p.data for p in norm.parameters()] == [1.0] * 4 + [0.0] * 4
    y = [v.data for v in norm([2.0, 4.0, 6.0, 8.0])]
    assert abs(statistics.fmean(y)) < 1e-12
    var = statistics.pvariance([2.0, 4.0, 6.0, 8.0])  # 5: torch's biased variance
    assert abs(statistics.pvariance(y) - var / (var + 1e-5)) < 1e-12


@pytest.mark.parametrize("eps", [None, 1e-5, 0.5])
def test_rmsnorm_matches_torch_including_its_default_eps(eps):
    pytest.importorskip("torch")
    norm = randomize(RMSNorm(5, eps=eps))
    assert_matches_torch(norm, randn(random.Random(2), 5))
    norm.zero_grad()
    # Near zero, eps decides the answer: torch's None is float64's machine epsilon.
    assert_matches_torch(norm, [1e-9, -2e-9, 0.0, 3e-9, 1e-9])


def test_rmsnorm_default_eps_is_float64_machine_epsilon():
    y = RMSNorm(1)([1e-8])
    assert y[0].data == pytest.approx(1e-8 / math.sqrt(1e-16 + 2.220446049250313e-16), rel=1e-12)


@pytest.mark.parametrize("module", [LayerNorm(3), RMSNorm(3), RMSNorm(3, eps=1e-5)])
def test_norms_pass_gradcheck(module):
    assert gradcheck_module(randomize(module, seed=4), [0.3, -1.2, 2.0])


# --- MultiheadAttention ---------------------------------------------------------------


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
    # One softmax per query; its logsumexp node has one parent per key it sees.
    x = randn(random.Random(0), 5, 4)
    for causal, expected in ((True, [1, 2, 3, 4, 5]), (False, [5] * 5)):
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


# --- TransformerBlock -----------------------------------------------------------------


@pytest.mark.parametrize("norm", ["rmsnorm", "layernorm"])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("causal", [True, False])
def test_block_matches_torch(norm, bias, causal):
    pytest.importorskip("torch")
    block = randomize(TransformerBlock(8, 2, causal=causal, norm=norm, bias=bias, seed=4))
    assert_matches_torch(block, randn(random.Random(5), 5, 8))


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_block_activation_matches_torch(activation):
    pytest.importorskip("torch")
    block = randomize(TransformerBlock(4, 2, activation=activation, seed=0))
    assert_matches_torch(block, randn(random.Random(0), 3, 4))


def test_block_default_init_matches_torch_and_passes_gradcheck():
    pytest.importorskip("torch")
    block = TransformerBlock(4, 2, norm="layernorm", bias=True, seed=0)
    x = randn(random.Random(0), 3, 4)
    assert_matches_torch(block, x)
    assert gradcheck_module(block, x)


def test_blocks_stack_in_sequential_and_export():
    pytest.importorskip("torch")
    net = Sequential(TransformerBlock(4, 2, seed=0), TransformerBlock(4, 1, seed=1))
    randomize(net)
    assert_matches_torch(net, randn(random.Random(0), 3, 4))
    mlp = randomize(Sequential(Linear(3, 5, seed=0), ReLU(), Linear(5, 2, seed=1)))
    assert_matches_torch(mlp, [0.5, -1.0, 2.0])


def test_block_is_residual_and_pre_norm():
    block = TransformerBlock(4, 2, seed=0)
    for p in block.mlp.parameters() + block.attn.parameters():
        p.data = 0.0  # both sub-layers output 0: the block is the identity
    x = randn(random.Random(0), 3, 4)
    assert [[v.data for v in y] for y in block(x)] == x


def test_block_save_load_round_trip(tmp_path):
    a = randomize(TransformerBlock(4, 2, norm="layernorm", bias=True, seed=0))
    b = TransformerBlock(4, 2, norm="layernorm", bias=True, seed=1)
    a.save(tmp_path / "block.json")
    b.load(tmp_path / "block.json")
    x = randn(random.Random(0), 3, 4)
    assert [[v.data for v in y] for y in a(x)] == [[v.data for v in y] for y in b(x)]
    with pytest.raises(StateDictError):
        TransformerBlock(4, 2, seed=0).load(tmp_path / "block.json")  # rmsnorm, no bias


def test_block_parameter_names():
    block = TransformerBlock(4, 2, norm="layernorm", bias=True)
    assert [name for name, _ in block.named_parameter_groups()] == [
        "ln_1.weight",
        "ln_1.bias",
        "attn.in_proj_weight",
        "attn.in_proj_bias",
        "attn.out_proj.weight",
        "attn.out_proj.bias",
        "ln_2.weight",
        "ln_2.bias",
        "mlp.steps.0.weight",
        "mlp.steps.0.bias",
        "mlp.steps.2.weight",
        "mlp.steps.2.bias",
    ]


def test_block_scopes_tag_nodes_with_their_modules():
    block = TransformerBlock(4, 2, seed=0)
    with record_scopes() as recorder:
        y = block(randn(random.Random(0), 2, 4))
    assert recorder.scope_of(y[1][0])[0] is block
    proj = y[1][0].parents[1]  # x + mlp(ln_2(x)): the second operand is mlp's output
    assert [type(m).__name__ for m in recorder.scope_of(proj)] == [
        "TransformerBlock",
        "Sequential",
        "Linear",
    ]


def test_exported_block_pickles_with_torch_save(tmp_path):
    torch = pytest.importorskip("torch")
    block = randomize(TransformerBlock(4, 2, seed=0))
    twin = block.to_torch()
    torch.save(twin, tmp_path / "block.pt")
    again = torch.load(tmp_path / "block.pt", weights_only=False)
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    assert type(again).__name__ == "TorchTransformerBlock"
    assert torch.equal(again(x), twin(x))


def test_no_grad_builds_no_graph():
    with no_grad():
        y = TransformerBlock(4, 2, seed=0)(randn(random.Random(0), 2, 4))
    assert all(v.is_leaf for row in y for v in row)


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module, x, message",
    [
        (Linear(3, 2), [1.0, 2.0], r"Linear expects x\[i\] with i of length 3, got length 2"),
        (LayerNorm(3), [1.0], r"LayerNorm expects x\[i\] with i of length 3, got length 1"),
        (RMSNorm(2), [[1.0], [2.0]], r"RMSNorm expects x\[i\] to hold numbers"),
        (
            MultiheadAttention(4, 2),
            [[1.0] * 4, [1.0] * 3],
            r"MultiheadAttention expects x\[t\]\[i\] with i of length 4, got length 3",
        ),
        (MultiheadAttention(4, 2), [], r"MultiheadAttention expects x\[t\]\[i\] with at least one"),
        (
            TransformerBlock(4, 2),
            [1.0, 2.0, 3.0, 4.0],
            r"TransformerBlock expects x\[t\]\[i\]: a list along i, got float",
        ),
        (TransformerBlock(4, 2), [["a"] * 4], "TransformerBlock expects x.* to hold numbers"),
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
        (lambda: TransformerBlock(4, 2, norm="batchnorm"), "norm must be one of"),
        (lambda: TransformerBlock(4, 2, activation="gelu"), "activation must be one of"),
        (lambda: LayerNorm(3, eps=-1.0), "LayerNorm: eps must be a number >= 0"),
        (lambda: Embedding(5, 0), "Embedding: embedding_dim must be a positive int"),
        (lambda: Linear(2.5, 1), "Linear: in_features must be a positive int"),
    ],
)
def test_bad_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()
