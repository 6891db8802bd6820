"""`chaingrad graph EXPR NAME=VALUE ... -o FILE`: a whitelist parser, never Python's eval."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from chaingrad.cli import UsageError, _Parser
from chaingrad.viz import formula
from chaingrad.viz.formula import FormulaError, formula_graph, parse_formula

from .helpers import needs_dot, svg_nodes, svg_text

NEURON = "tanh(x1*w1 + x2*w2 + b)"
NEURON_VALUES = ["x1=2", "w1=-3", "x2=0", "w2=1", "b=6.8813735870195432"]


def run_graph(argv, capsys):
    """Run the subcommand the way chaingrad.cli.main does; (status, stdout, stderr)."""
    parser = _Parser(prog="chaingrad graph", description=formula.__doc__)
    formula.configure(parser)
    try:
        status = formula.run(parser.parse_args(argv))
    except UsageError as error:
        print(error, file=sys.stderr)
        status = 2
    out, err = capsys.readouterr()
    return status, out, err


def test_the_neuron_formula_matches_the_lecture_numbers():
    root, leaves = formula_graph(NEURON, NEURON_VALUES)
    assert math.isclose(root.data, 0.7071067811865476, rel_tol=1e-12)
    assert math.isclose(leaves["x1"].grad, -1.5, rel_tol=1e-9)
    assert math.isclose(leaves["w1"].grad, 1.0, rel_tol=1e-9)
    assert leaves["w2"].grad == 0.0
    assert math.isclose(leaves["b"].grad, 0.5, rel_tol=1e-9)


def test_every_operator_and_function_builds_the_right_value():
    root, leaves = formula_graph(
        "exp(a) - log(b) / sqrt(b) + sigmoid(-a) * relu(a) ** 2 + abs(-b) + sin(a) * cos(a)"
        " + a ** b + (+a)",
        {"a": 0.5, "b": 2.0},
    )
    a, b = 0.5, 2.0
    expected = (
        math.exp(a) - math.log(b) / math.sqrt(b) + 1 / (1 + math.exp(a)) * a**2 + b
        + math.sin(a) * math.cos(a) + a**b + a
    )  # fmt: skip
    assert math.isclose(root.data, expected, rel_tol=1e-12)
    assert leaves["a"].grad != 0 and leaves["b"].grad != 0


def test_a_name_used_twice_is_one_leaf_with_two_edges():
    root, leaves = formula_graph("x*x", ["x=3"])
    assert root.parents == (leaves["x"], leaves["x"])
    assert leaves["x"].grad == 6.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('echo hacked')", "attribute access is not allowed"),
        ("open('x')", "'open' is not a known function"),
        ("x.real", "attribute access is not allowed"),
        ("(lambda: 1)()", "a lambda is not allowed"),
        ("[x for x in (1, 2)]", "a comprehension is not allowed"),
        ("x if x else 1", "if/else is not allowed"),
        ("x[0]", "indexing is not allowed"),
        ("x // 2", "operator // is not allowed"),
        ("x % 2", "operator % is not allowed"),
        ("x < 2", "a comparison is not allowed"),
        ("'text'", "'text' is not a number"),
        ("True", "True is not a number"),
        ("tanh(x, x)", "tanh() takes exactly one argument"),
        ("tanh(*x)", "tanh() takes exactly one argument"),
        ("x ** 1000", "exponent 1000 is too large"),
        ("x ** -101", "exponent -101 is too large"),
        ("2 ** 2 ** 2", "no towers"),
        ("x ** (x ** 2)", "no towers"),
        ("9" * 400, "too large"),
        ("1e999", "too large"),
        ("x +", "cannot parse the formula"),
        ("x = 1", "cannot parse the formula"),
        ("", "the formula is empty"),
        ("x + " * 600 + "x", "characters long"),
        ("(" * 300 + "x" + ")" * 300, "cannot parse the formula"),
        ("+".join(["x"] * 900), "more than 1000 parts"),
    ],
    ids=lambda v: v[:24],
)
def test_anything_outside_the_whitelist_is_refused(text, message):
    with pytest.raises(FormulaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_formula(text)


def test_bindings_are_checked():
    with pytest.raises(FormulaError, match="no value for y; give one with NAME=VALUE"):
        formula_graph("x * y", ["x=1"])
    with pytest.raises(FormulaError, match="z given but not used"):
        formula_graph("x", ["x=1", "z=2"])
    with pytest.raises(FormulaError, match="the value is not a number"):
        formula_graph("x", ["x=abc"])
    with pytest.raises(FormulaError, match="finite"):
        formula_graph("x", ["x=nan"])
    with pytest.raises(FormulaError, match="expected NAME=VALUE"):
        formula_graph("x", ["1x=2"])
    with pytest.raises(FormulaError, match="x is given twice"):
        formula_graph("x", ["x=1", "x=2"])
    with pytest.raises(FormulaError, match="'tanh' is a function name"):
        formula_graph("tanh(x)", ["x=1", "tanh=2"])


def test_domain_errors_are_one_line():
    with pytest.raises(FormulaError, match="cannot compute the formula: log"):
        formula_graph("log(x)", ["x=-1"])
    with pytest.raises(FormulaError, match="division by zero"):
        formula_graph("x / (x - x)", ["x=1"])
    with pytest.raises(FormulaError, match="exp"):
        formula_graph("exp(x * 100)", ["x=10"])


def test_nothing_is_executed(tmp_path, capsys):
    marker = tmp_path / "pwned"
    attack = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    status, _out, err = run_graph([attack, "-o", str(tmp_path / "g.dot")], capsys)
    assert status == 2 and not marker.exists()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@needs_dot
def test_cli_renders_the_neuron_and_its_step_through(tmp_path, capsys):
    svg = tmp_path / "neuron.svg"
    html = tmp_path / "steps.html"
    status, out, err = run_graph(
        [NEURON, *NEURON_VALUES, "-o", str(svg), "--step-through", str(html), "--edge-labels"],
        capsys,
    )
    assert status == 0, err
    nodes = svg_nodes(svg.read_bytes())
    values = {name: svg_text(group) for name, group in nodes.items() if name.startswith("n")}
    assert len(values) == 10  # 5 leaves, 4 binary/unary results and the output
    texts = " ".join(values.values())
    assert "x1 data 2 grad -1.5" in texts and "w1 data -3 grad 1" in texts
    assert "data 0.7071 grad 1" in texts
    assert "<svg" in html.read_text() and "cg-next" in html.read_text()
    assert f"wrote {svg}" in out


@needs_dot
@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_cli_output_format_from_extension(tmp_path, capsys, suffix, magic):
    out_path = tmp_path / f"g{suffix}"
    status, _, err = run_graph(["x**2 + 1", "x=3", "-o", str(out_path)], capsys)
    assert status == 0, err
    assert out_path.read_bytes().startswith(magic)


def test_cli_prints_dot_without_output_file(capsys):
    status, out, _ = run_graph(["x*x", "x=3", "--number"], capsys)
    assert status == 0
    assert out.startswith("digraph chaingrad {") and "<i>#1</i>" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x*2", "x=1", "-o", "g.jpg"], "use one of the extensions"),
        (["x*2", "x=1", "--step-through", "s.mp4"], "use a .html or .gif file"),
        (["x*q", "x=1"], "no value for q"),
        (["x*2", "x=one"], "the value is not a number"),
        (["exit()"], "'exit' is not a known function"),
    ],
)
def test_cli_usage_errors_are_one_line_exit_2(tmp_path, capsys, argv, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run_graph(argv, capsys)
    assert status == 2
    assert err.startswith("chaingrad graph: error: ") and message in err
    assert err.count("\n") == 1 and out == ""
    assert list(tmp_path.iterdir()) == []


def test_cli_missing_dot_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    status, _, err = run_graph(["x*2", "x=1", "-o", str(tmp_path / "g.svg")], capsys)
    assert status == 1
    assert err.count("\n") == 1 and "apt install graphviz" in err


def test_cli_unwritable_output_is_one_line(tmp_path, capsys):
    status, _, err = run_graph(["x*2", "x=1", "-o", str(tmp_path / "no" / "g.dot")], capsys)
    assert status == 1
    assert err.count("\n") == 1 and "does not exist" in err


def test_help_describes_the_formula_language():
    assert "never run by Python" in formula.__doc__
    parser = _Parser(prog="chaingrad graph", description=formula.__doc__)
    formula.configure(parser)
    text = parser.format_help()
    for part in ("--step-through", "-o FILE", "--edge-labels", "NAME=VALUE"):
        assert part in text


def test_formula_module_imports_only_the_standard_library():
    code = (
        "import sys, chaingrad.viz.formula, chaingrad.viz; "
        "bad = [m for m in ('graphviz', 'PIL', 'numpy', 'matplotlib') if m in sys.modules]; "
        "print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@needs_dot
def test_chaingrad_graph_end_to_end(tmp_path):
    out = tmp_path / "neuron.svg"
    done = subprocess.run(
        [sys.executable, "-m", "chaingrad", "graph", NEURON, *NEURON_VALUES, "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"<?xml")
    bad = subprocess.run(
        [sys.executable, "-m", "chaingrad", "graph", "x.__class__", "x=1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "attribute access" in bad.stderr
