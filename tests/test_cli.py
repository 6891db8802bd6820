"""The `chaingrad` command: help, version, and one-line errors for bad arguments."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chaingrad", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_the_subcommands():
    out = run("--help")
    assert out.returncode == 0
    assert "demo" in out.stdout and "graph" in out.stdout


def test_version():
    import chaingrad

    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"chaingrad {chaingrad.__version__}"


def test_unknown_command_is_a_one_line_error():
    out = run("frobnicate")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    assert "frobnicate" in out.stderr and "Traceback" not in out.stderr


def test_missing_command_is_a_one_line_error():
    out = run()
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1


def test_nothing_in_the_package_imports_the_command_line():
    import ast
    from pathlib import Path

    import chaingrad

    root = Path(chaingrad.__file__).parent
    importers = []
    for path in root.rglob("*.py"):
        if path.name in ("cli.py", "__main__.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(name == "chaingrad.cli" or name.endswith(".cli") for name in names):
                importers.append(str(path.relative_to(root)))
    assert importers == []


def test_a_formula_starting_with_minus_is_the_formula_not_an_option(tmp_path):
    pytest.importorskip("graphviz")
    for args in (
        ["graph", "-x*y", "x=1", "y=2"],
        ["graph", "--edge-labels", "-x*y", "x=1", "y=2"],
        ["graph", "-x*y", "x=1", "y=2", "--edge-labels"],
        ["graph", "--timeout=30", "-x*y", "y=2", "x=1"],
        ["graph", "--", "-x*y", "x=1", "y=2"],
    ):
        out = run(*args)
        assert out.returncode == 0, (args, out.stderr)
        assert out.stdout.startswith("digraph") and "neg" in out.stdout, args
    svg = tmp_path / "g.svg"
    out = run("graph", "-o", str(svg), "-x", "x=3")
    assert out.returncode == 0, out.stderr
    assert svg.read_text().lstrip().startswith("<?xml")


def test_unknown_options_are_still_refused_in_one_line():
    for args in (["graph", "x*y", "x=1", "y=2", "--frob"], ["demo", "-x"]):
        out = run(*args)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
        assert "unrecognized arguments" in out.stderr


def test_graph_usage_calls_only_the_formula_required():
    out = run("graph")
    assert out.returncode == 2
    assert "required: EXPR (see --help)" in out.stderr and "NAME=VALUE" not in out.stderr
    usage = run("graph", "--help").stdout
    assert "EXPR [NAME=VALUE ...]" in " ".join(usage.split())
