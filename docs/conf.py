"""Sphinx configuration for chaingrad's documentation site.

Build it with ``.ci/docs OUTDIR`` (warnings are errors). The API reference and
the notebook pages are generated on every build by ``_ext/chaingrad_pages.py``;
notebooks are executed by MyST-NB and cached in ``docs/.jupyter_cache``, so a
second build re-executes only the notebooks whose code changed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).parent
sys.path.insert(0, str(DOCS / "_ext"))

import chaingrad  # noqa: E402

project = "chaingrad"
author = "the chaingrad authors"
copyright = "the chaingrad authors"
release = version = chaingrad.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_nb",
    "sphinx_copybutton",
    "sphinx-mathjax-offline",  # MathJax 3 copied into the site: math renders offline
    "chaingrad_pages",
]

exclude_patterns = ["_build", ".jupyter_cache", "**/.ipynb_checkpoints"]
templates_path: list[str] = []

# --- API reference ------------------------------------------------------------------
autodoc_default_options = {
    # The operators are the engine's API: show them (with their docs) on Value's page.
    "special-members": "__add__, __radd__, __sub__, __rsub__, __mul__, __rmul__, "
    "__truediv__, __rtruediv__, __pow__, __rpow__, __neg__, __pos__, __abs__",
}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
add_module_names = False
python_use_unqualified_type_names = True
napoleon_google_docstring = True
napoleon_numpy_docstring = True

# --- notebooks (MyST-NB) ------------------------------------------------------------
# "cache": execute at build time, keep outputs in docs/.jupyter_cache keyed by the
# code, so only changed notebooks run again. CHAINGRAD_DOCS_EXECUTE=off renders the
# committed (output-free) notebooks, for quick work on the prose.
nb_execution_mode = os.environ.get("CHAINGRAD_DOCS_EXECUTE", "cache")
# CHAINGRAD_EXECUTED_NOTEBOOKS=DIR (CI): the notebook pages are the test session's
# executed copies, shown as they are (see _ext/chaingrad_pages.py); the pages written
# as executable Markdown (home, getting started) still run.
if os.environ.get("CHAINGRAD_EXECUTED_NOTEBOOKS"):
    nb_execution_excludepatterns = ["notebooks/*"]
nb_execution_cache_path = str(DOCS / ".jupyter_cache")
nb_execution_timeout = 300  # per cell, as tests/test_notebooks.py
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# Live widgets (chaingrad.viz.Explorer, Playground) need a kernel: the site shows the
# static picture each one displays beside its live view, and loads no widget manager
# from a CDN (executed notebooks keep widget state; nothing here renders it).
nb_ipywidgets_js: dict[str, dict[str, str]] = {}
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "smartquotes"]
myst_heading_anchors = 3

# --- HTML -----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"chaingrad {release}"
html_static_path = ["_static"]
html_css_files = ["chaingrad.css"]
html_show_sourcelink = False
# Pages read top to bottom get the whole width: graph drawings are made for a
# ~1,100 px notebook column, and shrunk into a narrower one their text gets too
# small to read. Only the API reference keeps the module tree on the left; pages
# that show graphs give up the contents on the right too.
_PROSE = ["concepts", "adding-an-op", "development", "notebooks"]
_GRAPHS = ["index", "getting-started", "notebooks/*"]
html_sidebars = {page: [] for page in [*_PROSE, *_GRAPHS, "search", "genindex"]}
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": {
        **{page: ["page-toc"] for page in [*_PROSE, "api/*"]},
        **{page: [] for page in _GRAPHS},
    },
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
