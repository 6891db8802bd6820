"""Grad mode: whether operations record their parents.

The mode lives in a ``contextvars.ContextVar`` so each thread (and each asyncio
task) has its own. Reading a ContextVar on every operation would cost time on
the hot path, so a module-level counter says whether *any* context has turned
recording off; only then is the ContextVar consulted.
"""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable
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


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._tokens: list[contextvars.Token[bool]] = []

    def __enter__(self) -> None:
        global _disabled_count
        self._tokens.append(_grad_enabled.set(self._enabled))
        if not self._enabled:
            with _count_lock:
                _disabled_count += 1

    def __exit__(self, *exc_info: object) -> None:
        global _disabled_count
        _grad_enabled.reset(self._tokens.pop())
        if not self._enabled:
            with _count_lock:
                _disabled_count -= 1

    def __call__(self, func: F) -> F:
        enabled = self._enabled

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            # A fresh manager per call keeps recursive and threaded calls independent.
            with _GradMode(enabled):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


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
