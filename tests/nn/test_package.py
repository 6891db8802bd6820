"""Package hygiene: standard-library-only imports, and every docstring example runs."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import subprocess
import sys

import pytest

import chaingrad

# Every module of the package, so a new one is covered without editing a list.
MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(chaingrad.__path__, prefix="chaingrad.")
    if not info.name.endswith("__main__")  # importing it runs the command
)
# Modules that draw or run commands rather than compute; examples optional there.
MAY_HAVE_NO_EXAMPLES = {
    "chaingrad.cli",
    "chaingrad.nn.plot",
    "chaingrad.nn.demo",
    "chaingrad.nn.torch_twins",  # torch classes: its examples are the export tests
}


def test_importing_nn_and_demo_loads_only_the_standard_library():
    code = (
        "import sys, chaingrad.nn, chaingrad.nn.demo; "
        "heavy = {'numpy', 'matplotlib', 'tqdm', 'sklearn', 'torch', 'graphviz'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_nn_never_imports_viz():
    code = "import sys, chaingrad.nn, chaingrad.nn.demo; print('chaingrad.viz' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0
    if name not in MAY_HAVE_NO_EXAMPLES:
        assert tried > 0, f"{name} has no runnable docstring example"
