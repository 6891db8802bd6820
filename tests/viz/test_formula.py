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


def test_cli_calls_only_the_formula_required(capsys):
    status, _, err = run_graph([], capsys)
    assert status == 2
    assert "required: EXPR (see --help)" in err and "NAME=VALUE" not in err


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


# --- names, encodings and messages that name the right thing (issue 10) -----------


def test_any_python_identifier_is_a_name_as_python_normalizes_it():
    root, leaves = formula_graph("é*2", ["é=1.5"])  # the name the error suggests works
    assert root.data == 3.0 and leaves["é"].grad == 2.0
    with pytest.raises(
        FormulaError, match=r"no value for é; give one with NAME=VALUE, e\.g\. é=1\.5"
    ):
        formula_graph("é*2", [])
    # Python's parser reads the ligature ﬁ as fi (NFKC): so does NAME=VALUE
    root, leaves = formula_graph("ﬁ + 1", ["ﬁ=2"])
    assert root.data == 3.0 and set(leaves) == {"fi"}


def test_text_that_is_not_utf8_is_reported_as_such():
    undecodable = b"x\xff*2".decode("utf-8", "surrogateescape")  # as sys.argv gets it
    with pytest.raises(FormulaError, match=r"the formula is not valid UTF-8 text \(byte 0xff\)"):
        parse_formula(undecodable)
    with pytest.raises(FormulaError, match=r"NAME=VALUE is not valid UTF-8 text \(byte 0xfe\)"):
        formula_graph("x", [b"x=\xfe".decode("utf-8", "surrogateescape")])
    with pytest.raises(FormulaError, match="control character U\\+0000 at character 2"):
        parse_formula("x\x00")
    with pytest.raises(FormulaError, match="control character U\\+001B"):
        parse_formula("x\x1b[31m")


@pytest.mark.parametrize("text", ["1if x else 2", "0x1for", "1jx + x"])
def test_python_syntax_warnings_are_not_printed(text):
    done = subprocess.run(
        [sys.executable, "-m", "chaingrad", "graph", text, "x=1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Warning" not in done.stderr, done.stderr


def test_invalid_utf8_from_a_real_shell_is_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "chaingrad", "graph", b"x\xff*2", "x=1"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    err = done.stderr.decode("utf-8", "replace")
    assert err.count("\n") == 1 and "not valid UTF-8" in err and "nested" not in err


def test_params_marks_parameters_and_refuses_unknown_names(capsys):
    status, out, err = run_graph([NEURON, *NEURON_VALUES, "--params", "w1, w2,b"], capsys)
    assert status == 0, err
    for name in ("w1", "w2", "b"):
        assert f'tooltip="{name} (parameter)' in out, name
    for name in ("x1", "x2"):
        assert f'tooltip="{name} (input)' in out, name
    status, out, err = run_graph([NEURON, *NEURON_VALUES, "--params", "w1,v"], capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "v is not a variable of the formula" in err
    status, _, err = run_graph([NEURON, *NEURON_VALUES, "--params", "w1,,b"], capsys)
    assert status == 2 and "separated by commas" in err


@needs_dot
def test_params_mark_the_step_through_too(tmp_path, capsys):
    html = tmp_path / "steps.html"
    status, _, err = run_graph(
        [NEURON, *NEURON_VALUES, "--params", "w1,w2,b", "--step-through", str(html)], capsys
    )
    assert status == 0, err
    text = html.read_text()
    assert all(f'"{name} (parameter): data' in text for name in ("w1", "w2", "b"))
    assert all(f'"{name} (input): data' in text for name in ("x1", "x2"))


def test_timeout_must_be_a_positive_number(capsys):
    for bad in ("0", "-1", "nan", "inf"):
        status, _, err = run_graph(["x*2", "x=1", "--timeout", bad], capsys)
        assert status == 2 and err.count("\n") == 1 and "--timeout" in err, (bad, err)


# --- fuzzing: nothing is evaluated, every refusal is one clear line ----------------

TOKENS = [
    "x", "y", "é", "ﬁ", "1", "2.5", "0", "1e308", "9" * 40, "+", "-", "*", "/", "**",
    "(", ")", ",", ".", "tanh", "exp", "log", "sqrt", "sigmoid", "softplus", "relu", "abs",
    "sin", "cos", "__import__", "open", "eval", "lambda", ":", "[", "]", "{", "}", "'a'",
    '"b"', "=", "==", " ", "if", "else", "@", "%", "//", "~", "not", "and", "\x00", "\udcff",
    "\n", "\t", "0x10", "1j", "True", "None", "...", "x.y", ";", "`", "#", "\\", "$", "→",
]  # fmt: skip
BINDINGS = ["x=1.5", "y=-2", "é=0.5", "ﬁ=1", "x=nan", "y=1e999", "=3", "x", "x=1=2", "z=0",
            "tanh=1", "x=0", "y=1e-300", "x=\udcff"]  # fmt: skip


def formulas():
    from hypothesis import strategies as st

    grammar_soup = st.lists(st.sampled_from(TOKENS), max_size=25).map("".join)
    return st.one_of(grammar_soup, st.text(max_size=50))


def bindings():
    from hypothesis import strategies as st

    return st.lists(st.one_of(st.sampled_from(BINDINGS), st.text(max_size=10)), max_size=4)


FUZZ_PARSER_CASES = 800


def test_fuzzed_formulas_build_or_fail_in_one_line_and_nothing_runs():
    import ast
    import builtins
    from unittest import mock

    from hypothesis import HealthCheck, given, settings

    from chaingrad import Value

    real_compile = builtins.compile

    def forbidden(*args, **kwargs):
        raise AssertionError("the formula parser must never eval/exec/compile")

    def parse_only(source, filename, mode, flags=0, *args, **kwargs):
        # ast.parse is compile(..., PyCF_ONLY_AST): a syntax tree, never code
        if not flags & ast.PyCF_ONLY_AST:
            forbidden()
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    outcomes = {"built": 0, "refused": 0}

    @settings(max_examples=FUZZ_PARSER_CASES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    @given(formulas(), bindings())
    def check(text, given_bindings):
        try:
            with (
                mock.patch.object(builtins, "eval", forbidden),
                mock.patch.object(builtins, "exec", forbidden),
                mock.patch.object(builtins, "compile", parse_only),
            ):
                root, leaves = formula_graph(text, given_bindings)
        except FormulaError as error:
            message = str(error)
            assert message and "\n" not in message and len(message) < 400
            outcomes["refused"] += 1
        else:
            assert isinstance(root, Value)
            assert all(isinstance(v, Value) for v in leaves.values())
            outcomes["built"] += 1

    check()
    assert outcomes["built"] > 0 and outcomes["refused"] > 0, outcomes


FUZZ_CLI_CASES = 150


def test_fuzzed_command_lines_exit_0_or_one_line_error(tmp_path, capsys, monkeypatch):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    monkeypatch.chdir(tmp_path)
    extra = st.lists(
        st.sampled_from(["--edge-labels", "--number", "--legend", "--color-grad",
                         "--params", "x", "--params", "y,x", "--rankdir", "TB", "--timeout", "30"]),
        max_size=3,
    )  # fmt: skip

    slow = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]

    @settings(max_examples=FUZZ_CLI_CASES, deadline=None, suppress_health_check=slow)
    @given(formulas(), bindings(), extra)
    def check(text, given_bindings, options):
        argv = ["--", text, *given_bindings] if text.startswith("-") else [text, *given_bindings]
        argv = options + argv
        try:
            status, _out, err = run_graph(argv, capsys)
        except SystemExit as exit_:  # argparse on a bad option value
            status, err = exit_.code, "argparse"
            capsys.readouterr()
        assert status in (0, 1, 2)
        if status:
            assert err.count("\n") <= 1 and "Traceback" not in err, err
        assert list(tmp_path.iterdir()) == []  # -o was never given: nothing written

    check()
