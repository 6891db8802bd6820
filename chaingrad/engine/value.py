"""The Value node: one real number, its gradient, and how it was made."""

# The operators are declared as methods whose bodies (``...``) a decorator
# replaces; mypy's empty-body check would flag every one of them.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

import functools
import numbers
import operator
from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from typing import Any, TypeVar, cast

from . import closures, mode, ops, pickling
from .op import Op

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
        # Constant(x) without the call of __init__: numbers in formulas are everywhere
        out = _new(Constant)
        out.data = x if kind is float else float(x)
        out.grad = 0.0
        out.label = ""
        out._parents = out._local_grads = _EMPTY
        out._rule = None
        return out
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
    # None for a node made micrograd's way: its closure does the chain rule (closures.py)
    _local_grads: tuple[float, ...] | None
    _rule: Op | None
    # Private aliases of the data and grad slots, for the engine's own reads (below the class).
    _data: float
    _grad: float

    # numpy scalars on the left (np.float64(2) * v) defer to Value's reflected ops.
    __array_ufunc__ = None

    def __init__(
        self,
        data: float | numbers.Real,
        _children: Iterable[Value] | str = (),
        _op: str = "",
        label: str = "",
    ) -> None:
        """A leaf holding ``data``; ``label`` names it in drawings and messages.

        ``_children`` and ``_op`` are micrograd's way of adding an op: the
        node's parents and its symbol, with ``out._backward = closure`` set
        next (see ``engine/closures.py``). ``Value(2.0, "a")``, a label in
        second place, still names the leaf.
        """
        self.data = data if type(data) is float else _to_float(data)
        self.grad = 0.0
        if _children is _EMPTY:  # a leaf: the common case, kept to one test
            if type(label) is not str and not isinstance(label, str):
                # caught here, not later as an AttributeError deep inside a drawing
                raise TypeError(f"Value() label must be a str, got {type(label).__name__}")
            self.label = label
            self._parents = _EMPTY
            self._local_grads = _EMPTY
            self._rule = None
        elif type(_children) is str:  # Value(data, label): the signature before _children
            Value.__init__(self, data, label=_children)
        else:
            Value.__init__(self, data, label=label)
            closures.lecture_node(self, _children, _op)

    # --- reading the graph ------------------------------------------------------

    @property
    def parents(self) -> tuple[Value, ...]:
        """The inputs of the op that made this Value, in order (``a + a`` lists ``a`` twice)."""
        return self._parents

    @property
    def local_grads(self) -> tuple[float, ...]:
        """``d self / d parent`` for each parent, computed in the forward pass.

        For a node made micrograd's way they are read off its ``_backward``
        closure (every ``.grad`` is left as it was).
        """
        local_grads = self._local_grads
        if local_grads is None:
            return closures.probe_local_grads(self)
        return local_grads

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
            exponent = float(exponent)
            op = _POWERS.get(exponent) or ops.POW_CONST.bind(exponent)
            # the family's own forward with the constant by keyword: no extra call
            data, local_grads = _pow_const(self._data, exponent=exponent)
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
        alpha = float(alpha)
        op = _SLOPES.get(alpha) or ops.LEAKY_RELU.bind(alpha)
        data, local_grads = _leaky_relu(self._data, alpha=alpha)
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
        return Value(self.data, label=self.label)

    # --- pickling and copying: engine/pickling.py (iterative: a graph of any depth) --

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        """Pickle support that keeps the graph and never recurses along it."""
        return pickling.reduce_value(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Value:
        """A copy of this Value and of every Value it depends on (same shape of graph).

        It shares ``memo`` with ``copy.deepcopy``: copying a model and a loss
        together keeps the loss wired to the copied parameters.
        """
        return pickling.deepcopy_value(self, memo)

    def __copy__(self) -> Value:
        """A new node with the same data, grad, label, parents and op (the parents are shared)."""
        return pickling.copy_value(self)

    # --- differentiation --------------------------------------------------------

    def backward(self, grad: float = 1.0) -> None:
        """Fill ``.grad`` of every Value this one depends on (reverse-mode autodiff).

        Leaves (inputs, parameters) *accumulate* across calls until zeroed;
        intermediate nodes hold the gradient of this pass only.
        """
        from .autodiff import backward

        backward(self, grad if type(grad) is float else _to_float(grad, "backward(grad=...)"))

    @property
    def _backward(self) -> Callable[[], None]:
        """One chain-rule step by hand, as micrograd's lecture calls it: ``o._backward()``.

        It pushes this node's grad to its parents, ``parent.grad += d self/d
        parent * self.grad`` -- what ``backward()`` does for every node in
        reverse topological order. Assigning a function (``out._backward =
        _backward``) makes it this node's step, micrograd's way of adding an op.
        """
        rule = self._rule
        if isinstance(rule, closures.ClosureOp):
            return rule.closure or _no_step
        return self._chain_rule_step

    @_backward.setter
    def _backward(self, closure: Callable[[], None]) -> None:
        closures.set_closure(self, closure)

    def _chain_rule_step(self) -> None:
        g = self.grad
        for parent, local in zip(self._parents, self.local_grads):
            parent.grad += local * g


def _no_step() -> None:
    """A node made micrograd's way before its ``_backward`` is set passes nothing back."""


# x ** k and leaky_relu(alpha): the Op of each constant used, found in one lookup
_POWERS, _pow_const = ops.POW_CONST._members, ops.POW_CONST.forward
_SLOPES, _leaky_relu = ops.LEAKY_RELU._members, ops.LEAKY_RELU.forward


def apply(op: Op, inputs: Sequence[Any]) -> Value:
    """Record ``op`` on ``inputs`` (Values or numbers): what calling an :class:`Op` does.

    The forward is checked to return one float and one local derivative per
    input, so a mistake in a user's op is reported here, naming it.
    """
    parents = tuple(x if type(x) is Value else _as_operand(x, op.name) for x in inputs)
    result = op.forward(*map(_get_data, parents))
    try:
        data, local_grads = result
        local_grads = tuple(map(float, local_grads))
        data = data if type(data) is float else _to_float(data, f"{op.name}'s result")
    except (TypeError, ValueError):
        raise TypeError(
            f"op {op.name!r}: the forward must return (result, (d result/d input, ...)) "
            f"with numbers, got {result!r}"
        ) from None
    if len(local_grads) != len(parents):
        raise ValueError(
            f"op {op.name!r}: the forward returned {len(local_grads)} local derivatives "
            f"for {len(parents)} inputs (one per input, in order)"
        )
    return _record(data, parents, local_grads, op)


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
