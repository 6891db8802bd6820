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


# --- the ends of the float range --------------------------------------------------------------

NORM_MAGNITUDES = [1e-308, 1e-200, 1e-100, 1e-3, 1.0, 1e3, 1e100, 1e200, 1e300, 1e308]
NORM_PATTERNS = {
    "spread": lambda m: [m, m / 2, -m / 3, m / 7, 0.0],
    "equal": lambda m: [m] * 5,
    "ties": lambda m: [m, m, -m / 2, -m / 2, 0.0],
}
NORM_INPUTS = [
    pytest.param(pattern(m), id=f"{name}-{m:g}")
    for name, pattern in NORM_PATTERNS.items()
    for m in NORM_MAGNITUDES
]


def torch_norm(torch, norm, xs):
    """torch float64's outputs and gradients for ``norm`` on ``xs``, exact even where it overflows.

    Normalising does not change when x is scaled by k and eps by k squared, nor (for
    LayerNorm) when every x moves by the same amount. So LayerNorm's inputs are shifted
    by x_0 (equal inputs become exact zeros, which float64 torch's mean does not always
    give), and past 1e100 (where float64 torch squares into an overflow) the inputs are
    scaled by a power of two near 1 / max|x| (exact), and the input gradient scaled back.
    """
    import torch.nn.functional as tf

    if isinstance(norm, LayerNorm):
        xs = [x - xs[0] for x in xs]
    top = max(abs(x) for x in xs)
    k = 2.0 ** -math.frexp(top)[1] if top > 1e100 else 1.0
    eps = norm.eps if norm.eps is not None else torch.finfo(torch.float64).eps
    z = torch.tensor([x * k for x in xs], dtype=torch.float64, requires_grad=True)
    twin = norm.to_torch()
    if isinstance(norm, LayerNorm):
        y = tf.layer_norm(z, (len(xs),), twin.weight, twin.bias, eps * k * k)
    else:
        y = tf.rms_norm(z, (len(xs),), twin.weight, eps * k * k)
    weights = torch.linspace(0.5, 1.5, len(xs), dtype=torch.float64)
    (y * weights).sum().backward()
    grads = [g * k for g in z.grad.tolist()]
    params = [v for _, p in twin.named_parameters() for v in p.grad.tolist()]
    return y.tolist(), grads, params, weights.tolist()


@pytest.mark.parametrize("make", [lambda: LayerNorm(5), lambda: RMSNorm(5)], ids=["ln", "rms"])
@pytest.mark.parametrize("xs", NORM_INPUTS)
def test_norms_are_exact_from_1e_minus_308_to_1e308(make, xs):
    torch = pytest.importorskip("torch")
    from chaingrad import Value, dot
    from tests.helpers import close

    norm = randomize(make(), seed=3)
    outputs, grads, params, weights = torch_norm(torch, norm, xs)
    vs = [Value(x) for x in xs]
    y = norm(vs)
    for i, (a, b) in enumerate(zip([v.data for v in y], outputs)):
        assert close(a, b, 1e-9), f"output {i}: chaingrad {a!r}, torch {b!r}"
    dot(weights, y).backward()
    scale = max(1.0, *map(abs, grads))  # gradients are compared relative to the largest
    for i, (a, b) in enumerate(zip([v.grad for v in vs], grads)):
        assert abs(a - b) <= 1e-9 * scale, f"input gradient {i}: chaingrad {a!r}, torch {b!r}"
    for i, (a, b) in enumerate(zip([p.grad for p in norm.parameters()], params)):
        assert close(a, b, 1e-9), f"parameter gradient {i}: chaingrad {a!r}, torch {b!r}"


def test_rmsnorm_holds_up_to_the_largest_float():
    y = [v.data for v in RMSNorm(2)([1.7e308, -1.7e308])]
    assert y == [1.0, -1.0]


def test_layernorm_near_1e200_is_not_zeros():
    y = [v.data for v in LayerNorm(3)([1e200, 2e200, 4e200])]
    assert [round(v, 6) for v in y] == [-1.069045, -0.267261, 1.336306]
