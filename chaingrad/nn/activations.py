"""Activation functions as modules, so they can stand in a ``Sequential`` and export to torch.

Each applies its function to every Value of its input, whatever the nesting:
one Value, a vector ``x[i]``, feature maps ``x[c][h][w]``.

>>> from chaingrad.nn import Sequential, Layer, ReLU
>>> net = Sequential(Layer(2, 3, nonlin=False, seed=0), ReLU())
>>> all(v.data >= 0.0 for v in net([1.0, -1.0]))
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaingrad.engine import Value

from .module import Module


def map_values(x: Any, fn: Callable[[Value], Value]) -> Any:
    """``fn`` applied to every Value (or number) in ``x``, keeping its list nesting."""
    if isinstance(x, Value):
        return fn(x)
    if isinstance(x, (list, tuple)):
        return [map_values(item, fn) for item in x]  # nesting depth, not graph depth
    if hasattr(x, "tolist"):
        return map_values(x.tolist(), fn)  # a NumPy array: nested lists of numbers
    return fn(Value(x))


class _Elementwise(Module):
    """Maps ``_apply`` over the input; the torch twin is ``torch.nn.<_torch_name>``."""

    _apply: Callable[[Value], Value]
    _torch_name: str

    def forward(self, x: Any) -> Any:
        return map_values(x, self._apply)

    def _torch_module(self, torch: Any) -> Any:
        return getattr(torch.nn, self._torch_name)()

    def _torch_module_in(self, torch: Any, example_dims: int | None) -> tuple[Any, int | None]:
        return self._torch_module(torch), example_dims  # elementwise: the layout is kept


class ReLU(_Elementwise):
    """``max(0, x)`` for every Value of the input (torch: ``nn.ReLU``)."""

    _apply = staticmethod(Value.relu)
    _torch_name = "ReLU"


class Tanh(_Elementwise):
    """``tanh(x)`` for every Value of the input (torch: ``nn.Tanh``)."""

    _apply = staticmethod(Value.tanh)
    _torch_name = "Tanh"


class Sigmoid(_Elementwise):
    """``1 / (1 + exp(-x))`` for every Value of the input (torch: ``nn.Sigmoid``)."""

    _apply = staticmethod(Value.sigmoid)
    _torch_name = "Sigmoid"


# The activations a Transformer's MLP takes by name (its torch twin has the same class name).
MLP_ACTIVATIONS: dict[str, type[_Elementwise]] = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}


class LeakyReLU(Module):
    """``x`` if positive, else ``negative_slope * x`` (torch: ``nn.LeakyReLU``)."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = float(negative_slope)

    def forward(self, x: Any) -> Any:
        slope = self.negative_slope
        return map_values(x, lambda v: v.leaky_relu(slope))

    def _torch_module(self, torch: Any) -> Any:
        return torch.nn.LeakyReLU(self.negative_slope)

    def _torch_module_in(self, torch: Any, example_dims: int | None) -> tuple[Any, int | None]:
        return self._torch_module(torch), example_dims  # elementwise: the layout is kept

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"
