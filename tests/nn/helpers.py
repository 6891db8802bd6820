"""Helpers for the nn tests: random data, and gradcheck over a module's weights."""

from __future__ import annotations

import random
from typing import Any

from chaingrad import Value, dot, gradcheck

from .torch_oracle import flatten


def randn(rng: random.Random, *shape: int, scale: float = 1.0) -> Any:
    """Nested lists of N(0, scale^2) floats of the given shape."""
    if len(shape) == 1:
        return [rng.gauss(0.0, scale) for _ in range(shape[0])]
    return [randn(rng, *shape[1:], scale=scale) for _ in range(shape[0])]


def randomize(module: Any, seed: int = 0, scale: float = 0.5) -> Any:
    """Give every parameter a random value (so norms' ones and zero biases are tested too)."""
    rng = random.Random(seed)
    for p in module.parameters():
        p.data = rng.gauss(0.0, scale)
    return module


def _slots(module: Any) -> list[tuple[list[Any], int]]:
    """(list, index) holding each parameter, in ``parameters()`` order."""
    where = {}
    for _, tree in module.named_parameter_groups():
        stack = [tree]
        while stack:
            items = stack.pop()
            for i, item in enumerate(items):
                if isinstance(item, Value):
                    where.setdefault(item, (items, i))
                else:
                    stack.append(item)
    return [where[p] for p in module.parameters()]


def _unflatten(values: list[Value], like: Any) -> Any:
    it = iter(values)

    def build(shape: Any) -> Any:
        if isinstance(shape, list):
            return [build(item) for item in shape]
        return next(it)

    return build(like)


def gradcheck_module(
    module: Any, x: Any, seed: int = 0, wrt_inputs: bool = True, **tolerances: float
) -> bool:
    """Finite differences against backward for every input number and every parameter.

    The scalar checked is a random weighted sum of all outputs. Parameters are
    swapped for gradcheck's Values inside the module's own lists, then restored.
    With ``wrt_inputs=False`` (token ids) only the parameters are checked.
    """
    numbers = _flat_numbers(x) if wrt_inputs else []
    n_inputs = len(numbers)
    params = module.parameters()
    slots = _slots(module)
    rng = random.Random(seed)
    out = module(x)
    weights = [rng.uniform(-1.0, 1.0) for _ in flatten(out)]

    def f(*values: Value) -> Value:
        for (items, i), v in zip(slots, values[n_inputs:]):
            items[i] = v
        xs = _unflatten(list(values[:n_inputs]), x) if wrt_inputs else x
        return dot(weights, flatten(module(xs)))

    try:
        return gradcheck(f, numbers + [p.data for p in params], **tolerances)
    finally:
        for (items, i), p in zip(slots, params):
            items[i] = p


def _flat_numbers(x: Any) -> list[float]:
    if isinstance(x, list):
        return [n for item in x for n in _flat_numbers(item)]
    return [float(x)]
