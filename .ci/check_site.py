"""Check a built documentation site: complete, with its notebooks, and offline.

    python .ci/check_site.py OUTDIR

Fails (exit 1, one line per problem) when a public name of chaingrad,
chaingrad.nn or chaingrad.viz (and chaingrad.jit, once it exists) has no
entry in the API reference, when a notebook of notebooks/ has no page (or,
executed, no outputs), or when a page loads a script, stylesheet, image or
frame from another host.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import sys
import types
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).parent.parent
PUBLIC_PACKAGES = ["chaingrad", "chaingrad.engine", "chaingrad.nn", "chaingrad.viz"]
# Attributes that load something when the page opens (a plain <a href> does not).
LOADING = {
    "script": "src",
    "link": "href",
    "img": "src",
    "iframe": "src",
    "source": "src",
    "audio": "src",
    "video": "src",
    "embed": "src",
    "object": "data",
}
REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
CSS_REMOTE = re.compile(r"(?:url\(|@import)\s*['\"]?\s*(?:https?:)?//", re.IGNORECASE)


class Resources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.remote: list[str] = []
        self.ids: set[str] = set()
        self.outputs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"] or "")
        if "cell_output" in (attributes.get("class") or ""):
            self.outputs += 1
        name = LOADING.get(tag)
        if tag == "link" and attributes.get("rel") in ("canonical", "alternate"):
            return  # metadata, nothing is fetched
        value = attributes.get(name) if name else None
        if value and REMOTE.match(value):
            self.remote.append(f"<{tag} {name}={value}>")


def documented_targets(public: str) -> list[str]:
    """The reference ids a page must carry for each public name of a package."""
    module = importlib.import_module(public)
    targets = []
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if name.startswith("__"):
            continue
        if isinstance(obj, types.ModuleType):
            targets.append(f"module-{obj.__name__}")
        elif inspect.isclass(obj) or callable(obj):
            targets.append(f"{obj.__module__}.{obj.__qualname__}")
    return targets


def main(out: Path) -> list[str]:
    problems: list[str] = []
    pages: dict[Path, Resources] = {}
    for path in sorted(out.rglob("*.html")):
        if "_static" in path.parts or "_modules" in path.parts:
            continue
        parser = Resources()
        parser.feed(path.read_text(encoding="utf-8"))
        pages[path] = parser
        for item in parser.remote:
            problems.append(f"{path.relative_to(out)}: loads from the network: {item}")
    for path in sorted(out.rglob("*.css")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if CSS_REMOTE.search(line):
                problems.append(f"{path.relative_to(out)}: loads from the network: {line.strip()}")

    api_ids = set().union(*(p.ids for path, p in pages.items() if "api" in path.parts))
    required = [t for package in PUBLIC_PACKAGES for t in documented_targets(package)]
    required += ["chaingrad.engine.value.Value.backward", "chaingrad.engine.value.Value.__add__"]
    chaingrad = importlib.import_module("chaingrad")
    if hasattr(chaingrad, "jit"):
        jit = chaingrad.jit
        required.append(f"{jit.__module__}.{jit.__qualname__}")
    for target in required:
        if target not in api_ids:
            problems.append(f"API reference: no entry for {target}")

    executed = os.environ.get("CHAINGRAD_DOCS_EXECUTE", "cache") != "off"
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        page = out / "notebooks" / f"{notebook.stem}.html"
        if page not in pages:
            problems.append(f"notebooks/{notebook.name}: no page {page.relative_to(out)}")
            continue
        code_cells = [
            c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"
        ]
        if executed and code_cells and pages[page].outputs == 0:
            problems.append(f"{page.relative_to(out)}: no cell outputs (was it executed?)")
    # Pages written as executable Markdown ({code-cell}) must show their outputs too.
    for source in sorted((ROOT / "docs").glob("*.md")):
        page = out / f"{source.stem}.html"
        cells = source.read_text(encoding="utf-8").count("```{code-cell}")
        if executed and cells and page in pages and pages[page].outputs < cells:
            problems.append(
                f"{page.relative_to(out)}: {pages[page].outputs} outputs for {cells} code cells "
                "(was it executed?)"
            )
    return problems


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python .ci/check_site.py OUTDIR")
    site = Path(sys.argv[1])
    found = main(site)
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        sys.exit(1)
    print(f"docs: {site} checked: public names documented, notebooks rendered, nothing remote")
