"""A Value's graph as a file (``render``) or as notebook output (``repr_mimebundle``).

>>> from chaingrad import Value
>>> y = Value(3.0, label="x") ** 2
>>> render(y, "square.svg", edge_labels=True, timeout=10)   # doctest: +SKIP
PosixPath('square.svg')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from chaingrad.engine import Value

from .graph import draw_dot
from .output import check_timeout, dot_available, pipe, write_atomic

# file extension -> Graphviz output format ("dot" and "gv" write the DOT text itself)
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}


def source_of(graph_or_value: Any, **draw_options: Any) -> str:
    """DOT text of a Value (drawn with ``draw_dot``) or of a graphviz graph."""
    if isinstance(graph_or_value, Value):
        return str(draw_dot(graph_or_value, **draw_options).source)
    if hasattr(graph_or_value, "source"):
        if draw_options:
            raise TypeError("render: drawing options apply to a Value, not to a ready graph")
        return str(graph_or_value.source)
    raise TypeError(
        f"render: expected a Value or a graphviz graph, got {type(graph_or_value).__name__}"
    )


def render(
    root: Any, path: str | os.PathLike[str], *, timeout: float | None = None, **draw_options: Any
) -> Path:
    """Draw ``root`` (a Value, or a graph from ``draw_dot``) to ``path``; returns the path.

    The format comes from the extension: ``.svg``, ``.png``, ``.pdf``, or
    ``.dot``/``.gv`` for the DOT text. Only ``path`` is written (no stray
    ``.gv`` file beside it; through a symlink, its target is written). ``dot``
    may run ``timeout`` seconds (default :data:`DEFAULT_TIMEOUT`).
    ``draw_options`` go to ``draw_dot``.

    >>> from chaingrad import Value
    >>> y = Value(3.0, label="x") ** 2
    >>> render(y, "square.svg", edge_labels=True)   # doctest: +SKIP
    PosixPath('square.svg')
    """
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        known = ", ".join(FORMATS)
        raise ValueError(f"render: cannot tell the format of {str(path)!r}; use one of {known}")
    check_timeout(timeout)
    source = source_of(root, **draw_options)
    data = source.encode("utf-8") if fmt == "dot" else pipe(source, fmt, timeout)
    return write_atomic(path, data)


def repr_mimebundle(value: Value, include: Any = None, exclude: Any = None) -> dict[str, Any]:
    """What Jupyter shows for a Value: its graph as SVG, plus a text fallback.

    Without the ``dot`` program (or the graphviz package) the bundle is text only,
    so printing a Value in a notebook never fails.
    """
    bundle: dict[str, Any] = {"text/plain": repr(value)}
    wants_svg = (include is None or "image/svg+xml" in include) and not (
        exclude is not None and "image/svg+xml" in exclude
    )
    if wants_svg and dot_available():
        try:
            svg = pipe(draw_dot(value).source, "svg")
            bundle["image/svg+xml"] = svg.decode("utf-8")
        except Exception:
            # A display hook must never break printing (no graphviz package, dot
            # crashing or timing out): text/plain still shows the Value.
            pass
    if include is not None:
        bundle = {k: v for k, v in bundle.items() if k in include}
    if exclude is not None:
        bundle = {k: v for k, v in bundle.items() if k not in exclude}
    return bundle
