"""draw_dot: the computation graph of a Value as a Graphviz drawing.

Every Value becomes a box showing its label, ``data`` and ``grad``; every op
becomes a small ellipse between its inputs and its output, as in micrograd.
Node ids come from topological position (``n0``, ``n1``, ...; the op that made
``n7`` is ``o7``), so the DOT text of the same graph is identical run to run.

Kinds of nodes, each with its own style (``legend=True`` draws a key):

* **output** -- the root you drew;
* **parameter** -- a leaf in the ``params`` collection you pass
  (``draw_dot(loss, params=model.parameters())``), or of the ``model`` you pass;
* **input** -- any other leaf you made (``Value(2.0)``), or one in ``inputs=``;
* **constant** -- a :class:`~chaingrad.engine.Constant`, the leaf the engine
  makes from a Python number in ``x * 2`` (unless in ``params``/``inputs``);
* **intermediate** -- everything else.

Nothing here recurses over the graph, and graphs above ``max_nodes`` Values
are summarized (module clusters, then runs of the topological order, collapse
into one summary node each), so drawing never hangs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from chaingrad.engine import Constant, Value, toposort

DEFAULT_MAX_NODES = 500
# A summary of a big graph aims at this many boxes and edges: dot lays it out in a second.
SUMMARY_BOXES = 60
SUMMARY_EDGES = 300

FONT = "Helvetica"
FONT_SIZE = 11

# kind -> (fill colour, border colour, style, border width)
KIND_STYLES: dict[str, tuple[str, str, str, str]] = {
    "input": ("#dbeafe", "#1d4ed8", "filled,rounded", "1.2"),
    "parameter": ("#fef3c7", "#b45309", "filled,rounded", "2"),
    "constant": ("#f3f4f6", "#6b7280", "filled,rounded,dashed", "1"),
    "intermediate": ("#ffffff", "#374151", "filled,rounded", "1"),
    "output": ("#dcfce7", "#15803d", "filled,rounded", "2.5"),
}
KINDS = tuple(KIND_STYLES)

TIMES = "\N{MULTIPLICATION SIGN}"  # edge labels read "x local derivative"
OP_STYLE = 'shape=ellipse style=filled fillcolor="#f3f4f6" color="#6b7280" margin=0.02'

_POSITIVE = (220, 38, 38)  # red: increasing this node increases the output
_NEGATIVE = (37, 99, 235)  # blue: increasing it decreases the output
_WHITE = (255, 255, 255)


def format_number(x: float, precision: int = 4) -> str:
    """A short, clean rendering of a float for a drawing.

    >>> format_number(2.0), format_number(-0.70710678), format_number(1e-7), format_number(-0.0)
    ('2', '-0.7071', '1e-07', '0')
    """
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"  # also turns -0.0 into 0, which only confuses a learner
    return f"{x:.{precision}g}"


def derivative(out_name: str, in_name: str) -> str:
    """``do/dn``, with brackets around names that are not one word: ``d(a*b)/da``.

    >>> derivative("o", "n"), derivative("x1*w1", "x1")
    ('do/dn', 'd(x1*w1)/dx1')
    """

    def bracket(name: str) -> str:
        return name if re.fullmatch(r"\w+", name) else f"({name})"

    return f"d{bracket(out_name)}/d{bracket(in_name)}"


def html_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def quote(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


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


def _text_width(text: str) -> int:
    # ~0.6 em per character in Helvetica, ~0.7 in the DejaVu Sans (Bold) that often
    # stands in for it: generous, so fixed-size cells never clip.
    return int(len(text) * FONT_SIZE * 0.72) + 12


class GraphDrawing:
    """The facts a drawing needs about one graph, computed once (order, kinds, scopes).

    ``draw_dot`` builds one and asks it for DOT text; the backprop step-through
    builds one and asks it for many frames of the same layout.
    """

    def __init__(
        self,
        root: Value,
        *,
        params: Iterable[Value] | None = None,
        inputs: Iterable[Value] | None = None,
        scopes: Any = None,
        model: Any = None,
        precision: int = 4,
    ) -> None:
        if not isinstance(root, Value):
            raise TypeError(f"draw_dot: root must be a Value, got {type(root).__name__}")
        if not isinstance(precision, int) or not 1 <= precision <= 17:
            raise ValueError(f"draw_dot: precision must be an int in 1..17, got {precision!r}")
        self.root = root
        self.order = toposort(root)
        self.index = {node: i for i, node in enumerate(self.order)}
        # A model names its parameters ("w.0", "b") and, unless params is given, marks them.
        self.param_names: dict[Value, str] = {}
        if model is not None and hasattr(model, "named_parameters"):
            for name, p in model.named_parameters():
                self.param_names.setdefault(p, _short_name(name))
            if params is None:
                params = list(self.param_names)
        self.params = _value_set(params, "params")
        self.inputs = _value_set(inputs, "inputs")
        self.precision = precision
        self.scopes = scopes
        self.model = model
        self._paths: list[tuple[int, ...]] | None = None
        self._cluster_names: list[str] = []
        self._cluster_modules: list[Any] = []

    # --- classification ------------------------------------------------------

    def kind(self, node: Value) -> str:
        if node is self.root:
            return "output"
        if node._parents:
            return "intermediate"
        if node in self.params:
            return "parameter"
        if node in self.inputs or not isinstance(node, Constant):
            return "input"
        return "constant"

    def name_of(self, node: Value) -> str:
        """What the drawing calls a node: its label, else its parameter name in ``model``."""
        return node.label or self.param_names.get(node, "")

    def fmt(self, x: float) -> str:
        return format_number(x, self.precision)

    # --- scopes: module paths as tuples of cluster numbers --------------------

    def scope_paths(self) -> list[tuple[int, ...]]:
        """For each node (topological position), its module path as cluster numbers.

        Cluster ``k`` is the k-th distinct module path met in topological order,
        so numbering is stable run to run (no ``id()`` in the output).
        """
        if self._paths is not None:
            return self._paths
        paths: list[tuple[int, ...]] = []
        if self.scopes is None:
            self._paths = [()] * len(self.order)
            return self._paths
        scope_of = self.scopes.scope_of
        number: dict[tuple[int, ...], int] = {}  # tuple of module ids -> cluster number
        converted: dict[tuple[int, ...], tuple[int, ...]] = {(): ()}
        for node in self.order:
            modules = scope_of(node)
            key = tuple(id(m) for m in modules)
            path = converted.get(key)
            if path is None:
                numbers = []
                for depth in range(1, len(key) + 1):
                    prefix = key[:depth]
                    k = number.get(prefix)
                    if k is None:
                        k = number[prefix] = len(self._cluster_modules)
                        self._cluster_modules.append(modules[depth - 1])
                    numbers.append(k)
                path = converted[key] = tuple(numbers)
            paths.append(path)
        self._cluster_names = self._name_clusters()
        self._paths = paths
        return paths

    def _name_clusters(self) -> list[str]:
        names: dict[int, str] = {}
        if self.model is not None and hasattr(self.model, "named_modules"):
            for name, module in self.model.named_modules():
                names.setdefault(id(module), name)
        counts: dict[str, int] = {}
        result = []
        for module in self._cluster_modules:
            type_name = type(module).__name__
            name = names.get(id(module))
            if name is None:
                k = counts.get(type_name, 0)
                counts[type_name] = k + 1
                result.append(f"{type_name} {k}")
            elif name == "":
                result.append(type_name)
            else:
                result.append(f"{name} ({type_name})")
        return result

    def cluster_name(self, k: int) -> str:
        return self._cluster_names[k]

    # --- node and edge text ---------------------------------------------------

    def value_label(
        self,
        i: int,
        grad: float | None,
        number: int | None,
        widths: tuple[int, ...] | None,
    ) -> str:
        node = self.order[i]
        cells = []
        if number is not None:
            cells.append((f"#{number}", f"<i>#{number}</i>"))
        name = self.name_of(node)
        if name:
            cells.append((name, f"<b>{html_escape(name)}</b>"))
        elif widths is not None:
            # A step-through's captions call unlabelled nodes n<i>: show that name too.
            cells.append((f"n{i}", f'<font color="#6b7280"><i>n{i}</i></font>'))
        data_text = f"data {self.fmt(node.data)}"
        cells.append((data_text, html_escape(data_text)))
        grad_text = "grad " + (self.fmt(grad) if grad is not None else "?")
        cells.append((grad_text, html_escape(grad_text)))
        parts = []
        for position, (_plain, markup) in enumerate(cells):
            if widths is None:
                parts.append(f"<td>{markup}</td>")
            else:
                # Fixed cell sizes: every frame of a step-through lays out identically.
                column = position + (0 if number is not None else 1)
                width = widths[column]
                parts.append(f'<td fixedsize="true" width="{width}" height="20">{markup}</td>')
        cells_markup = "<vr/>".join(parts)
        return (
            '<<table border="0" cellborder="0" cellspacing="0" cellpadding="3">'
            f"<tr>{cells_markup}</tr></table>>"
        )

    def column_widths(self, grads_seen: Iterable[Mapping[Value, float]]) -> tuple[int, ...]:
        """Cell widths (number, label, data, grad) wide enough for every frame."""
        number_w = _text_width(f"#{len(self.order)}")
        label_w = max(
            [_text_width(self.name_of(n) or f"n{i}") for i, n in enumerate(self.order)] + [12]
        )
        data_w = max(_text_width(f"data {self.fmt(n.data)}") for n in self.order)
        grad_w = _text_width("grad ?")
        for grads in grads_seen:
            for g in grads.values():
                grad_w = max(grad_w, _text_width(f"grad {self.fmt(g)}"))
        return (number_w, label_w, data_w, grad_w)

    # --- the DOT body -----------------------------------------------------------

    def body(
        self,
        *,
        edge_labels: bool = False,
        color_grad: bool = False,
        number_backward: bool = False,
        legend: bool = False,
        grads: Mapping[Value, float] | None = None,
        unknown_grad: bool = False,
        widths: tuple[int, ...] | None = None,
        highlight_nodes: Mapping[int, str] | None = None,
        highlight_edges: Mapping[tuple[int, int], str] | None = None,
    ) -> list[str]:
        """Lines of a full (not summarized) drawing.

        ``grads`` overrides the ``.grad`` shown; with ``unknown_grad`` a node
        missing from ``grads`` shows ``grad ?``. ``highlight_nodes`` maps a
        position to a fill colour and ``highlight_edges`` an edge
        ``(child position, parent slot)`` to a colour (the step-through uses both).
        """
        order = self.order
        index = self.index
        n = len(order)
        highlight_nodes = highlight_nodes or {}
        highlight_edges = highlight_edges or {}

        def grad_of(node: Value) -> float | None:
            if grads is None:
                return node.grad
            g = grads.get(node)
            if g is None:
                return None if unknown_grad else 0.0
            return g

        largest = 0.0
        if color_grad:
            for node in order:
                g = grad_of(node)
                if g is not None and not math.isnan(g) and not math.isinf(g):
                    largest = max(largest, abs(g))
                elif g is not None and math.isinf(g):
                    largest = math.inf

        node_lines: list[list[str]] = []
        for i, node in enumerate(order):
            kind = self.kind(node)
            fill, border, style, penwidth = KIND_STYLES[kind]
            g = grad_of(node)
            if color_grad and g is not None:
                fill = grad_color(g, largest)
            fill = highlight_nodes.get(i, fill)
            number = n - i if number_backward else None
            label = self.value_label(i, g, number, widths)
            name = self.name_of(node)
            tooltip = f"{kind} #{i}" + (f" ({name})" if name else "")
            lines = [
                f"n{i} [label={label} fillcolor={quote(fill)} color={quote(border)} "
                f"style={quote(style)} penwidth={penwidth} tooltip={quote(tooltip)}]"
            ]
            if node._parents:
                op = node._rule
                symbol, name = (op.symbol, op.name) if op is not None else ("?", "")
                lines.append(f"o{i} [label={quote(symbol)} {OP_STYLE} tooltip={quote(name)}]")
            node_lines.append(lines)

        edge_lines = []
        for i, node in enumerate(order):
            parents = node._parents
            if not parents:
                continue
            for slot, (parent, local) in enumerate(zip(parents, node._local_grads)):
                attrs = []
                if edge_labels:
                    attrs.append(f"label={quote(TIMES + self.fmt(local))}")
                    name_out = self.name_of(node) or f"n{i}"
                    name_in = self.name_of(parent) or f"n{index[parent]}"
                    tip = f"local derivative {derivative(name_out, name_in)} = {self.fmt(local)}"
                    attrs.append(f"tooltip={quote(tip)}")
                colour = highlight_edges.get((i, slot))
                if colour is not None:
                    attrs.append(f'color={quote(colour)} penwidth=3 fontcolor="{colour}"')
                suffix = f" [{' '.join(attrs)}]" if attrs else ""
                edge_lines.append(f"n{index[parent]} -> o{i}{suffix}")
            edge_lines.append(f"o{i} -> n{i}")

        lines = self._nest_in_clusters(node_lines)
        lines.extend(edge_lines)
        if legend:
            lines.extend(legend_lines(color_grad))
        return lines

    def _nest_in_clusters(self, node_lines: list[list[str]]) -> list[str]:
        paths = self.scope_paths()
        if self.scopes is None or not any(paths):
            return [line for lines in node_lines for line in lines]
        # Group node lines by cluster path, then emit nested subgraphs walking
        # the sorted paths (a prefix tree), opening and closing braces as the
        # path changes: no recursion, and order follows first appearance.
        members: dict[tuple[int, ...], list[str]] = {}
        for path, lines in zip(paths, node_lines):
            members.setdefault(path, []).extend(lines)
        all_paths = set(members)
        for path in list(members):
            for depth in range(1, len(path)):
                all_paths.add(path[:depth])
        out: list[str] = list(members.pop((), []))
        open_path: tuple[int, ...] = ()
        for path in sorted(all_paths - {()}):
            # close clusters that are not prefixes of this path
            while open_path and path[: len(open_path)] != open_path:
                out.append("}")
                open_path = open_path[:-1]
            # open each missing level
            for depth in range(len(open_path) + 1, len(path) + 1):
                k = path[depth - 1]
                out.append(f"subgraph cluster_{k} {{")
                out.append(
                    f'label={quote(self.cluster_name(k))} style="rounded,dashed" '
                    f'color="#9ca3af" fontname="{FONT}" fontsize=10'
                )
                open_path = path[:depth]
            out.extend(members.get(path, ()))
        while open_path:
            out.append("}")
            open_path = open_path[:-1]
        return out

    # --- summaries for large graphs ---------------------------------------------

    def _grouping(
        self, paths: list[tuple[int, ...]], depth: int, budget: int
    ) -> tuple[list[int], list[Any]]:
        """Group nodes by their module path cut at ``depth`` (0: no scope groups);
        if the rest is still too many boxes, cut it into runs of the topological order.
        The root is always drawn as itself."""
        n = len(self.order)
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

    def _merged_edges(self, group_of: list[int]) -> dict[tuple[str, str], int]:
        """Edges between drawn boxes, merged, with how many graph edges each stands for."""
        merged: dict[tuple[str, str], int] = {}
        index = self.index
        for i, node in enumerate(self.order):
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

    def summary_body(self, max_nodes: int) -> tuple[list[str], str]:
        """Lines of a summarized drawing small enough to lay out fast, and a note saying so.

        Tries module clusters from the deepest (neurons) to the shallowest (the
        model), keeping the first grouping with at most ``min(max_nodes,
        SUMMARY_BOXES)`` boxes and ``SUMMARY_EDGES`` edges.
        """
        order = self.order
        n = len(order)
        paths = self.scope_paths()
        depth_max = max((len(p) for p in paths), default=0)
        budget = max(3, min(max_nodes, SUMMARY_BOXES))
        for depth in [*range(depth_max, 0, -1), 0] if depth_max else [0]:
            group_of, group_keys = self._grouping(paths, depth, budget)
            merged = self._merged_edges(group_of)
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
        kind = self.kind
        for i, g in enumerate(group_of):
            if g < 0:
                continue
            count[g] += 1
            k = kind(order[i])
            kinds[g][k] = kinds[g].get(k, 0) + 1
            first[g] = min(first[g], i)
            last[g] = i

        lines: list[str] = []
        for g, key in enumerate(group_keys):
            if key[0] == "scope":
                title = " / ".join(self.cluster_name(k) for k in key[1][-1:])
            else:
                title = f"values {first[g]}..{last[g]} (topological order)"
            breakdown = ", ".join(f"{kinds[g][k]} {k}" for k in KINDS if k in kinds[g])
            tail = order[last[g]]
            label = (
                '<<table border="0" cellborder="0" cellspacing="0" cellpadding="2">'
                f"<tr><td><b>{html_escape(title)}</b></td></tr>"
                f"<tr><td>{count[g]} values: {html_escape(breakdown)}</td></tr>"
                f"<tr><td>last: data {self.fmt(tail.data)} | grad {self.fmt(tail.grad)}</td></tr>"
                "</table>>"
            )
            lines.append(
                f"g{g} [label={label} shape=box3d style=filled "
                'fillcolor="#e0e7ff" color="#4338ca" margin=0.12]'
            )
        for i in range(n):
            if group_of[i] >= 0:
                continue
            node = order[i]
            node_kind = self.kind(node)
            fill, border, style, penwidth = KIND_STYLES[node_kind]
            label = self.value_label(i, node.grad, None, None)
            lines.append(
                f"n{i} [label={label} fillcolor={quote(fill)} color={quote(border)} "
                f"style={quote(style)} penwidth={penwidth}]"
            )
            if node._rule is not None:  # an op node, i.e. not a leaf
                lines.append(f"o{i} [label={quote(node._rule.symbol)} {OP_STYLE}]")

        for (source, target), edges in merged.items():
            suffix = f' [label="{edges} edges"]' if edges > 1 else ""
            lines.append(f"{source} -> {target}{suffix}")

        drawn = len(group_keys) + sum(1 for g in group_of if g < 0)
        note = (
            f"summarized: {n} values drawn as {drawn} boxes "
            f"({len(group_keys)} summary nodes; max_nodes={max_nodes}). "
            "Pass max_nodes=None to draw every node."
        )
        return lines, note


def legend_lines(color_grad: bool) -> list[str]:
    """A cluster showing one sample box per node kind (and the gradient colours)."""
    lines = [
        "subgraph cluster_legend {",
        f'label="legend" style="rounded" color="#9ca3af" fontname="{FONT}" fontsize=10',
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


def _short_name(dotted: str) -> str:
    """``layers.0.neurons.1.w.2`` -> ``w.2``: the name inside its module (see its cluster)."""
    parts = dotted.split(".")
    if len(parts) >= 2 and parts[-1].isdigit():
        return ".".join(parts[-2:])
    return parts[-1]


def _value_set(values: Iterable[Value] | None, what: str) -> set[Value]:
    if values is None:
        return set()
    if isinstance(values, Value):
        return {values}
    result = set()
    for position, v in enumerate(values):
        if not isinstance(v, Value):
            raise TypeError(f"draw_dot: {what}[{position}] must be a Value, got {type(v).__name__}")
        result.add(v)
    return result


def graph_attributes(rankdir: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_dot: rankdir must be one of LR, RL, TB, BT, got {rankdir!r}")
    graph_attr = {"rankdir": rankdir, "fontname": FONT, "fontsize": str(FONT_SIZE)}
    node_attr = {
        "shape": "box",
        "fontname": FONT,
        "fontsize": str(FONT_SIZE),
        "margin": "0.04",
        "height": "0.3",
    }
    edge_attr = {"fontname": FONT, "fontsize": "9", "arrowsize": "0.7"}
    return graph_attr, node_attr, edge_attr


def make_digraph(lines: list[str], rankdir: str, note: str | None = None) -> Any:
    """A graphviz.Digraph holding ``lines`` as its body (graphviz imported here, lazily)."""
    graphviz = import_graphviz()
    graph_attr, node_attr, edge_attr = graph_attributes(rankdir)
    if note:
        graph_attr.update(label=note, labelloc="t", labeljust="l")
    body = [f"\t{line}\n" for line in lines]
    return _digraph_class(graphviz)(
        "chaingrad",
        format="svg",
        graph_attr=graph_attr,
        node_attr=node_attr,
        edge_attr=edge_attr,
        body=body,
    )


_DIGRAPH_CLASS: Any = None


def _digraph_class(graphviz: Any) -> Any:
    """A graphviz.Digraph whose rendering turns a missing ``dot`` into one clear error."""
    global _DIGRAPH_CLASS
    if _DIGRAPH_CLASS is not None:
        return _DIGRAPH_CLASS

    def translated(method_name: str) -> Any:
        method = getattr(graphviz.Digraph, method_name)

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except graphviz.ExecutableNotFound:
                from .render import INSTALL_HINT, GraphvizNotFoundError

                raise GraphvizNotFoundError(
                    f"the Graphviz 'dot' program was not found; {INSTALL_HINT}"
                ) from None

        wrapper.__name__ = method_name
        wrapper.__doc__ = (
            f"graphviz.Digraph.{method_name}; a missing ``dot`` is one GraphvizNotFoundError."
        )
        return wrapper

    class Digraph(graphviz.Digraph):
        """graphviz.Digraph from chaingrad.viz.draw_dot (clear error without ``dot``)."""

        pipe = translated("pipe")
        render = translated("render")
        view = translated("view")
        _repr_mimebundle_ = translated("_repr_mimebundle_")

    _DIGRAPH_CLASS = Digraph
    return Digraph


def import_graphviz() -> Any:
    try:
        import graphviz
    except ImportError:
        raise ImportError(
            "chaingrad.viz needs the 'graphviz' Python package: pip install 'chaingrad[viz]' "
            "(and the Graphviz 'dot' program: apt install graphviz / brew install graphviz / "
            "conda install -c conda-forge graphviz)"
        ) from None
    return graphviz


def draw_dot(
    root: Value,
    *,
    rankdir: str = "LR",
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
) -> Any:
    """The computation graph of ``root`` as a ``graphviz.Digraph`` (shown inline in Jupyter).

    Each Value is a box ``label | data | grad`` and each op an ellipse, laid out
    left to right (``rankdir``) like micrograd's ``draw_dot``, with a style per
    kind of node (see the module docstring; ``params`` marks parameters).

    Options: ``edge_labels`` writes the local derivative (the chain-rule factor)
    on each edge; ``color_grad`` fills nodes red/blue by gradient sign, deeper
    for larger magnitude; ``number_backward`` numbers nodes in the order
    backward finishes their gradients (#1 is the output); ``legend`` adds a key;
    ``grads`` shows these gradients instead of ``.grad``; ``scopes`` (a
    ``chaingrad.engine.scopes.ScopeRecorder``) groups nodes into one cluster
    per module, named after ``model.named_modules()`` when ``model`` is given
    (a model also names its parameters, ``w.0`` or ``b``, and marks them as
    parameters unless ``params`` is given). Above ``max_nodes`` Values the
    drawing is summarized (module clusters, then runs of nodes, collapse into
    summary boxes with counts) and its title says so.

    >>> from chaingrad import Value
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> c = a * b
    >>> c.backward()
    >>> dot = draw_dot(c)                 # doctest: +SKIP
    >>> dot.render("c", format="svg")     # doctest: +SKIP
    """
    if max_nodes is not None and (not isinstance(max_nodes, int) or max_nodes < 1):
        raise ValueError(f"draw_dot: max_nodes must be a positive int or None, got {max_nodes!r}")
    graph_attributes(rankdir)  # validate before any work
    drawing = GraphDrawing(
        root, params=params, inputs=inputs, scopes=scopes, model=model, precision=precision
    )
    if max_nodes is not None and len(drawing.order) > max_nodes:
        lines, note = drawing.summary_body(max_nodes)
        return make_digraph(lines, rankdir, note)
    lines = drawing.body(
        edge_labels=edge_labels,
        color_grad=color_grad,
        number_backward=number_backward,
        legend=legend,
        grads=grads,
    )
    return make_digraph(lines, rankdir)
