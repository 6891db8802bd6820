"""The code is ruff-clean and mypy-clean with the project's configuration (pyproject.toml)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff(command):
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    out = subprocess.run([ruff, *command], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install -e '.[test]')")
    command = [sys.executable, "-m", "mypy", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_mypy_passes_on_the_package():
    out = mypy()  # files and options from [tool.mypy]
    assert out.returncode == 0, out.stdout + out.stderr


# What a user's editor and type checker see: operators with numbers on either
# side, methods, and Value ** Value are Values, not Any.
PROBE = """\
from chaingrad import Value, grad
from chaingrad.nn import functional as F

a = Value(1.0)
reveal_type(a + 2.0)
reveal_type(3 * a)
reveal_type(a.tanh())
reveal_type(a ** a)
reveal_type(1 - a / 2)
reveal_type(-abs(a))
reveal_type(grad(a * a, a))
reveal_type(grad(a * a, [a], create_graph=True))
reveal_type(F.mse_loss([a], [0.0]))
"""
REVEALED = [
    "chaingrad.engine.value.Value",
    "chaingrad.engine.value.Value",
    "chaingrad.engine.value.Value",
    "chaingrad.engine.value.Value",
    "chaingrad.engine.value.Value",
    "chaingrad.engine.value.Value",
    "float",
    "tuple[chaingrad.engine.value.Value, ...]",
    "chaingrad.engine.value.Value",
]


def test_mypy_sees_the_operators_as_values(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    out = mypy(str(probe))
    revealed = [
        line.split('Revealed type is "', 1)[1].rstrip('"').replace("builtins.", "")
        for line in out.stdout.splitlines()
        if "Revealed type is" in line
    ]
    assert revealed == REVEALED, out.stdout + out.stderr
    assert "error" not in out.stdout, out.stdout


def test_the_package_says_it_is_typed():
    assert (ROOT / "chaingrad" / "py.typed").is_file()
