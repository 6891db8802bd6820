"""Which module made which node: scope tags recorded only while someone asks.

Drawing a network's graph is clearer with one box (cluster) per neuron and per
layer. Values carry no scope field -- that would cost every node memory and
every op time. Instead, while a :class:`ScopeRecorder` is active,
``nn.Module.__call__`` routes each call through :meth:`ScopeRecorder.call`,
which, after the module's forward returns, walks back from its outputs to its
inputs and tags every untagged node on the way with the stack of modules that
were running. Outside ``record_scopes()`` a module call pays one ContextVar read.

>>> from chaingrad import Value
>>> from chaingrad.engine.scopes import record_scopes
>>> with record_scopes() as recorder:
...     y = Value(2.0) * 3          # made outside any module: no tag
>>> recorder.scope_of(y)
()
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .value import Value

_active: contextvars.ContextVar[ScopeRecorder | None] = contextvars.ContextVar(
    "chaingrad_scope_recorder", default=None
)


def active_recorder() -> ScopeRecorder | None:
    """The recorder of the current context, or None (the common, free case)."""
    return _active.get()


def _values_in(obj: Any) -> list[Value]:
    """Values found in obj, looking inside (nested) lists, tuples and dict values."""
    found = []
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, Value):
            found.append(item)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return found


class ScopeRecorder:
    """Maps nodes to the stack of modules (outermost first) whose forward made them."""

    def __init__(self) -> None:
        self.scopes: dict[Value, tuple[Any, ...]] = {}
        self._stack: list[Any] = []

    def scope_of(self, node: Value) -> tuple[Any, ...]:
        """The modules, outermost first, that were running when ``node`` was made."""
        return self.scopes.get(node, ())

    def call(self, module: Any, forward: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``forward(*args, **kwargs)`` for ``module`` and tag the nodes it made."""
        self._stack.append(module)
        path = tuple(self._stack)
        try:
            out = forward(*args, **kwargs)
        finally:
            self._stack.pop()
        # Inner modules finished first and tagged their nodes with deeper paths;
        # walk through those (their inputs may be ours) without re-tagging them.
        inputs = {id(v) for v in _values_in((args, kwargs))}
        seen: set[int] = set()
        stack = _values_in(out)
        scopes = self.scopes
        while stack:
            node = stack.pop()
            if id(node) in seen or id(node) in inputs:
                continue
            seen.add(id(node))
            if node not in scopes:
                scopes[node] = path
            stack.extend(node._parents)
        return out


@contextmanager
def record_scopes() -> Iterator[ScopeRecorder]:
    """Record, for every node made by an ``nn.Module`` call in this block, its module stack."""
    recorder = ScopeRecorder()
    token = _active.set(recorder)
    try:
        yield recorder
    finally:
        _active.reset(token)
