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
    "special-members": ",".join(
        f"__{name}__"
        for name in (
            "add radd sub rsub mul rmul truediv rtruediv pow rpow neg pos abs".split()
        )
    ),
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
nb_execution_cache_path = str(DOCS / ".jupyter_cache")
nb_execution_timeout = 300  # per cell, as tests/test_notebooks.py
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "smartquotes"]
myst_heading_anchors = 3

# --- HTML -----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"chaingrad {release}"
html_static_path = ["_static"]
html_css_files = ["chaingrad.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
