"""draw_dot: the computation graph of a Value as a Graphviz drawing that fits a notebook.

Every Value becomes a compact box -- its name on top, ``data`` and ``grad``
below -- and every op a small ellipse between its inputs and its output, as
in micrograd, styled by kind (see :mod:`chaingrad.viz.style`). Node ids come
from topological position (``n0``, ``n1``, ...; the op that made ``n7`` is
``o7``), so the DOT text of the same graph is identical run to run.

Drawings are made to be read where a learner sees them: a notebook column of
about 1,100 px (``width``). The default ``rankdir="auto"`` lays the graph out
left to right when that fits the column and top to bottom when that fits
better. Nothing here recurses over the graph, and graphs that would not fit or
would take ``dot`` long to lay out are summarized (:mod:`chaingrad.viz.summary`),
so drawing never hangs and text never shrinks to nothing.

>>> from chaingrad import Value
>>> x = Value(2.0, label="x")
>>> y = x * x + 1
>>> 'rankdir=LR' in draw_dot(y).source
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chaingrad.engine import Value

from .drawing import GraphDrawing
from .layout import fit_rankdir
from .output import check_timeout, dot_available, pipe
from .style import make_digraph
from .summary import MAX_LAYOUT_NODES, summarize, too_big
from .text import wrap_note

DEFAULT_MAX_NODES = 500
# The width a drawing should fit, in CSS pixels: a notebook's output column.
DEFAULT_WIDTH = 1100


RANKDIRS = ("auto", "LR", "RL", "TB", "BT")


def check_rankdir(rankdir: str, who: str = "draw_dot") -> str:
    if rankdir not in RANKDIRS:
        raise ValueError(f"{who}: rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    return rankdir


def check_width(width: float | None, who: str = "draw_dot") -> float | None:
    if width is None:
        return None
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width >= 200:
        raise ValueError(f"{who}: width must be a number of pixels >= 200 or None, got {width!r}")
    return float(width)


def check_max_nodes(max_nodes: int | None, who: str = "draw_dot") -> int | None:
    if max_nodes is not None and (
        isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1
    ):
        raise ValueError(f"{who}: max_nodes must be a positive int or None, got {max_nodes!r}")
    return max_nodes


def dot_width(lines: list[str], rankdir: str, timeout: float | None) -> float:
    """The width in CSS px dot gives these lines laid out with ``rankdir`` (-Tplain)."""
    if not dot_available():
        raise RuntimeError("dot is not installed")
    source = make_digraph(lines, rankdir, timeout=timeout).source
    first = pipe(source, "plain", timeout).split(b"\n", 1)[0].split()
    return float(first[2]) * 96  # "graph scale width height", in inches


def draw_dot(
    root: Value,
    *,
    rankdir: str = "auto",
    params: Iterable[Value] | None = None,
    inputs: Iterable[Value] | None = None,
    scopes: Any = None,
    model: Any = None,
    edge_labels: bool = False,
    color_grad: bool = False,
    number_backward: bool = False,
    legend: bool = False,
    grads: Mapping[Value, float] | None = None,
    max_nodes: int | None = DEFAULT_MAX_NODES,
    precision: int = 4,
    width: float | None = DEFAULT_WIDTH,
    timeout: float | None = None,
) -> Any:
    """The computation graph of ``root`` as a ``graphviz.Digraph`` (shown inline in Jupyter).

    Each Value is a compact box (name, ``data``, ``grad``) and each op an
    ellipse, with a style per kind of node (see the module docstring;
    ``params`` marks parameters). ``rankdir="auto"`` lays it out left to
    right like micrograd when that fits ``width`` px (a notebook column; None
    for no limit), else top to bottom; ``"LR"``/``"TB"``/... force a direction.

    Options: ``edge_labels`` writes the local derivative (the chain-rule factor)
    on each edge; ``color_grad`` fills nodes red/blue by gradient sign, deeper
    for larger magnitude; ``number_backward`` numbers nodes in the order
    backward makes their gradients final (#1 is the output; the step-through
    marks them finished in that order); ``legend`` adds a key; ``grads`` shows
    these gradients instead of ``.grad``; ``scopes`` (a
    ``chaingrad.engine.scopes.ScopeRecorder``) groups nodes into one cluster
    per module, named after ``model.named_modules()`` when ``model`` is given
    (a model also names its parameters by their path, ``layers.0.neurons.1.w.0``,
    shown as ``w.0`` inside the neuron's cluster, and marks them as parameters
    unless ``params`` is given). Above ``max_nodes`` Values, or when its edges
    would make ``dot`` slow, the drawing is summarized (module clusters, then
    runs of nodes, collapse into summary boxes with counts) and its title says
    so. Rendering (``pipe``, ``render``, notebook display) runs ``dot`` for at
    most ``timeout`` seconds (default ``chaingrad.viz.render.DEFAULT_TIMEOUT``).

    >>> from chaingrad import Value
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> c = a * b
    >>> c.backward()
    >>> dot = draw_dot(c)                 # doctest: +SKIP
    >>> dot.render("c", format="svg")     # doctest: +SKIP
    """
    check_max_nodes(max_nodes)
    check_rankdir(rankdir)
    width = check_width(width)
    check_timeout(timeout, "draw_dot")
    drawing = GraphDrawing(
        root, params=params, inputs=inputs, scopes=scopes, model=model, precision=precision
    )
    reason = too_big(drawing, max_nodes, edge_labels)
    lines: list[str] = []
    if reason is None:
        lines = drawing.body(
            edge_labels=edge_labels,
            color_grad=color_grad,
            number_backward=number_backward,
            legend=legend,
            grads=grads,
        )
        if rankdir == "auto":
            # dot measures the layout when the estimate is unsure, if the graph is
            # small enough for dot to lay out quickly (else the estimate decides)
            small = drawing.layout_nodes(edge_labels) <= MAX_LAYOUT_NODES // 2
            direction, readable = fit_rankdir(
                drawing.layout_model(edge_labels),
                width,
                edge_labels,
                (lambda d: dot_width(lines, d, timeout)) if small else None,
            )
            if not readable and max_nodes is not None:
                reason = (
                    f"too big to read in a {width:g} px column. "
                    "Pass width=None (and max_nodes=None) to draw every node"
                )
            else:
                rankdir = direction
    if reason is not None:
        lines, note, model = summarize(drawing, max_nodes or DEFAULT_MAX_NODES, reason)
        if rankdir == "auto":
            measure = lambda d: dot_width(lines, d, timeout)  # noqa: E731
            rankdir = fit_rankdir(model, width, False, measure, trust=0)[0]
        return make_digraph(lines, rankdir, wrap_note(note), timeout, width)
    return make_digraph(lines, rankdir, timeout=timeout, width=width)
