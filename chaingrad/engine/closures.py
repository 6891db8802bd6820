"""micrograd's way of adding an op: ``Value(data, _children, _op)`` and a ``_backward`` closure.

The lecture writes a new op like this, and it runs on chaingrad as it is::

    def tanh(self):
        t = (math.exp(2*self.data) - 1)/(math.exp(2*self.data) + 1)
        out = Value(t, (self,), 'tanh')
        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

Such a node keeps its closure (in a :class:`ClosureOp` of its own) instead of
local derivatives; ``backward()`` calls it in reverse topological order, as
micrograd does, so its bugs (``=`` for ``+=``) show as they would there. A
drawing or a step-through needs each edge's local derivative: it is read off
the closure by running it once with the parents' gradients at 0 and the
node's at 1, then putting every gradient back (:func:`probe_local_grads`).

What a closure cannot give: a forward to replay (``chaingrad.jit``), its
derivative as Values (``grad(..., create_graph=True)``), or pickling. Each
says so and points to ``chaingrad.op``, which defines the same op in one
function and has all three. The closure holds its node and the node its
closure, a reference cycle per node that the cycle collector frees, as in
micrograd; the engine's own ops keep none.

>>> from chaingrad import Value
>>> a = Value(3.0)
>>> out = Value(a.data * a.data, (a, a), "*")
>>> def _backward():
...     a.grad += a.data * out.grad   # the first edge
...     a.grad += a.data * out.grad   # the second: a is used twice
>>> out._backward = _backward
>>> out.local_grads, out.op
((3.0, 3.0), ClosureOp('*'))
>>> out.backward()
>>> a.grad
6.0
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from . import mode
from . import value as _value
from .op import Op

_ADVICE = "define the op with chaingrad.op (a forward that returns its local derivatives)"


class ClosureOp(Op):
    """The op of one node made micrograd's way: its ``_op`` text and its ``_backward``."""

    def __init__(self, symbol: str, closure: Callable[[], Any] | None = None) -> None:
        super().__init__(symbol or "closure", self._no_forward, None, symbol=symbol)
        self.closure = closure

    def _no_forward(self, *xs: float) -> tuple[float, tuple[float, ...]]:
        raise TypeError(
            f"the op {self.symbol!r} was made by a _backward closure, which has no forward "
            f"on numbers to run again; {_ADVICE}"
        )

    def __call__(self, *inputs: Any, **constant: float) -> Any:
        return self._no_forward()

    def __repr__(self) -> str:
        return f"ClosureOp({self.symbol!r})"


def lecture_node(node: Any, children: Iterable[Any], symbol: str) -> None:
    """Fill the slots of ``Value(data, _children, _op)``: parents, no local derivatives yet."""
    parents = tuple(children)
    for k, parent in enumerate(parents):
        if not isinstance(parent, _value.Value):
            raise TypeError(
                f"Value(data, _children, _op): _children must hold Values, "
                f"got {type(parent).__name__} at position {k}"
            )
    if not isinstance(symbol, str):
        raise TypeError(f"Value(data, _children, _op): _op must be a str, got {symbol!r}")
    if mode._disabled_count and not mode._grad_enabled.get():
        parents = ()  # no_grad(): a plain leaf, as for every op
    node._parents = parents
    node._local_grads = None if parents else ()
    node._rule = ClosureOp(symbol) if parents else None


def set_closure(node: Any, closure: Callable[[], Any]) -> None:
    """``node._backward = closure``: from now on backward() calls it for this node."""
    if not callable(closure):
        raise TypeError(f"_backward must be a function of no arguments, got {closure!r}")
    rule = node._rule
    if isinstance(rule, ClosureOp):
        rule.closure = closure
        return
    if not node._parents:  # a leaf: backward never runs a leaf's step (micrograd's neither)
        node._rule = None
        return
    # A node of a rule-table op whose step is replaced: the closure is its rule now.
    node._rule = ClosureOp(rule.symbol if rule is not None else "", closure)
    node._local_grads = None


def probe_local_grads(node: Any) -> tuple[float, ...]:
    """Each parent's ``d node / d parent``, read off the node's closure.

    The closure runs once with the node's gradient at 1 and its parents' at 0;
    what each parent then holds is its local derivative. Every gradient is
    put back, so ``.grad`` is unchanged. A parent listed twice (``a * a``)
    gets half of what it received on each of its edges.
    """
    parents = node._parents
    closure = node._rule.closure if isinstance(node._rule, ClosureOp) else None
    if closure is None:
        return (0.0,) * len(parents)
    distinct = list(dict.fromkeys(parents))
    saved = [p.grad for p in distinct]
    saved_own = node.grad
    try:
        for p in distinct:
            p.grad = 0.0
        node.grad = 1.0
        closure()
        received = {p: float(p.grad) for p in distinct}
    finally:
        for p, g in zip(distinct, saved):
            p.grad = g
        node.grad = saved_own
    return tuple(received[p] / parents.count(p) for p in parents)
