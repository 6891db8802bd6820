"""Tracing: run a function once on Values and refuse whatever a replay would get wrong.

``chaingrad.jit`` records a training step by running it once, eagerly, on
Values (the *trace*), and then replays the recorded graph with new numbers. A
replay recomputes every op, so it is right exactly when the function's result
depends on its inputs only through Value operations. Python code that looks
at a number -- ``if v.data > 0``, ``float(v)``, ``v < w``, ``bool(v)``,
``int(v)`` -- makes a decision the replay cannot redo: the trace would freeze
the branch it happened to take. While a trace runs (a ``ContextVar`` says so,
so other threads are unaffected), those operations raise :class:`TracingError`
naming the file, line and source text that did it.

How: during a trace the ``data``, ``grad`` and ``_local_grads`` slots of
``Value`` are temporarily replaced, at class level, by properties that check
who is asking (the engine itself may read and write them; nobody else may in
the tracing context), and ``__float__ __bool__ __lt__ __le__ __gt__ __ge__
__int__ __index__ __round__`` by versions that raise. Everything is restored
when the last trace ends. Outside a trace ``Value`` is untouched: nothing is
added to its hot path.

>>> from chaingrad import Value
>>> from chaingrad.compiled.tracing import tracing, TracingError
>>> with tracing():
...     try:
...         float(Value(2.0) * 3)
...     except TracingError as error:
...         print(str(error).splitlines()[0])
chaingrad.jit: cannot trace float(v) (a Value turned into a Python number) at <doctest ...>:3
"""

from __future__ import annotations

import contextvars
import importlib
import linecache
import os
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from chaingrad.engine import mode as _mode
from chaingrad.engine import value as _value_module
from chaingrad.engine.value import Value


class TracingError(RuntimeError):
    """A traced function did something a replay could not repeat (it names the line).

    Raised while ``chaingrad.jit`` traces a step, for Python code that reads the
    number inside a Value (``v.data``, ``float(v)``, ``bool(v)``, ``v < w``,
    ``int(v)``, ``round(v)``, indexing with a Value), that writes ``.data`` or
    ``.grad``, that runs ``backward()``/``grad()`` or ``no_grad()`` inside the
    step, that draws from Python's (or numpy's) global random generator, or that
    uses a Value computed outside the step. Each of these would
    make the replayed program silently use the numbers of the traced call.
    """


class Trace:
    """What one running trace collects: the Values it created and its random leaves."""

    def __init__(self) -> None:
        self.created: set[Value] = set()  # every Value made during the trace
        self.guards: list[tuple[Any, str]] = []  # (object, attribute) the trace depends on
        self.random_blocks: list[tuple[Callable[[int], list[float]], list[Value], str]] = []


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
    numbers = draw(n)
    trace = _active.get()
    if trace is None:
        return numbers
    if len(numbers) != n:
        raise ValueError(f"random_leaves: draw({n}) returned {len(numbers)} numbers")
    leaves = [Value(x) for x in numbers]
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


# --- who is asking ------------------------------------------------------------------

_ENGINE_VALUE = _value_module.__dict__
_ENGINE_MODE = _mode.__dict__
_COMPILED_PREFIX = "chaingrad.compiled"
_HERE = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_ROOT = os.path.dirname(_HERE)  # .../chaingrad


def _from_compiled(frame: Any) -> bool:
    return str(frame.f_globals.get("__name__", "")).startswith(_COMPILED_PREFIX)


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


def _in_chaingrad(frame: Any) -> bool:
    filename = str(frame.f_code.co_filename)
    return os.path.abspath(filename).startswith(_PACKAGE_ROOT + os.sep)


def _user_frame(frame: Any) -> Any:
    """The innermost frame (from ``frame`` outwards) that is not chaingrad's own code."""
    while frame is not None and _in_chaingrad(frame):
        frame = frame.f_back
    return frame


_ADVICE = (
    "A compiled step replays the traced ops with new numbers, so Python code that "
    "looks at a Value's number would keep the decision (or the number) of the traced "
    "call on every replay: a silently wrong result. Express it with Value ops "
    "(relu, abs, max_of, take, logsumexp, ...), move it out of the jitted function, "
    "or run this step without chaingrad.jit."
)


def _refuse(what: str, depth: int, advice: str = _ADVICE) -> TracingError:
    """A TracingError naming ``what`` and the line ``depth`` frames above the caller."""
    frame = sys._getframe(depth + 1)
    message = f"chaingrad.jit: cannot trace {what} at {_describe_frame(frame)}"
    user = _user_frame(frame)
    if user is not None and user is not frame:
        message += f"\n  reached from {_describe_frame(user)}"
    return TracingError(f"{message}\n{textwrap.fill(advice, 88)}")


# --- the guarded slots and methods ------------------------------------------------

_SLOTS = {name: Value.__dict__[name] for name in ("data", "grad", "_local_grads")}
_get_data_slot = _SLOTS["data"].__get__
_set_data_slot = _SLOTS["data"].__set__
_get_grad_slot = _SLOTS["grad"].__get__
_set_grad_slot = _SLOTS["grad"].__set__
_get_locals_slot = _SLOTS["_local_grads"].__get__
_set_locals_slot = _SLOTS["_local_grads"].__set__
_DETACH_CODE = Value.detach.__code__
_INIT_CODE = Value.__init__.__code__
_ENGINE_OPS_NAME = "chaingrad.engine.ops"

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


def _data_get(self: Value) -> float:
    if _active.get() is not None:
        frame = sys._getframe(1)
        if frame.f_globals is _ENGINE_VALUE:
            if frame.f_code is _DETACH_CODE:
                raise _refuse("v.detach() (a copy of the traced call's number)", 1)
        elif not _from_compiled(frame):
            if frame.f_globals.get("__name__") == _ENGINE_OPS_NAME:
                raise _refuse(
                    "a derivative rule that depends on the traced numbers "
                    "(grad(..., create_graph=True) through relu, abs, max_of or take)",
                    1,
                    _AUTODIFF_ADVICE,
                )
            raise _refuse("a read of Value.data", 1)
    data: float = _get_data_slot(self)
    return data


def _data_set(self: Value, data: float) -> None:
    trace = _active.get()
    if trace is not None:
        frame = sys._getframe(1)
        if frame.f_globals is _ENGINE_VALUE:
            # Every Value is born here (Value() or an op's output): remember it.
            if (
                _mode._disabled_count
                and not _mode._grad_enabled.get()
                and frame.f_code is not _INIT_CODE
            ):
                raise _refuse("an operation under no_grad()", 2, _NO_GRAD_ADVICE)
            trace.created.add(self)
        elif not _from_compiled(frame):
            raise _refuse("a write to Value.data", 1, _WRITE_ADVICE)
    _set_data_slot(self, data)


def _grad_get(self: Value) -> float:
    if _active.get() is not None:
        frame = sys._getframe(1)
        if not (frame.f_globals is _ENGINE_VALUE or _from_compiled(frame)):
            raise _refuse("a read of Value.grad", 1, _AUTODIFF_ADVICE)
    grad: float = _get_grad_slot(self)
    return grad


def _grad_set(self: Value, grad: float) -> None:
    if _active.get() is not None:
        frame = sys._getframe(1)
        if not (frame.f_globals is _ENGINE_VALUE or _from_compiled(frame)):
            if "autodiff" in str(frame.f_globals.get("__name__", "")):
                raise _refuse("backward()", 1, _AUTODIFF_ADVICE)
            raise _refuse("a write to Value.grad", 1, _AUTODIFF_ADVICE)
    _set_grad_slot(self, grad)


def _locals_get(self: Value) -> tuple[float, ...]:
    if _active.get() is not None and not _from_compiled(sys._getframe(1)):
        raise _refuse("a gradient computation (backward, grad or local_grads)", 1, _AUTODIFF_ADVICE)
    local_grads: tuple[float, ...] = _get_locals_slot(self)
    return local_grads


_GUARDED_SLOTS = {
    "data": property(_data_get, _data_set),
    "grad": property(_grad_get, _grad_set),
    "_local_grads": property(_locals_get, _set_locals_slot),
}


def _guarded(name: str, what: str, fallback: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: Value, *args: Any) -> Any:
        if _active.get() is not None:
            raise _refuse(what, 1)
        return fallback(self, *args)

    method.__name__ = name
    return method


def _no_int(self: Value) -> int:
    raise TypeError(f"'{type(self).__name__}' object cannot be interpreted as an integer")


def _no_round(self: Value, *args: Any) -> Any:
    raise TypeError(f"type {type(self).__name__} doesn't define __round__ method")


def _truthy(self: Value) -> bool:
    return True  # what Python gives an object without __bool__ or __len__


_COMPARE = "a comparison of Values ({op}), a Python branch on the traced call's numbers"
# Outside a trace (other threads while one runs) each behaves as Value did before.
_GUARDED_METHODS = {
    "__float__": _guarded(
        "__float__", "float(v) (a Value turned into a Python number)", Value.__float__
    ),
    "__lt__": _guarded("__lt__", _COMPARE.format(op="<"), Value.__lt__),
    "__le__": _guarded("__le__", _COMPARE.format(op="<="), Value.__le__),
    "__gt__": _guarded("__gt__", _COMPARE.format(op=">"), Value.__gt__),
    "__ge__": _guarded("__ge__", _COMPARE.format(op=">="), Value.__ge__),
    "__bool__": _guarded("__bool__", "bool(v) (an if, while, and, or, not on a Value)", _truthy),
    "__int__": _guarded("__int__", "int(v)", _no_int),
    "__index__": _guarded("__index__", "a Value used as a Python index or int", _no_int),
    "__round__": _guarded("__round__", "round(v)", _no_round),
}
_ORIGINAL_METHODS = {name: Value.__dict__.get(name) for name in _GUARDED_METHODS}

# Python's global random generators: a number drawn while tracing would be replayed
# as a constant (the same "random" augmentation at every step), so drawing is refused.
_RANDOM_FUNCTIONS = {
    "random": (
        "random",
        "uniform",
        "gauss",
        "normalvariate",
        "randint",
        "randrange",
        "choice",
        "choices",
        "shuffle",
        "sample",
        "betavariate",
        "expovariate",
    ),
    "numpy.random": (
        "rand",
        "randn",
        "random",
        "random_sample",
        "uniform",
        "normal",
        "randint",
        "choice",
        "shuffle",
        "permutation",
        "standard_normal",
    ),
}
_RANDOM_ADVICE = (
    "A random number drawn while tracing becomes a constant of the program: every replay "
    "would reuse it. Draw it outside the jitted function and pass it in as an argument "
    "(arguments are inputs, new at every call); Dropout's masks are redrawn by the "
    "compiled step itself."
)


def _refusing(module: str, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def draw(*args: Any, **kwargs: Any) -> Any:
        if _active.get() is not None:
            raise _refuse(f"{module}.{name}() (a random number drawn once)", 1, _RANDOM_ADVICE)
        return original(*args, **kwargs)

    draw.__name__ = getattr(original, "__name__", name)
    draw.__doc__ = getattr(original, "__doc__", None)
    draw.__wrapped__ = original  # type: ignore[attr-defined]
    return draw


_patched_random: list[tuple[Any, str, Any]] = []


def _guard_random() -> None:
    for module_name, names in _RANDOM_FUNCTIONS.items():
        package = module_name.split(".")[0]
        if package not in sys.modules:
            continue  # numpy not in use: nothing of it to guard
        # numpy imports numpy.random lazily, on first use: import it now, so the guard
        # is in place before the traced code reaches for it.
        module = importlib.import_module(module_name)
        for name in names:
            original = getattr(module, name, None)
            if original is not None:
                _patched_random.append((module, name, original))
                setattr(module, name, _refusing(module_name, name, original))


def _unguard_random() -> None:
    while _patched_random:
        module, name, original = _patched_random.pop()
        setattr(module, name, original)


_install_lock = threading.Lock()
_installs = 0


def _install() -> None:
    global _installs
    with _install_lock:
        if _installs == 0:
            for name, replacement in {**_GUARDED_SLOTS, **_GUARDED_METHODS}.items():
                setattr(Value, name, replacement)
            _guard_random()
        _installs += 1


def _uninstall() -> None:
    global _installs
    with _install_lock:
        _installs -= 1
        if _installs == 0:
            for name, slot in _SLOTS.items():
                setattr(Value, name, slot)
            for name in _GUARDED_METHODS:
                original = _ORIGINAL_METHODS.get(name)
                if original is None:
                    delattr(Value, name)
                else:
                    setattr(Value, name, original)
            _unguard_random()


@contextmanager
def tracing() -> Iterator[Trace]:
    """Run a block as a trace: guarded Values, created nodes recorded, random leaves collected."""
    trace = Trace()
    _install()
    token = _active.set(trace)
    try:
        yield trace
    finally:
        _active.reset(token)
        _uninstall()
