"""The Value node: one real number, its gradient, and how it was made."""

from __future__ import annotations

import numbers
import operator
from collections.abc import Iterable
from typing import Any

from . import mode, ops
from .ops import Op

Number = int | float

_new = object.__new__
_EMPTY: tuple = ()
_get_data = operator.attrgetter("data")


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


def _record(data: float, parents: tuple, local_grads: tuple, op: Op) -> Value:
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


def _as_value(x: Any) -> Value:
    """A Value for the other operand of a binary op, or NotImplemented."""
    kind = type(x)
    if kind is float or kind is int:  # the common case, before slower isinstance checks
        return Constant(x)
    if isinstance(x, Value):
        return x
    if isinstance(x, numbers.Real):
        return Constant(float(x))
    return NotImplemented


def _unary(op: Op, doc: str):
    forward = op.forward

    def method(self: Value) -> Value:
        data, local_grads = forward(self.data)
        return _record(data, (self,), local_grads, op)

    method.__name__ = op.name
    method.__doc__ = doc
    return method


def _binary(op: Op, reflected: bool = False):
    forward = op.forward

    def method(self: Value, other: Any) -> Value:
        if type(other) is not Value:
            other = _as_value(other)
            if other is NotImplemented:
                return NotImplemented
        left, right = (other, self) if reflected else (self, other)
        data, local_grads = forward(left.data, right.data)
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

    method.__name__ = f"__r{op.name}__" if reflected else f"__{op.name}__"
    return method


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

    # numpy scalars on the left (np.float64(2) * v) defer to Value's reflected ops.
    __array_ufunc__ = None

    def __init__(self, data: Number, label: str = "") -> None:
        self.data = data if type(data) is float else _to_float(data)
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

    __add__ = _binary(ops.ADD)
    __radd__ = _binary(ops.ADD, reflected=True)
    __sub__ = _binary(ops.SUB)
    __rsub__ = _binary(ops.SUB, reflected=True)
    __mul__ = _binary(ops.MUL)
    __rmul__ = _binary(ops.MUL, reflected=True)
    __truediv__ = _binary(ops.DIV)
    __rtruediv__ = _binary(ops.DIV, reflected=True)
    __rpow__ = _binary(ops.POW, reflected=True)
    __neg__ = _unary(ops.NEG, "-self")

    def __pos__(self) -> Value:
        return self

    def __pow__(self, exponent: Value | Number) -> Value:
        """``self ** exponent``; a number exponent makes one ``**k`` node, as in micrograd."""
        if isinstance(exponent, Value):
            data, local_grads = ops.POW.forward(self.data, exponent.data)
            return _record(data, (self, exponent), local_grads, ops.POW)
        if isinstance(exponent, numbers.Real):
            op = ops.pow_const(float(exponent))
            data, local_grads = op.forward(self.data)
            return _record(data, (self,), local_grads, op)
        return NotImplemented

    exp = _unary(ops.EXP, "e ** self. Raises OverflowError naming exp past exp(709.78).")
    log = _unary(ops.LOG, "Natural logarithm. Raises ValueError for operands <= 0.")
    sqrt = _unary(ops.SQRT, "Square root. Raises ValueError for negative operands.")
    tanh = _unary(ops.TANH, "Hyperbolic tangent, in (-1, 1); safe for huge inputs.")
    sigmoid = _unary(ops.SIGMOID, "1 / (1 + exp(-self)), computed without overflow.")
    softplus = _unary(ops.SOFTPLUS, "log(1 + exp(self)), a smooth ReLU; stable for any input.")
    relu = _unary(ops.RELU, "max(0, self); the derivative at 0 is 0.")
    abs = _unary(ops.ABS, "|self|; the derivative at 0 is 0.")
    __abs__ = abs
    sin = _unary(ops.SIN, "Sine (radians).")
    cos = _unary(ops.COS, "Cosine (radians).")

    def leaky_relu(self, alpha: float = 0.01) -> Value:
        """``self`` if positive, else ``alpha * self``."""
        op = ops.leaky_relu(float(alpha))
        data, local_grads = op.forward(self.data)
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
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Jupyter shows a Value as its graph (rendered by chaingrad.viz)."""
        from chaingrad.viz import repr_mimebundle

        return repr_mimebundle(self, include, exclude)

    def detach(self) -> Value:
        """A new leaf with the same data and no history."""
        return Value(self.data, self.label)

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
    items = tuple(items)
    # One C-level pass decides whether any conversion is needed (usually not).
    if set(map(type, items)) <= _JUST_VALUE:
        return items
    return tuple(v if type(v) is Value else _as_operand(v, what) for v in items)


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


# Operands that need no conversion: a Constant (the 1 of a bias, a padding 0) is a Value.
_JUST_VALUE = frozenset({Value, Constant})
