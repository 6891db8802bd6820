"""The ``Module`` base: parameters found by walking attributes, train/eval, state dicts.

A module's parameters are the :class:`~chaingrad.Value` objects held in its
public attributes, directly or in (nested) lists and tuples; its submodules are
the :class:`Module` objects held the same way. Attributes whose names start
with ``_`` are private and not walked. Names are dotted paths, as in PyTorch:
``layers.0.neurons.3.w.1``.

This file holds the tree and its walks. What is built on them lives apart:
``state_dict.py`` (parameters as floats by name, and checking a state dict),
``model_file.py`` (the JSON model file behind ``save``/``load``) and
``torch_export.py`` (``to_torch``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from chaingrad.engine import Value
from chaingrad.engine.scopes import active_recorder

from . import model_file, torch_export
from ._checks import short_repr
from .state_dict import StateDictError, Tensor, checked_assignments, indexed_leaves, to_data

# Re-exported: the names other modules and scripts import from here.
from .torch_export import import_torch, prefixed

__all__ = ["Module", "StateDictError", "Tensor", "import_torch", "prefixed"]


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
            for index, value in indexed_leaves(tree):
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
        (GPUs, batches, the ecosystem). torch is imported only then.

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
        return torch_export.to_torch(self)

    def _torch_module(self, torch: Any) -> Any:
        """The ``torch.nn`` module of the same architecture (weights are filled in after)."""
        raise NotImplementedError(f"{type(self).__name__} has no PyTorch counterpart (to_torch)")

    def _torch_module_in(self, torch: Any, example_dims: int | None) -> tuple[Any, int | None]:
        """The torch twin for inputs of ``example_dims`` dimensions per example, and its outputs'.

        ``None`` means unknown. :class:`~chaingrad.nn.Sequential` threads this
        through its steps so that a ``Flatten`` after convolutions flattens the
        last three dimensions only and keeps a batch dimension in front. A
        module that keeps the layout (an activation) or sets it (a convolution)
        says so by overriding this; by default the layout after it is unknown.
        """
        return self._torch_module(torch), None

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
        return {name: to_data(tree) for name, tree in self.named_parameter_groups()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Copy values from ``state`` into the parameters (same Value objects, new ``data``).

        Everything is checked first: the names must be exactly the model's (none
        missing, none extra), each entry must have the parameter's shape and
        hold real numbers. On any mismatch a :class:`StateDictError` says what
        was wrong and no parameter has changed.
        """
        assignments = checked_assignments(
            dict(self.named_parameter_groups()), state, type(self).__name__
        )
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
        model_file.save(self, path)

    def load(self, path: str | os.PathLike[str]) -> Module:
        """Read parameters saved by :meth:`save` into this model; returns self.

        Loading only parses JSON (no code runs). A missing, empty, non-JSON or
        non-chaingrad file, one made for another architecture, a FIFO or
        device, or a file far larger than this model's file can be raises
        :class:`StateDictError` (``FileNotFoundError`` for a missing file)
        and leaves the model unchanged.
        """
        return model_file.load(self, path)
