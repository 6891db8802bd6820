"""TransformerBlock against its torch twin in float64: norms, activations, residuals, errors."""

from __future__ import annotations

import random

import pytest

from chaingrad import no_grad
from chaingrad.engine.scopes import record_scopes
from chaingrad.nn import (
    Linear,
    ReLU,
    Sequential,
    StateDictError,
    TransformerBlock,
)

from .helpers import gradcheck_module, randn, randomize
from .torch_oracle import assert_matches_torch


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


@pytest.mark.parametrize(
    "module, x, message",
    [
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
        (lambda: TransformerBlock(4, 2, norm="batchnorm"), "norm must be one of"),
        (lambda: TransformerBlock(4, 2, activation="gelu"), "activation must be one of"),
    ],
)
def test_bad_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()
