"""``Linear``: ``y = W x + b`` on one vector, as ``torch.nn.Linear``.

Every module of :mod:`chaingrad.nn` works on one example (no batch
dimension): a *vector* is a list of Values ``x[i]``, a *sequence* a list of T
vectors ``x[t][i]``. Numbers are accepted and become Values once per call.
Parameters are nested lists of Values laid out as PyTorch lays out its
tensors (``weight[out][in]``) and start from PyTorch's default
initialisation, so ``to_torch()`` copies them one to one. :func:`affine` is
the product the other layers (attention's projections) reuse.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

from chaingrad.engine import Value, dots

from ._checks import Vector, as_vector, check_int
from ._memory import check_parameters
from .init import Seed, make_rng
from .module import Module


def affine(weight: list[Vector], bias: Vector | None, x: Vector) -> Vector:
    """``W x + b``: output ``o`` is ``dot(weight[o], x) + bias[o]``, one dot node each."""
    outputs = dots(weight, x)
    if bias is None:
        return outputs
    return [y + b for y, b in zip(outputs, bias)]


def linear_parameters(in_features: int, out_features: int, bias: bool) -> int:
    """How many parameters ``Linear(in_features, out_features, bias)`` has."""
    return out_features * (in_features + (1 if bias else 0))


def uniform_matrix(rng: Any, rows: int, cols: int, bound: float) -> list[Vector]:
    """``rows`` x ``cols`` new Values, each uniform in ``(-bound, bound)``."""
    return [[Value(rng.uniform(-bound, bound)) for _ in range(cols)] for _ in range(rows)]


class Linear(Module):
    """``y = W x + b`` on one vector: ``W`` is ``weight[out][in]``, as ``torch.nn.Linear``.

    Each output is a single ``dot`` node (plus one ``+`` for the bias).
    Initialisation as torch: ``W`` and ``b`` uniform in ``(-1/sqrt(in), 1/sqrt(in))``.

    >>> lin = Linear(3, 2, seed=0)
    >>> lin
    Linear(in_features=3, out_features=2, bias=True)
    >>> len(lin([1.0, 2.0, 3.0]))
    2
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, *, seed: Seed = None
    ) -> None:
        self.in_features = check_int(in_features, "Linear: in_features")
        self.out_features = check_int(out_features, "Linear: out_features")
        check_parameters("Linear", linear_parameters(in_features, out_features, bias))
        rng = make_rng(seed)
        bound = 1.0 / math.sqrt(in_features)
        self.weight = uniform_matrix(rng, out_features, in_features, bound)
        self.bias = (
            [Value(rng.uniform(-bound, bound)) for _ in range(out_features)] if bias else None
        )

    def forward(self, x: Sequence[Value | float]) -> Vector:
        return affine(self.weight, self.bias, as_vector(x, self.in_features, "Linear"))

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )

    def _torch_module(self, torch: Any) -> Any:
        return torch.nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        yield "weight", self.weight
        if self.bias is not None:
            yield "bias", self.bias
