"""Linear against torch.nn.Linear in float64: outputs, gradients, initialisation, nodes, errors."""

from __future__ import annotations

import math
import random

import pytest

from chaingrad.nn import (
    Linear,
)

from .helpers import randn
from .torch_oracle import assert_matches_torch


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


@pytest.mark.parametrize(
    "module, x, message",
    [
        (Linear(3, 2), [1.0, 2.0], r"Linear expects x\[i\] with i of length 3, got length 2"),
    ],
)
def test_bad_input_names_module_expected_and_got(module, x, message):
    with pytest.raises(ValueError, match=message):
        module(x)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Linear(2.5, 1), "Linear: in_features must be a positive int"),
    ],
)
def test_bad_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()
