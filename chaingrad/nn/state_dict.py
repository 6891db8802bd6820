"""State dicts: a module's parameters as plain floats by name, and checking one against a model.

A state dict maps each parameter group's dotted name to a float or a nested
list of floats, nested as the group's Values are: ``{"layers.0.neurons.0.w":
[0.23, -0.71], "layers.0.neurons.0.b": 0.0}``. :meth:`Module.state_dict`
makes one with :func:`to_data`; :meth:`Module.load_state_dict` checks one with
:func:`checked_assignments` before it changes anything.

>>> from chaingrad import Value
>>> to_data([Value(1.0), [Value(2.0)]])
[1.0, [2.0]]
>>> checked_assignments({"w": [Value(0.0)]}, {"w": [1.0, 2.0]}, "Neuron")
Traceback (most recent call last):
...
chaingrad.nn.state_dict.StateDictError: state dict entry 'w' should be a list of 1 numbers, ...
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from chaingrad.engine import Value

from ._checks import short_repr

# A parameter entry of a state dict: one float, or a nested list of floats.
Tensor = float | list[Any]


class StateDictError(ValueError):
    """A state dict or model file does not match the model; the model was left unchanged."""


def checked_assignments(
    groups: Mapping[str, Any], state: Any, who: str
) -> list[tuple[Value, float]]:
    """(parameter, number) for every parameter of ``groups``, once ``state`` is checked.

    The names must be exactly the model's (none missing, none extra), each
    entry must have its group's shape and hold real numbers; otherwise a
    :class:`StateDictError` says what was wrong (``who`` names the model).
    Nothing is changed here: the caller assigns once everything has passed.
    """
    if not isinstance(state, Mapping):
        raise StateDictError(
            f"a state dict must be a mapping of names to numbers, got {type(state).__name__}"
        )
    missing = [name for name in groups if name not in state]
    extra = [name for name in state if name not in groups]
    problems = []
    if missing:
        problems.append(f"missing {name_list(missing)}")
    if extra:
        problems.append(f"unexpected {name_list(extra)}")
    if problems:
        raise StateDictError(f"state dict does not match {who}: " + "; ".join(problems))
    assignments: list[tuple[Value, float]] = []
    for name, tree in groups.items():
        assignments.extend(pairs_if_matching(name, tree, state[name]))
    return assignments


def to_data(tree: Any) -> Tensor:
    """The floats of a Value tree, same nesting (lists)."""
    if isinstance(tree, Value):
        return tree.data
    return [to_data(item) for item in tree]  # parameter trees are shallow (1-2 levels)


def pairs_if_matching(name: str, tree: Any, entry: Any) -> list[tuple[Value, float]]:
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


def indexed_leaves(tree: Any) -> list[tuple[str, Value]]:
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


def name_list(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return f"{shown}{more}"
