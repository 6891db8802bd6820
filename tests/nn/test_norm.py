"""LayerNorm and RMSNorm against torch.nn in float64, gradcheck, initialisation and errors."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from chaingrad.nn import (
    LayerNorm,
    RMSNorm,
)

from .helpers import gradcheck_module, randn, randomize
from .torch_oracle import assert_matches_torch


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


@pytest.mark.parametrize(
    "module, x, message",
    [
        (LayerNorm(3), [1.0], r"LayerNorm expects x\[i\] with i of length 3, got length 1"),
        (RMSNorm(2), [[1.0], [2.0]], r"RMSNorm expects x\[i\] to hold numbers"),
    ],
)
def test_bad_input_names_module_expected_and_got(module, x, message):
    with pytest.raises(ValueError, match=message):
        module(x)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: LayerNorm(3, eps=-1.0), "LayerNorm: eps must be a number >= 0"),
    ],
)
def test_bad_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()
