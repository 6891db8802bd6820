"""Grad mode: whether operations record their parents.

The mode lives in a ``contextvars.ContextVar`` so each thread (and each asyncio
task) has its own. Reading a ContextVar on every operation would cost time on
the hot path, so a module-level counter says whether *any* context has turned
recording off; only then is the ContextVar consulted.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
from collections.abc import Callable, Generator
from typing import Any, TypeVar

_grad_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "chaingrad_grad_enabled", default=True
)

# How many contexts (in any thread) currently have grad mode switched off.
# Zero means "recording everywhere", so the hot path skips the ContextVar.
_disabled_count = 0
_count_lock = threading.Lock()

F = TypeVar("F", bound=Callable[..., Any])


def is_grad_enabled() -> bool:
    """Return True when operations in this thread/context record the graph."""
    return _disabled_count == 0 or _grad_enabled.get()


# The modes that enclosing ``with`` blocks replaced, innermost last, per context.
# Kept in a ContextVar rather than on the manager, so one manager object may be
# entered by several threads or tasks at once (as torch.no_grad allows).
_saved_modes: contextvars.ContextVar[tuple[bool, ...]] = contextvars.ContextVar(
    "chaingrad_saved_grad_modes", default=()
)


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it.

    Holds no per-entry state, so one object can be shared between threads and
    nested. As a decorator it works on plain functions, generators (each
    resumption runs in the mode, the caller's mode in between) and ``async def``.
    """

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled

    def __enter__(self) -> None:
        global _disabled_count
        _saved_modes.set((*_saved_modes.get(), _grad_enabled.get()))
        _grad_enabled.set(self._enabled)
        if not self._enabled:
            with _count_lock:
                _disabled_count += 1

    def __exit__(self, *exc_info: object) -> None:
        global _disabled_count
        saved = _saved_modes.get()
        _grad_enabled.set(saved[-1])
        _saved_modes.set(saved[:-1])
        if not self._enabled:
            with _count_lock:
                _disabled_count -= 1

    def __call__(self, func: F) -> F:
        mode = _GradMode(self._enabled)
        if inspect.isasyncgenfunction(func):

            @functools.wraps(func)
            async def async_gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                agen = func(*args, **kwargs)
                sent: Any = None
                while True:
                    try:
                        with mode:
                            item = await agen.asend(sent)
                    except StopAsyncIteration:
                        return
                    sent = yield item

            return async_gen_wrapper  # type: ignore[return-value]
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with mode:
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]
        if inspect.isgeneratorfunction(func):

            @functools.wraps(func)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                # Each step of the generator runs in the mode; between steps the
                # caller's code runs in its own mode.
                return (yield from _in_mode(func(*args, **kwargs), mode))

            return gen_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with mode:
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def _in_mode(gen: Generator[Any, Any, Any], mode: _GradMode) -> Generator[Any, Any, Any]:
    """Drive ``gen`` like ``yield from``, entering ``mode`` around each resumption."""
    resume, arg = gen.send, None
    while True:
        try:
            with mode:
                item = resume(arg)
        except StopIteration as stop:
            return stop.value
        try:
            resume, arg = gen.send, (yield item)
        except GeneratorExit:
            with mode:
                gen.close()
            raise
        except BaseException as error:  # thrown into us: pass it on, in the mode
            resume, arg = gen.throw, error


def no_grad(func: F | None = None) -> Any:
    """Stop recording the graph inside a ``with`` block or a decorated function.

    Works as ``with no_grad():``, ``@no_grad()`` and ``@no_grad``.

    >>> from chaingrad import Value, no_grad
    >>> x = Value(2.0)
    >>> with no_grad():
    ...     y = x * 3
    >>> y.parents
    ()
    """
    if func is not None:
        return _GradMode(False)(func)
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Record the graph again inside a ``no_grad`` region."""
    return _GradMode(True)


def set_grad_enabled(enabled: bool) -> _GradMode:
    """Context manager / decorator that sets grad mode to ``enabled``."""
    return _GradMode(bool(enabled))
