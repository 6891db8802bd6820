"""Argument checks shared across chaingrad.nn, so every message reads the same."""

from __future__ import annotations

import numbers
from collections import deque
from collections.abc import Sequence
from typing import Any

from chaingrad.engine import Constant, Value

_VALUE_TYPES = frozenset({Value, Constant})


def check_int(value: Any, what: str, minimum: int = 1) -> int:
    """``value`` if it is an int (not a bool) >= ``minimum``, else a ValueError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        wanted = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{what} must be {wanted}, got {value!r}")
    return value


def as_value_array(x: Any, shape: Sequence[int | None], who: str, axes: str) -> list[Any]:
    """``x`` as nested lists of Values of the given shape; numbers become Values once.

    ``shape`` has one entry per level: an int is the required length, ``None``
    any length (the same for every list at that level, so the array is
    rectangular). ``axes`` names the levels for messages, e.g. ``"x[c][h][w]"``
    with ``shape=(3, None, None)``. NumPy arrays (anything with ``tolist``) are
    accepted. A mismatch is a ValueError naming ``who``, what it expected and
    what it got:

    >>> as_value_array([[1.0, 2.0]], (2, None), "Conv1d", "x[c][l]")
    Traceback (most recent call last):
    ...
    ValueError: Conv1d expects x[c][l] with c of length 2, got length 1
    """
    names = [part.rstrip("]") for part in axes.split("[")[1:]]
    if hasattr(x, "tolist") and not isinstance(x, Value):
        x = x.tolist()
    lengths: list[int | None] = list(shape)
    required = [n is not None for n in shape]
    root: list[Any] = []
    # (source list, destination list, depth), first in first out, so the first
    # row sets the length of a free axis; no recursion, whatever the nesting.
    queue = deque([(x, root, 0)])
    while queue:
        item, into, depth = queue.popleft()
        axis = names[depth] if depth < len(names) else f"level {depth}"
        if isinstance(item, (str, bytes)) or not isinstance(item, (Sequence, tuple)):
            raise ValueError(f"{who} expects {axes}: a list along {axis}, got {_describe(item)}")
        expected = lengths[depth]
        if expected is None:
            lengths[depth] = expected = len(item)
        if len(item) != expected:
            if required[depth]:
                raise ValueError(
                    f"{who} expects {axes} with {axis} of length {expected}, got length {len(item)}"
                )
            raise ValueError(
                f"{who} expects {axes} to be rectangular: {axis} has length {expected} "
                f"in the first row and {len(item)} in another"
            )
        if depth == len(lengths) - 1:
            if set(map(type, item)) <= _VALUE_TYPES:  # already Values: one C-level check
                into.extend(item)
            else:
                into.extend(_as_value(v, who, axes) for v in item)
            continue
        children: list[list[Any]] = [[] for _ in item]
        into.extend(children)
        queue.extend((sub, child, depth + 1) for sub, child in zip(item, children))
    return root


def _as_value(v: Any, who: str, axes: str) -> Value:
    if type(v) is Value or isinstance(v, Value):
        return v
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        return Value(v)
    raise ValueError(f"{who} expects {axes} to hold numbers or Values, got {_describe(v)}")


def _describe(item: Any) -> str:
    if isinstance(item, Value):
        return "a Value"
    shown = repr(item)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{type(item).__name__} {shown}"
