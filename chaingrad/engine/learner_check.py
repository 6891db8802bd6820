"""Grade a ``Value`` class written by a learner against chaingrad's.

The micrograd lecture has you write ``Value`` yourself: ``+``, ``*``, ``tanh``,
``exp``, ``backward`` and a topological sort. :func:`check_engine` runs a battery
of small expressions with your class and with chaingrad's, using only the
operations your class defines, and compares every result and every gradient. The
first disagreement is an :class:`EngineCheckError` in words: which expression,
which input, what you got, what the chain rule gives, and the classic bug that
produces exactly your numbers when it recognises one (``=`` instead of ``+=``,
a walk in the wrong order, a recursive sort on a deep chain, a missing reflected
operator such as ``__rmul__``).

>>> import math
>>> class Tiny:
...     def __init__(self, data, children=(), local_grads=()):
...         self.data, self.grad = data, 0.0
...         self.children, self.local_grads = children, local_grads
...     def __add__(self, other):
...         other = other if isinstance(other, Tiny) else Tiny(other)
...         return Tiny(self.data + other.data, (self, other), (1.0, 1.0))
...     __radd__ = __add__
...     def __mul__(self, other):
...         other = other if isinstance(other, Tiny) else Tiny(other)
...         return Tiny(self.data * other.data, (self, other), (other.data, self.data))
...     __rmul__ = __mul__
...     def backward(self):
...         order, seen, stack = [], set(), [(self, False)]
...         while stack:
...             node, done = stack.pop()
...             if done:
...                 order.append(node)
...             elif id(node) not in seen:
...                 seen.add(id(node))
...                 stack.append((node, True))
...                 stack.extend((child, False) for child in node.children)
...         self.grad = 1.0
...         for node in reversed(order):
...             for child, local in zip(node.children, node.local_grads):
...                 child.grad += local * node.grad
>>> check_engine(Tiny)
True
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .autodiff import toposort
from .value import Value

__all__ = ["EngineCheckError", "check_engine"]

DEEP_CHAIN = 10_000  # well past Python's recursion limit (1,000 by default)


class EngineCheckError(AssertionError):
    """A learner's Value disagrees with chaingrad; the message says where and why."""


@dataclass(frozen=True)
class Case:
    """One expression of the battery.

    ``build`` receives the inputs (the learner's Values or chaingrad's) by name and
    returns the output; ``needs`` are the methods it uses.
    """

    text: str
    inputs: dict[str, float]
    build: Callable[[dict[str, Any]], Any]
    needs: tuple[str, ...]
    why: str = ""  # what the case is about, said when it fails
    tags: frozenset[str] = field(default_factory=frozenset)


def _cases() -> list[Case]:
    ab = {"a": 2.0, "b": -3.0}
    abc = {"a": 2.0, "b": -3.0, "c": 10.0}
    return [
        # one operation at a time: the forward values and the local derivatives
        Case("a + b", ab, lambda v: v["a"] + v["b"], ("__add__",)),
        Case("a * b", ab, lambda v: v["a"] * v["b"], ("__mul__",)),
        Case("a.tanh()", {"a": 0.5}, lambda v: v["a"].tanh(), ("tanh",)),
        Case("a.exp()", {"a": 0.5}, lambda v: v["a"].exp(), ("exp",)),
        # plain numbers on either side
        Case("a + 1", ab, lambda v: v["a"] + 1, ("__add__",), tags=frozenset({"number"})),
        Case("a * 2", ab, lambda v: v["a"] * 2, ("__mul__",), tags=frozenset({"number"})),
        Case("1 + a", ab, lambda v: 1 + v["a"], ("__add__",), tags=frozenset({"reflected"})),
        Case("2 * a", ab, lambda v: 2 * v["a"], ("__mul__",), tags=frozenset({"reflected"})),
        # compositions: gradients flow through several nodes
        Case("a*b + c", abc, lambda v: v["a"] * v["b"] + v["c"], ("__add__", "__mul__")),
        Case(
            "(a*b + c) * f",
            {**abc, "f": -2.0},
            lambda v: (v["a"] * v["b"] + v["c"]) * v["f"],
            ("__add__", "__mul__"),
        ),
        Case(
            "(a*b + c).tanh()",
            {"a": 0.5, "b": -0.3, "c": 0.2},
            lambda v: (v["a"] * v["b"] + v["c"]).tanh(),
            ("__add__", "__mul__", "tanh"),
        ),
        Case(
            "(a*b).exp()",
            {"a": 0.5, "b": -0.6},
            lambda v: (v["a"] * v["b"]).exp(),
            ("__mul__", "exp"),
        ),
        # a node used more than once: its gradient is the sum over its uses
        Case(
            "a*b + a",
            {"a": 2.0, "b": 3.0},
            lambda v: v["a"] * v["b"] + v["a"],
            ("__add__", "__mul__"),
        ),
        Case("a + a", ab, lambda v: v["a"] + v["a"], ("__add__",)),
        Case("a * a * a", ab, lambda v: v["a"] * v["a"] * v["a"], ("__mul__",)),
        Case(
            "(a*b) * (a + b)",
            {"a": -2.0, "b": 3.0},
            lambda v: (v["a"] * v["b"]) * (v["a"] + v["b"]),
            ("__add__", "__mul__"),
        ),
        # the other operations, when the class has them (often built from + and *)
        Case("a - b", ab, lambda v: v["a"] - v["b"], ("__sub__",)),
        Case("-a", {"a": 2.0}, lambda v: -v["a"], ("__neg__",)),
        Case("a / b", ab, lambda v: v["a"] / v["b"], ("__truediv__",)),
        Case("a ** 3", {"a": 2.0}, lambda v: v["a"] ** 3, ("__pow__",)),
        Case("a.relu()", {"a": 0.5}, lambda v: v["a"].relu(), ("relu",)),
        Case("b.relu()", {"b": -3.0}, lambda v: v["b"].relu(), ("relu",)),
        Case(
            "(x1*w1 + x2*w2 + b).tanh()",
            {"x1": 2.0, "x2": 0.0, "w1": -3.0, "w2": 1.0, "b": 6.8813735870195432},
            lambda v: (v["x1"] * v["w1"] + v["x2"] * v["w2"] + v["b"]).tanh(),
            ("__add__", "__mul__", "tanh"),
            why="the neuron of the lecture",
        ),
        Case(
            "(e - 1) / (e + 1) with e = (2*n).exp()",
            {"n": 0.8},
            lambda v: _tanh_by_exp(v["n"]),
            ("__add__", "__mul__", "exp", "__sub__", "__truediv__"),
            why="tanh written with exp",
        ),
        Case(
            f"a chain of {DEEP_CHAIN:,} additions (x = x + b)",
            {"a": 1.0, "b": 0.001},
            _deep_chain,
            ("__add__",),
            tags=frozenset({"deep"}),
        ),
    ]


def _tanh_by_exp(n: Any) -> Any:
    e = (2 * n).exp()
    return (e - 1) / (e + 1)


def _deep_chain(v: dict[str, Any]) -> Any:
    x = v["a"]
    for _ in range(DEEP_CHAIN):
        x = x + v["b"]
    return x


def _defines(cls: type, name: str) -> bool:
    return callable(getattr(cls, name, None))


def _close(got: Any, want: float) -> bool:
    try:
        number = float(got)
    except (TypeError, ValueError):
        return False
    return math.isclose(number, want, rel_tol=1e-6, abs_tol=1e-9)


def _number(x: Any) -> str:
    try:
        return repr(round(float(x), 10))
    except (TypeError, ValueError):
        return repr(x)


# --- what the classic bugs would compute, to name the one a learner made ---------------


def _walk(root: Value, order: str, assign: bool, merge_repeats: bool) -> dict[int, float]:
    """Gradients by a backward pass with a bug: on chaingrad's graph, into a dict by id."""
    topo = toposort(root)
    grads = {id(node): 0.0 for node in topo}
    grads[id(root)] = 1.0
    walk = reversed(topo) if order == "reversed" else iter(topo)
    for node in walk:
        pairs = list(zip(node.parents, node.local_grads))
        if merge_repeats:  # children kept in a set: a + a has one edge
            merged: dict[int, tuple[Value, float]] = {}
            for parent, local in pairs:
                merged.setdefault(id(parent), (parent, local))
            pairs = list(merged.values())
        for parent, local in pairs:
            if assign:
                grads[id(parent)] = local * grads[id(node)]
            else:
                grads[id(parent)] += local * grads[id(node)]
    return grads


BUGS = [
    (
        dict(order="reversed", assign=True, merge_repeats=False),
        "These are the numbers a backward that ASSIGNS gradients (child.grad = ...) "
        "instead of adding them (child.grad += ...) computes: when a node is used more "
        "than once, each use overwrites the one before. Use +=.",
    ),
    (
        dict(order="reversed", assign=False, merge_repeats=True),
        "These are the numbers you get when a node's children are kept in a set: "
        "a + a then has one edge instead of two. Keep them in a tuple, repeats included.",
    ),
    (
        dict(order="forward", assign=False, merge_repeats=False),
        "These are the numbers of a walk in the wrong order: a node passed its gradient "
        "on before the nodes that use it had added theirs (it still held 0). Walk the "
        "topological order reversed, from the output back to the inputs.",
    ),
]


def _diagnosis(root: Value, leaves: dict[str, Value], got: dict[str, Any]) -> str:
    matches = []
    for settings, explanation in BUGS:
        grads = _walk(root, **settings)  # type: ignore[arg-type]
        if all(_close(got[name], grads.get(id(leaf), 0.0)) for name, leaf in leaves.items()):
            matches.append(explanation)
    if len(matches) == 1:
        return " " + matches[0]
    if matches:  # a + a: = instead of += and a set of children give the same numbers
        return " Two bugs give exactly your numbers. " + " Or: ".join(matches)
    if all(_close(got[name], 0.0) for name in leaves):
        return (
            " Every gradient is 0: does backward() start with self.grad = 1.0, and does it "
            "call each node's backward step (or apply its local gradients)?"
        )
    if any(_close(got[name], 0.0) and not _close(leaf.grad, 0.0) for name, leaf in leaves.items()):
        return (
            " A gradient of 0 where the chain rule gives another number usually means that "
            "a node passed its gradient on before the nodes that use it had added theirs "
            "(walk the topological order reversed, from the output back), or that some "
            "node's backward step is never run."
        )
    return ""


def _because(name: str, root: Value, leaf: Value) -> str:
    uses = sum(parent is leaf for node in toposort(root) for parent in node.parents)
    if uses > 1:
        times = {2: "twice", 3: "three times"}.get(uses, f"{uses} times")
        return f" because {name} is used {times} (the gradients of all its uses add up)"
    return ""


# --- the check ------------------------------------------------------------------------


def check_engine(cls: type) -> bool:
    """Run ``cls`` (your own ``Value`` class) against chaingrad on a battery of expressions.

    Only the operations ``cls`` defines are used: ``__add__``, ``__mul__``, ``tanh``,
    ``exp``, and, when present, ``__sub__``, ``__neg__``, ``__truediv__``, ``__pow__``,
    ``relu``. Plain numbers are used on both sides of ``+`` and ``*`` (``2 * a`` needs
    ``__rmul__``). ``cls(x)`` must make a Value of the number ``x`` with ``.data`` and
    ``.grad``, and ``out.backward()`` must fill in ``.grad`` of every input.

    Returns True when every result and every gradient agrees (to 1e-6). Raises
    :class:`EngineCheckError` at the first disagreement, naming the expression, the
    input, both numbers and, when it recognises it, the bug.
    """
    if not isinstance(cls, type):
        raise TypeError(f"check_engine() takes your Value class, got {type(cls).__name__}")
    if not (_defines(cls, "__add__") or _defines(cls, "__mul__")):
        raise EngineCheckError(
            f"{cls.__name__} defines neither __add__ nor __mul__: there is nothing to check yet"
        )
    if not _defines(cls, "backward"):
        raise EngineCheckError(f"{cls.__name__} has no backward() method yet")
    checked = 0
    for case in _cases():
        if all(_defines(cls, need) for need in case.needs):
            _check_case(cls, case)
            checked += 1
    return checked > 0


def _check_case(cls: type, case: Case) -> None:
    name = cls.__name__
    where = f"in {case.text}" + (f" ({case.why})" if case.why else "")
    mine = {k: cls(x) for k, x in case.inputs.items()}
    reference = {k: Value(x) for k, x in case.inputs.items()}
    want = case.build(reference)
    try:
        out = case.build(mine)
    except TypeError as error:
        if "reflected" in case.tags:
            op, method = ("+", "__radd__") if "+" in case.text else ("*", "__rmul__")
            if not _defines(cls, method):
                raise EngineCheckError(
                    f"{case.text} fails: {error}. Python first asks the int to do {op} with "
                    f"your {name}; the int cannot, so Python calls your Value's {method}, "
                    f"which {name} does not have. Add: def {method}(self, other): "
                    f"return self {op} other"
                ) from error
        raise EngineCheckError(f"{case.text} fails: {type(error).__name__}: {error}") from error
    except AttributeError as error:
        hint = ""
        if "number" in case.tags or "reflected" in case.tags:
            hint = (
                f" Your operator received a plain number: turn it into a {name} first, "
                f"other = other if isinstance(other, {name}) else {name}(other)."
            )
        raise EngineCheckError(f"{case.text} fails: AttributeError: {error}.{hint}") from error
    except RecursionError as error:
        raise EngineCheckError(
            f"{case.text} fails with a RecursionError while building the graph."
        ) from error
    except Exception as error:  # the learner's own code failed: say where, keep the traceback
        raise EngineCheckError(f"{case.text} fails: {type(error).__name__}: {error}") from error
    if not _close(getattr(out, "data", None), want.data):
        raise EngineCheckError(
            f"your {case.text} computes {_number(getattr(out, 'data', out))}; "
            f"it should be {_number(want.data)}"
        )

    want.backward()
    try:
        out.backward()
    except RecursionError as error:
        raise EngineCheckError(
            f"your backward() fails with a RecursionError on {case.text}. Your "
            "topological sort (or backward) calls itself once per node, and Python allows "
            f"{sys.getrecursionlimit():,} nested calls (sys.getrecursionlimit()). Real "
            "networks are deeper. Write the sort with a loop and a list used as a stack "
            "instead of recursion."
        ) from error
    except Exception as error:
        raise EngineCheckError(
            f"your backward() fails on {case.text}: {type(error).__name__}: {error}"
        ) from error

    got = {k: getattr(v, "grad", None) for k, v in mine.items()}
    for key, value in got.items():
        expected = reference[key].grad
        if not _close(value, expected):
            message = (
                f"your gradient of {key} {where} is {_number(value)}; "
                f"the chain rule gives {_number(expected)}"
                f"{_because(key, want, reference[key])}."
            )
            raise EngineCheckError(message + _diagnosis(want, reference, got))
