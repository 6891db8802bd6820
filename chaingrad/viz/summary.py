"""Summaries of graphs too big for dot: what makes dot slow, and fewer boxes that stand for many.

A graph that would not fit or would take ``dot`` long to lay out -- more than
``max_nodes`` Values, or edges that span many ranks (one value used by hundreds
of ops) -- is summarized: module clusters, then runs of the topological order,
collapse into one summary box each, with counts, so drawing never hangs and
text never shrinks to nothing.

>>> from chaingrad import Value
>>> y = x = Value(1.0, label="x")
>>> for _ in range(600):
...     y = y + 1
>>> too_big(GraphDrawing(y), max_nodes=500, edge_labels=False)
'more than max_nodes=500 values'
"""

from __future__ import annotations

from typing import Any

from .drawing import GraphDrawing, op_symbol
from .layout import EDGE_FONT_SIZE, FONT_SIZE, LayoutModel, text_width
from .style import KIND_STYLES, KINDS, OP_STYLE
from .text import html_escape, quote

# A summary of a big graph aims at this many boxes and edges: dot lays it out in a second.
SUMMARY_BOXES = 60
SUMMARY_EDGES = 300
# dot's layout time grows faster than the nodes it places, real and virtual (one per
# rank an edge crosses). Measured (benchmarks/viz_layout.py): ordinary graphs of 500
# Values place at most ~1,600 and take ~1 s; a value used by 45 ops far apart places
# 2,000 and takes ~8 s, 3,100 take 30 s, 3,500 over a minute. Above this many the
# drawing is summarized instead.
MAX_LAYOUT_NODES = 2000


def _grouping(
    drawing: GraphDrawing, paths: list[tuple[int, ...]], depth: int, budget: int
) -> tuple[list[int], list[Any]]:
    """Group nodes by their module path cut at ``depth`` (0: no scope groups);
    if the rest is still too many boxes, cut it into runs of the topological order.
    The root is always drawn as itdrawing."""
    n = len(drawing.order)
    root_i = n - 1
    group_of = [-1] * n  # -1: drawn as itself
    keys: list[Any] = []
    number: dict[Any, int] = {}
    if depth:
        for i, path in enumerate(paths):
            if len(path) >= depth and i != root_i:
                key: tuple[str, Any] = ("scope", path[:depth])
                g = number.get(key)
                if g is None:
                    g = number[key] = len(keys)
                    keys.append(key)
                group_of[i] = g
    singles = [i for i in range(n) if group_of[i] < 0 and i != root_i]
    room = budget - len(keys) - 1
    if len(singles) > room:
        runs = max(1, min(room, budget // 3))
        size = -(-len(singles) // runs)
        for position, i in enumerate(singles):
            key = ("run", position // size)
            g = number.get(key)
            if g is None:
                g = number[key] = len(keys)
                keys.append(key)
            group_of[i] = g
    return group_of, keys


def _merged_edges(drawing: GraphDrawing, group_of: list[int]) -> dict[tuple[str, str], int]:
    """Edges between drawn boxes, merged, with how many graph edges each stands for."""
    merged: dict[tuple[str, str], int] = {}
    index = drawing.index
    for i, node in enumerate(drawing.order):
        parents = node._parents
        if not parents:
            continue
        g = group_of[i]
        target = f"g{g}" if g >= 0 else f"o{i}"
        for parent in parents:
            p = index[parent]
            source = f"g{group_of[p]}" if group_of[p] >= 0 else f"n{p}"
            if source != target:
                merged[(source, target)] = merged.get((source, target), 0) + 1
        if g < 0:
            merged[(f"o{i}", f"n{i}")] = 1
    return merged


def summarize(
    drawing: GraphDrawing, max_nodes: int, reason: str | None = None
) -> tuple[list[str], str, LayoutModel]:
    """Lines of a summarized drawing small enough to lay out fast, and a note saying so.

    Tries module clusters from the deepest (neurons) to the shallowest (the
    model), keeping the first grouping with at most ``min(max_nodes,
    SUMMARY_BOXES)`` boxes and ``SUMMARY_EDGES`` edges. Also returns the
    layout model of the summary, to choose its direction.
    """
    order = drawing.order
    n = len(order)
    paths = drawing.scope_paths()
    depth_max = max((len(p) for p in paths), default=0)
    budget = max(3, min(max_nodes, SUMMARY_BOXES))
    for depth in [*range(depth_max, 0, -1), 0] if depth_max else [0]:
        group_of, group_keys = _grouping(drawing, paths, depth, budget)
        merged = _merged_edges(drawing, group_of)
        boxes = len(group_keys) + group_of.count(-1)
        if boxes <= budget and len(merged) <= SUMMARY_EDGES:
            break
        if depth == 1:
            break  # the whole model as one box is as coarse as scopes go

    # Per-group counts, and the group's last node (its output, in topological order).
    count = [0] * len(group_keys)
    kinds: list[dict[str, int]] = [{} for _ in group_keys]
    first = [n] * len(group_keys)
    last = [-1] * len(group_keys)
    kind = drawing.kind
    for i, g in enumerate(group_of):
        if g < 0:
            continue
        count[g] += 1
        k = kind(order[i])
        kinds[g][k] = kinds[g].get(k, 0) + 1
        first[g] = min(first[g], i)
        last[g] = i

    lines: list[str] = []
    model = LayoutModel()
    box_of: dict[str, int] = {}
    line = FONT_SIZE + 4
    for g, key in enumerate(group_keys):
        if key[0] == "scope":
            title = " / ".join(drawing.cluster_name(k) for k in key[1][-1:])
        else:
            title = f"values {first[g]}..{last[g]} (topological order)"
        breakdown = f"{count[g]} values: " + ", ".join(
            f"{kinds[g][k]} {k}" for k in KINDS if k in kinds[g]
        )
        tail = order[last[g]]
        tail_text = f"last: data {drawing.fmt(tail.data)} | grad {drawing.fmt(tail.grad)}"
        label = (
            '<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">'
            f"<tr><td><b>{html_escape(title)}</b></td></tr>"
            f"<tr><td>{html_escape(breakdown)}</td></tr>"
            f"<tr><td>{html_escape(tail_text)}</td></tr>"
            "</table>>"
        )
        lines.append(
            f"g{g} [label={label} shape=box3d style=filled "
            'fillcolor="#e0e7ff" color="#4338ca" margin="0.08,0.04"]'
        )
        texts = (text_width(title, bold=True), text_width(breakdown), text_width(tail_text))
        box_of[f"g{g}"] = model.add(max(texts) + 20, 3 * line + 10)
    for i in range(n):
        if group_of[i] >= 0:
            continue
        node = order[i]
        fill, border, style, penwidth = KIND_STYLES[drawing.kind(node)]
        label = drawing.value_label(i, node.grad)
        lines.append(
            f"n{i} [label={label} fillcolor={quote(fill)} color={quote(border)} "
            f"style={quote(style)} penwidth={penwidth}]"
        )
        name = drawing.box_name(node)
        texts = (
            text_width(name, bold=True),
            text_width(f"data {drawing.fmt(node.data)}"),
            text_width(f"grad {drawing.fmt(node.grad)}"),
        )
        box_of[f"n{i}"] = model.add(max(texts) + 10, 3 * line + 6)
        if node._parents:
            lines.append(f"o{i} [label={quote(op_symbol(node))} {OP_STYLE}]")
            box_of[f"o{i}"] = model.add(max(22.0, text_width(op_symbol(node)) + 10), 19)

    for (source, target), stands_for in merged.items():
        suffix = f' [label="{stands_for} edges"]' if stands_for > 1 else ""
        lines.append(f"{source} -> {target}{suffix}")
        label_width = text_width(f"{stands_for} edges", EDGE_FONT_SIZE) if stands_for > 1 else 0
        model.edge(box_of[source], box_of[target], label_width)

    drawn = len(group_keys) + sum(1 for g in group_of if g < 0)
    note = (
        f"summarized: {n} values drawn as {drawn} boxes ({len(group_keys)} summary nodes), "
        f"{reason or f'more than max_nodes={max_nodes} values'}. "
        + ("Pass max_nodes=None to draw every node." if "width=None" not in (reason or "") else "")
    )
    return lines, note, model


def too_big(drawing: GraphDrawing, max_nodes: int | None, edge_labels: bool) -> str | None:
    """Why ``drawing`` must be summarized before dot sees it (None: draw it in full).

    Counts what makes dot slow, not only Values: a graph of 120 Values can hide
    thousands of virtual nodes when one value feeds ops far apart.
    """
    if max_nodes is None:
        return None
    n = len(drawing.order)
    if n > max_nodes:
        return f"more than max_nodes={max_nodes} values"
    if drawing.edge_count > 4 * max_nodes:
        return f"{drawing.edge_count} edges, more than 4 * max_nodes={max_nodes}"
    layout = drawing.layout_nodes(edge_labels)
    if layout > MAX_LAYOUT_NODES:
        uses, name = largest_fan_out(drawing)
        used = f"; {name} is used {uses} times" if uses > 1 else ""
        return f"its edges cross {layout} ranks, too many for dot to lay out quickly{used}"
    return None


def largest_fan_out(drawing: GraphDrawing) -> tuple[int, str]:
    uses = [0] * len(drawing.order)
    index = drawing.index
    for node in drawing.order:
        for parent in node._parents:
            uses[index[parent]] += 1
    best = max(range(len(uses)), key=uses.__getitem__)
    return uses[best], drawing.full_name(best)
