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

import contextlib
import json
import math
import numbers
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from chaingrad.engine import Value
from chaingrad.engine.scopes import active_recorder

FORMAT = "chaingrad.state_dict"
VERSION = 1

# A parameter entry of a state dict: one float, or a nested list of floats.
Tensor = float | list[Any]


class StateDictError(ValueError):
    """A state dict or model file does not match the model; the model was left unchanged."""


def _is_value_tree(obj: Any) -> bool:
    """True for a Value or a non-empty (nested) list/tuple whose leaves are all Values."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, Value):
            continue
        if isinstance(item, (list, tuple)) and item:
            stack.extend(item)
            continue
        return False
    return True


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
            pairs.append((node, float(item)))
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
    if isinstance(entry, numbers.Real) and not isinstance(entry, bool):
        return f"the number {entry!r}"
    shown = repr(entry)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{type(entry).__name__} {shown}"


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
        """(attribute path, Module or Value tree) for each public attribute, in order."""
        for name, attr in vars(self).items():
            if name.startswith("_"):
                continue
            if isinstance(attr, Module) or _is_value_tree(attr):
                yield name, attr
            elif isinstance(attr, (list, tuple)):
                # A list of submodules (plain functions between them are skipped).
                for i, item in enumerate(attr):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

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
        lines = [f"{type(self).__name__}({self.extra_repr()})"]
        # Submodules are listed one level deep; repeated identical lines collapse.
        subs = [(name, child) for name, child in self._children() if isinstance(child, Module)]
        if not subs:
            return lines[0]
        lines[0] = lines[0][:-1] + ("," if self.extra_repr() else "") + "\n"
        body = []
        for name, child in subs:
            text = repr(child).replace("\n", "\n  ")
            body.append(f"  ({name}): {text}")
        return lines[0] + "\n".join(body) + "\n)"

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

        If writing fails, an existing file at ``path`` is left as it was.
        """
        path = os.fspath(path)
        document = {
            "format": FORMAT,
            "version": VERSION,
            "model": type(self).__name__,
            "state": self.state_dict(),
        }
        # NaN and infinities are written as JSON's common NaN/Infinity extension so a
        # diverged model still round-trips; repr-based float output makes it exact.
        text = json.dumps(document, indent=1)
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".chaingrad-", suffix=".tmp", dir=directory)
        try:
            # mkstemp makes the file private (0600); give it the mode a plain open() would.
            os.chmod(tmp, _file_mode(path))
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def load(self, path: str | os.PathLike[str]) -> Module:
        """Read parameters saved by :meth:`save` into this model; returns self.

        Loading only parses JSON (no code runs). A missing, empty, non-JSON or
        non-chaingrad file, or one made for another architecture, raises
        :class:`StateDictError` (``FileNotFoundError`` for a missing file) and
        leaves the model unchanged.
        """
        path = os.fspath(path)
        with open(path, "rb") as f:
            raw = f.read()
        if not raw.strip():
            raise StateDictError(f"{path}: the file is empty, not a chaingrad model file")
        try:
            document = json.loads(raw.decode("utf-8"), parse_constant=_parse_constant)
        except (ValueError, RecursionError) as error:  # bad UTF-8, bad JSON, absurd nesting
            reason = str(error) or type(error).__name__
            raise StateDictError(f"{path}: not a chaingrad model file ({reason})") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise StateDictError(
                f'{path}: not a chaingrad model file (no "format": {FORMAT!r} tag)'
            )
        if document.get("version") != VERSION:
            raise StateDictError(
                f"{path}: model file version {document.get('version')!r} is not supported "
                f"(this chaingrad reads version {VERSION})"
            )
        if "state" not in document:
            raise StateDictError(f'{path}: model file has no "state"')
        try:
            self.load_state_dict(document["state"])
        except StateDictError as error:
            raise StateDictError(f"{path}: {error}") from None
        return self


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


def _file_mode(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o777  # overwriting keeps the old file's mode
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _parse_constant(name: str) -> float:
    # json.loads accepts NaN, Infinity and -Infinity by default; say so explicitly.
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


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
