"""The ``Module`` base: parameters found by walking attributes, train/eval, saving and loading.

A module's parameters are the :class:`~chaingrad.Value` objects held in its
public attributes, directly or in (nested) lists and tuples; its submodules are
the :class:`Module` objects held the same way. Attributes whose names start
with ``_`` are private and not walked. Names are dotted paths, as in PyTorch:
``layers.0.neurons.3.w.1``.

Model files are JSON (loading never runs code)::

    {"format": "chaingrad.state_dict", "version": 1, "model": "MLP",
     "state": {"layers.0.neurons.0.w": [0.23, -0.71], "layers.0.neurons.0.b": 0.0, ...}}

Floats are written with ``repr``, so a save/load round trip is exact.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from chaingrad.engine import Value
from chaingrad.engine.scopes import active_recorder

from ._checks import short_repr
from ._files import read_bounded, write_atomically

FORMAT = "chaingrad.state_dict"
VERSION = 1

# A parameter entry of a state dict: one float, or a nested list of floats.
Tensor = float | list[Any]


class StateDictError(ValueError):
    """A state dict or model file does not match the model; the model was left unchanged."""


def _is_value_tree(obj: Any) -> bool:
    """True for a Value or a non-empty (nested) list/tuple whose leaves are all Values.

    A list that contains itself is not a tree (it is walked item by item instead).
    """
    stack = [obj]
    entered: set[int] = set()
    while stack:
        item = stack.pop()
        if isinstance(item, Value):
            continue
        if isinstance(item, (list, tuple)) and item and id(item) not in entered:
            entered.add(id(item))
            stack.extend(item)
            continue
        return False
    return True


def _holds_parameters(obj: Any) -> bool:
    """True if a Value or a Module is somewhere inside ``obj`` (lists, tuples, dicts, sets)."""
    stack, seen = [obj], set()
    while stack:
        item = stack.pop()
        if isinstance(item, (Value, Module)):
            return True
        if isinstance(item, (list, tuple, set, frozenset, Mapping)) and id(item) not in seen:
            seen.add(id(item))
            stack.extend(item.values() if isinstance(item, Mapping) else item)
    return False


def _found_in(obj: Any, path: str, owner: Module) -> Iterator[tuple[str, Any]]:
    """(dotted path, Module or Value tree) inside one attribute, in order; see _children."""
    stack: list[tuple[str, Any]] = [(path, obj)]
    seen: set[int] = set()  # containers already entered: a list holding itself is walked once
    while stack:
        where, item = stack.pop()
        if isinstance(item, Module) or _is_value_tree(item):
            yield where, item
            continue
        if id(item) in seen:
            continue
        if isinstance(item, (list, tuple)):
            seen.add(id(item))
            stack.extend((f"{where}.{i}", sub) for i, sub in reversed(list(enumerate(item))))
        elif isinstance(item, Mapping):
            seen.add(id(item))
            entries = []
            for key, sub in item.items():
                if not (isinstance(key, str) and key and "." not in key):
                    if _holds_parameters(sub):
                        raise TypeError(
                            f"{type(owner).__name__}.{where}: dict key {short_repr(key)} holds "
                            "parameters or modules, but parameter names need keys that are "
                            "non-empty strings without dots"
                        )
                    continue
                entries.append((f"{where}.{key}", sub))
            stack.extend(reversed(entries))
        elif isinstance(item, (set, frozenset)) and _holds_parameters(item):
            raise TypeError(
                f"{type(owner).__name__}.{where}: a set holds parameters or modules; a set "
                "has no fixed order, so they could not be named or saved: use a list"
            )


def _to_data(tree: Any) -> Tensor:
    """The floats of a Value tree, same nesting (lists)."""
    if isinstance(tree, Value):
        return tree.data
    return [_to_data(item) for item in tree]  # parameter trees are shallow (1-2 levels)


def _pairs_if_matching(name: str, tree: Any, entry: Any) -> list[tuple[Value, float]]:
    """(parameter, number) pairs when ``entry`` has ``tree``'s nesting, else StateDictError.

    Walks both side by side with an explicit stack, so a hostile deeply nested
    entry cannot exhaust the recursion limit.
    """
    pairs = []
    stack = [(tree, entry, name)]
    while stack:
        node, item, where = stack.pop()
        if isinstance(node, Value):
            if isinstance(item, bool) or not isinstance(item, numbers.Real):
                raise StateDictError(
                    f"state dict entry {where!r} should be a number, got {_describe(item)}"
                )
            try:
                pairs.append((node, float(item)))
            except (OverflowError, ValueError):
                raise StateDictError(
                    f"state dict entry {where!r} is too large for a float: {_describe(item)}"
                ) from None
            continue
        if not isinstance(item, (list, tuple)) or len(item) != len(node):
            raise StateDictError(
                f"state dict entry {where!r} should be {_describe_tree(node)}, "
                f"got {_describe(item)}"
            )
        stack.extend(
            (sub, sub_item, f"{where}.{i}")
            for i, (sub, sub_item) in reversed(list(enumerate(zip(node, item))))
        )
    return pairs


def _describe_tree(tree: Any) -> str:
    if all(isinstance(item, Value) for item in tree):
        return f"a list of {len(tree)} numbers"
    return f"a list of {len(tree)} lists"


def _describe(entry: Any) -> str:
    if isinstance(entry, (list, tuple)):
        return f"a list of {len(entry)} items"
    if isinstance(entry, int) and not isinstance(entry, bool) and entry.bit_length() > 128:
        return short_repr(entry)  # "an integer of 400 digits"
    if isinstance(entry, numbers.Real) and not isinstance(entry, bool):
        return f"the number {short_repr(entry)}"
    return f"{type(entry).__name__} {short_repr(entry)}"


class Module:
    """Base class of every network part: subclass it and write ``forward``.

    >>> from chaingrad import Value
    >>> class Scale(Module):
    ...     def __init__(self):
    ...         self.k = Value(2.0)
    ...     def forward(self, x):
    ...         return self.k * x
    >>> m = Scale()
    >>> m(3.0).data, [name for name, _ in m.named_parameters()]
    (6.0, ['k'])
    """

    training: bool = True

    # --- calling ------------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses implement it and callers use ``module(...)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Outside chaingrad.viz's record_scopes() this is one ContextVar read;
        # inside, the recorder tags the nodes this call made with the module.
        recorder = active_recorder()
        if recorder is None:
            return self.forward(*args, **kwargs)
        return recorder.call(self, self.forward, *args, **kwargs)

    # --- walking the tree -----------------------------------------------------------

    def _children(self) -> Iterator[tuple[str, Any]]:
        """(attribute path, Module or Value tree) for each public attribute, in order.

        Lists, tuples and dicts are looked into, so no parameter is hidden from
        the optimizer or the model file: ``self.heads = {"q": Linear, ...}``
        gives ``heads.q``, a list mixing Values with numbers gives its Values by
        position. Anything else (numbers, strings, functions) is not a
        parameter. A structure that cannot be named reliably (a set, a dict
        key that is not a plain string) holding Values or Modules is an error.
        """
        for name, attr in vars(self).items():
            if not name.startswith("_"):
                yield from _found_in(attr, name, self)

    def named_modules(self) -> Iterator[tuple[str, Module]]:
        """``(dotted_name, module)`` for this module (name ``""``) and every submodule.

        >>> from chaingrad.nn import MLP
        >>> [name for name, _ in MLP(2, [2, 1]).named_modules()][:3]
        ['', 'layers.0', 'layers.0.neurons.0']
        """
        stack: list[tuple[str, Module]] = [("", self)]
        seen: set[int] = set()
        while stack:
            prefix, module = stack.pop()
            if id(module) in seen:  # a module shared twice is listed once
                continue
            seen.add(id(module))
            yield prefix, module
            subs = [
                (f"{prefix}.{name}" if prefix else name, child)
                for name, child in module._children()
                if isinstance(child, Module)
            ]
            stack.extend(reversed(subs))

    def modules(self) -> list[Module]:
        """This module and every submodule, parents first."""
        return [module for _, module in self.named_modules()]

    def named_parameter_groups(self) -> Iterator[tuple[str, Value | list[Any]]]:
        """``(dotted_name, Value or nested list of Values)`` per parameter attribute.

        These are the entries of :meth:`state_dict`: ``("layers.0.neurons.0.w", [w0, w1])``.
        """
        seen: set[int] = set()
        for prefix, module in self.named_modules():
            for name, child in module._children():
                if isinstance(child, Module):
                    continue
                if id(child) in seen:
                    continue
                seen.add(id(child))
                yield (f"{prefix}.{name}" if prefix else name), child

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        """``(dotted_name, Value)`` for every parameter, e.g. ``("layers.0.neurons.0.w.1", v)``."""
        seen: set[Value] = set()
        for name, tree in self.named_parameter_groups():
            if isinstance(tree, Value):
                if tree not in seen:
                    seen.add(tree)
                    yield name, tree
                continue
            for index, value in _indexed_leaves(tree):
                if value not in seen:
                    seen.add(value)
                    yield f"{name}.{index}", value

    def parameters(self) -> list[Value]:
        """Every parameter (each Value once), in a fixed order.

        >>> from chaingrad.nn import MLP
        >>> len(MLP(2, [16, 16, 1]).parameters())
        337
        """
        return [value for _, value in self.named_parameters()]

    def num_parameters(self) -> int:
        """How many scalar parameters the module has."""
        return len(self.parameters())

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0 (leaves accumulate across backward calls)."""
        for p in self.parameters():
            p.grad = 0.0

    # --- modes ----------------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Training mode (Dropout active) for this module and its submodules; returns self."""
        for module in self.modules():
            module.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (Dropout off); returns self."""
        return self.train(False)

    # --- printing -------------------------------------------------------------------

    def extra_repr(self) -> str:
        """What goes inside ``ClassName(...)``; subclasses describe their shape here."""
        return ""

    def __repr__(self) -> str:
        # Submodules one per line, indented under their parent. Written without
        # recursion, and a module that contains itself (or an enclosing module)
        # is named, not printed forever.
        lines: list[str] = []
        # (depth, "(name): ", module or None for a closing parenthesis, enclosing ids)
        stack: list[tuple[int, str, Module | None, frozenset[int]]] = [(0, "", self, frozenset())]
        while stack:
            depth, prefix, module, enclosing = stack.pop()
            pad = "  " * depth
            if module is None:
                lines.append(pad + ")")
                continue
            kind = type(module).__name__
            if id(module) in enclosing:
                lines.append(f"{pad}{prefix}<{kind}: contains itself, shown above>")
                continue
            if module is not self and type(module).__repr__ is not Module.__repr__:
                lines.append(pad + prefix + repr(module).replace("\n", "\n" + pad))
                continue
            extra = module.extra_repr()
            subs = [(name, c) for name, c in module._children() if isinstance(c, Module)]
            if not subs:
                lines.append(f"{pad}{prefix}{kind}({extra})")
                continue
            lines.append(f"{pad}{prefix}{kind}({extra}{',' if extra else ''}")
            inner = enclosing | {id(module)}
            stack.append((depth, "", None, inner))
            stack.extend((depth + 1, f"({name}): ", c, inner) for name, c in reversed(subs))
        return "\n".join(lines)

    # --- the way out: PyTorch ----------------------------------------------------------

    def to_torch(self) -> Any:
        """This module as the standard ``torch.nn`` module, in float64, with the same weights.

        When a learner outgrows scalars, the same trained model runs on PyTorch
        (GPUs, batches, the ecosystem). torch is imported here and nowhere else.

        Subclasses say how: ``_torch_module(torch)`` builds the torch module with
        the right sizes, and ``torch_parameters()`` pairs each of its parameter
        names with the Values that fill it (nested as torch's tensor is shaped).

        >>> from chaingrad.nn import MLP
        >>> MLP(2, [4, 1]).to_torch()  # doctest: +SKIP
        Sequential(
          (0): Linear(in_features=2, out_features=4, bias=True)
          (1): ReLU()
          (2): Linear(in_features=4, out_features=1, bias=True)
        )
        """
        torch = import_torch(f"{type(self).__name__}.to_torch()")
        module = self._torch_module(torch).to(torch.float64)
        targets = dict(module.named_parameters())
        sources = dict(self.torch_parameters())
        if set(targets) != set(sources):
            raise RuntimeError(  # a bug in a module's export, not the user's doing
                f"{type(self).__name__}.to_torch(): torch parameters {sorted(targets)} "
                f"but chaingrad gives {sorted(sources)}"
            )
        with torch.no_grad():
            for name, tree in sources.items():
                values = torch.tensor(_to_data(tree), dtype=torch.float64)
                if values.shape != targets[name].shape:
                    raise RuntimeError(
                        f"{type(self).__name__}.to_torch(): {name} has shape "
                        f"{tuple(values.shape)}, torch expects {tuple(targets[name].shape)}"
                    )
                targets[name].copy_(values)
        return module

    def _torch_module(self, torch: Any) -> Any:
        """The ``torch.nn`` module of the same architecture (weights are filled in after)."""
        raise NotImplementedError(f"{type(self).__name__} has no PyTorch counterpart (to_torch)")

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        """``(torch parameter name, Values nested as that tensor)`` for every weight.

        This is the one-to-one map between the two libraries: ``to_torch`` copies
        along it, and the tests compare gradients along it.
        """
        return iter(())

    # --- state ----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Tensor]:
        """``{name: float or nested list of floats}``: every parameter's value, copied.

        >>> from chaingrad.nn import Neuron
        >>> Neuron(2, seed=0).state_dict()
        {'w': [0.6888437030500962, 0.515908805880605], 'b': 0.0}
        """
        return {name: _to_data(tree) for name, tree in self.named_parameter_groups()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Copy values from ``state`` into the parameters (same Value objects, new ``data``).

        Everything is checked first: the names must be exactly the model's (none
        missing, none extra), each entry must have the parameter's shape and
        hold real numbers. On any mismatch a :class:`StateDictError` says what
        was wrong and no parameter has changed.
        """
        if not isinstance(state, Mapping):
            raise StateDictError(
                f"a state dict must be a mapping of names to numbers, got {type(state).__name__}"
            )
        groups = dict(self.named_parameter_groups())
        missing = [name for name in groups if name not in state]
        extra = [name for name in state if name not in groups]
        problems = []
        if missing:
            problems.append(f"missing {_name_list(missing)}")
        if extra:
            problems.append(f"unexpected {_name_list(extra)}")
        if problems:
            raise StateDictError(
                f"state dict does not match {type(self).__name__}: " + "; ".join(problems)
            )
        assignments: list[tuple[Value, float]] = []
        for name, tree in groups.items():
            assignments.extend(_pairs_if_matching(name, tree, state[name]))
        # Only now, with everything checked, touch the model.
        for value, number in assignments:
            value.data = number

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the parameters to ``path`` as JSON, atomically (temp file, then rename).

        If writing fails, an existing file at ``path`` is left as it was. A
        symlink is followed: the file it points to gets the new content. A
        temporary file left by a save that was killed is removed by the next
        save to the same path.
        """
        document = {
            "format": FORMAT,
            "version": VERSION,
            "model": type(self).__name__,
            "state": self.state_dict(),
        }
        # NaN and infinities are written as JSON's common NaN/Infinity extension so a
        # diverged model still round-trips; repr-based float output makes it exact.
        text = json.dumps(document, indent=1) + "\n"
        write_atomically(path, text.encode("utf-8"))

    def load(self, path: str | os.PathLike[str]) -> Module:
        """Read parameters saved by :meth:`save` into this model; returns self.

        Loading only parses JSON (no code runs). A missing, empty, non-JSON or
        non-chaingrad file, one made for another architecture, a FIFO or
        device, or a file far larger than this model's file can be raises
        :class:`StateDictError` (``FileNotFoundError`` for a missing file)
        and leaves the model unchanged.
        """
        path = os.fspath(path)
        limit = self._file_size_limit()
        what = f"a model file for this {type(self).__name__} ({self.num_parameters()} parameters)"
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
            raise StateDictError(
                f'{path}: not a chaingrad model file (no "format": {FORMAT!r} tag)'
            )
        if document.get("version") != VERSION:
            raise StateDictError(
                f"{path}: model file version {short_repr(document.get('version'))} is not "
                f"supported (this chaingrad reads version {VERSION})"
            )
        if "state" not in document:
            raise StateDictError(f'{path}: model file has no "state"')
        try:
            self.load_state_dict(document["state"])
        except StateDictError as error:
            raise StateDictError(f"{path}: {error}") from None
        return self

    def _file_size_limit(self) -> int:
        """The largest model file :meth:`load` reads for this model, in bytes.

        :meth:`save` writes under 40 bytes per number; the limit allows five
        times that plus room for names and formatting, so any file written for
        this architecture (even re-indented by hand) fits, and a gigabyte of
        anything is refused before it is read.
        """
        groups = list(self.named_parameter_groups())
        numbers_count = sum(len(_indexed_leaves(tree)) for _, tree in groups)
        return _FILE_BASE_BYTES + _FILE_BYTES_PER_NUMBER * numbers_count + 1024 * len(groups)


def import_torch(who: str) -> Any:
    """The torch module, or an ImportError saying what needed it and how to install it."""
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"{who} needs PyTorch: pip install torch (the CPU build is enough)"
        ) from None
    return torch


def prefixed(prefix: str, pairs: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    """``torch_parameters()`` pairs of a submodule, renamed as seen from its parent."""
    for name, tree in pairs:
        yield f"{prefix}.{name}", tree


_FILE_BASE_BYTES = 1 << 20
_FILE_BYTES_PER_NUMBER = 200


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


def _indexed_leaves(tree: Any) -> list[tuple[str, Value]]:
    """("0", v), ("1", v) ... or ("0.1", v) for nested lists, in order."""
    out = []
    stack: list[tuple[str, Any]] = [("", tree)]
    while stack:
        prefix, item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(
                (f"{prefix}.{i}" if prefix else str(i), sub)
                for i, sub in reversed(list(enumerate(item)))
            )
        else:
            out.append((prefix, item))
    return out


def _name_list(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return f"{shown}{more}"
