"""The README's Python examples run and print what the README says they print."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_examples_run_and_print_what_they_say(tmp_path):
    pytest.importorskip("graphviz")
    pytest.importorskip("matplotlib")
    script = "\n".join(python_blocks())
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    printed = out.stdout
    readme = README.read_text()
    # Comments of the form `print(...)  # 24.7041, ...` state what a line prints.
    for claimed in re.findall(r"print\(.*\)\s+#\s*([-\d.]+(?: [-\d.]+)*)", readme):
        assert claimed.split(",")[0] in printed, claimed
    # Output blocks right after an example are its exact output.
    assert "loss 0.0118, accuracy 100%" in printed
    for line in re.findall(r"^grad\(.*$", readme, flags=re.M):
        assert line in printed
    assert (tmp_path / "y.svg").exists() and (tmp_path / "y.html").exists()
    assert (tmp_path / "moons.json").exists()
