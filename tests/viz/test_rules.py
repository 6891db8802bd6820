"""Every op of the engine's rule table has a caption rule, and the rule is right.

Each rule is written symbolically and with the numbers filled in. Both are
evaluated here (with chaingrad's own formula parser, after turning − · ² into
- * **2) and must equal the local derivative the engine computed.
"""

from __future__ import annotations

import math
import re

import pytest

from chaingrad import Value, dot, logsumexp, max_of, sum_of, take
from chaingrad.engine.ops import OPS, PARAMETRIC_OPS
from chaingrad.viz.formula import build, parse_formula
from chaingrad.viz.rules import RULES, local_rule, number


def leaves():
    return (
        Value(0.7, label="a"),
        Value(1.3, label="b"),
        Value(-0.4, label="c"),
        Value(2.1, label="d"),
    )


def cases() -> list[tuple[str, Value]]:
    a, b, c, d = leaves()
    built = [
        ("a + b", a + b),
        ("a - b", a - b),
        ("a * b", a * b),
        ("a * a", a * a),
        ("a / b", a / b),
        ("a / c", a / c),
        ("-a", -a),
        ("a ** b", a**b),
        ("a ** 2", a**2),
        ("c ** 3", c**3),
        ("a ** -1", a**-1),
        ("a ** 0.5", a**0.5),
        ("a ** 0", a**0),
        ("a ** 1", a**1),
        ("exp", a.exp()),
        ("log", a.log()),
        ("sqrt", a.sqrt()),
        ("tanh", a.tanh()),
        ("tanh < 0", c.tanh()),
        ("sigmoid", c.sigmoid()),
        ("softplus", c.softplus()),
        ("relu > 0", a.relu()),
        ("relu < 0", c.relu()),
        ("leaky_relu > 0", a.leaky_relu(0.1)),
        ("leaky_relu < 0", c.leaky_relu(0.1)),
        ("abs > 0", a.abs()),
        ("abs < 0", c.abs()),
        ("sin", c.sin()),
        ("cos", c.cos()),
        ("sum", sum_of([a, b, c])),
        ("long sum", sum_of([a, b, c, d, a, b])),
        ("dot", dot([a, b], [c, d])),
        ("max", max_of([a, d, c])),
        ("logsumexp", logsumexp([a, b, c])),
        ("take", take([a, b, c], Value(1.0, label="i"))),
    ]
    return built


def test_every_op_in_the_rule_table_has_a_rule_and_a_case_here():
    ops = {node.op.name for _, node in cases()}
    table = set(OPS) | set(PARAMETRIC_OPS)
    assert table <= ops, f"ops without a caption test: {sorted(table - ops)}"
    ruled = {op.name for op in RULES}
    assert table <= ruled, f"ops without a caption rule: {sorted(table - ruled)}"


_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")


def as_formula(text: str) -> str:
    """Typographic math (− · ² ^) as chaingrad-formula syntax."""
    text = re.sub(
        r"[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+", lambda m: "**(" + m.group(0).translate(_SUPERSCRIPT) + ")", text
    )
    text = text.replace("−", "-").replace("·", "*").replace("^", "**").replace("|", "")
    return text


def evaluate(text: str, values: dict[str, float]) -> float:
    tree = parse_formula(as_formula(text))
    from chaingrad.viz.formula import variable_names

    used = {name: values[name] for name in variable_names(tree)}
    return build(tree, used)[0].data


@pytest.mark.parametrize(("what", "node"), cases(), ids=[what for what, _ in cases()])
def test_rule_text_equals_the_engines_local_derivative(what, node):
    names = [p.label for p in node.parents]
    values = {p.label: p.data for p in node.parents}
    checked = 0
    for slot, local in enumerate(node.local_grads):
        rule = local_rule(node, slot, names)
        assert "\n" not in rule
        head, since, reason = rule.partition(", since ")
        if not since:
            head, since, reason = rule.partition(", an index")
        parts = head.split(" = ")
        assert parts[0].startswith("d"), rule
        assert parts[0].endswith(f"/d{names[slot]}"), rule
        assert parts[-1] == number(local), rule  # piecewise ops: then the case it took
        if since and node.op.name != "take":
            assert names[0] in reason or "largest" in reason, rule
        for middle in parts[1:-1]:
            if any(word in middle for word in ("…", " if ", "sign(")):
                continue
            value = evaluate(middle, values)
            assert math.isclose(value, local, rel_tol=2e-3, abs_tol=1e-4), (rule, middle, value)
            checked += 1
        constant_power = node.op.name == "pow_const" and node.op.param in (0.0, 1.0)
        if not constant_power and node.op.name in (
            "mul", "div", "pow", "pow_const", "exp", "log", "sqrt", "tanh", "sigmoid",
            "softplus", "sin", "cos", "dot", "logsumexp",
        ):  # fmt: skip
            assert len(parts) >= 3, f"{rule}: no symbolic rule"
    if node.op.name in ("tanh", "sigmoid", "exp", "log", "sin", "cos", "div", "pow"):
        assert checked >= len(node.parents), "both the symbolic and the numeric form are checked"


def test_the_lecture_rules_read_as_written_in_the_issue():
    n = Value(0.8813735870195432, label="n")
    assert local_rule(n.tanh(), 0, ["n"]) == "d tanh(n)/dn = 1 − tanh(n)² = 1 − 0.7071² = 0.5"
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    assert local_rule(a * b, 0, ["a", "b"]) == "d(a·b)/da = b = −3"
    x = Value(-0.5, label="x")
    assert local_rule(x.relu(), 0, ["x"]) == (
        "d ReLU(x)/dx = (1 if x > 0 else 0) = 0, since x = −0.5 ≤ 0"
    )
    # names that are not one word are bracketed in products and derivatives
    assert local_rule(a * b, 1, ["x1*w1", "b"]) == "d((x1*w1)·b)/db = x1*w1 = 2"


def test_numbers_that_round_to_a_whole_number_keep_enough_digits():
    x = Value(-6.0, label="x")
    rule = local_rule(x.tanh(), 0, ["x"])
    assert rule == "d tanh(x)/dx = 1 − tanh(x)² = 1 − (−0.999988)² = 2.458e−05"
    # a constant is written as its number, the derivative still by its node's name
    y = Value(2.0, label="y") - 1.0
    assert local_rule(y, 1, ["y", "1"], wrt="n1") == "d(y − 1)/dn1 = −1"


def test_the_readme_quotes_a_rule_as_it_is_printed():
    from pathlib import Path

    from chaingrad.viz import backprop_steps

    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.5, label="b")
    y = (x * w + b).tanh()
    y.label = "y"
    rule = backprop_steps(y)[0].rule
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"`{rule}`" in readme
