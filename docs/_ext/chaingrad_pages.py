"""Pages the site discovers instead of listing by hand: the API reference and the notebooks.

At ``builder-inited`` (before Sphinx reads any source) this writes

* ``api/``: one page per module of the ``chaingrad`` package, found by walking
  it with :mod:`pkgutil`. A package's page shows its docstring, a table of
  its public names (``__all__``) linking to where each is documented, and its
  modules; a module's page documents everything defined in it. A module added
  to the package gets a page with no edit here.
* ``notebooks/``: a copy of every ``notebooks/*.ipynb`` of the repository
  (Sphinx reads only files under its source folder); ``notebooks.md`` lists
  them with a glob.

Both folders are generated on every build and are not committed.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import shutil
import types
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

PACKAGE = "chaingrad"


def public_modules(package: str = PACKAGE) -> list[str]:
    """The package and every module under it, private ones (``_x``) and ``__main__`` left out."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def canonical_name(obj: Any, fallback: str) -> str | None:
    """Where an object is documented: its module plus qualified name (None for plain data)."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if (inspect.isclass(obj) or callable(obj)) and module and qualname:
        return f"{module}.{qualname}"
    return None


def summary(obj: Any) -> str:
    """The docstring's first paragraph on one line (PEP 257's summary)."""
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def _heading(text: str, underline: str = "=") -> str:
    return f"{text}\n{underline * len(text)}\n"


def package_page(name: str, children: list[str]) -> str:
    module = importlib.import_module(name)
    title = "API reference" if name == PACKAGE else f"``{name}``"
    lines = [
        f".. _api-{name}:\n",
        _heading(title),
        f".. automodule:: {name}\n   :no-members:\n",
    ]
    rows, data = [], []
    for public in getattr(module, "__all__", []):
        if public.startswith("__"):
            continue
        obj = getattr(module, public)
        target = canonical_name(obj, public)
        if target is None:
            data.append(public)
        else:
            role = "py:mod" if isinstance(obj, types.ModuleType) else "py:obj"
            rows.append((f":{role}:`{public} <{target}>`", summary(obj)))
    if rows:
        lines += [
            _heading("Public names", "-"),
            f"Importable as ``from {name} import ...``:\n",
            ".. list-table::\n   :widths: 30 70\n",
            *(f"   * - {link}\n     - {text}" for link, text in rows),
            "",
        ]
    if data:
        lines += ["Constants: " + ", ".join(f"``{public}``" for public in data) + ".\n"]
    if children:
        lines += [
            _heading("Modules", "-"),
            ".. toctree::\n   :maxdepth: 1\n",
            *(f"   {child}" for child in children),
            "",
        ]
    return "\n".join(lines)


def module_page(name: str) -> str:
    return "\n".join(
        [
            f".. _api-{name}:\n",
            _heading(f"``{name}``"),
            f".. automodule:: {name}",
            "   :members:",
            "   :undoc-members:",
            "   :show-inheritance:",
            "   :member-order: bysource",
            "",
        ]
    )


def write_if_changed(path: Path, text: str) -> None:
    # Unchanged files keep their timestamps, so Sphinx rebuilds only what changed.
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_api_pages(srcdir: Path) -> None:
    out = srcdir / "api"
    out.mkdir(exist_ok=True)
    names = public_modules()
    wanted = set()
    for name in names:
        module = importlib.import_module(name)
        is_package = hasattr(module, "__path__")
        children = [n for n in names if n.rpartition(".")[0] == name]
        page = "index" if name == PACKAGE else name
        text = package_page(name, children) if is_package else module_page(name)
        write_if_changed(out / f"{page}.rst", text)
        wanted.add(f"{page}.rst")
    for stale in out.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()


def copy_notebooks(srcdir: Path) -> None:
    """Copy the repository's notebooks, or their executed copies when CI has them.

    With ``CHAINGRAD_EXECUTED_NOTEBOOKS=DIR`` (set by ``.ci/run``; conf.py then
    turns execution off) the pages show the outputs the test session produced,
    so CI executes every notebook once, not twice.
    """
    committed = srcdir.parent / "notebooks"
    executed = os.environ.get("CHAINGRAD_EXECUTED_NOTEBOOKS")
    source = Path(executed) if executed else committed
    out = srcdir / "notebooks"
    out.mkdir(exist_ok=True)
    wanted = {path.name for path in committed.glob("*.ipynb")}
    missing = sorted(name for name in wanted if not (source / name).exists())
    if missing:
        raise RuntimeError(f"no executed copy of {', '.join(missing)} in {source}")
    for name in wanted:
        target = out / name
        if not target.exists() or target.read_bytes() != (source / name).read_bytes():
            shutil.copyfile(source / name, target)
    for stale in out.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()


def generate(app: Sphinx) -> None:
    srcdir = Path(app.srcdir)
    write_api_pages(srcdir)
    copy_notebooks(srcdir)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
