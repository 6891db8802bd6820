"""The documentation site: .ci/check_site.py catches what it should, and the site builds.

The full build (notebooks executed) runs in CI after the tests (.ci/run);
here the checker is tested on small fake pages, and the slow test builds the
site without executing notebooks.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def load_checker():
    spec = importlib.util.spec_from_file_location("check_site", ROOT / ".ci" / "check_site.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PAGE = """<html><head>
<link rel="stylesheet" href="_static/local.css">
<link rel="stylesheet" href="https://cdn.example.org/theme.css">
<link rel="canonical" href="https://example.org/page.html">
<script src="_static/local.js"></script>
<script src="//cdn.example.org/mathjax.js"></script>
</head><body>
<a href="https://github.com/karpathy/micrograd">a link loads nothing</a>
<img src="http://example.org/picture.png">
<img src="_images/graph.svg">
</body></html>
"""


def test_checker_flags_every_remote_resource_and_nothing_else(tmp_path):
    (tmp_path / "page.html").write_text(PAGE)
    (tmp_path / "style.css").write_text("@import url('https://fonts.example.org/f.css');\n")
    problems = [p for p in load_checker().main(tmp_path) if "network" in p]
    assert len(problems) == 4, problems
    joined = "\n".join(problems)
    for remote in ("theme.css", "mathjax.js", "picture.png", "f.css"):
        assert remote in joined
    assert "micrograd" not in joined and "canonical" not in joined


def test_checker_wants_every_public_name_and_notebook(tmp_path):
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "index.html").write_text(
        '<html><body><dt id="chaingrad.engine.value.Value">Value</dt></body></html>'
    )
    problems = load_checker().main(tmp_path)
    missing = {p.rsplit(" ", 1)[-1] for p in problems if p.startswith("API reference")}
    assert "chaingrad.engine.value.Value.backward" in missing
    assert "chaingrad.nn.layers.MLP" in missing
    assert "chaingrad.viz.graph.draw_dot" in missing
    assert "chaingrad.engine.value.Value" not in missing
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert sum("no page" in p for p in problems) == len(notebooks)


def test_checker_wants_the_outputs_of_executable_markdown_pages(tmp_path, monkeypatch):
    # The home page's example must show what it prints and draws: a build that
    # skipped executing it (as once happened in CI) has to fail.
    monkeypatch.delenv("CHAINGRAD_DOCS_EXECUTE", raising=False)
    cells = (ROOT / "docs" / "index.md").read_text().count("```{code-cell}")
    assert cells > 0
    output = '<div class="cell_output docutils container">out</div>'
    for shown, flagged in ((0, True), (cells, False)):
        (tmp_path / "index.html").write_text(f"<html><body>{output * shown}</body></html>")
        problems = [p for p in load_checker().main(tmp_path) if p.startswith("index.html")]
        assert bool(problems) is flagged, problems


@pytest.mark.slow
def test_site_builds_with_warnings_as_errors(tmp_path):
    for module in ("sphinx", "myst_nb", "pydata_sphinx_theme"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[docs]')")
    env = {**os.environ, "CHAINGRAD_DOCS_EXECUTE": "off"}
    out = subprocess.run(
        [str(ROOT / ".ci" / "docs"), str(tmp_path / "site")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert (tmp_path / "site" / "api" / "chaingrad.engine.value.html").is_file()
