"""Normalisation of one vector: ``LayerNorm`` and ``RMSNorm``, as their ``torch.nn`` namesakes.

* ``LayerNorm(dim)``: ``(x - mean) / sqrt(var + eps) * w + b``;
* ``RMSNorm(dim)``: ``x / sqrt(mean(x^2) + eps) * w``.

:func:`make_norm` builds one by name, as the Transformer block and the GPT
take it (``norm="layernorm"`` or ``"rmsnorm"``).
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from chaingrad.engine import Value, dot, max_of

from ._checks import Vector, as_vector, check_int
from ._memory import check_parameters
from .module import Module

NORMS = ("rmsnorm", "layernorm")


class LayerNorm(Module):
    """Layer normalisation over one vector of ``dim`` Values, as ``torch.nn.LayerNorm(dim)``.

    .. math::  y_i = \\frac{x_i - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}} \\, w_i + b_i,
       \\quad \\mu = \\frac{1}{n}\\sum_i x_i,
       \\quad \\sigma^2 = \\frac{1}{n}\\sum_i (x_i - \\mu)^2

    (the biased variance, as torch). ``weight`` starts at 1 and ``bias`` at 0;
    ``bias=False`` leaves the bias out. The centred inputs are scaled into
    [-1, 1] before they are squared, so inputs near 1e200 or 1e-200 are
    normalised as exactly as inputs near 1 (float64 torch overflows there),
    and equal inputs give exactly the bias; only differences ``x_i - x_j``
    beyond the float range (inputs of both signs near 1.8e308) give nan.

    >>> ln = LayerNorm(3)
    >>> [round(v.data, 4) for v in ln([1.0, 2.0, 3.0])]
    [-1.2247, 0.0, 1.2247]
    """

    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = True) -> None:
        self.dim = check_int(dim, "LayerNorm: dim")
        self.eps = check_eps(eps, "LayerNorm")
        check_parameters("LayerNorm", norm_parameters("layernorm", dim, bias))
        self.weight = [Value(1.0) for _ in range(dim)]
        self.bias = [Value(0.0) for _ in range(dim)] if bias else None

    def forward(self, x: Sequence[Value | float]) -> Vector:
        x = as_vector(x, self.dim, "LayerNorm")
        n = self.dim
        # x - mean(x), computed as d - mean(d) with d = x - x_0: the same numbers, but equal
        # inputs give exact zeros (mean(x) itself would round, leaving noise to normalise),
        # and the mean is a sum of d_i / n, which does not overflow.
        shifted = [xi - x[0] for xi in x]
        mean = dot(shifted, [1.0 / n] * n)
        centered = [d - mean for d in shifted]
        # Scale before squaring: u = (x - mean) / s with s = max(|x_i - mean|, sqrt(eps)).
        # Then y = u / sqrt(mean(u^2) + eps / s^2), and that sum is between 1/n and 2:
        # inputs near 1e200 (whose squares overflow) and near 1e-200 (whose squares
        # vanish) are normalised as exactly as inputs near 1.
        r = _inverse_scale(centered, self.eps)
        u = [c * r for c in centered]
        variance = dot(u, u) / n  # dot(u, u) = sum of squares, one node
        normalized = _times_inverse_sqrt(u, variance + self.eps * r * r)
        if self.bias is None:
            return [v * w for v, w in zip(normalized, self.weight)]
        return [v * w + b for v, w, b in zip(normalized, self.weight, self.bias)]

    def extra_repr(self) -> str:
        return f"({self.dim},), eps={self.eps}, bias={self.bias is not None}"

    def _torch_module(self, torch: Any) -> Any:
        return torch.nn.LayerNorm(self.dim, eps=self.eps, bias=self.bias is not None)

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        yield "weight", self.weight
        if self.bias is not None:
            yield "bias", self.bias


class RMSNorm(Module):
    """Root-mean-square normalisation over one vector, as ``torch.nn.RMSNorm(dim)``.

    .. math::  y_i = \\frac{x_i}{\\sqrt{\\frac{1}{n}\\sum_j x_j^2 + \\epsilon}} \\, w_i

    No mean is subtracted and there is no bias (Zhang & Sennrich 2019; used by
    Llama and microgpt). ``weight`` starts at 1. ``eps=None`` means what torch
    means by it: the machine epsilon of the input's float type, here float64's
    ``2.22e-16`` (``sys.float_info.epsilon``). As in :class:`LayerNorm`, the
    inputs are scaled into [-1, 1] before they are squared.

    >>> rms = RMSNorm(2)
    >>> [round(v.data, 4) for v in rms([3.0, 4.0])]
    [0.8485, 1.1314]
    """

    def __init__(self, dim: int, eps: float | None = None) -> None:
        self.dim = check_int(dim, "RMSNorm: dim")
        self.eps = None if eps is None else check_eps(eps, "RMSNorm")
        check_parameters("RMSNorm", norm_parameters("rmsnorm", dim, False))
        self.weight = [Value(1.0) for _ in range(dim)]

    def forward(self, x: Sequence[Value | float]) -> Vector:
        x = as_vector(x, self.dim, "RMSNorm")
        eps = sys.float_info.epsilon if self.eps is None else self.eps
        # Scale before squaring, as LayerNorm: u = x / s with s = max(|x_i|, sqrt(eps)).
        r = _inverse_scale(x, eps)
        u = [xi * r for xi in x]
        mean_square = dot(u, u) / self.dim
        normalized = _times_inverse_sqrt(u, mean_square + eps * r * r)
        return [v * w for v, w in zip(normalized, self.weight)]

    def extra_repr(self) -> str:
        return f"({self.dim},), eps={self.eps}"

    def _torch_module(self, torch: Any) -> Any:
        return torch.nn.RMSNorm(self.dim, eps=self.eps)

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        yield "weight", self.weight


def _inverse_scale(x: Vector, eps: float) -> Value:
    """``1 / max(|x_1|, ..., |x_n|, sqrt(eps))``: ``x`` times it lies in [-1, 1].

    With this scale the normalising sum is between 1/n and 2 whatever the
    magnitude of ``x``, so nothing squares into an overflow or underflow.
    (With ``eps = 0`` and all of ``x`` zero there is no scale: a division by zero.)
    """
    return 1.0 / max_of([*(xi.abs() for xi in x), math.sqrt(eps)])


def _times_inverse_sqrt(u: Vector, total: Value) -> Vector:
    """``u_i / sqrt(total)`` for every i: one power node, then a product each."""
    inverse = total**-0.5
    return [ui * inverse for ui in u]


def check_eps(eps: Any, who: str) -> float:
    """``float(eps)`` if it is a number >= 0, else a ValueError naming ``who``."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not float(eps) >= 0.0:
        raise ValueError(f"{who}: eps must be a number >= 0, got {eps!r}")
    return float(eps)


def norm_parameters(norm: str, dim: int, bias: bool) -> int:
    """How many parameters the norm ``make_norm(norm, dim, bias)`` builds has."""
    return dim * (2 if norm == "layernorm" and bias else 1)


def check_norm(norm: Any, who: str) -> str:
    """``norm`` if it names a norm (``"rmsnorm"``, ``"layernorm"``), else a ValueError."""
    if norm not in NORMS:
        raise ValueError(f"{who}: norm must be one of {NORMS}, got {norm!r}")
    return str(norm)


def make_norm(norm: str, dim: int, bias: bool, who: str) -> LayerNorm | RMSNorm:
    """``"layernorm"`` -> ``LayerNorm(dim, bias=bias)``, ``"rmsnorm"`` -> ``RMSNorm(dim)``."""
    if check_norm(norm, who) == "layernorm":
        return LayerNorm(dim, bias=bias)
    return RMSNorm(dim)
