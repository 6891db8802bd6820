"""The rule table: every primitive operation, its forward and its local derivatives.

Each op is defined once, here, as an :class:`Op` holding two functions:

``forward(*xs) -> (out, local_grads)``
    Works on plain floats. Returns the result and the local derivatives
    ``d out / d x_i``, one per input, computed while the inputs are at hand.
    ``backward`` later only multiplies them by the upstream gradient (the
    chain rule), so no closure is stored per node.

``graph_grads(out, *xs) -> local_grads``
    The same derivatives written with Value operations (``out`` and ``xs`` are
    Values). ``chaingrad.grad(..., create_graph=True)`` uses these to build the
    gradient as a graph of its own, which can be differentiated again.
    Entries may be plain numbers when the derivative is a constant.

Adding an op is one entry below; ``tests/engine/test_ops.py`` walks ``OPS``
and ``PARAMETRIC_OPS`` and gradient-checks every entry both ways.

>>> OPS["tanh"].forward(0.5)            # (tanh(0.5), (1 - tanh(0.5)**2,))
(0.46211715726000974, (0.7864477329659274,))
>>> OPS["max"].forward(1.0, 4.0, 2.0)   # the gradient goes to the winner only
(4.0, (0.0, 1.0, 0.0))
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable
from typing import Any

Forward = Callable[..., "tuple[float, tuple[float, ...]]"]
GraphGrads = Callable[..., "tuple[Any, ...]"]


class Op:
    """One primitive operation of the engine (see the module docstring)."""

    __slots__ = ("name", "symbol", "arity", "forward", "graph_grads", "param")

    def __init__(
        self,
        name: str,
        symbol: str,
        arity: int | None,
        forward: Forward,
        graph_grads: GraphGrads,
        param: float | None = None,
    ) -> None:
        self.name = name  # stable identifier: "add", "pow_const", ...
        self.symbol = symbol  # what a graph drawing shows: "+", "**2", "tanh"
        self.arity = arity  # number of inputs; None for n-ary ops (sum, dot)
        self.forward = forward
        self.graph_grads = graph_grads
        self.param = param  # the constant of a parametric op (exponent, slope)

    def __repr__(self) -> str:
        return f"Op({self.name!r}, symbol={self.symbol!r})"

    def __str__(self) -> str:
        return self.symbol


OPS: dict[str, Op] = {}


def _register(name: str, symbol: str, arity: int | None, graph_grads: GraphGrads) -> Callable:
    """Decorator: register ``forward`` under ``name`` with its graph derivative."""

    def wrap(forward: Forward) -> Op:
        op = Op(name, symbol, arity, forward, graph_grads)
        OPS[name] = op
        return op

    return wrap


# Shared constant local-gradient tuples: an addition allocates nothing for them.
_ONE_ONE = (1.0, 1.0)
_ONE_MINUS_ONE = (1.0, -1.0)
_ONE = (1.0,)
_ZERO = (0.0,)
_MINUS_ONE = (-1.0,)


def _domain_error(op: str, operand: Any, why: str) -> ValueError:
    return ValueError(f"{op}: {why}, got {operand!r}")


# --- arithmetic ---------------------------------------------------------------


@_register("add", "+", 2, lambda out, a, b: (1.0, 1.0))
def ADD(a: float, b: float) -> tuple[float, tuple[float, ...]]:
    return a + b, _ONE_ONE


@_register("sub", "-", 2, lambda out, a, b: (1.0, -1.0))
def SUB(a: float, b: float) -> tuple[float, tuple[float, ...]]:
    return a - b, _ONE_MINUS_ONE


@_register("mul", "*", 2, lambda out, a, b: (b, a))
def MUL(a: float, b: float) -> tuple[float, tuple[float, ...]]:
    # d(ab)/da = b, d(ab)/db = a: the existing floats are reused, nothing new is made.
    return a * b, (b, a)


@_register("div", "/", 2, lambda out, a, b: (1.0 / b, -out / b))
def DIV(a: float, b: float) -> tuple[float, tuple[float, ...]]:
    if b == 0.0:
        raise ZeroDivisionError(f"div: division by zero ({a!r} / {b!r})")
    out = a / b
    # d(a/b)/db = -a/b**2 = -out/b: one division instead of two.
    return out, (1.0 / b, -out / b)


@_register("neg", "neg", 1, lambda out, a: (-1.0,))
def NEG(a: float) -> tuple[float, tuple[float, ...]]:
    return -a, _MINUS_ONE


def _check_pow_domain(base: float, exponent: float) -> None:
    if base == 0.0 and exponent < 0:
        raise _domain_error(
            "pow", base, f"zero cannot be raised to the negative power {exponent!r}"
        )
    if base < 0.0 and not float(exponent).is_integer():
        raise _domain_error(
            "pow", base, f"a negative base cannot be raised to the fractional power {exponent!r}"
        )


def _pow_base_grad(base: float, exponent: float) -> float:
    """d base**exponent / d base = exponent * base**(exponent - 1), infinite slope at 0."""
    if exponent == 0.0:
        return 0.0
    if base == 0.0 and exponent < 1.0:
        return math.copysign(math.inf, exponent)  # e.g. sqrt's vertical tangent at 0
    # float ** float is typed Any (it may be complex); the domain check rules that out.
    slope: float = exponent * base ** (exponent - 1.0)
    return slope


def _pow_graph_grads(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    # d a**b / db = a**b * log(a); for a <= 0 it is not a real number (torch: nan).
    exponent_grad = out * a.log() if a.data > 0 else (0.0 if a.data == 0 else math.nan)
    if a.data == 0.0 and b.data < 1.0:
        # 0 ** (b - 1) would divide by zero: the slope is the same infinity as forward's.
        return (_pow_base_grad(0.0, b.data), exponent_grad)
    return (b * a ** (b - 1.0), exponent_grad)


@_register("pow", "**", 2, _pow_graph_grads)
def POW(a: float, b: float) -> tuple[float, tuple[float, ...]]:
    _check_pow_domain(a, b)
    out = a**b
    if a > 0.0:
        exponent_grad = out * math.log(a)
    else:
        # lim a->0+ of a**b * log(a) is 0 for b > 0; a negative base has no real log.
        exponent_grad = 0.0 if a == 0.0 else math.nan
    return out, (_pow_base_grad(a, b), exponent_grad)


@functools.lru_cache(maxsize=1024)
def pow_const(exponent: float) -> Op:
    """The op ``x ** exponent`` for a constant (non-Value) exponent, one Op per exponent."""
    exponent = float(exponent)

    def forward(a: float) -> tuple[float, tuple[float, ...]]:
        _check_pow_domain(a, exponent)
        return a**exponent, (_pow_base_grad(a, exponent),)

    def graph_grads(out: Any, a: Any) -> tuple[Any, ...]:
        if exponent == 0.0:
            return (0.0,)
        if a.data == 0.0 and exponent < 1.0:
            return (_pow_base_grad(0.0, exponent),)  # vertical tangent: inf, as forward says
        return (exponent * a ** (exponent - 1.0),)

    shown = int(exponent) if exponent.is_integer() else exponent
    return Op("pow_const", f"**{shown}", 1, forward, graph_grads, exponent)


# --- elementary functions -------------------------------------------------------


@_register("exp", "exp", 1, lambda out, a: (out,))
def EXP(a: float) -> tuple[float, tuple[float, ...]]:
    try:
        out = math.exp(a)
    except OverflowError:
        raise OverflowError(
            f"exp: exp({a!r}) overflows a float (the largest finite result is exp(709.78)); "
            "scale the input down, or use a stable form such as log_softmax"
        ) from None
    return out, (out,)


@_register("log", "log", 1, lambda out, a: (1.0 / a,))
def LOG(a: float) -> tuple[float, tuple[float, ...]]:
    if a <= 0.0:
        raise _domain_error("log", a, "the operand must be > 0")
    return math.log(a), (1.0 / a,)


@_register("sqrt", "sqrt", 1, lambda out, a: (0.5 / out if out.data else math.inf,))
def SQRT(a: float) -> tuple[float, tuple[float, ...]]:
    if a < 0.0:
        raise _domain_error("sqrt", a, "the operand must be >= 0")
    out = math.sqrt(a)
    return out, (0.5 / out if out else math.inf,)


@_register("tanh", "tanh", 1, lambda out, a: (1.0 - out * out,))
def TANH(a: float) -> tuple[float, tuple[float, ...]]:
    # math.tanh saturates to +-1.0 without overflow, so huge inputs are safe.
    t = math.tanh(a)
    return t, (1.0 - t * t,)


@_register("sigmoid", "sigmoid", 1, lambda out, a: (out * (1.0 - out),))
def SIGMOID(a: float) -> tuple[float, tuple[float, ...]]:
    # Only ever exponentiate a non-positive number, so exp cannot overflow.
    if a >= 0.0:
        s = 1.0 / (1.0 + math.exp(-a))
    else:
        e = math.exp(a)
        s = e / (1.0 + e)
    return s, (s * (1.0 - s),)


_NAN = (math.nan,)


def _step(x: float) -> float:
    """ReLU's derivative: 1 above 0, 0 at and below it (as PyTorch), nan for nan."""
    return 1.0 if x > 0.0 else (0.0 if x <= 0.0 else math.nan)


def _softplus(x: float) -> float:
    # log(1 + e^x) = x + log(1 + e^-x): pick the form whose exp cannot overflow.
    return x + math.log1p(math.exp(-x)) if x > 0.0 else math.log1p(math.exp(x))


@_register("softplus", "softplus", 1, lambda out, a: (a.sigmoid(),))
def SOFTPLUS(a: float) -> tuple[float, tuple[float, ...]]:
    # A smooth ReLU whose derivative is the sigmoid; one node, stable for any input.
    slope, _ = SIGMOID.forward(a)
    return _softplus(a), (slope,)


@_register("relu", "ReLU", 1, lambda out, a: (_step(a.data),))
def RELU(a: float) -> tuple[float, tuple[float, ...]]:
    # The derivative at exactly 0 is taken as 0, as PyTorch does. A nan input
    # gives nan (not 0), so a diverged network shows it instead of hiding it.
    if a > 0.0:
        return a, _ONE
    if a <= 0.0:
        return 0.0, _ZERO
    return a, _NAN


@functools.lru_cache(maxsize=256)
def leaky_relu(alpha: float) -> Op:
    """The op ``x if x > 0 else alpha * x``, one Op per slope ``alpha``."""
    alpha = float(alpha)
    alpha_grad = (alpha,)

    def forward(a: float) -> tuple[float, tuple[float, ...]]:
        if a > 0.0:
            return a, _ONE
        if a <= 0.0:
            return alpha * a, alpha_grad
        return a, _NAN  # nan stays nan

    def graph_grads(out: Any, a: Any) -> tuple[Any, ...]:
        x = a.data
        return (1.0 if x > 0.0 else (alpha if x <= 0.0 else math.nan),)

    return Op("leaky_relu", f"LeakyReLU({alpha:g})", 1, forward, graph_grads, alpha)


def _sign(x: float) -> float:
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return 0.0 if x == 0.0 else math.nan


@_register("abs", "abs", 1, lambda out, a: (_sign(a.data),))
def ABS(a: float) -> tuple[float, tuple[float, ...]]:
    # Subgradient 0 at the kink, as PyTorch does.
    return abs(a), (_sign(a),)


@_register("sin", "sin", 1, lambda out, a: (a.cos(),))
def SIN(a: float) -> tuple[float, tuple[float, ...]]:
    return math.sin(a), (math.cos(a),)


@_register("cos", "cos", 1, lambda out, a: (-a.sin(),))
def COS(a: float) -> tuple[float, tuple[float, ...]]:
    return math.cos(a), (-math.sin(a),)


# --- many-input nodes ---------------------------------------------------------
# One node with n parents instead of a chain of n - 1 binary nodes: a neuron's
# weighted sum becomes one node, so graphs are shallower and smaller.


_SHARED_ONES = tuple((1.0,) * n for n in range(257))


def _ones(n: int) -> tuple[float, ...]:
    # Sums up to 256 terms share one tuple of ones; a longer sum owns its own,
    # so a cache never holds memory for graphs that are gone.
    return _SHARED_ONES[n] if n <= 256 else (1.0,) * n


@_register("sum", "sum", None, lambda out, *xs: _ones(len(xs)))
def SUM(*xs: float) -> tuple[float, tuple[float, ...]]:
    return sum(xs), _ones(len(xs))


def _dot_graph_grads(out: Any, *parents: Any) -> tuple[Any, ...]:
    n = len(parents) // 2
    return parents[n:] + parents[:n]


@_register("dot", "dot", None, _dot_graph_grads)
def DOT(*ws_then_xs: float) -> tuple[float, tuple[float, ...]]:
    # Parents are (w_1..w_n, x_1..x_n); d/dw_i = x_i and d/dx_i = w_i.
    n = len(ws_then_xs) // 2
    return dot_forward(ws_then_xs[:n], ws_then_xs[n:])


def dot_forward(ws: tuple[float, ...], xs: tuple[float, ...]) -> tuple[float, tuple[float, ...]]:
    """DOT's forward on the two halves: ``chaingrad.dots`` calls it with the inputs'
    half computed once for many rows, so every dot node gets the same numbers."""
    return sum(map(operator.mul, ws, xs)), xs + ws


def _one_hot(n: int, k: int, offset: int = 0) -> tuple[float, ...]:
    grads = [0.0] * (n + offset)
    grads[k + offset] = 1.0
    return tuple(grads)


def _argmax(xs: tuple[float, ...]) -> int:
    """Index of the first largest value; a nan counts as the largest (it propagates)."""
    best = max(xs)
    if best != best or any(map(math.isnan, xs)):
        return next(i for i, x in enumerate(xs) if x != x)
    return xs.index(best)


def _max_graph_grads(out: Any, *xs: Any) -> tuple[Any, ...]:
    return _one_hot(len(xs), _argmax(tuple(x.data for x in xs)))


@_register("max", "max", None, _max_graph_grads)
def MAX(*xs: float) -> tuple[float, tuple[float, ...]]:
    # The gradient goes to the winner only (the first one on a tie, as PyTorch's
    # max pooling): nudging a loser does not change the max.
    k = _argmax(xs)
    return xs[k], _one_hot(len(xs), k)


def _logsumexp_graph_grads(out: Any, *xs: Any) -> tuple[Any, ...]:
    return tuple((x - out).exp() for x in xs)


@_register("logsumexp", "logsumexp", None, _logsumexp_graph_grads)
def LOGSUMEXP(*xs: float) -> tuple[float, tuple[float, ...]]:
    # log(sum(exp(x_i))) = m + log(sum(exp(x_i - m))) with m the max: no exp
    # overflows. The derivative d/dx_i is exp(x_i - out), the softmax.
    # A -inf input is fine (exp(-inf) = 0, as a masked score); +inf or all -inf is not.
    m = max(xs)
    if m != m or any(map(math.isnan, xs)):
        return math.nan, (math.nan,) * len(xs)
    if math.isinf(m):
        raise _domain_error("logsumexp", m, "the largest input must be finite")
    weights = [math.exp(x - m) for x in xs]
    total = math.fsum(weights)
    # The softmax from the shifted exponentials: exp(x - out) would lose the log of
    # the sum when |out| is huge (three inputs of -1e300 would each get 1, not 1/3).
    return m + math.log(total), tuple([w / total for w in weights])


def _take_graph_grads(out: Any, index: Any, *xs: Any) -> tuple[Any, ...]:
    return _one_hot(len(xs), int(index.data), offset=1)


@_register("take", "take", None, _take_graph_grads)
def TAKE(index: float, *xs: float) -> tuple[float, tuple[float, ...]]:
    # Parents are (index, x_0 .. x_{n-1}); the result is x_index. The index is an
    # input of the graph (a label, a token id), so a replayed graph reads the new
    # one; it has no derivative (0), and the chosen x gets 1.
    k = int(index) if index == index and not math.isinf(index) else -1
    if k != index or not 0 <= k < len(xs):
        raise _domain_error("take", index, f"the index must be a whole number in [0, {len(xs)})")
    return xs[k], _one_hot(len(xs), k, offset=1)


# Parametric ops are families of Ops; tests instantiate them with these constants.
PARAMETRIC_OPS: dict[str, Callable[[float], Op]] = {
    "pow_const": pow_const,
    "leaky_relu": leaky_relu,
}
