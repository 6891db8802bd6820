"""`import chaingrad` loads the standard library only."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ["numpy", "graphviz", "matplotlib", "tqdm", "sklearn", "torch", "PIL", "anywidget"]


def test_import_chaingrad_is_standard_library_only():
    code = (
        "import sys, chaingrad, chaingrad.nn, chaingrad.viz, chaingrad.cli; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
