"""Dependencies point one way: engine <- compiled <- nn <- viz <- cli, read from the imports.

``engine`` imports nothing of chaingrad outside itself (one lazy exception: a
Value's notebook display asks ``viz``); ``compiled`` imports no ``nn``; nothing
imports ``cli``. Every import counts, also those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "chaingrad"

# (module, function) pairs allowed to import upwards, lazily, inside that function.
LAZY_DISPLAY_HOOK = {("chaingrad.engine.value", "_repr_mimebundle_")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, str | None, int]]:
    """(imported module, enclosing function or None, line) for every import in a file."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    stack: list[tuple[ast.AST, str | None]] = [(tree, None)]
    while stack:
        node, function = stack.pop()
        for child in ast.iter_child_nodes(node):
            inner = function
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = child.name
            if isinstance(child, ast.Import):
                found += [(alias.name, inner, child.lineno) for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    name = ".".join(base + ([child.module] if child.module else []))
                else:
                    name = child.module or ""
                found.append((name, inner, child.lineno))
                # `from chaingrad import nn` imports chaingrad.nn
                found += [(f"{name}.{alias.name}", inner, child.lineno) for alias in child.names]
            stack.append((child, inner))
    return found


def _violations(area: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in sorted((PACKAGE / area).rglob("*.py")):
        module = _module_name(path)
        for name, function, line in _imports(path):
            if not name.startswith(forbidden):
                continue
            if (module, function) in LAZY_DISPLAY_HOOK:
                continue
            bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}")
    return bad


def _under(*names: str) -> tuple[str, ...]:
    return tuple(n for name in names for n in (f"chaingrad.{name}.", f"chaingrad.{name}"))


def test_the_engine_imports_nothing_above_it():
    assert _violations("engine", _under("nn", "viz", "compiled", "cli")) == []


def test_the_compiled_mode_imports_no_nn():
    assert _violations("compiled", _under("nn", "viz", "cli")) == []


def test_the_reader_of_imports_sees_lazy_and_relative_imports():
    value = PACKAGE / "engine" / "value.py"
    lazy = [(name, fn) for name, fn, _ in _imports(value) if name.startswith("chaingrad.viz")]
    assert lazy and all(fn == "_repr_mimebundle_" for _, fn in lazy)
    relative = {name for name, _, _ in _imports(PACKAGE / "compiled" / "step.py")}
    assert "chaingrad.compiled.program" in relative and "chaingrad.engine" in relative


def test_nothing_imports_the_command_line():
    # Holds once nn/demo.py and viz/formula.py no longer import cli (their own change).
    bad = []
    # `python -m chaingrad` runs the command line: its entry point may (and must) import it.
    entry = ("chaingrad/cli.py", "chaingrad/__main__.py")
    bad += [v for v in _violations(".", _under("cli")) if not v.startswith(entry)]
    assert sorted(set(bad)) == []
