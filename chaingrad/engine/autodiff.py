"""Reverse-mode differentiation: topological order, backward, and ``grad``.

Nothing here recurses, so graphs of any depth (a chain of a million nodes) work.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Literal, overload

from .mode import enable_grad
from .value import Value

_gc_lock = threading.Lock()
_gc_pauses = 0  # walks in progress (any thread) that paused the cycle collector
_gc_was_enabled = False


@contextlib.contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while walking a graph.

    A walk allocates one stack entry per node of depth; on a deep graph those
    allocations trigger full collections that traverse every live node again
    and again (2-3x the walk's own time on a million-node chain). The walk
    creates no cycles, so nothing is lost by collecting afterwards instead.
    A counter makes nested and concurrent walks restore the user's setting.
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def toposort(root: Value) -> list[Value]:
    """Every Value ``root`` depends on, each after all of its parents.

    An iterative depth-first search: the explicit stack holds (node, iterator
    over its parents) pairs, so depth is limited by memory, not Python's
    recursion limit. Leaves are emitted as soon as they are seen.
    """
    with _cycle_collector_paused():
        return _toposort(root)


def _toposort(root: Value, leaves: bool = True) -> list[Value]:
    """``toposort`` without pausing the collector; ``leaves=False`` leaves the leaves out.

    Half of a network's nodes are leaves (its parameters, inputs, constants);
    backward only accumulates into them, so its order need not list them.
    """
    order: list[Value] = []
    emit = order.append
    seen = {root}
    mark = seen.add
    stack = [(root, iter(root._parents))]
    push = stack.append
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent not in seen:
                mark(parent)
                if parent._parents:
                    push((parent, iter(parent._parents)))
                    break
                if leaves:
                    emit(parent)
        else:
            stack.pop()
            emit(node)
    return order


def backward(root: Value, grad: float = 1.0) -> None:
    """Apply the chain rule from ``root`` back to every Value it depends on.

    Intermediate nodes are reset first, so their ``.grad`` is this pass's alone;
    leaves keep what they had and accumulate (call ``zero_grad()`` between steps).
    """
    with _cycle_collector_paused():
        _backward(root, grad)


def _backward(root: Value, grad: float) -> None:
    if not root._parents:  # a leaf: its gradient with respect to itself
        root.grad += grad
        return
    order = _toposort(root, leaves=False)
    for node in order:
        node.grad = 0.0
    root.grad += grad
    for node in reversed(order):
        g = node.grad
        local_grads = node._local_grads
        if local_grads is None:  # made micrograd's way: its closure does this step
            node._backward()
            continue
        # d root/d parent += d node/d parent * d root/d node
        for parent, local in zip(node._parents, local_grads):
            parent.grad += local * g


@overload
def grad(output: Value, inputs: Value, create_graph: Literal[False] = False) -> float: ...
@overload
def grad(
    output: Value, inputs: Sequence[Value], create_graph: Literal[False] = False
) -> tuple[float, ...]: ...
@overload
def grad(output: Value, inputs: Value, create_graph: Literal[True]) -> Value: ...
@overload
def grad(
    output: Value, inputs: Sequence[Value], create_graph: Literal[True]
) -> tuple[Value, ...]: ...
@overload
def grad(
    output: Value, inputs: Value | Sequence[Value], create_graph: bool = False
) -> float | Value | tuple[float, ...] | tuple[Value, ...]: ...


def grad(
    output: Value,
    inputs: Value | Sequence[Value],
    create_graph: bool = False,
) -> float | Value | tuple[float, ...] | tuple[Value, ...]:
    """Gradients of ``output`` with respect to ``inputs``, leaving every ``.grad`` untouched.

    With ``create_graph=True`` the gradients are Values whose own graph can be
    differentiated again (second derivatives, Hessian-vector products, Newton's
    method). A single Value as ``inputs`` gives a single gradient, a sequence a
    tuple. An input ``output`` does not depend on gets 0.

    >>> from chaingrad import Value, grad
    >>> x = Value(3.0)
    >>> y = x ** 3
    >>> dy = grad(y, x, create_graph=True)
    >>> dy.data, grad(dy, x)
    (27.0, 18.0)
    """
    targets = (inputs,) if isinstance(inputs, Value) else tuple(inputs)
    for i, target in enumerate(targets):
        if not isinstance(target, Value):
            raise TypeError(f"grad: inputs[{i}] must be a Value, got {type(target).__name__}")
    if not isinstance(output, Value):
        raise TypeError(f"grad: output must be a Value, got {type(output).__name__}")

    if create_graph:
        # Builds new nodes the user keeps: the collector stays on as for any op.
        with enable_grad():
            graph_grads = _graph_gradients(output, toposort(output))
        zero = Value(0.0)
        values = tuple(graph_grads.get(t, zero) for t in targets)
        return values[0] if isinstance(inputs, Value) else values
    with _cycle_collector_paused():
        float_grads = _float_gradients(output, _toposort(output))
    floats = tuple(float_grads.get(t, 0.0) for t in targets)
    return floats[0] if isinstance(inputs, Value) else floats


def _float_gradients(output: Value, order: list[Value]) -> dict[Value, float]:
    grads: dict[Value, float] = {output: 1.0}
    get = grads.get
    for node in reversed(order):
        g = get(node)
        if g is None or not node._parents:
            continue
        for parent, local in zip(node._parents, node.local_grads):
            grads[parent] = get(parent, 0.0) + local * g
    return grads


def _graph_gradients(output: Value, order: list[Value]) -> dict[Value, Value]:
    # The same chain rule, but every product and sum is itself a recorded Value,
    # using each op's graph_grads (its derivative written in Value operations).
    grads: dict[Value, Value] = {output: Value(1.0)}
    for node in reversed(order):
        g = grads.get(node)
        if g is None or not node._parents:
            continue
        for parent, local in zip(node._parents, _graph_local_grads(node)):
            if isinstance(local, Value):
                contribution = local * g
            elif local == 1.0:
                contribution = g
            elif local == 0.0:
                continue
            else:
                contribution = local * g
            previous = grads.get(parent)
            grads[parent] = contribution if previous is None else previous + contribution
    return grads


def _graph_local_grads(node: Value) -> tuple[Any, ...]:
    """The node's local derivatives as Values (or exact constants), from its op's rule."""
    rule = node._rule
    assert rule is not None  # a node with parents has the op that made it
    graph_grads = rule.graph_grads
    if callable(graph_grads):
        return graph_grads(node, *node._parents)
    if graph_grads == "constant" and node._local_grads is not None:
        return node._local_grads  # piecewise constant: forward's numbers are exact
    if node._local_grads is None:
        raise TypeError(
            f"grad(create_graph=True): the op {rule.symbol!r} was made by a _backward "
            "closure (micrograd's way), which gives numbers, not Values to differentiate "
            "again; define it with chaingrad.op(..., graph_grads=...) for higher order"
        )
    raise TypeError(
        f"grad(create_graph=True): op {rule.name!r} has no graph_grads, its derivative "
        "written with Value operations; pass graph_grads=lambda out, *inputs: (...) to "
        "chaingrad.op for second derivatives (first derivatives need nothing more)"
    )
