"""What every chaingrad widget shares: anywidget, the files beside it, and a static picture.

A widget is a subclass of :class:`Widget` plus two plain files in this folder,
named after its module::

    class Explorer(Widget):
        _esm = asset("explorer.js")     # export default { render({ model, el }) { ... } }
        _css = asset("explorer.css")

The contract, the same for every widget:

* **The kernel is the only state.** Everything the page shows is a traitlet
  tagged ``sync=True``; the page reads them (``model.get``) and redraws when
  they change (``model.on("change:name", ...)``). It never computes a number.
* **The page asks, the kernel decides.** A control sends a message
  ``{"action": "set", ...}`` (``model.send``); :meth:`Widget._on_message`
  calls the method ``_action_<action>(content)``. A bad request raises
  ``TypeError``/``ValueError`` there: the widget keeps its state, the error's
  text goes to the ``error`` trait (the page shows it), and ``revision`` is
  bumped so the page redraws from the kernel's state (a slider moved to a bad
  value jumps back). A good request clears ``error``.
* **A static picture for exports.** :meth:`Widget._static_html` returns HTML
  (no script) showing the current state, inside an element of class
  ``chaingrad-static``. Displaying a widget shows two outputs: the live view,
  then that picture -- which every widget's stylesheet hides
  (``.chaingrad-static { display: none; }``), so it is seen exactly where no
  live view has loaded the stylesheet: exported HTML (nbconvert, with or
  without saved widget state), the documentation site, a notebook reopened
  without a kernel. After each change the subclass calls
  :meth:`Widget._update_static`, so the picture follows the last state (a
  cheap update: no Graphviz run). In Colab, where every output is its own
  frame and the stylesheet cannot reach it, the picture is left out.
* **Numbers are checked once**, by :func:`real_number`, with one clear error.
"""

from __future__ import annotations

import math
import numbers
import sys
from pathlib import Path
from typing import Any

try:
    import anywidget
    import traitlets
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "chaingrad's notebook widgets need anywidget: pip install 'chaingrad[widgets]'"
    ) from error

HERE = Path(__file__).parent


def asset(name: str) -> Path:
    """The path of a file shipped beside the widgets (``explorer.js``), checked to exist."""
    path = HERE / name
    if not path.is_file():
        raise FileNotFoundError(f"chaingrad widget file missing from the package: {name}")
    return path


def real_number(value: Any, what: str) -> float:
    """``value`` as a finite float, or one ``TypeError``/``ValueError`` naming ``what``.

    Booleans are refused (``True`` is an int to Python, rarely a weight to a learner).

    >>> real_number(2, "w1")
    2.0
    >>> real_number("2", "w1")
    Traceback (most recent call last):
    ...
    TypeError: w1 must be a real number, got str '2'
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {type(value).__name__} {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{what} must be finite, got {x!r}")
    return x


class Widget(anywidget.AnyWidget):
    """Base of chaingrad's widgets: message dispatch, errors and the static picture."""

    # The last refused request, shown by the page ("" when the last one worked).
    error = traitlets.Unicode("").tag(sync=True)
    # Bumped after every handled request, so the page redraws even if nothing changed.
    revision = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._static_displays: list[Any] = []
        self.on_msg(self._on_message)

    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        """Route a message from the page to ``_action_<action>``; errors go to ``error``."""
        action = content.get("action") if isinstance(content, dict) else None
        handler = getattr(self, f"_action_{action}", None) if isinstance(action, str) else None
        # One message back to the page: the new state, error and revision together.
        with self.hold_sync():
            try:
                if handler is None:
                    raise ValueError(f"{type(self).__name__}: unknown request {content!r}")
                handler(content)
            except (TypeError, ValueError, ArithmeticError) as problem:
                self.error = str(problem)
            else:
                self.error = ""
            finally:
                self.revision += 1

    def _static_html(self) -> str:
        """HTML (no script) picturing the current state, for exports. Subclasses override."""
        return f"<pre>{type(self).__name__}</pre>"

    def _static_bundle(self) -> dict[str, str]:
        try:
            picture = self._static_html()
        except Exception as problem:  # a display hook must never break the live view
            picture = f"<pre>{type(self).__name__} (no picture: {problem})</pre>"
        return {
            "text/html": f'<div class="chaingrad-static">{picture}</div>',
            "text/plain": f"({type(self).__name__}: a live widget; run the notebook to use it)",
        }

    def _ipython_display_(self, **kwargs: Any) -> None:
        from IPython.display import display

        bundle = self._repr_mimebundle_()
        if bundle is None:  # closed
            return
        data, metadata = bundle
        # Where the live view cannot show (an export without widget state), the picture
        # below says it all: no "<Explorer object at 0x...>" line above it.
        display({**data, "text/plain": ""}, metadata=metadata, raw=True)
        if "google.colab.output" not in sys.modules:
            self._static_displays.append(display(self._static_bundle(), raw=True, display_id=True))

    def _update_static(self) -> None:
        """Redraw the static picture of every display of this widget (after a change)."""
        if self._static_displays:
            bundle = self._static_bundle()
            for handle in self._static_displays:
                handle.update(bundle, raw=True)
