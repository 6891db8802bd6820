"""What a drawing looks like: a style per kind of node, gradient colours, the key, and
the graphviz.Digraph every drawing is handed back in.

Kinds of nodes, each with its own style (``legend=True`` draws a key):

* **output** -- the root you drew;
* **parameter** -- a leaf in the ``params`` collection you pass, or of the ``model``;
* **input** -- any other leaf you made (``Value(2.0)``), or one in ``inputs=``;
* **constant** -- a :class:`~chaingrad.engine.Constant`, the leaf the engine
  makes from a Python number in ``x * 2`` (unless in ``params``/``inputs``);
* **intermediate** -- everything else.

The step-through colours each frame with the step colours below (and the GIF's
and the player's keys show them).

>>> grad_color(1.0, 1.0), grad_color(0.0, 1.0)
('#e14747', '#ffffff')
"""

from __future__ import annotations

import math
from typing import Any

from .layout import EDGE_FONT_SIZE, FONT, FONT_SIZE, NODESEP, RANKSEP
from .text import quote

# kind -> (fill colour, border colour, style, border width)
KIND_STYLES: dict[str, tuple[str, str, str, str]] = {
    "input": ("#dbeafe", "#1d4ed8", "filled,rounded", "1.2"),
    "parameter": ("#fef3c7", "#b45309", "filled,rounded", "2"),
    "constant": ("#f3f4f6", "#6b7280", "filled,rounded,dashed", "1"),
    "intermediate": ("#ffffff", "#374151", "filled,rounded", "1"),
    "output": ("#dcfce7", "#15803d", "filled,rounded", "2.5"),
}
KINDS = tuple(KIND_STYLES)

OP_STYLE = (
    'shape=ellipse style=filled fillcolor="#f3f4f6" color="#6b7280" '
    "margin=0.01 width=0.3 height=0.26"
)

_POSITIVE = (220, 38, 38)  # red: increasing this node increases the output
_NEGATIVE = (37, 99, 235)  # blue: increasing it decreases the output
_WHITE = (255, 255, 255)

# Colours of a backward step: the node whose gradient flows back, the parent receiving
# it, the edge it flows along (drawn pointing backward); nodes whose gradient is final;
# the rest.
UPSTREAM_FILL = "#fdba74"
RECEIVER_FILL = "#fde047"
EDGE_COLOUR = "#ea580c"
DONE_FILL = "#bbf7d0"
PENDING_FILL = "#ffffff"
EDGE_DEFAULT = "#4b5563"

# (fill, border, meaning) of each step colour, as the keys show them
STEP_KEY = (
    (UPSTREAM_FILL, "#9a3412", "gradient flows from"),
    (RECEIVER_FILL, "#a16207", "gradient flows into"),
    (DONE_FILL, "#15803d", "gradient final"),
    (PENDING_FILL, "#6b7280", "not final yet (? = none so far)"),
)


def grad_color(g: float, largest: float) -> str:
    """Fill colour for a gradient: red if positive, blue if negative, deeper when larger."""
    if math.isnan(g):
        return "#d1d5db"
    if g == 0 or largest == 0:
        return "#ffffff"
    share = 1.0 if math.isinf(g) or math.isinf(largest) else min(1.0, abs(g) / largest)
    alpha = 0.15 + 0.7 * math.sqrt(share)  # sqrt: small gradients stay visible
    base = _POSITIVE if g > 0 else _NEGATIVE
    mixed = (round(w + (b - w) * alpha) for w, b in zip(_WHITE, base))
    return "#" + "".join(f"{c:02x}" for c in mixed)


def legend_lines(color_grad: bool) -> list[str]:
    """A cluster showing one sample box per node kind (and the gradient colours)."""
    lines = [
        "subgraph cluster_legend {",
        f'label="key" style="rounded" color="#9ca3af" fontname="{FONT}" fontsize={FONT_SIZE}',
    ]
    previous = None
    for kind in KINDS:
        fill, border, style, penwidth = KIND_STYLES[kind]
        lines.append(
            f"legend_{kind} [label={quote(kind)} fillcolor={quote(fill)} color={quote(border)} "
            f"style={quote(style)} penwidth={penwidth}]"
        )
        if previous is not None:
            lines.append(f"{previous} -> legend_{kind} [style=invis]")
        previous = f"legend_{kind}"
    lines.append(f'legend_op [label="op" {OP_STYLE}]')
    lines.append(f"{previous} -> legend_op [style=invis]")
    if color_grad:
        lines.append(
            f'legend_grad_pos [label="grad > 0" fillcolor="{grad_color(1, 1)}" style=filled]'
        )
        lines.append(
            f'legend_grad_neg [label="grad < 0" fillcolor="{grad_color(-1, 1)}" style=filled]'
        )
        lines.append("legend_op -> legend_grad_pos [style=invis]")
        lines.append("legend_grad_pos -> legend_grad_neg [style=invis]")
    lines.append("}")
    return lines


def graph_attributes(rankdir: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_dot: rankdir must be one of LR, RL, TB, BT, got {rankdir!r}")
    graph_attr = {
        "rankdir": rankdir,
        "fontname": FONT,
        "fontsize": str(FONT_SIZE),
        "ranksep": str(RANKSEP),
        "nodesep": str(NODESEP),
        "pad": "0.05",
    }
    node_attr = {
        "shape": "box",
        "fontname": FONT,
        "fontsize": str(FONT_SIZE),
        "margin": "0.05,0.03",
        "height": "0.3",
    }
    edge_attr = {
        "fontname": FONT,
        "fontsize": str(EDGE_FONT_SIZE),
        "arrowsize": "0.6",
        "color": "#4b5563",
    }
    return graph_attr, node_attr, edge_attr


def make_digraph(
    lines: list[str],
    rankdir: str,
    note: str | None = None,
    timeout: float | None = None,
    width: float | None = None,
    hint: str | None = None,
) -> Any:
    """A graphviz.Digraph holding ``lines`` as its body (graphviz imported here, lazily).

    Its ``pipe``, ``render``, ``view`` and notebook display run ``dot`` through
    :func:`chaingrad.viz.output.pipe`: bounded by ``timeout`` seconds, one-line errors.
    With ``width`` (px), dot scales a wider drawing down to it (its ``size``), so
    the picture is never wider than the column, wherever it is shown.
    """
    from .digraph import Digraph  # imports graphviz: only when something is drawn

    graph_attr, node_attr, edge_attr = graph_attributes(rankdir)
    if note:
        graph_attr.update(label=note, labelloc="t", labeljust="l")
    if width is not None:
        graph_attr["size"] = f"{width / 96:.4g},1000"  # inches; 96 px each
    body = [f"\t{line}\n" for line in lines]
    graph = Digraph(
        "chaingrad",
        format="svg",
        graph_attr=graph_attr,
        node_attr=node_attr,
        edge_attr=edge_attr,
        body=body,
    )
    graph.timeout = timeout
    if hint is not None:
        graph.hint = hint  # advice in the options of the function that drew it
    return graph


_DIGRAPH_CLASS: Any = None
