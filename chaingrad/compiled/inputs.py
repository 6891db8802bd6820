"""A step's arguments as a flat list of numbers plus a hashable description of their structure.

Every number in the arguments of a compiled step is an *input* of the traced
program: a float (a feature) or an int (a class label, a token id). Nested
lists and tuples (and numpy arrays, read with ``tolist()``) give the
structure. The structure -- nesting, lengths, and whether each number is an
int or a float -- is the cache key: one trace per structure.

>>> numbers, key = flatten(([[0.5, -1.0], [2.0, 0.0]], [1, 0]), {})
>>> numbers
[0.5, -1.0, 2.0, 0.0, 1, 0]
>>> key
(((('F', 2), ('F', 2)), ('I', 2)), ())
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

from chaingrad.engine import Value

MAX_DEPTH = 32  # nesting levels; deeper input is refused rather than recursed into

Key = Any


def _describe(obj: Any) -> str:
    shown = repr(obj)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{type(obj).__name__} {shown}"


def _bad(obj: Any, where: str) -> TypeError:
    if isinstance(obj, bool):
        why = "a bool (pass 0/1 as an int or a float, or bind flags with a closure)"
    elif isinstance(obj, Value):
        why = "a Value (parameters go in params=; pass plain numbers as inputs)"
    else:
        why = _describe(obj)
    return TypeError(
        f"chaingrad.jit: argument {where} must be a number (int or float) or a nested "
        f"list/tuple of numbers, got {why}; bind other arguments with a closure or "
        "functools.partial"
    )


def _leaf_kind(obj: Any) -> str | None:
    kind = type(obj)
    if kind is float:
        return "f"
    if kind is int:
        return "i"
    if isinstance(obj, (bool, Value)):
        return None
    if isinstance(obj, numbers.Integral):
        return "i"
    if isinstance(obj, numbers.Real):
        return "f"
    return None


def _flatten_one(obj: Any, out: list[Any], where: str, depth: int) -> Key:
    kind = type(obj)
    if kind is list or kind is tuple:
        types = set(map(type, obj))
        # The common cases, a row of floats or of ints, in one C-level pass.
        if types == {float}:
            out.extend(obj)
            return ("F", len(obj)) if kind is list else ("TF", len(obj))
        if types == {int}:
            out.extend(obj)
            return ("I", len(obj)) if kind is list else ("TI", len(obj))
        if depth >= MAX_DEPTH:
            raise ValueError(f"chaingrad.jit: argument {where} is nested deeper than {MAX_DEPTH}")
        parts = tuple(
            _flatten_one(item, out, f"{where}[{i}]", depth + 1) for i, item in enumerate(obj)
        )
        return parts if kind is list else ("T", parts)
    leaf = _leaf_kind(obj)
    if leaf is not None:
        out.append(obj)
        return leaf
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # a numpy array or scalar
        return _flatten_one(obj.tolist(), out, where, depth)
    if isinstance(obj, (list, tuple)):  # subclasses of list/tuple
        return _flatten_one(list(obj), out, where, depth)
    raise _bad(obj, where)


def flatten(
    args: tuple[Any, ...], kwargs: dict[str, Any], arg_names: tuple[str, ...] = ()
) -> tuple[list[Any], Key]:
    """(the numbers of ``args`` and ``kwargs`` in order, the structure key).

    The key is ``(keys of the positional arguments, ((name, key), ...) for keywords)``;
    ``arg_names`` only make error messages name the argument.
    """
    out: list[Any] = []
    keys = tuple(
        _flatten_one(arg, out, arg_names[i] if i < len(arg_names) else f"#{i}", 0)
        for i, arg in enumerate(args)
    )
    named = tuple((name, _flatten_one(kwargs[name], out, name, 0)) for name in sorted(kwargs))
    return out, (keys, named)


def _rows(key: Key) -> tuple[str, int] | None:
    if type(key) is tuple and len(key) == 2 and key[0] in ("F", "I", "TF", "TI"):
        return key[0], key[1]
    return None


def _is_tuple(key: Key) -> bool:
    return type(key) is tuple and len(key) == 2 and key[0] == "T"


def rebuild(key: Key, make: Callable[[int, str], Any]) -> tuple[list[Any], dict[str, Any]]:
    """(args, kwargs) shaped like ``key`` whose numbers are ``make(position, kind)``.

    ``kind`` is ``"i"`` or ``"f"``; positions count the flat numbers in order.
    """
    position = 0

    def build(part: Key) -> Any:
        nonlocal position
        if part == "f" or part == "i":
            position += 1
            return make(position - 1, part)
        rows = _rows(part)
        if rows is not None:
            tag, n = rows
            kind = "i" if tag.endswith("I") else "f"
            items = [make(position + j, kind) for j in range(n)]
            position += n
            return tuple(items) if tag.startswith("T") else items
        if _is_tuple(part):
            return tuple(build(item) for item in part[1])
        return [build(item) for item in part]

    positional, named = key
    args = [build(part) for part in positional]
    return args, {name: build(part) for name, part in named}


def _named_parts(key: Key, arg_names: list[str]) -> list[tuple[str, Key]]:
    positional, named = key
    pairs = [
        (arg_names[i] if i < len(arg_names) else f"arg{i}", p) for i, p in enumerate(positional)
    ]
    return pairs + list(named)


def leaf_names(key: Key, arg_names: list[str]) -> list[str]:
    """A readable name for every flat position: ``x[3][1]``, ``y[7]``, ``lr``."""
    names: list[str] = []

    def walk(part: Key, prefix: str) -> None:
        if part == "f" or part == "i":
            names.append(prefix)
            return
        rows = _rows(part)
        if rows is not None:
            names.extend(f"{prefix}[{j}]" for j in range(rows[1]))
            return
        for i, item in enumerate(part[1] if _is_tuple(part) else part):
            walk(item, f"{prefix}[{i}]")

    for name, part in _named_parts(key, arg_names):
        walk(part, name)
    return names


def describe(key: Key, arg_names: list[str]) -> str:
    """The argument structure as a short signature: ``x: float[100][2], y: int[100]``.

    >>> describe(flatten(([[0.5, -1.0], [2.0, 0.0]], [1, 0]), {})[1], ["x", "y"])
    'x: float[2][2], y: int[2]'
    """
    return ", ".join(f"{name}: {_shape(part)}" for name, part in _named_parts(key, arg_names))


def _shape(part: Key) -> str:
    if part == "f":
        return "float"
    if part == "i":
        return "int"
    rows = _rows(part)
    if rows is not None:
        return f"{'int' if rows[0].endswith('I') else 'float'}[{rows[1]}]"
    items = part[1] if _is_tuple(part) else part
    shapes = {_shape(item) for item in items}
    if len(shapes) == 1:
        head, bracket, rest = shapes.pop().partition("[")
        return f"{head}[{len(items)}]{bracket}{rest}"
    return f"mixed[{len(items)}]"


def _count(part: Key) -> int:
    """How many numbers a part of a key holds."""
    total = 0
    stack = [part]
    while stack:
        item = stack.pop()
        if item == "f" or item == "i":
            total += 1
            continue
        rows = _rows(item)
        if rows is not None:
            total += rows[1]
            continue
        stack.extend(item[1] if _is_tuple(item) else item)
    return total


def _items(part: Key) -> list[Key] | None:
    """The first-level items of a list/tuple part (None for a single number)."""
    if part == "f" or part == "i":
        return None
    rows = _rows(part)
    if rows is not None:
        return ["f"] * rows[1]
    return list(part[1] if _is_tuple(part) else part)


def samples(key: Key) -> list[int | None] | None:
    """For each number of the call, the sample it belongs to, or None.

    Arguments that are lists of the same length ``n >= 2`` are a batch: item
    ``k`` of each is sample ``k`` (``X[k]`` and ``y[k]``). Single numbers belong
    to no sample. Returns None when the list arguments differ in length.

    >>> samples(flatten(([[0.5, 1.0], [2.0, 0.0]], [1, 0], 0.1), {})[1])
    [0, 0, 1, 1, 0, 1, None]
    """
    positional, named = key
    parts = list(positional) + [part for _, part in named]
    lengths = {len(items) for items in map(_items, parts) if items is not None}
    if len(lengths) != 1 or lengths.pop() < 2:
        return None
    out: list[int | None] = []
    for part in parts:
        items = _items(part)
        if items is None:
            out.append(None)
            continue
        for k, item in enumerate(items):
            out.extend([k] * _count(item))
    return out


def template(obj: Any, values: list[Any]) -> Any:
    """The nesting of ``obj`` with each Value replaced by its index in ``values`` (appended).

    >>> from chaingrad import Value
    >>> found = []
    >>> template([Value(1.0), (Value(2.0),)], found), len(found)
    ([0, (1,)], 2)
    """
    if isinstance(obj, Value):
        values.append(obj)
        return len(values) - 1
    if isinstance(obj, (list, tuple)):
        items = [template(item, values) for item in obj]  # nesting depth of the user's outputs
        return tuple(items) if isinstance(obj, tuple) else items
    raise TypeError(
        "chaingrad.jit: extra outputs must be Values in nested lists/tuples, "
        f"got {type(obj).__name__}"
    )


def fill(structure: Any, numbers: list[float]) -> Any:
    """``structure`` (from :func:`template`) with each index replaced by ``numbers[index]``."""
    if type(structure) is int:
        return numbers[structure]
    items = [fill(item, numbers) for item in structure]
    return tuple(items) if isinstance(structure, tuple) else items
