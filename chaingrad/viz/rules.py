"""Local derivative rules as a learner writes them: symbolically, then with the numbers.

The engine's rule table (``chaingrad.engine.ops``) computes each local
derivative as a float; this module writes the same derivative out for a
caption, for every op in that table::

    d tanh(n)/dn = 1 − tanh(n)² = 1 − 0.7071² = 0.5
    d(a·b)/da = b = −3

``RULES`` maps an op to a function ``(names, values, out, slot, param)``
returning ``(expression, symbolic derivative, derivative with the numbers)``;
:func:`local_rule` assembles the caption line. An op without one (a user's
own, defined with ``chaingrad.op``) gets its caption from its definition: its
``caption`` templates, or its ``graph_grads`` written out
(``d softsign(x)/dx = 1/(1 + |x|)² = 1/(1 + |0.5|)² = 0.4444``). Numbers use the typographic
minus (−) and operators the middle dot (·), as printed mathematics does.

>>> from chaingrad import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> c = a * b
>>> local_rule(c, 0, ["a", "b"])
'd(a·b)/da = b = −3'
>>> local_rule(Value(0.8814, label="n").tanh(), 0, ["n"])
'd tanh(n)/dn = 1 − tanh(n)² = 1 − 0.7071² = 0.5'
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from chaingrad.engine import Op, ops
from chaingrad.engine.closures import ClosureOp

from .text import format_number

MINUS = "\N{MINUS SIGN}"
DOT = "\N{MIDDLE DOT}"
ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"
_WHOLE = re.compile(MINUS + r"?\d+")
_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")

# n(x, wrap=False): a number as a rule writes it
Fmt = Callable[..., str]
# (expression, symbolic derivative or None, numeric derivative or None)
Parts = tuple[str, "str | None", "str | None"]
Rule = Callable[[Sequence[str], Sequence[float], float, int, Any, Fmt], Parts]


def number(x: float, precision: int = 4) -> str:
    """``format_number`` with a typographic minus: ``−0.7071``."""
    return format_number(x, precision).replace("-", MINUS)


def _atom(name: str) -> str:
    """A name as a factor: bracketed unless it is one word (``x1``, ``w.0``)."""
    return name if re.fullmatch(r"[\w.]+", name) else f"({name})"


def _power(exponent: float) -> str:
    """``²`` for small whole exponents, else ``^k``."""
    if float(exponent).is_integer() and abs(exponent) < 100:
        return str(int(exponent)).translate(_SUPERSCRIPTS)
    return "^(" + format_number(exponent).replace("-", MINUS) + ")"


def _terms(names: Sequence[str], slot: int, joiner: str, limit: int = 4) -> str:
    """``a + b + c``; long lists keep the first, the one at ``slot`` and the last."""
    if len(names) <= limit:
        return joiner.join(names)
    keep = sorted({0, slot, len(names) - 1})
    parts = []
    for k, position in enumerate(keep):
        if k and position != keep[k - 1] + 1:
            parts.append(ELLIPSIS)
        parts.append(names[position])
    return joiner.join(parts)


def _add(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    return (f"{names[0]} + {names[1]}", None, None)


def _sub(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    return (f"{names[0]} {MINUS} {_atom(names[1])}", None, None)


def _mul(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    other = 1 - slot
    return (f"{_atom(names[0])}{DOT}{_atom(names[1])}", names[other], None)


def _div(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    a, b = _atom(names[0]), _atom(names[1])
    if slot == 0:
        return (f"{a}/{b}", f"1/{b}", f"1/{n(values[1], True)}")
    return (
        f"{a}/{b}",
        f"{MINUS}{a}/{b}²",
        f"{MINUS}{n(values[0], True)}/{n(values[1], True)}²",
    )


def _neg(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    return (f"{MINUS}{_atom(names[0])}", None, None)


def _pow(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    a, b = _atom(names[0]), _atom(names[1])
    if slot == 0:
        return (
            f"{a}^{b}",
            f"{b}{DOT}{a}^({b} {MINUS} 1)",
            f"{n(values[1], True)}{DOT}{n(values[0], True)}^({n(values[1])} {MINUS} 1)",
        )
    return (f"{a}^{b}", f"{a}^{b}{DOT}log({names[0]})", f"{n(out, True)}{DOT}log({n(values[0])})")


def _pow_const(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    a, k = _atom(names[0]), param
    expression = f"{a}{_power(k)}"
    if k == 0:
        return (expression, "0", None)
    if k == 1:
        return (expression, "1", None)
    if k == 2:
        return (expression, f"2{DOT}{a}", f"2{DOT}{n(values[0], True)}")
    factor = format_number(k).replace("-", MINUS)
    return (
        expression,
        f"{factor}{DOT}{a}{_power(k - 1)}",
        f"{factor}{DOT}{n(values[0], True)}{_power(k - 1)}",
    )


def _exp(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    return (f"exp({names[0]})", f"exp({names[0]})", f"exp({n(values[0])})")


def _log(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    return (f"log({names[0]})", f"1/{_atom(names[0])}", f"1/{n(values[0], True)}")


def _sqrt(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    return (
        f"sqrt({names[0]})",
        f"1/(2{DOT}sqrt({names[0]}))",
        f"1/(2{DOT}{n(out, True)})",
    )


def _tanh(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    return (f"tanh({names[0]})", f"1 {MINUS} tanh({names[0]})²", f"1 {MINUS} {n(out, True)}²")


def _sigmoid(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    s = f"sigmoid({names[0]})"
    return (s, f"{s}{DOT}(1 {MINUS} {s})", f"{n(out, True)}{DOT}(1 {MINUS} {n(out, True)})")


def _softplus(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    return (f"softplus({names[0]})", f"sigmoid({names[0]})", f"sigmoid({n(values[0])})")


def _compare(name: str, x: float, n: Fmt) -> str:
    if x > 0:
        return f"since {name} = {n(x)} > 0"
    if x <= 0:
        return f"since {name} = {n(x)} ≤ 0"
    return f"since {name} is nan"


def _relu(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    return (f"ReLU({names[0]})", f"(1 if {names[0]} > 0 else 0)", _compare(names[0], values[0], n))


def _leaky_relu(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    alpha = number(param)
    return (
        f"LeakyReLU({names[0]})",
        f"(1 if {names[0]} > 0 else {alpha})",
        _compare(names[0], values[0], n),
    )


def _abs(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    return (f"|{names[0]}|", f"sign({names[0]})", _compare(names[0], values[0], n))


def _sin(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    return (f"sin({names[0]})", f"cos({names[0]})", f"cos({n(values[0])})")


def _cos(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    return (f"cos({names[0]})", f"{MINUS}sin({names[0]})", f"{MINUS}sin({n(values[0])})")


def _around(terms: Sequence[str], k: int, limit: int) -> str:
    """``a + b + c``; more than ``limit`` terms: ``… + the k-th + …``, the one that matters."""
    if len(terms) <= limit:
        return " + ".join(terms)
    before = f"{ELLIPSIS} + " if k > 0 else ""
    after = f" + {ELLIPSIS}" if k < len(terms) - 1 else ""
    return f"{before}{terms[k]}{after}"


def _sum(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    return (_around(names, slot, 4), None, None)


def _dot(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    half = len(names) // 2
    products = [f"{_atom(names[k])}{DOT}{_atom(names[half + k])}" for k in range(half)]
    partner = slot + half if slot < half else slot - half
    return (_around(products, slot % half, 2), names[partner], None)


def _max(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    expression = f"max({_terms(names, slot, ', ')})"
    if values[slot] == out and all(v != out for v in values[:slot]):
        return (expression, None, f"since {names[slot]} = {n(out)} is the largest")
    winner = next((k for k, v in enumerate(values) if v == out), None)
    if winner is None:
        return (expression, None, "since the largest is nan")
    if names[winner] == names[slot]:
        return (expression, None, "since the gradient goes to the first largest only")
    return (expression, None, f"since the largest is {names[winner]} = {n(out)}, not {names[slot]}")


def _logsumexp(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    expression = f"logsumexp({_terms(names, slot, ', ')})"
    return (
        expression,
        f"exp({names[slot]} {MINUS} logsumexp(…))",
        f"exp({n(values[slot])} {MINUS} {n(out, True)})",
    )


def _take(
    names: Sequence[str], values: Sequence[float], out: float, slot: int, param: Any, n: Fmt
) -> Parts:
    index, items = names[0], names[1:]
    expression = f"[{_terms(items, max(slot - 1, 0), ', ')}][{index}]"
    if slot == 0:
        return (expression, None, "an index has no derivative")
    picked = int(values[0]) if math.isfinite(values[0]) else -1
    if picked == slot - 1:
        return (expression, None, f"since {index} = {picked} picks {items[slot - 1]}")
    chosen = items[picked] if 0 <= picked < len(items) else "another"
    return (expression, None, f"since {index} = {picked} picks {chosen}, not {items[slot - 1]}")


# The captions' own rules, keyed by op (a parametric op's family covers its constants).
# An op without one, a user's own op included, gets a caption derived from its
# ``caption`` templates or its ``graph_grads`` (see :func:`derived_rule`).
RULES: dict[Op, Rule] = {
    ops.ADD: _add,
    ops.SUB: _sub,
    ops.MUL: _mul,
    ops.DIV: _div,
    ops.NEG: _neg,
    ops.POW: _pow,
    ops.POW_CONST: _pow_const,
    ops.EXP: _exp,
    ops.LOG: _log,
    ops.SQRT: _sqrt,
    ops.TANH: _tanh,
    ops.SIGMOID: _sigmoid,
    ops.SOFTPLUS: _softplus,
    ops.RELU: _relu,
    ops.LEAKY_RELU: _leaky_relu,
    ops.ABS: _abs,
    ops.SIN: _sin,
    ops.COS: _cos,
    ops.SUM: _sum,
    ops.DOT: _dot,
    ops.MAX: _max,
    ops.LOGSUMEXP: _logsumexp,
    ops.TAKE: _take,
}


# --- captions derived from an op's own definition ----------------------------------

_ADD, _MUL, _NEG, _POW, _ATOM = 1, 2, 3, 4, 5  # how tightly an expression binds


class _Written:
    """An expression written twice while a ``graph_grads`` rule runs: with names, with numbers.

    ``graph_grads(out, x)`` is called with these in place of Values, so
    ``1 / (1 + abs(x)) ** 2`` writes ``1/(1 + |x|)²`` and ``1/(1 + |0.5|)²``.
    Each text keeps how tightly it binds (a negative number binds as a
    negation), so brackets appear where they are needed only. Anything a
    caption cannot write (``x.data``, a comparison) raises, and the caption
    keeps the number alone.
    """

    def __init__(self, names: tuple[str, int], numbers: tuple[str, int], n: Fmt) -> None:
        self.names = names
        self.numbers = numbers
        self.n = n

    def of(self, x: Any) -> _Written:
        if isinstance(x, _Written):
            return x
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise TypeError(f"cannot write {type(x).__name__} in a caption")
        text = (self.n(float(x)), _NEG if x < 0 else _ATOM)
        return _Written(text, text, self.n)

    def _map(self, other: _Written | None, how: Callable[..., tuple[str, int]]) -> _Written:
        if other is None:
            return _Written(how(self.names), how(self.numbers), self.n)
        return _Written(how(self.names, other.names), how(self.numbers, other.numbers), self.n)

    def _binary(self, left: Any, right: Any, joiner: str, binds: int, right_binds: int) -> _Written:
        def join(a: tuple[str, int], b: tuple[str, int]) -> tuple[str, int]:
            return (_bracket(a, binds) + joiner + _bracket(b, right_binds), binds)

        return self.of(left)._map(self.of(right), join)

    def __add__(self, other: Any) -> _Written:
        return self._binary(self, other, " + ", _ADD, _ADD)

    def __radd__(self, other: Any) -> _Written:
        return self._binary(other, self, " + ", _ADD, _ADD)

    def __sub__(self, other: Any) -> _Written:
        return self._binary(self, other, f" {MINUS} ", _ADD, _MUL)

    def __rsub__(self, other: Any) -> _Written:
        return self._binary(other, self, f" {MINUS} ", _ADD, _MUL)

    def __mul__(self, other: Any) -> _Written:
        return self._binary(self, other, DOT, _MUL, _POW)

    def __rmul__(self, other: Any) -> _Written:
        return self._binary(other, self, DOT, _MUL, _POW)

    def __truediv__(self, other: Any) -> _Written:
        return self._binary(self, other, "/", _MUL, _POW)

    def __rtruediv__(self, other: Any) -> _Written:
        return self._binary(other, self, "/", _MUL, _POW)

    def __neg__(self) -> _Written:
        return self._map(None, lambda a: (MINUS + _bracket(a, _POW), _NEG))

    def __pos__(self) -> _Written:
        return self

    def __pow__(self, exponent: Any) -> _Written:
        if isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
            power = _power(exponent)
            return self._map(None, lambda a: (_bracket(a, _ATOM) + power, _POW))
        return self._binary(self, exponent, "^", _ATOM, _ATOM)

    def __abs__(self) -> _Written:
        return self._map(None, lambda a: (f"|{a[0]}|", _ATOM))

    def __getattr__(self, name: str) -> Any:
        if name in _FUNCTIONS:
            return lambda: self._map(None, lambda a: (f"{name}({a[0]})", _ATOM))
        raise AttributeError(f"a caption cannot write .{name}")


def _bracket(written: tuple[str, int], binds: int) -> str:
    text, own = written
    return f"({text})" if own < binds else text


_FUNCTIONS = {"exp", "log", "sqrt", "tanh", "sigmoid", "softplus", "relu", "sin", "cos", "abs"}


def _input_names(op: Op) -> list[str]:
    """The names of the forward's inputs (``x`` of ``def softsign(x)``), for templates."""
    try:
        parameters = inspect.signature(op.family.__wrapped__).parameters.values()
    except (AttributeError, TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def derived_rule(
    op: Op,
    names: Sequence[str],
    values: Sequence[float],
    out: float,
    slot: int,
    n: Fmt,
) -> Parts:
    """A caption for an op with no rule of its own: from its ``caption`` templates if it
    has them, else by writing out its ``graph_grads`` (``1/(1 + |x|)²``)."""
    expression = f"{op.symbol}({_terms(names, slot, ', ')})"
    written = [n(v, True) for v in values]
    if op.caption is not None and slot < len(op.caption):
        template = op.caption[slot]
        fields = _input_names(op)
        try:
            symbolic = template.format(*names, out=expression, **dict(zip(fields, names)))
            numeric = template.format(*written, out=n(out, True), **dict(zip(fields, written)))
        except (IndexError, KeyError, ValueError):
            return (expression, template, None)
        return (expression, symbolic, numeric)
    if not callable(op.graph_grads):
        return (expression, None, None)

    def number_of(x: float) -> tuple[str, int]:
        return (n(x), _NEG if x < 0 else _ATOM)

    leaves = [
        _Written((_atom(name), _ATOM), number_of(value), n) for name, value in zip(names, values)
    ]
    result = _Written((expression, _ATOM), number_of(out), n)
    try:
        local = op.graph_grads(result, *leaves)[slot]
        if not isinstance(local, _Written):
            return (expression, None, None)  # a number: the caption's result says it
    except Exception:  # anything a caption cannot write: the number alone
        return (expression, None, None)
    return (expression, local.names[0], local.numbers[0])


def _derivative_of(expression: str, in_name: str) -> str:
    """``d tanh(n)/dn`` for a function, ``d(a·b)/da`` for an operator expression."""
    top = f"d {expression}" if re.fullmatch(r"\w+\(.*\)", expression) else f"d({expression})"
    bottom = in_name if re.fullmatch(r"\w+", in_name) else f"({in_name})"
    return f"{top}/d{bottom}"


def local_rule(
    node: Any, slot: int, names: Sequence[str], precision: int = 4, wrt: str | None = None
) -> str:
    """The local derivative ``d node / d parents[slot]`` written out, e.g.
    ``d tanh(n)/dn = 1 − tanh(n)² = 1 − 0.7071² = 0.5``.

    ``names`` are what the expression calls each parent (a constant may be its
    number); ``wrt`` what the derivative is taken by (default ``names[slot]``).
    An op with no entry in :data:`RULES` (a user's own op) gets a caption
    derived from its definition (:func:`derived_rule`), at least
    ``d op(…)/dx = value``; a node made micrograd's way, its closure's number.
    """
    wrt = names[slot] if wrt is None else wrt
    op = node._rule
    values = [p.data for p in node._parents]
    local = node.local_grads[slot]

    def n(x: float, wrap: bool = False) -> str:
        text = number(x, precision)
        # -0.99998771 shown as -1 would make "1 − (−1)² = 2.458e−05" look wrong:
        # a value that rounds to a whole number it is not gets more digits.
        digits = precision
        while digits < 12 and _WHOLE.fullmatch(text) and float(text.replace(MINUS, "-")) != x:
            digits += 2
            text = number(x, digits)
        return f"({text})" if wrap and (x < 0 or "e" in text) else text

    result = n(local)
    if op is None or isinstance(op, ClosureOp):
        # made micrograd's way: the closure gives the number, its _op names the function
        symbol = op.symbol if op is not None and op.symbol else "f"
        if re.fullmatch(r"\w+", symbol):
            expression = f"{symbol}({_terms(names, slot, ', ')})"
        elif len(names) == 2:
            expression = f"{_atom(names[0])} {symbol} {_atom(names[1])}"
        else:
            expression = f"{symbol}({_terms(names, slot, ', ')})"
        return f"{_derivative_of(expression, wrt)} = {result}"
    rule = RULES.get(op) or RULES.get(op.family)
    if rule is None:
        expression, symbolic, numeric = derived_rule(op, names, values, node.data, slot, n)
    else:
        expression, symbolic, numeric = rule(names, values, node.data, slot, op.param, n)
    parts = [_derivative_of(expression, wrt)]
    for part in (symbolic, numeric):
        if part is None:
            continue
        if part.startswith("since ") or part.startswith("an index"):
            parts.append(f"{result}, {part}")
            return " = ".join(parts)
        if part != parts[-1] and part != result:
            parts.append(part)
    parts.append(result)
    return " = ".join(parts)
