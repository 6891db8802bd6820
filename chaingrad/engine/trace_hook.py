"""The engine's tracing hook: what a tracer (``chaingrad.jit``) may ask of ``Value``.

A tracer runs a function once on Values, keeps the graph, and replays it with
new numbers. A replay recomputes every op, so it is right exactly when the
result depends on the inputs through ops alone. Python code that looks at a
number (``if v.data > 0``, ``float(v)``, ``v < w``, ``y == 1``, ``table[y]``)
would freeze the decision of the traced call. While :func:`tracing` runs in a
context (a ``ContextVar``: other threads are unaffected), the engine therefore:

* **remembers every Value it makes** (``Trace.created``);
* **refuses every read of a number** from Python: the public attributes
  ``data``, ``grad`` and ``_local_grads`` become properties that raise
  :class:`TracingError` naming the line. The engine's own code reads the same
  slots through private aliases (``Value._data``, ``Value._grad``), which are
  never guarded: nothing decides who may read by looking at the caller;
* **accepts only the first write** of ``data`` and ``grad`` (the engine filling
  a new node) and refuses later ones (``v.data = 3`` inside the step);
* **refuses Python operations with no op**: ``bool``, ``float``, ``int``,
  ``round``, ``<``, an index (``table[v]``), ``%``, ``//``, ``divmod``,
  ``math.floor``, ``copy.copy``, ``detach()``, ``backward()``;
* **makes arguments numbers that cannot be mistaken**: a step's arguments
  (and random draws, and what is computed from those alone) are
  :class:`TracedNumber` Values, standing for what eager code would hold as a
  plain ``int`` or ``float``. On those, ``==``, ``!=`` and ``hash`` (``in``, a
  dict key) raise too (for a number they would compare numbers, for a Value
  identities), and ``isinstance(y, int)`` answers as for the number (an int
  argument is an int, a float one a float).

Every replacement is installed on ``Value`` when the first trace starts and
removed when the last one ends: outside a trace ``Value`` is exactly itself
and nothing is added to its hot path.

Library code that depends on Python state or randomness tells a tracer so
with :func:`guard`, :func:`random_leaves` and :func:`check_input`; each does
the eager thing outside a trace.

>>> from chaingrad import Value
>>> with tracing():
...     try:
...         float(Value(2.0) * 3)
...     except TracingError as error:
...         print(str(error).splitlines()[0])
chaingrad.jit: cannot trace float(v) (a Value turned into a Python number) at <doctest ...>:3
"""

from __future__ import annotations

import contextvars
import linecache
import os
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from . import mode as _mode
from .value import Constant, Value


class TracingError(RuntimeError):
    """A traced function did something a replay could not repeat (it names the line).

    Raised while ``chaingrad.jit`` traces a step, for Python code that reads the
    number inside a Value (``v.data``, ``float(v)``, ``bool(v)``, ``v < w``,
    ``int(v)``, ``round(v)``, indexing with a Value), that compares or hashes an
    argument (``y == 1``, ``y in (0, 1)``, ``table[y]``, ``isinstance(y, int)``),
    that writes ``.data`` or ``.grad``, that runs ``backward()``/``grad()`` or
    ``no_grad()`` inside the step, that draws from a random generator, or that
    uses a Value computed outside the step. Each of these would make the
    replayed program silently use the numbers of the traced call.
    """


class Trace:
    """What one running trace collects."""

    def __init__(self) -> None:
        self.created: dict[int, Value] = {}  # id -> every Value made during the trace
        self.guards: list[tuple[Any, str]] = []  # (object, attribute) the trace depends on
        self.random_blocks: list[tuple[Callable[[int], list[float]], list[Value], str]] = []
        self.inputs: dict[int, Any] = {}  # id of an argument's leaf -> the number it stands for
        self.draws: set[int] = set()  # ids of the leaves of random_leaves
        # (leaf, allowed numbers or None, check): checks eager code makes on arguments
        self.checks: list[tuple[Value, frozenset[Any] | None, Callable[[Any], None]]] = []
        self.drawing = False  # random_leaves is drawing: generators may be read

    def argument(self, number: Any) -> TracedNumber:
        """A leaf standing for an argument of the step (``number`` as eager code gets it)."""
        leaf = TracedNumber(number)
        self.inputs[id(leaf)] = number
        return leaf


_active: contextvars.ContextVar[Trace | None] = contextvars.ContextVar(
    "chaingrad_active_trace", default=None
)


def active_trace() -> Trace | None:
    """The trace running in this thread/context, or None (the ordinary case)."""
    return _active.get()


def is_tracing() -> bool:
    """True while ``chaingrad.jit`` is tracing a step in this thread/context.

    >>> is_tracing()
    False
    """
    return _active.get() is not None


# --- what library code tells a tracer ---------------------------------------------------


def random_leaves(draw: Callable[[int], list[float]], n: int, label: str = "random") -> list[Any]:
    """``n`` random numbers from ``draw(n)``: floats, or, while tracing, leaves redrawn per replay.

    This is how library code makes randomness replayable (``Dropout`` draws its
    masks through it): eagerly it returns ``draw(n)``; inside a trace it still
    calls ``draw(n)`` once (so the random stream advances exactly as in eager
    mode), but returns Values that the compiled program fills by calling
    ``draw(n)`` again at every replay, in the same order as the eager code would.

    >>> import random
    >>> rng = random.Random(0)
    >>> random_leaves(lambda n: [rng.random() for _ in range(n)], 2)
    [0.8444218515250481, 0.7579544029403025]
    """
    trace = _active.get()
    if trace is None:
        return draw(n)
    trace.drawing = True  # a generator read here is redrawn at every call: allowed
    try:
        numbers = draw(n)
    finally:
        trace.drawing = False
    if len(numbers) != n:
        raise ValueError(f"random_leaves: draw({n}) returned {len(numbers)} numbers")
    leaves: list[Value] = [TracedNumber(x) for x in numbers]
    trace.draws.update(map(id, leaves))
    trace.random_blocks.append((draw, leaves, label))
    return leaves


def guard(obj: Any, attribute: str) -> None:
    """While tracing, make the compiled step retrace when ``obj.attribute`` changes.

    For library code whose graph depends on Python state, such as ``Dropout``
    on ``training``: the trace records the value, and a later call with another
    value traces again instead of replaying a program built for the old one.

    >>> guard(object(), "x")   # outside a trace: nothing to do
    """
    trace = _active.get()
    if trace is not None:
        trace.guards.append((obj, attribute))


def check_input(
    value: Any, check: Callable[[Any], None], allowed: frozenset[Any] | None = None
) -> None:
    """Run an eager check on a number (a label) now and, for a step's argument, at every replay.

    ``check(number)`` raises the eager error for a bad number. Outside a trace
    it runs on plain numbers (a Value is not checked, as before). While tracing,
    an argument of the step is checked now (on the number it stands for) and
    at every call of the compiled step, before the replay: the replay needs
    ``allowed`` (the set of good numbers) to check a batch in one pass; with
    ``allowed=None`` the check concerns what the structure fixes (an int, not
    a float), so the trace's check holds for every replay. A number computed
    inside the step from arguments cannot be checked by a replay: refused.

    >>> check_input(1, lambda t: None)
    """
    if not isinstance(value, Value):
        check(value)
        return
    trace = _active.get()
    if trace is None or type(value) is not TracedNumber:
        return  # a Value in eager code, or one that is a Value in eager code too
    number = trace.inputs.get(id(value), _MISSING)
    if number is _MISSING:
        raise refuse(
            "a check of a label computed inside the step",
            1,
            "The replay checks labels as they come in; one computed inside the step "
            "from arguments (2 * y - 1) is not among them. Compute it before calling "
            "the step and pass it as an argument.",
        )
    check(number)
    trace.checks.append((value, allowed, check))


_MISSING = object()


# --- naming the line ---------------------------------------------------------------------

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../chaingrad


def _describe_frame(frame: Any) -> str:
    filename = frame.f_code.co_filename
    line = frame.f_lineno
    source = linecache.getline(filename, line).strip()
    where = _notebook_cell(filename, line) or f"{_short_path(filename)}:{line}"
    return f"{where}\n    {source}" if source else where


def _notebook_cell(filename: str, line: int) -> str | None:
    """``Cell In[12], line 3`` for code typed in Jupyter, as IPython's tracebacks say it."""
    ipython = sys.modules.get("IPython")
    if ipython is None or "ipykernel" not in filename:
        return None
    try:
        shell = ipython.get_ipython()
        kind, name = shell.compile.format_code_name(filename)
    except Exception:  # another IPython, or no shell: the file name will do
        return None
    return f"{kind} {name}, line {line}"


def _short_path(filename: str) -> str:
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        return filename
    return relative if not relative.startswith(".." + os.sep + ".." + os.sep) else filename


_STDLIB = os.path.dirname(os.path.abspath(os.__file__))


def _not_users(frame: Any) -> bool:
    """Code of chaingrad or of Python's standard library (copy, random, ...)."""
    filename = os.path.abspath(str(frame.f_code.co_filename))
    return filename.startswith((_PACKAGE_ROOT + os.sep, _STDLIB + os.sep))


ADVICE = (
    "A compiled step replays the traced ops with new numbers, so Python code that "
    "looks at a Value's number would keep the decision (or the number) of the traced "
    "call on every replay: a silently wrong result. Express it with Value ops "
    "(relu, abs, max_of, take, logsumexp, ...), move it out of the jitted function, "
    "or run this step without chaingrad.jit."
)


def refuse(what: str, depth: int, advice: str = ADVICE) -> TracingError:
    """A TracingError naming ``what`` and the line ``depth`` frames above the caller.

    The frames only name the place in the message (the user's line, and the
    library line inside chaingrad that did it when that is where it happened).
    """
    frame = sys._getframe(depth + 1)
    message = f"chaingrad.jit: cannot trace {what} at {_describe_frame(frame)}"
    user: Any = frame
    while user is not None and _not_users(user):
        user = user.f_back
    if user is not None and user is not frame:
        message += f"\n  reached from {_describe_frame(user)}"
    return TracingError(f"{message}\n{textwrap.fill(advice, 88)}")


# --- the Value that stands for a number -------------------------------------------------


_ARGUMENT_ADVICE = (
    "Inside a compiled step an argument (and what is computed from arguments alone) "
    "is a Value standing for a new number at every call; comparing or hashing it "
    "would compare the Value, not the number, and keep the traced call's branch. "
    "Write the choice with Value ops (take(values, y) for values[y], y * a + (1 - y) * b, "
    "max_of, relu), or make it outside the jitted function."
)


class TracedNumber(Value):
    """While tracing: a Value that eager code would have as a plain number.

    A step's arguments, random draws, and what is computed from those alone
    are numbers when the step runs eagerly: ``y == 1`` compares numbers,
    ``{0: a, 1: b}[y]`` looks one up, ``isinstance(y, int)`` is true. Traced,
    they are Values, so each of those would silently choose by identity;
    while the trace runs they raise :class:`TracingError` instead. Outside a
    trace (when the compiled step builds its program) this is a plain Value.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if _active.get() is not None:
            raise refuse(
                "an argument compared with ==, in, or as a dict key (its number would decide)",
                1,
                _ARGUMENT_ADVICE,
            )
        return self is other

    def __ne__(self, other: object) -> bool:
        if _active.get() is not None:
            raise refuse(
                "an argument compared with != (its number would decide)", 1, _ARGUMENT_ADVICE
            )
        return self is not other

    def __hash__(self) -> int:
        # Raising, not hashing the number: a lookup that misses (table.get(y, default))
        # would otherwise choose the default silently, and keep it.
        if _active.get() is not None:
            raise refuse(
                "an argument hashed: a dict key, a set member, or a walk of the graph "
                "inside the step (backward, grad)",
                1,
                _ARGUMENT_ADVICE,
            )
        return object.__hash__(self)

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        # isinstance(y, int) asks this after type(y), a Value, said no: while tracing, an
        # argument answers as the number it stands for would (int or float), so every
        # isinstance() test that is not about Value takes eager's branch.
        trace = _active.get()
        if trace is not None:
            number = trace.inputs.get(id(self), _MISSING)
            if number is not _MISSING:
                return type(number)
            if id(self) in trace.draws:
                return float
        return type(self)


# --- the guarded attributes and methods ---------------------------------------------------

_SLOTS = {name: Value.__dict__[name] for name in ("data", "grad", "_local_grads", "_parents")}
_get_data, _set_data = _SLOTS["data"].__get__, _SLOTS["data"].__set__
_get_grad, _set_grad = _SLOTS["grad"].__get__, _SLOTS["grad"].__set__
_get_locals, _set_locals = _SLOTS["_local_grads"].__get__, _SLOTS["_local_grads"].__set__
_get_parents, _set_parents = _SLOTS["_parents"].__get__, _SLOTS["_parents"].__set__

_NO_GRAD_ADVICE = (
    "Values computed under no_grad() are plain numbers to the graph, so a replay could "
    "not recompute them. Leave no_grad() out of the jitted function (the compiled step "
    "records only what the loss needs anyway)."
)
_AUTODIFF_ADVICE = (
    "The compiled step runs backward itself and adds the gradients into .grad after "
    "each call; inside the traced function gradients do not exist yet. Return the loss "
    "and read .grad after calling the step."
)
_WRITE_ADVICE = (
    "Assignments to a Value inside the jitted function run once, while tracing, and "
    "are not part of the replayed program. Do updates after calling the step "
    "(an optimizer's step() works unchanged)."
)
_INDEX_ADVICE = (
    "A list indexed by a Value (table[token_id]) keeps the traced call's element on every "
    "replay. Write take(table, token_id) (one node that picks the element again at every "
    "call), or use chaingrad.nn.Embedding for a table of vectors."
)
_COPY_ADVICE = (
    "A copy of a Value made inside the step is a new node that a replay would not "
    "recompute from its source. Use the Value itself (a Value can be used any number "
    "of times), or v * 1.0 for a separate node."
)


def _fresh(slot: str, node: Value) -> bool:
    """True while a slot of ``node`` has never been written (the engine is making it).

    ``slot`` is the slot's private alias (``"_data"``, ``"_grad"``): ``getattr`` with a
    default tells an empty slot without raising in Python (it runs for every node a
    trace makes)."""
    return getattr(node, slot, _UNSET) is _UNSET


_UNSET = object()


def _data_get(self: Value) -> float:
    if _active.get() is not None:
        raise refuse("a read of Value.data", 1)
    data: float = _get_data(self)
    return data


def _data_set(self: Value, data: float) -> None:
    trace = _active.get()
    if trace is not None:
        if not _fresh("_data", self):
            raise refuse("a write to Value.data", 1, _WRITE_ADVICE)
        if _mode._disabled_count and not _mode._grad_enabled.get():
            raise refuse("a Value made under no_grad()", 1, _NO_GRAD_ADVICE)
        trace.created[id(self)] = self
    _set_data(self, data)


def _grad_get(self: Value) -> float:
    if _active.get() is not None:
        raise refuse("a read of Value.grad", 1, _AUTODIFF_ADVICE)
    grad: float = _get_grad(self)
    return grad


def _grad_set(self: Value, grad: float) -> None:
    if _active.get() is not None and not _fresh("_grad", self):
        raise refuse("a write to Value.grad", 1, _AUTODIFF_ADVICE)
    _set_grad(self, grad)


def _locals_get(self: Value) -> tuple[float, ...]:
    if _active.get() is not None:
        raise refuse("a gradient computation (backward, grad or local_grads)", 1, _AUTODIFF_ADVICE)
    local_grads: tuple[float, ...] = _get_locals(self)
    return local_grads


def _parents_set(self: Value, parents: tuple[Value, ...]) -> None:
    _set_parents(self, parents)
    # An op on arguments (and constants) alone is a number in eager code too.
    if parents and type(self) is Value and _active.get() is not None:
        numbers = False
        for p in parents:
            kind = type(p)
            if kind is TracedNumber:
                numbers = True
            elif kind is not Constant:
                return
        if numbers:
            self.__class__ = TracedNumber


def _refusing(name: str, what: str, advice: str = ADVICE) -> Callable[..., Any]:
    """A method that raises while tracing and, in other contexts, does what Value did."""
    original = Value.__dict__.get(name)

    def method(self: Value, *args: Any) -> Any:
        if _active.get() is not None:
            raise refuse(what, 1, advice)
        if original is not None:
            return original(self, *args)
        return _NOT_DEFINED[name](self, *args)

    method.__name__ = name
    return method


def _no_int(self: Value, *args: Any) -> Any:
    raise TypeError(f"'{type(self).__name__}' object cannot be interpreted as an integer")


def _no_round(self: Value, *args: Any) -> Any:
    raise TypeError(f"type {type(self).__name__} doesn't define __round__ method")


def _truthy(self: Value) -> bool:
    return True  # what Python gives an object without __bool__ or __len__


def _no_op(self: Value, *args: Any) -> Any:
    return NotImplemented  # Python then raises its usual TypeError


def _no_math(self: Value, *args: Any) -> Any:
    raise TypeError(f"type {type(self).__name__} doesn't define this operation")


_NOT_DEFINED: dict[str, Callable[..., Any]] = {
    "__bool__": _truthy,
    "__int__": _no_int,
    "__index__": _no_int,
    "__round__": _no_round,
    "__trunc__": _no_math,
    "__floor__": _no_math,
    "__ceil__": _no_math,
    "__complex__": _no_math,
}
_COMPARE = "a comparison of Values ({op}), a Python branch on the traced call's numbers"
_NO_OP = "{op} on a Value (no op computes it; a replay would keep the traced call's number)"
_ARITHMETIC = {
    "__mod__": "%",
    "__rmod__": "%",
    "__floordiv__": "//",
    "__rfloordiv__": "//",
    "__divmod__": "divmod()",
    "__rdivmod__": "divmod()",
    "__and__": "&",
    "__rand__": "&",
    "__or__": "|",
    "__ror__": "|",
    "__xor__": "^",
    "__rxor__": "^",
    "__lshift__": "<<",
    "__rlshift__": "<<",
    "__rshift__": ">>",
    "__rrshift__": ">>",
    "__invert__": "~",
}
_NOT_DEFINED.update(dict.fromkeys(_ARITHMETIC, _no_op))

_GUARDED: dict[str, Any] = {
    "data": property(_data_get, _data_set),
    "grad": property(_grad_get, _grad_set),
    "_local_grads": property(_locals_get, _set_locals),
    "_parents": property(_get_parents, _parents_set),
    "__float__": _refusing("__float__", "float(v) (a Value turned into a Python number)"),
    "__lt__": _refusing("__lt__", _COMPARE.format(op="<")),
    "__le__": _refusing("__le__", _COMPARE.format(op="<=")),
    "__gt__": _refusing("__gt__", _COMPARE.format(op=">")),
    "__ge__": _refusing("__ge__", _COMPARE.format(op=">=")),
    "__bool__": _refusing("__bool__", "bool(v) (an if, while, and, or, not on a Value)"),
    "__int__": _refusing("__int__", "int(v)"),
    "__index__": _refusing("__index__", "a Value used as a Python index or int", _INDEX_ADVICE),
    "__round__": _refusing("__round__", "round(v)"),
    "__trunc__": _refusing("__trunc__", "math.trunc(v)"),
    "__floor__": _refusing("__floor__", "math.floor(v)"),
    "__ceil__": _refusing("__ceil__", "math.ceil(v)"),
    "__complex__": _refusing("__complex__", "complex(v)"),
    "__copy__": _refusing("__copy__", "copy.copy(v) (a copy of a Value)", _COPY_ADVICE),
    "__deepcopy__": _refusing("__deepcopy__", "copy.deepcopy(v) (a copy of a Value)", _COPY_ADVICE),
    "detach": _refusing("detach", "v.detach() (a copy of the traced call's number)"),
    "backward": _refusing("backward", "backward()", _AUTODIFF_ADVICE),
    **{name: _refusing(name, _NO_OP.format(op=op)) for name, op in _ARITHMETIC.items()},
}
_ORIGINAL = {name: Value.__dict__.get(name) for name in _GUARDED}

_install_lock = threading.Lock()
_installs = 0


def _install() -> None:
    global _installs
    with _install_lock:
        if _installs == 0:
            for name, replacement in _GUARDED.items():
                setattr(Value, name, replacement)
        _installs += 1


def _uninstall() -> None:
    global _installs
    with _install_lock:
        _installs -= 1
        if _installs == 0:
            for name, original in _ORIGINAL.items():
                if original is None:
                    delattr(Value, name)
                else:
                    setattr(Value, name, original)


@contextmanager
def tracing() -> Iterator[Trace]:
    """Run a block as a trace: numbers guarded, created Values recorded, random leaves collected."""
    trace = Trace()
    _install()
    token = _active.set(trace)
    try:
        yield trace
    finally:
        _active.reset(token)
        _uninstall()
