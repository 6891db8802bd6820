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
    return exponent * base ** (exponent - 1.0)


def _pow_graph_grads(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    # d a**b / db = a**b * log(a); for a <= 0 it is not a real number (torch: nan).
    exponent_grad = out * a.log() if a.data > 0 else (0.0 if a.data == 0 else math.nan)
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
        return (exponent * a ** (exponent - 1.0),) if exponent != 0.0 else (0.0,)

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


@_register("sqrt", "sqrt", 1, lambda out, a: (0.5 / out,))
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


@_register("relu", "ReLU", 1, lambda out, a: (1.0 if a.data > 0.0 else 0.0,))
def RELU(a: float) -> tuple[float, tuple[float, ...]]:
    # The derivative at exactly 0 is taken as 0, as PyTorch does.
    return (a, _ONE) if a > 0.0 else (0.0, _ZERO)


@functools.lru_cache(maxsize=256)
def leaky_relu(alpha: float) -> Op:
    """The op ``x if x > 0 else alpha * x``, one Op per slope ``alpha``."""
    alpha = float(alpha)
    alpha_grad = (alpha,)

    def forward(a: float) -> tuple[float, tuple[float, ...]]:
        return (a, _ONE) if a > 0.0 else (alpha * a, alpha_grad)

    def graph_grads(out: Any, a: Any) -> tuple[Any, ...]:
        return (1.0 if a.data > 0.0 else alpha,)

    return Op("leaky_relu", f"LeakyReLU({alpha:g})", 1, forward, graph_grads, alpha)


def _sign(x: float) -> float:
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)


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


@functools.lru_cache(maxsize=4096)
def _ones(n: int) -> tuple[float, ...]:
    return (1.0,) * n


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
    ws = ws_then_xs[:n]
    xs = ws_then_xs[n:]
    return sum(map(operator.mul, ws, xs)), xs + ws


# Parametric ops are families of Ops; tests instantiate them with these constants.
PARAMETRIC_OPS: dict[str, Callable[[float], Op]] = {
    "pow_const": pow_const,
    "leaky_relu": leaky_relu,
}
