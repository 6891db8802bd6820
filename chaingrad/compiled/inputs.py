"""A step's arguments as a flat list of numbers plus a hashable description of their structure.

Every number in the arguments of a compiled step is an *input* of the traced
program: a float (a feature) or an int (a class label, a token id). Nested
lists and tuples, and numpy arrays, give the structure. The structure --
nesting, lengths, and whether each number is an int or a float -- is the
cache key: one trace per structure. A numpy array of floats or ints has the
key of the nested lists ``tolist()`` would give (its shape, its dtype's kind),
so arrays and lists share a program; its numbers are not turned into Python
objects at all: arguments with arrays flatten to :class:`Chunked`, which the
numpy backend reads as one float64 array (the array itself when it is the only
argument) and the standard-library backend as Python numbers.

Key forms: ``"f"``/``"i"`` one number; ``("F", n)``/``("I", n)`` a list of n
floats/ints; ``("R", n, key)`` a list of n items with the same key (a batch);
``("L", keys)`` a list of differing items. A tuple is keyed like a list with
``"T"`` prefixed to the tag (``"TF"``, ``"TR"``, ...).

>>> numbers, key = flatten(([[0.5, -1.0], [2.0, 0.0]], [1, 0]), {})
>>> numbers
[0.5, -1.0, 2.0, 0.0, 1, 0]
>>> key
((('R', 2, ('F', 2)), ('I', 2)), ())
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Callable
from itertools import chain
from typing import Any

from chaingrad.engine import Value

MAX_DEPTH = 32  # nesting levels; deeper input is refused rather than recursed into

Key = Any
_FLOATS = {float}
_INTS = {int}
_LISTS = {list}
_ROWS = {"F": ("f", False), "I": ("i", False), "TF": ("f", True), "TI": ("i", True)}
_EXACT_INTS = 2**53  # int arrays beyond this are read as Python ints (float64 would round)


class _BadInput(Exception):
    """Raised inside the fast walk; the slow walk then finds the culprit for the message."""


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


def _flatten_one(obj: Any, out: list[Any], depth: int, chunks: list[int]) -> Key:
    kind = type(obj)
    if kind is list or kind is tuple:
        # The common cases, a row of floats or of ints, in one C-level pass.
        types = set(map(type, obj))
        prefix = "" if kind is list else "T"
        if types == _FLOATS:
            out.extend(obj)
            return (prefix + "F", len(obj))
        if types == _INTS:
            out.extend(obj)
            return (prefix + "I", len(obj))
        if types == _LISTS and kind is list:
            key = _uniform_lists(obj, out, MAX_DEPTH - depth)
            if key is not None:
                return key
        if depth >= MAX_DEPTH:
            raise _BadInput
        parts = [_flatten_one(item, out, depth + 1, chunks) for item in obj]
        if parts and parts.count(parts[0]) == len(parts):
            return (prefix + "R", len(parts), parts[0])  # a batch of alike items
        return (prefix + "L", tuple(parts))
    leaf = _leaf_kind(obj)
    if leaf is not None:
        # At the boundary every number becomes a Python int or float (float64): a numpy
        # float32 would otherwise run the program in float32 on the Python backend.
        out.append(float(obj) if leaf == "f" else int(obj))
        return leaf
    np = sys.modules.get("numpy")  # an array exists only if numpy has been imported
    if np is not None and kind is np.ndarray:
        key = _array_key(obj)
        if key is not None:  # its numbers stay in the array (see Chunked)
            chunks.append(len(out))
            out.append(obj)
            return key
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # a numpy array or scalar
        return _flatten_one(obj.tolist(), out, depth, chunks)
    if isinstance(obj, (list, tuple)):  # subclasses of list/tuple
        return _flatten_one(list(obj), out, depth, chunks)
    raise _BadInput


def _array_key(array: Any) -> Key | None:
    """The key ``array.tolist()`` would have, from its shape and dtype; None where the
    array is read through ``tolist()`` instead (bools, complex and object arrays, which
    then get the nested lists' errors; an empty dimension; ints too large for float64)."""
    dtype = array.dtype.kind
    if dtype == "f" and array.dtype.itemsize <= 8:  # (long double: through tolist())
        leaf = "f"
    elif dtype in "iu":
        if array.size and array.dtype.itemsize >= 8:
            low, high = int(array.min()), int(array.max())
            if max(-low, high) > _EXACT_INTS:
                return None
        leaf = "i"
    else:
        return None
    shape = array.shape
    if not shape:
        return leaf
    if 0 in shape:
        return None
    key: Key = (leaf.upper(), shape[-1])
    for n in reversed(shape[:-1]):
        key = ("R", n, key)
    return key


class Chunked:
    """A call's numbers when some arguments are numpy arrays: the flat numbers with each
    array kept whole where its numbers go (``parts``; ``chunks`` are their positions).

    :meth:`array` gives them as one float64 array, as the numpy backend reads its inputs
    (the array itself, flattened, when it is the only part: no copy); :meth:`numbers`
    as Python ints and floats, as the standard-library backend and tracing read them.

    >>> import numpy as np
    >>> numbers, key = flatten((np.array([[0.5, -1.0], [2.0, 0.0]]), [1, 0]), {})
    >>> numbers.array().tolist(), numbers.numbers()
    ([0.5, -1.0, 2.0, 0.0, 1.0, 0.0], [0.5, -1.0, 2.0, 0.0, 1, 0])
    >>> key == flatten(([[0.5, -1.0], [2.0, 0.0]], [1, 0]), {})[1]
    True
    """

    __slots__ = ("parts", "chunks", "_array", "_numbers")

    def __init__(self, parts: list[Any], chunks: list[int]) -> None:
        self.parts = parts
        self.chunks = chunks
        self._array: Any = None
        self._numbers: list[Any] | None = None

    def array(self) -> Any:
        """The numbers as one flat float64 array (read-only use: it may be the caller's)."""
        if self._array is None:
            import numpy as np

            parts, start, pieces = self.parts, 0, []
            for at in self.chunks:
                if at > start:
                    pieces.append(np.array(parts[start:at], dtype=float))
                pieces.append(parts[at].reshape(-1))
                start = at + 1
            if start < len(parts):
                pieces.append(np.array(parts[start:], dtype=float))
            if len(pieces) == 1:
                self._array = np.asarray(pieces[0], dtype=float)
            else:
                self._array = np.concatenate(pieces, dtype=float)
        return self._array

    def numbers(self) -> list[Any]:
        """The numbers as Python ints and floats, as nested lists would give them."""
        if self._numbers is None:
            parts, start, out = self.parts, 0, []
            for at in self.chunks:
                out.extend(parts[start:at])
                out.extend(parts[at].reshape(-1).tolist())  # Python floats, or ints
                start = at + 1
            out.extend(parts[start:])
            self._numbers = out
        return self._numbers

    def __len__(self) -> int:
        return len(self.parts) - len(self.chunks) + sum(self.parts[at].size for at in self.chunks)


def as_numbers(numbers: Any) -> list[Any]:
    """Python numbers for ``flatten``'s first result (a list, or :class:`Chunked`)."""
    return numbers if type(numbers) is list else numbers.numbers()


def with_ints(floats: list[float], is_int: Any) -> list[Any]:
    """Numbers read back from float64 with the int-kind ones as the ints eager code got."""
    return [int(x) if flag else x for x, flag in zip(floats, is_int)]


def _uniform_lists(obj: list[Any], out: list[Any], levels: int) -> Key | None:
    """A batch of equally shaped lists of floats (or of ints), read level by level in C.

    ``X[32][64]`` or images ``X[32][1][8][8]``: each level is checked with one
    ``set(map(len, ...))`` and flattened with ``chain``, without a Python call per
    row. None when the lists are not all alike (the general walk handles those).
    """
    shape = [len(obj)]
    level: list[Any] = obj
    for _ in range(levels):
        lengths = set(map(len, level))
        if len(lengths) != 1:
            return None
        flat = list(chain.from_iterable(level))
        types = set(map(type, flat))
        shape.append(lengths.pop())
        if types == _LISTS:
            level = flat
            continue
        if types in (_FLOATS, _INTS):
            out.extend(flat)
            key: Key = ("F" if types == _FLOATS else "I", shape[-1])
            for n in reversed(shape[:-1]):
                key = ("R", n, key)
            return key
        return None
    return None


def _find_bad(obj: Any, where: str, depth: int = 0) -> Exception:
    """The error for the first thing in ``obj`` that is not a number (slow, only on error)."""
    if depth >= MAX_DEPTH:
        return ValueError(f"chaingrad.jit: argument {where} is nested deeper than {MAX_DEPTH}")
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes, list, tuple)):
        obj = obj.tolist()
    if isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            error = _find_bad(item, f"{where}[{i}]", depth + 1)
            if error is not None:
                return error
        return None  # type: ignore[return-value]
    if _leaf_kind(obj) is None:
        return _bad(obj, where)
    return None  # type: ignore[return-value]


def flatten(
    args: tuple[Any, ...], kwargs: dict[str, Any], arg_names: tuple[str, ...] = ()
) -> tuple[Any, Key]:
    """(the numbers of ``args`` and ``kwargs`` in order, the structure key).

    The numbers are a list of Python ints and floats, or a :class:`Chunked` when an
    argument holds numpy arrays. The key is ``(keys of the positional arguments,
    ((name, key), ...) for keywords)``; ``arg_names`` only make error messages name
    the argument.
    """
    out: list[Any] = []
    chunks: list[int] = []
    try:
        keys = tuple([_flatten_one(arg, out, 0, chunks) for arg in args])
        named = tuple(
            [(name, _flatten_one(kwargs[name], out, 0, chunks)) for name in sorted(kwargs)]
        )
    except _BadInput:
        pairs = [(arg_names[i] if i < len(arg_names) else f"#{i}", a) for i, a in enumerate(args)]
        for where, obj in pairs + sorted(kwargs.items()):
            error = _find_bad(obj, where)
            if error is not None:
                raise error from None
        raise AssertionError("unreachable") from None
    if chunks:
        return Chunked(out, chunks), (keys, named)
    return out, (keys, named)


# --- reading keys ----------------------------------------------------------------------


def _tag(key: Key) -> str:
    return key if isinstance(key, str) else key[0].removeprefix("T")


def _is_tuple(key: Key) -> bool:
    return not isinstance(key, str) and key[0].startswith("T")


def _items(key: Key) -> list[Key] | None:
    """The item keys of a list/tuple key (None for a single number)."""
    tag = _tag(key)
    if tag in ("f", "i"):
        return None
    if tag in ("F", "I"):
        return [tag.lower()] * key[1]
    if tag == "R":
        return [key[2]] * key[1]
    return list(key[1])


def _count(key: Key) -> int:
    """How many numbers a key holds."""
    tag = _tag(key)
    if tag in ("f", "i"):
        return 1
    if tag in ("F", "I"):
        return int(key[1])
    if tag == "R":
        return int(key[1]) * _count(key[2])  # nesting depth of the user's lists
    return sum(_count(item) for item in key[1])


def rebuild(key: Key, make: Callable[[int, str], Any]) -> tuple[list[Any], dict[str, Any]]:
    """(args, kwargs) shaped like ``key`` whose numbers are ``make(position, kind)``.

    ``kind`` is ``"i"`` or ``"f"``; positions count the flat numbers in order.
    """
    position = 0

    def build(part: Key) -> Any:
        nonlocal position
        items = _items(part)
        if items is None:
            position += 1
            return make(position - 1, part)
        built = [build(item) for item in items]
        return tuple(built) if _is_tuple(part) else built

    positional, named = key
    args = [build(part) for part in positional]
    return args, {name: build(part) for name, part in named}


def kinds(key: Key) -> list[str]:
    """``"i"`` or ``"f"`` for every flat position of ``key``, in order.

    >>> kinds(flatten(([0.5, 1.0], 3), {})[1])
    ['f', 'f', 'i']
    """
    found: list[str] = []
    rebuild(key, lambda position, kind: found.append(kind))
    return found


def _named_parts(key: Key, arg_names: list[str]) -> list[tuple[str, Key]]:
    positional, named = key
    pairs = [
        (arg_names[i] if i < len(arg_names) else f"arg{i}", part)
        for i, part in enumerate(positional)
    ]
    return pairs + list(named)


def leaf_names(key: Key, arg_names: list[str]) -> list[str]:
    """A readable name for every flat position: ``x[3][1]``, ``y[7]``, ``lr``."""
    names: list[str] = []

    def walk(part: Key, prefix: str) -> None:
        items = _items(part)
        if items is None:
            names.append(prefix)
            return
        for i, item in enumerate(items):
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
    items = _items(part)
    if items is None:
        return "int" if part == "i" else "float"
    shapes = {_shape(item) for item in items}
    if len(shapes) == 1:
        head, bracket, rest = shapes.pop().partition("[")
        return f"{head}[{len(items)}]{bracket}{rest}"
    return f"mixed[{len(items)}]"


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
