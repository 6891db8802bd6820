"""Pickling and copying Values: a graph of any depth, written and read without recursion.

``Value.__reduce_ex__``, ``__deepcopy__`` and ``__copy__`` call the functions
here. Left alone, pickle writes a node's parents inside the node, their parents
inside them, and so on: one level of C recursion per level of the graph, which
overflows at a few thousand. So the first node of a graph that pickle meets
(a root) writes checkpoints of its ancestors first, parents before children,
and pickle never follows more than 50 unwritten nodes in a row. Identity is
kept: a parameter shared by a model and a loss is one object after loading.
An op is written by its name in the rule table (and its constant).

>>> import pickle
>>> from chaingrad import Value
>>> x = Value(2.0, label="x")
>>> y = (x * x + 1).tanh()
>>> z = pickle.loads(pickle.dumps(y))
>>> z.data == y.data, z.parents[0].parents[0].parents[0].label
(True, 'x')
"""

from __future__ import annotations

import copy
import pickle
import threading
from collections.abc import Container
from typing import TYPE_CHECKING, Any

from . import ops
from .closures import ClosureOp
from .op import Op

if TYPE_CHECKING:
    from .value import Value

_new = object.__new__
_EMPTY: tuple[()] = ()


def reduce_value(self: Value) -> tuple[Any, ...]:
    """``Value.__reduce_ex__``: a leaf, an ancestor under cover, or a root with its prelude."""
    state = getattr(self, "__dict__", None) or None  # a user subclass's attributes
    if not self._parents:
        return _restore_leaf, (type(self), self.data, self.grad, self.label), state
    node = (
        type(self),
        self.data,
        self.grad,
        self.label,
        self._parents,
        self._local_grads,
        _op_key(self._rule),
    )
    if _pickling.covered.get(id(self)) is self:
        return _restore_node, node, state  # an ancestor of the root being written
    prelude = _pickling.start_root(self)
    # The parents come before the end marker, so all ancestors are written under cover.
    return _restore_root, (prelude, self._parents, _EndCover(), *node), state


def deepcopy_value(self: Value, memo: dict[int, Any]) -> Value:
    """A copy of this Value and of every Value it depends on (same shape of graph).

    Iterative, parents before children, and it shares ``memo`` with
    ``copy.deepcopy``: copying a model and a loss together keeps the loss
    wired to the copied parameters.
    """
    found = memo.get(id(self))
    if found is not None:
        return found
    ancestors, _ = _walk_until(self, memo, leaves=True)
    for node in (*ancestors, self):
        if node._local_grads is None:
            raise TypeError(
                f"cannot deepcopy a Value made by a _backward closure ({node._rule}): the "
                "closure refers to the original nodes, so a copy would send its gradients "
                "there; define the op with chaingrad.op to copy such graphs"
            )
        data = node.data  # first: a Value lent to a compiled step is plain again after it
        new = _new(type(node))
        new.data = data
        new.grad = node.grad
        new.label = copy.deepcopy(node.label, memo)
        new._parents = tuple([memo[id(p)] for p in node._parents])
        new._local_grads = node._local_grads  # a tuple of floats: immutable, shared
        new._rule = node._rule  # ops are shared, never copied
        extra = getattr(node, "__dict__", None)
        if extra:
            new.__dict__.update(copy.deepcopy(extra, memo))
        memo[id(node)] = new
    return memo[id(self)]


def copy_value(self: Value) -> Value:
    """A new node with the same data, grad, label, parents and op (the parents are shared)."""
    new = _new(type(self))
    new.data, new.grad, new.label = self.data, self.grad, self.label
    new._parents, new._local_grads, new._rule = self._parents, self._local_grads, self._rule
    extra = getattr(self, "__dict__", None)
    if extra:
        new.__dict__.update(extra)
    return new


# A node is written with its parents inside it, so pickle recurses along any path of
# nodes not yet written. Writing checkpoints first caps such a path at this length.
_PICKLE_SPAN = 50
_RECENT_LIMIT = 1 << 20  # ids remembered between roots (an optimisation, never needed)


class _PicklingState(threading.local):
    """What the Values being pickled in this thread know about each other.

    ``covered``: the ancestors of the root being written (id -> node); they are
    written in the plain form, parents inside. ``recent``: ids of nodes that
    earlier roots wrote, most likely in this same ``pickle.dumps`` (pickling
    a list of an RNN's hidden states would otherwise walk the shared history
    once per state). A root stops its walk there and lists the recent nodes it
    reaches (its frontier) first: if pickle has written them they cost a
    memo reference; if not (an older pickling), pickle asks one of them to
    reduce itself, which proves ``recent`` stale, and it is forgotten.
    """

    def __init__(self) -> None:
        self.covered: dict[int, Value] = {}
        self.recent: set[int] = set()

    def start_root(self, root: Value) -> tuple[Value, ...]:
        recent = self.recent
        if id(root) in recent or len(recent) > _RECENT_LIMIT:
            recent.clear()  # pickle did not have it written: the memory is stale
        new, frontier = _walk_until(root, recent)
        self.covered = {id(v): v for v in new}
        return (*frontier, *_checkpoints(new))

    def end_root(self) -> None:
        self.recent.update(self.covered)
        self.covered = {}


_pickling = _PicklingState()


class _EndCover:
    """Written right after a root's ancestors: they are done, the cover ends."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        _pickling.end_root()
        return type(None), ()


def _walk_until(
    root: Value, stop: Container[int], leaves: bool = False
) -> tuple[list[Value], list[Value]]:
    """(``root``'s ancestors whose id is not in ``stop``, parents first; the ones in ``stop``).

    An iterative depth-first search that does not go past a node in ``stop``.
    Leaves are left out of the first list unless ``leaves`` is true.
    """
    order: list[Value] = []
    frontier: list[Value] = []
    seen = {id(root)}
    stack = [(root, iter(root._parents))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            key = id(parent)
            if key in seen:
                continue
            seen.add(key)
            if key in stop:
                frontier.append(parent)
            elif parent._parents:
                stack.append((parent, iter(parent._parents)))
                break
            elif leaves:
                order.append(parent)
        else:
            stack.pop()
            if node is not root:
                order.append(node)
    return order, frontier


def _checkpoints(order: list[Value]) -> tuple[Value, ...]:
    """Nodes of ``order`` (topological) such that no unwritten path avoids them for long.

    ``span`` of a node is the longest path down from it through nodes of
    ``order`` that are not checkpoints (the others are leaves or written
    already); a node whose span would reach ``_PICKLE_SPAN`` becomes a
    checkpoint. A chain of n nodes gets n/50 of
    them, a wide and shallow network none.
    """
    span: dict[int, int] = {}
    chosen = []
    for node in order:
        longest = 1 + max(span.get(id(p), 0) for p in node._parents)
        if longest >= _PICKLE_SPAN:
            chosen.append(node)
            longest = 0
        span[id(node)] = longest
    return tuple(chosen)


def _op_key(op: Op | None) -> str | tuple[str, float] | None:
    """How a node's op is written: its name in the rule table (and its constant)."""
    if op is None:
        return None
    if ops.OPS.get(op.name) is op:
        return op.name
    if ops.PARAMETRIC_OPS.get(op.name) is op.family and op.param is not None:
        return op.name, op.param
    if isinstance(op, ClosureOp):
        raise pickle.PicklingError(
            f"cannot pickle a Value made by a _backward closure ({op.symbol!r}): a function "
            "made inside another cannot be pickled; define the op with chaingrad.op"
        )
    raise pickle.PicklingError(
        f"cannot pickle a Value made by op {op.name!r}: it is not one of chaingrad's own ops "
        "(pickle the numbers instead, or rebuild the graph after loading)"
    )


def _op_from_key(key: str | tuple[str, float] | None) -> Op | None:
    if key is None:
        return None
    try:
        if isinstance(key, str):
            return ops.OPS[key]
        name, param = key
        return ops.PARAMETRIC_OPS[name].bind(param)
    except (KeyError, TypeError, ValueError):
        raise pickle.UnpicklingError(
            f"a pickled Value names op {key!r}, which this chaingrad does not have"
        ) from None


def _restore_leaf(cls: type, data: float, grad: float, label: str) -> Value:
    node: Any = _new(cls)  # slots filled below, as _record does
    node.data, node.grad, node.label = data, grad, label
    node._parents = node._local_grads = _EMPTY
    node._rule = None
    return node


def _restore_node(
    cls: type,
    data: float,
    grad: float,
    label: str,
    parents: tuple,
    local_grads: tuple,
    op_key: Any,
) -> Value:
    node: Any = _new(cls)  # slots filled below, as _record does
    node.data, node.grad, node.label = data, grad, label
    node._parents = tuple(parents)
    node._local_grads = tuple(local_grads)
    node._rule = _op_from_key(op_key)
    return node


def _restore_root(prelude: tuple, parents: tuple, end: None, *node: Any) -> Value:
    # The ancestors were rebuilt while unpickling the prelude and the parents.
    return _restore_node(*node)
