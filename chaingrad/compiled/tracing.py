"""Tracing a step: the engine's hook, plus what lies outside the engine (random generators).

``chaingrad.jit`` records a training step by running it once, eagerly, on
Values (the *trace*), and then replays the recorded graph with new numbers.
What the engine does while a trace runs -- refusing Python reads of a
Value's number, comparisons and hashing of arguments, writes, and recording
every Value it makes -- is the engine's own hook,
:mod:`chaingrad.engine.trace_hook`. This module adds what the engine cannot
see: draws from random generators (the global ones of ``random`` and
``numpy.random``, any ``random.Random`` instance, any numpy ``Generator`` or
``RandomState``), which would be frozen into the program, and the calls of
modules, whose state (``training``, the parameters they hold) the replay
must find unchanged.

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

import importlib
import random as _random_module
import sys
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from chaingrad.engine import scopes as _scopes
from chaingrad.engine import trace_hook as _hook
from chaingrad.engine.trace_hook import (
    Trace,
    TracingError,
    active_trace,
    check_input,
    guard,
    is_tracing,
    random_leaves,
)

__all__ = [
    "Trace",
    "TracingError",
    "active_trace",
    "check_input",
    "guard",
    "is_tracing",
    "random_leaves",
    "tracing",
]

_active = _hook._active


def _refuse_draw(what: str) -> TracingError:
    return _hook.refuse(what, 2, _RANDOM_ADVICE)


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
        trace = _active.get()
        if trace is not None and not trace.drawing:
            raise _refuse_draw(f"{module}.{name}() (a random number drawn once)")
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
        if original is _ABSENT:
            delattr(module, name)
        else:
            setattr(module, name, original)


# random.Random instances: their draws all go through these three methods.
_INSTANCE_METHODS = ("random", "getrandbits", "randbytes")


def _refusing_method(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def draw(self: Any, *args: Any) -> Any:
        trace = _active.get()
        if trace is not None and not trace.drawing:
            raise _refuse_draw(f"a draw from a random.Random instance ({name}())")
        return original(self, *args)

    draw.__name__ = name
    draw.__wrapped__ = original  # type: ignore[attr-defined]
    return draw


def _guard_instances() -> None:
    cls = _random_module.Random
    for name in _INSTANCE_METHODS:
        original = getattr(cls, name)
        _patched_random.append((cls, name, cls.__dict__.get(name, _ABSENT)))
        setattr(cls, name, _refusing_method(name, original))


_ABSENT = object()


_SEARCH_LIMIT = 20_000  # objects looked at when searching for generators


def _numpy_generators(fn: Any) -> list[tuple[Any, Any]]:
    """(generator, its state) for the numpy Generators and RandomStates ``fn`` can reach.

    numpy's generators are C types (their methods cannot be wrapped), so they are
    found instead: through ``fn``'s globals it names, its closure, its defaults and
    its bound object, then, three levels down, the items of containers, the
    attributes of objects (a model's ``self.rng``) and what functions found there
    reach in turn. Their states are compared after the trace.
    """
    np = sys.modules.get("numpy")
    if np is None or fn is None:
        return []
    kinds = (np.random.Generator, np.random.RandomState)
    start = _referenced(fn)
    found: list[tuple[Any, Any]] = []
    seen: set[int] = set()
    level = start
    for _ in range(4):
        deeper: list[Any] = []
        for obj in level:
            if id(obj) in seen or len(seen) > _SEARCH_LIMIT:
                continue
            seen.add(id(obj))
            kind = type(obj)
            if kind in kinds or issubclass(kind, kinds):
                found.append((obj, _state(obj)))
            elif kind in (list, tuple, set, frozenset):
                deeper.extend(obj)
            elif kind is dict:
                deeper.extend(obj.values())
            elif kind in (types.FunctionType, types.MethodType):
                deeper.extend(_referenced(obj))  # a helper the step calls
            elif not isinstance(obj, (str, bytes, int, float, type)) and hasattr(obj, "__dict__"):
                attributes = getattr(obj, "__dict__", None)
                if isinstance(attributes, dict) and not isinstance(obj, types.ModuleType):
                    deeper.extend(attributes.values())
        level = deeper
    return found


def _referenced(fn: Any) -> list[Any]:
    """What a function can reach directly: named globals, closure cells, defaults, self."""
    out: list[Any] = []
    self = getattr(fn, "__self__", None)
    if self is not None:
        out.append(self)
    fn = getattr(fn, "__func__", fn)
    if not isinstance(fn, types.FunctionType):
        return [*out, fn]  # a callable object: its attributes are searched
    codes = [fn.__code__]
    names: set[str] = set()
    while codes:  # nested functions and comprehensions name globals too
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    scope = fn.__globals__
    out.extend(scope[name] for name in names if name in scope)
    out.extend(cell.cell_contents for cell in fn.__closure__ or () if _filled(cell))
    out.extend(fn.__defaults__ or ())
    out.extend((fn.__kwdefaults__ or {}).values())
    return out


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:  # an empty cell
        return False
    return True


def _state(generator: Any) -> Any:
    state = generator.bit_generator.state if hasattr(generator, "bit_generator") else None
    if state is None:
        state = generator.get_state(legacy=False)
    return repr(state)


def check_numpy_generators(before: list[tuple[Any, Any]]) -> None:
    """A TracingError if a numpy generator alive before the trace was drawn from during it."""
    for generator, state in before:
        if _state(generator) != state:
            raise TracingError(
                "chaingrad.jit: the step drew from a numpy random generator "
                f"({type(generator).__name__}) while it was traced; the numbers drawn would be "
                "constants of the program, the same at every replay.\n" + _RANDOM_ADVICE
            )


class _ModuleCalls:
    """Notes every module the step calls (through the engine's module-call hook)."""

    def __init__(self, outer: Any) -> None:
        self.outer = outer
        self.modules: dict[int, Any] = {}
        self.state: dict[int, dict[str, Any]] = {}  # each module's attributes before its call

    def call(self, module: Any, forward: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if id(module) not in self.modules:
            self.modules[id(module)] = module
            self.state[id(module)] = dict(getattr(module, "__dict__", {}))
        if self.outer is not None:
            return self.outer.call(module, forward, *args, **kwargs)
        return forward(*args, **kwargs)


_install_lock = threading.Lock()
_installs = 0


def _install() -> None:
    global _installs
    with _install_lock:
        if _installs == 0:
            _guard_random()
            _guard_instances()
        _installs += 1


def _uninstall() -> None:
    global _installs
    with _install_lock:
        _installs -= 1
        if _installs == 0:
            _unguard_random()


@contextmanager
def tracing(fn: Any = None) -> Iterator[Trace]:
    """Run a block as a trace: the engine's hook, random generators refused, module calls noted.

    The trace's ``modules`` lists the modules called, ``generators`` the numpy
    generators ``fn`` can reach (check them after with :func:`check_numpy_generators`).
    """
    generators = _numpy_generators(fn)
    calls = _ModuleCalls(_scopes.active_recorder())
    _install()
    scope_token = _scopes._active.set(calls)  # type: ignore[arg-type]
    try:
        with _hook.tracing() as trace:
            trace.modules = calls.modules  # type: ignore[attr-defined]
            trace.module_state = calls.state  # type: ignore[attr-defined]
            trace.generators = generators  # type: ignore[attr-defined]
            yield trace
    finally:
        _scopes._active.reset(scope_token)
        _uninstall()
