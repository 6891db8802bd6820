"""Argument checks shared across chaingrad.nn, so every message reads the same."""

from __future__ import annotations

import math
import numbers
from collections import deque
from collections.abc import Sequence
from typing import Any

from chaingrad.engine import Constant, Value

_VALUE_TYPES = frozenset({Value, Constant})

# One example's vector (x[i]) and sequence of vectors (x[t][i]), as the layers take them.
Vector = list[Value]


def check_int(value: Any, what: str, minimum: int = 1) -> int:
    """``value`` if it is an int (not a bool) >= ``minimum``, else a ValueError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        wanted = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{what} must be {wanted}, got {value!r}")
    return value


def check_number(value: Any, what: str, low: float = 0.0, high: float = math.inf) -> float:
    """``float(value)`` if it is a finite real number in ``[low, high]``, else a ValueError.

    nan and infinities are refused: an infinite learning rate or penalty turns
    every parameter into inf or nan on the first step.

    >>> check_number(float("inf"), "SGD: lr")
    Traceback (most recent call last):
    ...
    ValueError: SGD: lr must be a finite number >= 0, got inf
    """
    number = (
        float(value)
        if isinstance(value, numbers.Real) and not isinstance(value, bool)
        else math.nan
    )
    if not (math.isfinite(number) and low <= number <= high):
        wanted = (
            f"a finite number >= {low:g}"
            if high == math.inf
            else f"a number in [{low:g}, {high:g}]"
        )
        raise ValueError(f"{what} must be {wanted}, got {short_repr(value)}")
    return number


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
        if type(item) is not list and hasattr(item, "tolist"):
            item = item.tolist()  # a NumPy array inside lists, e.g. [image] for one channel
        axis = names[depth] if depth < len(names) else f"level {depth}"
        if isinstance(item, (str, bytes)) or not isinstance(item, (Sequence, tuple)):
            raise ValueError(f"{who} expects {axes}: a list along {axis}, got {_describe(item)}")
        expected = lengths[depth]
        if expected is None:
            lengths[depth] = expected = len(item)
        if len(item) != expected:
            if required[depth]:
                raise ValueError(
                    f"{who} expects {axes} with {axis} of length {expected}, got length "
                    f"{len(item)}" + _missing_axis_hint(x, len(shape), names)
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


def as_vector(x: Any, n: int, who: str) -> Vector:
    """``x`` as a list of ``n`` Values (numbers become Values); a ValueError names ``who``."""
    if type(x) is list and len(x) == n and all(type(v) is Value for v in x):
        return x  # already Values (the case inside a network): nothing to convert or copy
    return as_value_array(x, (n,), who, "x[i]")


def as_sequence(x: Any, n: int, who: str) -> list[Vector]:
    """``x`` as a non-empty list of vectors of ``n`` Values each: ``x[t][i]``."""
    xs = as_value_array(x, (None, n), who, "x[t][i]")
    if not xs:
        raise ValueError(f"{who} expects x[t][i] with at least one position t, got none")
    return xs


def is_token_id(i: Any, n: int) -> bool:
    """True for an int in ``[0, n)`` (numpy ints too; not a bool, not a float like 3.0)."""
    return isinstance(i, numbers.Integral) and not isinstance(i, bool) and 0 <= int(i) < n


def _missing_axis_hint(x: Any, levels: int, names: list[str]) -> str:
    """A hint when ``x`` is one list level short of ``levels`` (a channel axis left out)."""
    shape: list[int] = []
    item = x
    while isinstance(item, (list, tuple)) and len(shape) <= levels:
        shape.append(len(item))
        item = item[0] if item else None
    if len(shape) != levels - 1:
        return ""
    given = f"a list of {shape[0]}" if len(shape) == 1 else " x ".join(map(str, shape))
    first = "a single channel: pass [x]" if names[0] == "c" else f"one {names[0]}: pass [x]"
    return f"; x is {given}, one level short: is the {names[0]} axis missing? ({first})"


def _as_value(v: Any, who: str, axes: str) -> Value:
    if type(v) is Value or isinstance(v, Value):
        return v
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        return Value(v)
    raise ValueError(f"{who} expects {axes} to hold numbers or Values, got {_describe(v)}")


def short_repr(item: Any, limit: int = 40) -> str:
    """``repr(item)`` on one line and cut at ``limit`` characters, for error messages.

    >>> short_repr("x" * 100), short_repr(10**5000)
    ("'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...", 'an integer of 5001 digits')
    """
    if isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > 128:
        # Python refuses to print an int of more than 4,300 digits (and it is slow).
        magnitude = abs(item)
        digits = int((magnitude.bit_length() - 1) * math.log10(2)) + 1
        if 10**digits <= magnitude:
            digits += 1
        return f"an integer of {digits} digits"
    shown = " ".join(repr(item).split())  # a module's repr spans lines; a message must not
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _describe(item: Any) -> str:
    """``type repr`` on one line, cut at 40 characters, for error messages."""
    if isinstance(item, Value):
        return "a Value"
    return f"{type(item).__name__} {short_repr(item)}"
