"""Package hygiene: standard-library-only imports, and every docstring example runs."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

MODULES = [
    "chaingrad.nn",
    "chaingrad.nn.module",
    "chaingrad.nn.layers",
    "chaingrad.nn.init",
    "chaingrad.nn.functional",
    "chaingrad.nn.optim",
    "chaingrad.nn.data",
    "chaingrad.nn.train",
    "chaingrad.nn.plot",
    "chaingrad.nn.demo",
]


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
    if name not in ("chaingrad.nn.plot", "chaingrad.nn.demo"):
        assert tried > 0  # the module documents itself with runnable examples
