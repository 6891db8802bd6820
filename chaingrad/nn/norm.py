"""Normalisation of one vector: ``LayerNorm`` and ``RMSNorm``, as their ``torch.nn`` namesakes.

* ``LayerNorm(dim)``: ``(x - mean) / sqrt(var + eps) * w + b``;
* ``RMSNorm(dim)``: ``x / sqrt(mean(x^2) + eps) * w``.

:func:`make_norm` builds one by name, as the Transformer block and the GPT
take it (``norm="layernorm"`` or ``"rmsnorm"``).
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from chaingrad.engine import Value, dot, sum_of

from ._checks import Vector, as_vector, check_int
from .module import Module

NORMS = ("rmsnorm", "layernorm")


class LayerNorm(Module):
    """Layer normalisation over one vector of ``dim`` Values, as ``torch.nn.LayerNorm(dim)``.

    .. math::  y_i = \\frac{x_i - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}} \\, w_i + b_i,
       \\quad \\mu = \\frac{1}{n}\\sum_i x_i,
       \\quad \\sigma^2 = \\frac{1}{n}\\sum_i (x_i - \\mu)^2

    (the biased variance, as torch). ``weight`` starts at 1 and ``bias`` at 0;
    ``bias=False`` leaves the bias out.

    >>> ln = LayerNorm(3)
    >>> [round(v.data, 4) for v in ln([1.0, 2.0, 3.0])]
    [-1.2247, 0.0, 1.2247]
    """

    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = True) -> None:
        self.dim = check_int(dim, "LayerNorm: dim")
        self.eps = check_eps(eps, "LayerNorm")
        self.weight = [Value(1.0) for _ in range(dim)]
        self.bias = [Value(0.0) for _ in range(dim)] if bias else None

    def forward(self, x: Sequence[Value | float]) -> Vector:
        x = as_vector(x, self.dim, "LayerNorm")
        n = self.dim
        mean = sum_of(x) / n
        centered = [xi - mean for xi in x]
        variance = dot(centered, centered) / n  # dot(c, c) = sum of squares, one node
        inv_std = (variance + self.eps) ** -0.5
        normalized = [c * inv_std for c in centered]
        if self.bias is None:
            return [u * w for u, w in zip(normalized, self.weight)]
        return [u * w + b for u, w, b in zip(normalized, self.weight, self.bias)]

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
    ``2.22e-16`` (``sys.float_info.epsilon``).

    >>> rms = RMSNorm(2)
    >>> [round(v.data, 4) for v in rms([3.0, 4.0])]
    [0.8485, 1.1314]
    """

    def __init__(self, dim: int, eps: float | None = None) -> None:
        self.dim = check_int(dim, "RMSNorm: dim")
        self.eps = None if eps is None else check_eps(eps, "RMSNorm")
        self.weight = [Value(1.0) for _ in range(dim)]

    def forward(self, x: Sequence[Value | float]) -> Vector:
        x = as_vector(x, self.dim, "RMSNorm")
        eps = sys.float_info.epsilon if self.eps is None else self.eps
        mean_square = dot(x, x) / self.dim
        inv_rms = (mean_square + eps) ** -0.5
        return [xi * inv_rms * w for xi, w in zip(x, self.weight)]

    def extra_repr(self) -> str:
        return f"({self.dim},), eps={self.eps}"

    def _torch_module(self, torch: Any) -> Any:
        return torch.nn.RMSNorm(self.dim, eps=self.eps)

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        yield "weight", self.weight


def check_eps(eps: Any, who: str) -> float:
    """``float(eps)`` if it is a number >= 0, else a ValueError naming ``who``."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not float(eps) >= 0.0:
        raise ValueError(f"{who}: eps must be a number >= 0, got {eps!r}")
    return float(eps)


def make_norm(norm: str, dim: int, bias: bool, who: str) -> LayerNorm | RMSNorm:
    """``"layernorm"`` -> ``LayerNorm(dim, bias=bias)``, ``"rmsnorm"`` -> ``RMSNorm(dim)``."""
    if norm == "layernorm":
        return LayerNorm(dim, bias=bias)
    if norm == "rmsnorm":
        return RMSNorm(dim)
    raise ValueError(f"{who}: norm must be one of {NORMS}, got {norm!r}")
