"""The Value node: one real number, its gradient, and how it was made."""

# The operators are declared as methods whose bodies (``...``) a decorator
# replaces; mypy's empty-body check would flag every one of them.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

import functools
import numbers
import operator
import threading
from collections.abc import Callable, Container, Iterable
from itertools import chain
from typing import Any, TypeVar, cast

from . import mode, ops
from .ops import Op

Number = int | float

_new = object.__new__
_EMPTY: tuple[()] = ()
_get_data = operator.attrgetter("_data")  # the slot's private alias (see trace_hook)


def _to_float(data: Any, what: str = "Value()") -> float:
    # bool is an int, and numpy scalars register themselves as numbers.Real
    # (an ABC check is slow, so plain floats and ints go first).
    if type(data) is float:
        return data
    if type(data) is int or isinstance(data, numbers.Real):
        return float(data)
    shown = repr(data)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise TypeError(
        f"{what} takes a real number (int, float or a numpy scalar), "
        f"got {type(data).__name__}: {shown}"
    )


def _record(
    data: float, parents: tuple[Value, ...], local_grads: tuple[float, ...], op: Op
) -> Value:
    """Make the output node of an op; in no_grad mode it is a plain leaf."""
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    if mode._disabled_count and not mode._grad_enabled.get():
        out._parents = _EMPTY
        out._local_grads = _EMPTY
        out._rule = None
    else:
        out._parents = parents
        out._local_grads = local_grads
        out._rule = op
    return out


def _as_value(x: Any) -> Value | None:
    """A Value for the other operand of a binary op, or None if it is not a number."""
    kind = type(x)
    if kind is float or kind is int:  # the common case, before slower isinstance checks
        return Constant(x)
    if isinstance(x, Value):
        return x
    if isinstance(x, numbers.Real):
        return Constant(float(x))
    return None


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _unary(op: Op) -> Callable[[_Method], _Method]:
    """Decorator: replace a declared one-operand method by a fast one for ``op``.

    The declaration keeps its name, signature and docstring (what editors, type
    checkers and ``help()`` show); its body never runs.
    """
    forward = op.forward

    def method(self: Value) -> Value:
        data, local_grads = forward(self._data)
        return _record(data, (self,), local_grads, op)

    def replace(declared: _Method) -> _Method:
        return cast(_Method, functools.update_wrapper(method, declared))

    return replace


def _binary(op: Op, reflected: bool = False) -> Callable[[_Method], _Method]:
    """Decorator: replace a declared operator (``__add__``, ``__radd__``, ...) by a fast one."""
    forward = op.forward

    def method(self: Value, other: Any) -> Value:
        if type(other) is not Value:
            other = _as_value(other)
            if other is None:
                return NotImplemented
        left, right = (other, self) if reflected else (self, other)
        data, local_grads = forward(left._data, right._data)
        # _record inlined: + and * are most of every graph, and a call costs ~20%.
        out = _new(Value)
        out.data = data
        out.grad = 0.0
        out.label = ""
        if mode._disabled_count and not mode._grad_enabled.get():
            out._parents = _EMPTY
            out._local_grads = _EMPTY
            out._rule = None
        else:
            out._parents = (left, right)
            out._local_grads = local_grads
            out._rule = op
        return out

    def replace(declared: _Method) -> _Method:
        return cast(_Method, functools.update_wrapper(method, declared))

    return replace


class Value:
    """A scalar in the computation graph.

    ``data`` is the number, ``grad`` the derivative of the last ``backward()``'s
    output with respect to it. Arithmetic on Values records the graph:

    >>> a = Value(2.0, label="a")
    >>> b = Value(-3.0, label="b")
    >>> c = a * b + a
    >>> c.backward()
    >>> c.data, a.grad, b.grad
    (-4.0, -2.0, 2.0)
    """

    __slots__ = ("data", "grad", "label", "_parents", "_local_grads", "_rule")

    #: The number this node holds.
    data: float
    #: d(output)/d(self) after ``output.backward()``; leaves accumulate it across calls.
    grad: float
    #: A name for drawings and messages ("" for none).
    label: str
    _parents: tuple[Value, ...]
    _local_grads: tuple[float, ...]
    _rule: Op | None
    # Private aliases of the data and grad slots, for the engine's own reads (below the class).
    _data: float
    _grad: float

    # numpy scalars on the left (np.float64(2) * v) defer to Value's reflected ops.
    __array_ufunc__ = None

    def __init__(self, data: float | numbers.Real, label: str = "") -> None:
        self.data = data if type(data) is float else _to_float(data)
        if type(label) is not str and not isinstance(label, str):
            # caught here, not later as an AttributeError deep inside a drawing
            raise TypeError(f"Value() label must be a str, got {type(label).__name__}")
        self.grad = 0.0
        self.label = label
        self._parents = _EMPTY
        self._local_grads = _EMPTY
        self._rule = None

    # --- reading the graph ------------------------------------------------------

    @property
    def parents(self) -> tuple[Value, ...]:
        """The inputs of the op that made this Value, in order (``a + a`` lists ``a`` twice)."""
        return self._parents

    @property
    def local_grads(self) -> tuple[float, ...]:
        """``d self / d parent`` for each parent, computed in the forward pass."""
        return self._local_grads

    @property
    def op(self) -> Op | None:
        """The :class:`~chaingrad.engine.ops.Op` that made this Value (None for a leaf)."""
        return self._rule

    @property
    def is_leaf(self) -> bool:
        """True for Values made by the user (inputs, parameters, constants)."""
        return not self._parents

    # micrograd's names, so its lecture code (e.g. its draw_dot) runs unchanged.
    @property
    def _prev(self) -> tuple[Value, ...]:
        return self._parents

    @property
    def _op(self) -> str:
        return self._rule.symbol if self._rule is not None else ""

    # --- arithmetic: every op comes from the rule table in ops.py ---------------

    # Each method below is a declaration: its signature and docstring are what
    # editors, type checkers and help() show. The decorator swaps in a fast
    # function made from the op's rule-table entry (no extra call per op), so
    # the declared bodies (``...``) never run.

    @_binary(ops.ADD)
    def __add__(self, other: Value | float) -> Value:
        """``self + other``. A plain number becomes a :class:`Constant` leaf.

        >>> (Value(2.0) + 1).data
        3.0
        """
        ...

    @_binary(ops.ADD, reflected=True)
    def __radd__(self, other: Value | float) -> Value:
        """``other + self``, for a number on the left: ``1 + v``."""
        ...

    @_binary(ops.SUB)
    def __sub__(self, other: Value | float) -> Value:
        """``self - other``: one ``-`` node (not ``self + (-other)``)."""
        ...

    @_binary(ops.SUB, reflected=True)
    def __rsub__(self, other: Value | float) -> Value:
        """``other - self``, for a number on the left: ``1 - v``."""
        ...

    @_binary(ops.MUL)
    def __mul__(self, other: Value | float) -> Value:
        """``self * other``; the local derivatives are the other operand's data.

        >>> a, b = Value(2.0), Value(-3.0)
        >>> c = a * b
        >>> c.local_grads
        (-3.0, 2.0)
        """
        ...

    @_binary(ops.MUL, reflected=True)
    def __rmul__(self, other: Value | float) -> Value:
        """``other * self``, for a number on the left: ``3 * v``."""
        ...

    @_binary(ops.DIV)
    def __truediv__(self, other: Value | float) -> Value:
        """``self / other`` as one node. Dividing by zero raises ``ZeroDivisionError``."""
        ...

    @_binary(ops.DIV, reflected=True)
    def __rtruediv__(self, other: Value | float) -> Value:
        """``other / self``, for a number on the left: ``1 / v``."""
        ...

    @_binary(ops.POW, reflected=True)
    def __rpow__(self, other: Value | float) -> Value:
        """``other ** self``, for a number base: ``2 ** v``."""
        ...

    @_unary(ops.NEG)
    def __neg__(self) -> Value:
        """``-self``."""
        ...

    def __pos__(self) -> Value:
        """``+self`` is ``self`` (no node)."""
        return self

    def __pow__(self, exponent: Value | float) -> Value:
        """``self ** exponent``; a number exponent makes one ``**k`` node, as in micrograd.

        >>> x = Value(3.0)
        >>> (x**2).data, (x**x).data
        (9.0, 27.0)
        """
        if isinstance(exponent, Value):
            data, local_grads = ops.POW.forward(self._data, exponent._data)
            return _record(data, (self, exponent), local_grads, ops.POW)
        if isinstance(exponent, numbers.Real):
            op = ops.pow_const(float(exponent))
            data, local_grads = op.forward(self._data)
            return _record(data, (self,), local_grads, op)
        return NotImplemented

    @_unary(ops.EXP)
    def exp(self) -> Value:
        """``e ** self``. Raises ``OverflowError`` naming exp past ``exp(709.78)``."""
        ...

    @_unary(ops.LOG)
    def log(self) -> Value:
        """Natural logarithm. Raises ``ValueError`` for operands <= 0."""
        ...

    @_unary(ops.SQRT)
    def sqrt(self) -> Value:
        """Square root. Raises ``ValueError`` for negative operands."""
        ...

    @_unary(ops.TANH)
    def tanh(self) -> Value:
        """Hyperbolic tangent, in (-1, 1); safe for huge inputs.

        >>> y = Value(0.5).tanh()
        >>> round(y.data, 4), round(y.local_grads[0], 4)  # tanh, 1 - tanh**2
        (0.4621, 0.7864)
        """
        ...

    @_unary(ops.SIGMOID)
    def sigmoid(self) -> Value:
        """``1 / (1 + exp(-self))``, computed without overflow."""
        ...

    @_unary(ops.SOFTPLUS)
    def softplus(self) -> Value:
        """``log(1 + exp(self))``, a smooth ReLU; stable for any input."""
        ...

    @_unary(ops.RELU)
    def relu(self) -> Value:
        """``max(0, self)``; the derivative at 0 is 0."""
        ...

    @_unary(ops.ABS)
    def abs(self) -> Value:
        """``|self|``; the derivative at 0 is 0. Also ``abs(v)``."""
        ...

    __abs__ = abs

    @_unary(ops.SIN)
    def sin(self) -> Value:
        """Sine (radians)."""
        ...

    @_unary(ops.COS)
    def cos(self) -> Value:
        """Cosine (radians)."""
        ...

    def leaky_relu(self, alpha: float = 0.01) -> Value:
        """``self`` if positive, else ``alpha * self``."""
        op = ops.leaky_relu(float(alpha))
        data, local_grads = op.forward(self._data)
        return _record(data, (self,), local_grads, op)

    # --- comparisons look at data; equality stays identity so Values hash --------

    def __lt__(self, other: Any) -> bool:
        return self.data < _data_of(other)

    def __le__(self, other: Any) -> bool:
        return self.data <= _data_of(other)

    def __gt__(self, other: Any) -> bool:
        return self.data > _data_of(other)

    def __ge__(self, other: Any) -> bool:
        return self.data >= _data_of(other)

    __hash__ = object.__hash__

    # --- conversions ------------------------------------------------------------

    def __float__(self) -> float:
        return self.data

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self._data!r}, grad={self._grad!r}{label})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Jupyter shows a Value as its graph (rendered by chaingrad.viz)."""
        from chaingrad.viz import repr_mimebundle

        return repr_mimebundle(self, include, exclude)

    def detach(self) -> Value:
        """A new leaf with the same data and no history."""
        return Value(self.data, self.label)

    # --- pickling and copying (iterative: a graph of any depth) -------------------

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        """Pickle support that keeps the graph and never recurses along it.

        Left alone, pickle writes a node's parents inside the node, their
        parents inside them, and so on: one level of C recursion per level of
        the graph, which overflows at a few thousand. So the first node of a
        graph that pickle meets (a root) writes checkpoints of its ancestors
        first, parents before children, and pickle never follows more than 50
        unwritten nodes in a row. Identity is kept: a parameter shared by a
        model and a loss is one object after loading.
        """
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

    def __deepcopy__(self, memo: dict[int, Any]) -> Value:
        """A copy of this Value and of every Value it depends on (same shape of graph).

        Iterative, parents before children, and it shares ``memo`` with
        ``copy.deepcopy``: copying a model and a loss together keeps the loss
        wired to the copied parameters.
        """
        found = memo.get(id(self))
        if found is not None:
            return found
        import copy

        ancestors, _ = _walk_until(self, memo, leaves=True)
        for node in (*ancestors, self):
            new = _new(type(node))
            new.data = node.data
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

    def __copy__(self) -> Value:
        """A new node with the same data, grad, label, parents and op (the parents are shared)."""
        new = _new(type(self))
        new.data, new.grad, new.label = self.data, self.grad, self.label
        new._parents, new._local_grads, new._rule = self._parents, self._local_grads, self._rule
        extra = getattr(self, "__dict__", None)
        if extra:
            new.__dict__.update(extra)
        return new

    # --- differentiation --------------------------------------------------------

    def backward(self, grad: float = 1.0) -> None:
        """Fill ``.grad`` of every Value this one depends on (reverse-mode autodiff).

        Leaves (inputs, parameters) *accumulate* across calls until zeroed;
        intermediate nodes hold the gradient of this pass only.
        """
        from .autodiff import backward

        backward(self, grad if type(grad) is float else _to_float(grad, "backward(grad=...)"))

    def _backward(self) -> None:
        """One chain-rule step by hand: push this node's grad to its parents.

        ``parent.grad += d self/d parent * self.grad`` -- what ``backward()`` does
        for every node in reverse topological order.
        """
        g = self.grad
        for parent, local in zip(self._parents, self._local_grads):
            parent.grad += local * g


def _data_of(x: Any) -> float:
    if isinstance(x, Value):
        return x.data
    return _to_float(x, "comparison with a Value")


def _operands(items: Iterable[Value | Number], what: str) -> tuple[Value, ...]:
    """A tuple of Values; numbers become constant leaves."""
    operands: tuple[Any, ...] = tuple(items)
    # One C-level pass decides whether any conversion is needed (usually not).
    if set(map(type, operands)) <= _JUST_VALUE:
        return operands
    return tuple(v if type(v) is Value else _as_operand(v, what) for v in operands)


def sum_of(values: Iterable[Value | Number]) -> Value:
    """Sum many Values as one node with one edge per term (not a chain of ``+``).

    >>> sum_of([Value(1.0), Value(2.0), 3]).data
    6.0
    """
    parents = _operands(values, "sum_of")
    if not parents:
        return Value(0.0)
    return _many(ops.SUM, parents)


def dot(weights: Iterable[Value | Number], inputs: Iterable[Value | Number]) -> Value:
    """``sum(w_i * x_i)`` as one node: a neuron's weighted sum in a single step.

    >>> dot([Value(2.0), Value(3.0)], [1.0, -1.0]).data
    -1.0
    """
    ws = _operands(weights, "dot")
    xs = _operands(inputs, "dot")
    if len(ws) != len(xs):
        raise ValueError(f"dot: got {len(ws)} weights but {len(xs)} inputs")
    if not ws:
        return Value(0.0)
    return _many(ops.DOT, ws + xs)


def dots(
    weight_rows: Iterable[Iterable[Value | Number]], inputs: Iterable[Value | Number]
) -> list[Value]:
    """``[dot(row, inputs) for row in weight_rows]``: a dense layer's outputs, one node each.

    The nodes are exactly those of ``dot``; the inputs are converted and read
    once for all rows instead of once per row, which is most of the work of a
    linear map in a network (Linear, attention's projections, an LSTM's gates).

    >>> [y.data for y in dots([[Value(1.0), Value(2.0)], [Value(0.5), 0.0]], [3.0, 4.0])]
    [11.0, 1.5]
    """
    xs = _operands(inputs, "dots")
    xs_data = tuple(map(_get_data, xs))
    n = len(xs)
    rows: list[tuple[Any, ...]] = list(map(tuple, weight_rows))
    # One C-level pass over every weight decides whether any needs converting.
    if not set(map(type, chain.from_iterable(rows))) <= _JUST_VALUE:
        rows = [_operands(row, "dots") for row in rows]
    for ws in rows:
        if len(ws) != n:
            raise ValueError(f"dots: got a row of {len(ws)} weights for {n} inputs")
    if not n:
        return [Value(0.0) for _ in rows]
    out: list[Value] = []
    append, dot_forward, op = out.append, ops.dot_forward, ops.DOT
    for ws in rows:
        data, local_grads = dot_forward(tuple(map(_get_data, ws)), xs_data)
        append(_record(data, ws + xs, local_grads, op))
    return out


def _many(op: Op, parents: tuple[Value, ...]) -> Value:
    data, local_grads = op.forward(*map(_get_data, parents))
    return _record(data, parents, local_grads, op)


def max_of(values: Iterable[Value | Number]) -> Value:
    """The largest of many Values as one node; the gradient goes to the winner only.

    This is max pooling's op: the winner is chosen again every time the graph
    is built (or replayed), never frozen by a comparison in Python.

    >>> m = max_of([Value(1.0), Value(5.0), Value(3.0)])
    >>> m.backward()
    >>> m.data, [p.grad for p in m.parents]
    (5.0, [0.0, 1.0, 0.0])
    """
    parents = _operands(values, "max_of")
    if not parents:
        raise ValueError("max_of: needs at least one value")
    return _many(ops.MAX, parents)


def logsumexp(values: Iterable[Value | Number]) -> Value:
    """``log(sum(exp(v)))`` as one node, computed without overflow.

    Its derivative with respect to each input is the softmax, which is why
    ``log_softmax`` and ``cross_entropy`` are built on it.

    >>> round(logsumexp([Value(1000.0), Value(1000.0)]).data, 6)
    1000.693147
    """
    parents = _operands(values, "logsumexp")
    if not parents:
        raise ValueError("logsumexp: needs at least one value")
    return _many(ops.LOGSUMEXP, parents)


def take(values: Iterable[Value | Number], index: Value | int) -> Value:
    """``values[index]``, where ``index`` may itself be a Value (a label, a token id).

    With a plain int this is ``values[index]`` (no new node). With a Value
    index it is one ``take`` node, so a graph that is rebuilt or replayed with
    another index picks another element: this is how ``cross_entropy`` reads
    its target and ``Embedding`` its token without freezing them.

    >>> xs = [Value(10.0), Value(20.0), Value(30.0)]
    >>> take(xs, 2).data, take(xs, Value(1)).data
    (30.0, 20.0)
    """
    if isinstance(index, Value):
        parents = (index, *_operands(values, "take"))
        return _many(ops.TAKE, parents)
    if isinstance(index, bool) or not isinstance(index, numbers.Integral):
        raise TypeError(f"take: index must be an int or a Value, got {type(index).__name__}")
    items = values if isinstance(values, (list, tuple)) else list(values)
    if not 0 <= index < len(items):
        raise ValueError(f"take: index {index} is out of range for {len(items)} values")
    item = items[index]
    return item if isinstance(item, Value) else Constant(_to_float(item, "take"))


def _as_operand(x: Any, what: str) -> Value:
    if isinstance(x, Value):
        return x
    return Constant(_to_float(x, what))


class Constant(Value):
    """A leaf the engine made from a plain number in an expression, like the 2 in ``x * 2``.

    It is a Value in every way; the subclass only lets a drawing tell the
    numbers written in a formula apart from the leaves a user made (inputs,
    parameters), at no cost in memory.

    >>> from chaingrad import Value
    >>> y = Value(3.0) * 2
    >>> [type(p).__name__ for p in y.parents]
    ['Value', 'Constant']
    """

    __slots__ = ()


# The engine reads its slots through these aliases (same descriptors, same speed); the
# public names are what engine/trace_hook.py guards while a trace runs.
Value._data = Value.__dict__["data"]
Value._grad = Value.__dict__["grad"]

# Operands of these exact types need no conversion (checked in one C-level pass).
_JUST_VALUE = frozenset({Value, Constant})


# --- pickling and copying helpers ---------------------------------------------------


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
    if op.name in ops.PARAMETRIC_OPS and op.param is not None:
        return op.name, op.param
    import pickle

    raise pickle.PicklingError(
        f"cannot pickle a Value made by op {op.name!r}: it is not in chaingrad's rule table"
    )


def _op_from_key(key: str | tuple[str, float] | None) -> Op | None:
    if key is None:
        return None
    try:
        if isinstance(key, str):
            return ops.OPS[key]
        name, param = key
        return ops.PARAMETRIC_OPS[name](param)
    except (KeyError, TypeError, ValueError):
        import pickle

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
