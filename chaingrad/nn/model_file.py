"""Model files: a module's state dict as JSON, saved atomically and read as hostile input.

A model file is plain JSON (loading never runs code)::

    {"format": "chaingrad.state_dict", "version": 1, "model": "MLP",
     "state": {"layers.0.neurons.0.w": [0.23, -0.71], "layers.0.neurons.0.b": 0.0, ...}}

Floats are written with ``repr``, so a save/load round trip is exact; NaN and
infinities use JSON's common ``NaN``/``Infinity`` extension. :func:`save` and
:func:`load` are what :meth:`Module.save` and :meth:`Module.load` run. Reading
is hardened: the file's kind and size are checked before it is read (a FIFO, a
device or a gigabyte of anything is refused), numbers beyond a float, keys
given twice and absurd nesting are clear errors, and the model changes only
once the whole file has been checked.

>>> import os, tempfile
>>> from chaingrad.nn import Neuron
>>> path = os.path.join(tempfile.mkdtemp(), "neuron.json")
>>> save(Neuron(2, seed=0), path)
>>> load(Neuron(2, seed=1), path).state_dict() == Neuron(2, seed=0).state_dict()
True
"""

from __future__ import annotations

import json
import math
import os
from typing import TYPE_CHECKING, Any

from ._checks import short_repr
from ._files import read_bounded, write_atomically
from .state_dict import StateDictError, indexed_leaves

if TYPE_CHECKING:
    from .module import Module

FORMAT = "chaingrad.state_dict"
VERSION = 1

# Room allowed in a file: see file_size_limit.
_FILE_BASE_BYTES = 1 << 20
_FILE_BYTES_PER_NUMBER = 200


def save(module: Module, path: str | os.PathLike[str]) -> None:
    """Write ``module``'s parameters to ``path`` as JSON, atomically; see Module.save."""
    document = {
        "format": FORMAT,
        "version": VERSION,
        "model": type(module).__name__,
        "state": module.state_dict(),
    }
    # NaN and infinities are written as JSON's common NaN/Infinity extension so a
    # diverged model still round-trips; repr-based float output makes it exact.
    text = json.dumps(document, indent=1) + "\n"
    write_atomically(path, text.encode("utf-8"))


def load(module: Module, path: str | os.PathLike[str]) -> Module:
    """Read a file written by :func:`save` into ``module``; returns it. See Module.load."""
    path = os.fspath(path)
    limit = file_size_limit(module)
    what = f"a model file for this {type(module).__name__} ({module.num_parameters()} parameters)"
    try:
        raw = read_bounded(path, limit, what)
    except ValueError as error:
        raise StateDictError(f"{path}: {error}") from None
    if not raw.strip():
        raise StateDictError(f"{path}: the file is empty, not a chaingrad model file")
    try:
        document = json.loads(
            raw.decode("utf-8"),
            parse_constant=_parse_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
            object_pairs_hook=_unique_keys,
        )
    except _FileContentError as error:
        raise StateDictError(f"{path}: {error}") from None
    except (ValueError, RecursionError) as error:  # bad UTF-8, bad JSON, absurd nesting
        reason = str(error) or type(error).__name__
        raise StateDictError(f"{path}: not a chaingrad model file ({reason})") from None
    finally:
        del raw
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise StateDictError(f'{path}: not a chaingrad model file (no "format": {FORMAT!r} tag)')
    if document.get("version") != VERSION:
        raise StateDictError(
            f"{path}: model file version {short_repr(document.get('version'))} is not "
            f"supported (this chaingrad reads version {VERSION})"
        )
    if "state" not in document:
        raise StateDictError(f'{path}: model file has no "state"')
    try:
        module.load_state_dict(document["state"])
    except StateDictError as error:
        raise StateDictError(f"{path}: {error}") from None
    return module


def file_size_limit(module: Module) -> int:
    """The largest model file :func:`load` reads for ``module``, in bytes.

    :func:`save` writes under 40 bytes per number; the limit allows five
    times that plus room for names and formatting, so any file written for
    this architecture (even re-indented by hand) fits, and a gigabyte of
    anything is refused before it is read.
    """
    groups = list(module.named_parameter_groups())
    numbers_count = sum(len(indexed_leaves(tree)) for _, tree in groups)
    return _FILE_BASE_BYTES + _FILE_BYTES_PER_NUMBER * numbers_count + 1024 * len(groups)


class _FileContentError(ValueError):
    """Valid JSON that no chaingrad model file contains (reported with the path)."""


def _parse_constant(name: str) -> float:
    # json.loads accepts NaN, Infinity and -Infinity by default; say so explicitly.
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400: beyond every float (save writes inf as Infinity)
        raise _FileContentError(
            f"the number {_shorten(text, unit='digits')} is too large for a float"
        )
    return value


def _parse_int(text: str) -> int | float:
    if len(text) <= 18:
        return int(text)
    # Long integers become floats right away: int() of thousands of digits is slow
    # and refused by Python, and a parameter is a float anyway.
    return _parse_float(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        keys = [key for key, _ in pairs]
        twice = next(key for key in keys if keys.count(key) > 1)
        raise _FileContentError(f"the key {short_repr(twice)} appears twice")
    return document


def _shorten(text: str, keep: int = 40, unit: str = "characters") -> str:
    if len(text) <= keep:
        return text
    return f"{text[: keep // 2]}...{text[-keep // 4 :]} ({len(text)} {unit})"
