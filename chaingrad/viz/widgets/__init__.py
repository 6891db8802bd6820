"""Live widgets for notebooks: a graph to touch (:class:`Explorer`) and a training playground.

Each widget is one Python class and, beside its module, one ES module and one
stylesheet (``explorer.py``, ``explorer.js``, ``explorer.css``): plain files
shipped in the package and sent to the page by `anywidget
<https://anywidget.dev>`_, with no CDN and no build step. The kernel computes;
the page only draws what the kernel sends. Every widget has a Python API that
does what its controls do, and shows a static picture of its state where no
live kernel is (exported HTML, the documentation site).

They need the ``widgets`` extra (``pip install 'chaingrad[widgets]'``).
Importing this package loads nothing beyond the standard library: a widget's
module, and anywidget with it, is imported when the widget is first used.

>>> import chaingrad.viz.widgets as widgets
>>> sorted(widgets.WIDGETS)             # what chaingrad.viz imports from here on demand
['Explorer', 'Playground']
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module of this package that defines it
WIDGETS = {"Explorer": "explorer", "Playground": "playground"}

__all__ = ["Explorer", "Playground"]


def __getattr__(name: str) -> Any:
    module = WIDGETS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *WIDGETS])
