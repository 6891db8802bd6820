"""The `chaingrad` command: help, version, and one-line errors for bad arguments."""

from __future__ import annotations

import subprocess
import sys


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
