"""Local derivative rules as a learner writes them: symbolically, then with the numbers.

The engine's rule table (``chaingrad.engine.ops``) computes each local
derivative as a float; this module writes the same derivative out for a
caption, for every op in that table::

    d tanh(n)/dn = 1 − tanh(n)² = 1 − 0.7071² = 0.5
    d(a·b)/da = b = −3

``RULES`` maps an op name to a function ``(names, values, out, slot, param)``
returning ``(expression, symbolic derivative, derivative with the numbers)``;
:func:`local_rule` assembles the caption line. Numbers use the typographic
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

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

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


RULES: dict[str, Rule] = {
    "add": _add,
    "sub": _sub,
    "mul": _mul,
    "div": _div,
    "neg": _neg,
    "pow": _pow,
    "pow_const": _pow_const,
    "exp": _exp,
    "log": _log,
    "sqrt": _sqrt,
    "tanh": _tanh,
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "abs": _abs,
    "sin": _sin,
    "cos": _cos,
    "sum": _sum,
    "dot": _dot,
    "max": _max,
    "logsumexp": _logsumexp,
    "take": _take,
}


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
    An op with no entry in :data:`RULES` (a user's own op) still gets
    ``d node/d parent = value``.
    """
    wrt = names[slot] if wrt is None else wrt
    op = node._rule
    values = [p.data for p in node._parents]
    local = node._local_grads[slot]

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
    rule = RULES.get(op.name) if op is not None else None
    if rule is None:
        name = op.symbol if op is not None else "f"
        return f"d {name}(…)/d{_atom(wrt)} = {result}"
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
