"""draw_dot: the computation graph of a Value as a Graphviz drawing that fits a notebook.

Every Value becomes a compact box -- its name on top, ``data`` and ``grad``
below -- and every op a small ellipse between its inputs and its output, as
in micrograd. Node ids come from topological position (``n0``, ``n1``, ...;
the op that made ``n7`` is ``o7``), so the DOT text of the same graph is
identical run to run.

Kinds of nodes, each with its own style (``legend=True`` draws a key):

* **output** -- the root you drew;
* **parameter** -- a leaf in the ``params`` collection you pass
  (``draw_dot(loss, params=model.parameters())``), or of the ``model`` you pass;
* **input** -- any other leaf you made (``Value(2.0)``), or one in ``inputs=``;
* **constant** -- a :class:`~chaingrad.engine.Constant`, the leaf the engine
  makes from a Python number in ``x * 2`` (unless in ``params``/``inputs``);
* **intermediate** -- everything else.

Drawings are made to be read where a learner sees them: a notebook column of
about 1,100 px (``width``). The default ``rankdir="auto"`` lays the graph out
left to right when that fits the column and top to bottom when that fits
better. Nothing here recurses over the graph, and graphs that would not fit or
would take ``dot`` long to lay out -- more than ``max_nodes`` Values, or edges
that span many ranks (one value used by hundreds of ops) -- are summarized
(module clusters, then runs of the topological order, collapse into one
summary node each), so drawing never hangs and text never shrinks to nothing.

>>> from chaingrad import Value
>>> x = Value(2.0, label="x")
>>> y = x * x + 1
>>> 'rankdir=LR' in draw_dot(y).source
True
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from chaingrad.engine import Constant, Value, toposort

from .layout import (
    EDGE_FONT_SIZE,
    FONT,
    FONT_SIZE,
    NODESEP,
    RANKSEP,
    LayoutModel,
    fit_rankdir,
    text_width,
)

DEFAULT_MAX_NODES = 500
# The width a drawing should fit, in CSS pixels: a notebook's output column.
DEFAULT_WIDTH = 1100
# A summary of a big graph aims at this many boxes and edges: dot lays it out in a second.
SUMMARY_BOXES = 60
SUMMARY_EDGES = 300
# dot's layout time grows faster than the nodes it places, real and virtual (one per
# rank an edge crosses). Measured (benchmarks/viz_layout.py): ordinary graphs of 500
# Values place at most ~1,600 and take ~1 s; a value used by 45 ops far apart places
# 2,000 and takes ~8 s, 3,100 take 30 s, 3,500 over a minute. Above this many the
# drawing is summarized instead.
MAX_LAYOUT_NODES = 2000


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
OP_STYLE = (
    'shape=ellipse style=filled fillcolor="#f3f4f6" color="#6b7280" '
    "margin=0.01 width=0.3 height=0.26"
)

_POSITIVE = (220, 38, 38)  # red: increasing this node increases the output
_NEGATIVE = (37, 99, 235)  # blue: increasing it decreases the output
_WHITE = (255, 255, 255)

MAX_LABEL_CHARS = 40  # longer labels are cut (with "...") in boxes; tooltips keep more


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


def safe_text(obj: Any, limit: int | None = MAX_LABEL_CHARS) -> str:
    """Any label as printable text: non-str converted, control characters escaped, cut.

    Control characters (NUL, ESC, ...), lone surrogates and line separators
    would make invalid DOT or SVG, so they are shown as escapes like ``\\x1b``.

    >>> safe_text("a\\x00b"), safe_text(123), safe_text("x" * 50, limit=8)
    ('a\\\\x00b', '123', 'xxxxxxx…')
    """
    if isinstance(obj, str):
        text = obj
    else:
        try:
            text = str(obj)
        except Exception:  # a label whose __str__ fails still gets drawn
            text = f"<{type(obj).__name__}>"
    if not text.isprintable():
        parts = []
        for ch in text:
            if ch.isprintable() or ch == " ":
                parts.append(ch)
            elif unicodedata.category(ch) == "Zs":
                parts.append(" ")
            else:
                code = ord(ch)
                parts.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        text = "".join(parts)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"
    return text


def op_symbol(node: Value) -> str:
    """What the ellipsis of the op that made ``node`` shows: ``+``, ``tanh``, ``**2``."""
    op = node.op
    return op.symbol if op is not None else ""


def derivative(out_name: str, in_name: str) -> str:
    """``do/dn``, with brackets around names that are not one word: ``d(a*b)/da``.

    >>> derivative("o", "n"), derivative("x1*w1", "x1")
    ('do/dn', 'd(x1*w1)/dx1')
    """
    return f"d{bracket(out_name)}/d{bracket(in_name)}"


def bracket(name: str) -> str:
    """A name, in brackets unless it is one word: ``x1``, ``(x1*w1)``, ``(w.0)``."""
    return name if re.fullmatch(r"\w+", name) else f"({name})"


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
        self.edge_count = sum(len(node._parents) for node in self.order)
        # A model names its parameters by their full path ("layers.0.neurons.3.w.1")
        # and, unless params is given, marks them.
        self.param_names: dict[Value, str] = {}
        if model is not None and hasattr(model, "named_parameters"):
            for name, p in model.named_parameters():
                self.param_names.setdefault(p, safe_text(name, None))
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
        self._finish: list[int] | None = None

    # --- classification and names ---------------------------------------------

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
        """What captions call a node: its label, else its full parameter path in ``model``."""
        label = node.label
        if label:
            return safe_text(label)
        return self.param_names.get(node, "")

    def full_name(self, i: int) -> str:
        """``name_of``, or ``n<i>`` for a node without one (as the step-through shows it)."""
        return self.name_of(self.order[i]) or f"n{i}"

    def box_name(self, node: Value) -> str:
        """What a node's box shows: its label, or its parameter name -- short inside
        its module's cluster (``w.1`` in ``layers.0.neurons.3``), else the full path."""
        label = node.label
        if label:
            return safe_text(label)
        name = self.param_names.get(node, "")
        if name and self.scopes is not None and self.scopes.scope_of(node):
            return _short_name(name)
        return name

    def fmt(self, x: float) -> str:
        return format_number(x, self.precision)

    def finish_order(self) -> list[int]:
        """Positions in the order backward makes their gradients final (the root first).

        A node's gradient is final when the last op using it has passed its
        share back. Walking the edges in the engine's order (``toposort``
        reversed), that is the moment its count of pending uses reaches zero;
        the step-through turns a node "finished" at that same step.
        """
        if self._finish is None:
            index = self.index
            pending = [0] * len(self.order)
            for node in self.order:
                for parent in node._parents:
                    pending[index[parent]] += 1
            finish = [len(self.order) - 1]
            for node in reversed(self.order):
                for parent in node._parents:
                    p = index[parent]
                    pending[p] -= 1
                    if pending[p] == 0:
                        finish.append(p)
            self._finish = finish
        return self._finish

    def backward_numbers(self) -> list[int]:
        """For each position, its number in :meth:`finish_order` (the output is #1)."""
        numbers = [0] * len(self.order)
        for k, position in enumerate(self.finish_order()):
            numbers[position] = k + 1
        return numbers

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
            type_name = safe_text(type(module).__name__)
            name = names.get(id(module))
            if name is None:
                k = counts.get(type_name, 0)
                counts[type_name] = k + 1
                result.append(f"{type_name} {k}")
            elif name == "":
                result.append(type_name)
            else:
                result.append(f"{safe_text(name, None)} ({type_name})")
        return result

    def cluster_name(self, k: int) -> str:
        return self._cluster_names[k]

    # --- node and edge text ---------------------------------------------------

    def value_label(
        self,
        i: int,
        grad: float | None,
        number: int | None = None,
        grad_width: float | None = None,
        name: str | None = None,
    ) -> str:
        """A compact box: the name on top, ``data`` and ``grad`` rows below.

        ``grad_width`` fixes the width (points) of the gradient cell, so a
        step-through can change the gradient text without moving anything.
        """
        node = self.order[i]
        if name is None:
            name = self.box_name(node)
        title = []
        if number is not None:
            title.append(f'<font color="#6b7280"><i>#{number}</i></font>')
        if name:
            title.append(f"<b>{html_escape(name)}</b>")
        rows = []
        if title:
            rows.append(f"<tr><td>{' '.join(title)}</td></tr>")
        data_text = html_escape(f"data {self.fmt(node.data)}")
        grad_text = html_escape(f"grad {self.fmt(grad) if grad is not None else '?'}")
        fixed = (
            f' fixedsize="true" width="{math.ceil(grad_width)}" height="{FONT_SIZE + 3}"'
            if grad_width is not None
            else ""
        )
        rows.append(f'<tr><td align="left">{data_text}</td></tr>')
        rows.append(f'<tr><td align="left"{fixed}>{grad_text}</td></tr>')
        return (
            '<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">'
            f"{''.join(rows)}</table>>"
        )

    def grad_widths(self, texts: Mapping[int, Iterable[str]]) -> dict[int, float]:
        """Per-node width (points) of the gradient cell wide enough for each text it shows."""
        return {
            i: max([text_width("grad ?"), *(text_width(f"grad {t}") for t in shown)]) + 4
            for i, shown in texts.items()
        }

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
        grad_widths: Mapping[int, float] | None = None,
        show_ids: bool = False,
        plain_fill: bool = False,
        highlight_nodes: Mapping[int, str] | None = None,
        highlight_edges: Mapping[tuple[int, int], str] | None = None,
    ) -> list[str]:
        """Lines of a full (not summarized) drawing.

        ``grads`` overrides the ``.grad`` shown; with ``unknown_grad`` a node
        missing from ``grads`` shows ``grad ?``. ``grad_widths`` fixes gradient
        cell widths, ``show_ids`` names unlabelled nodes ``n<i>`` and
        ``plain_fill`` fills every box white (kinds keep their borders): the
        step-through uses these. ``highlight_nodes`` maps a position to a fill
        colour and ``highlight_edges`` an edge ``(child position, parent slot)``
        to a colour.
        """
        order = self.order
        index = self.index
        highlight_nodes = highlight_nodes or {}
        highlight_edges = highlight_edges or {}
        numbers = self.backward_numbers() if number_backward else None

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
            if plain_fill:
                fill = "#ffffff"
            g = grad_of(node)
            if color_grad and g is not None:
                fill = grad_color(g, largest)
            fill = highlight_nodes.get(i, fill)
            name = self.box_name(node) or (f"n{i}" if show_ids else "")
            label = self.value_label(
                i,
                g,
                numbers[i] if numbers is not None else None,
                grad_widths.get(i) if grad_widths is not None else None,
                name,
            )
            full = self.name_of(node)
            tooltip = f"{kind} n{i}" + (f": {full}" if full else "")
            lines = [
                f"n{i} [label={label} id=n{i} fillcolor={quote(fill)} color={quote(border)} "
                f"style={quote(style)} penwidth={penwidth} tooltip={quote(tooltip)}]"
            ]
            if node._parents:
                lines.append(f"o{i} [label={quote(op_symbol(node))} id=o{i} {OP_STYLE}]")
            node_lines.append(lines)

        edge_lines: list[str] = []
        for i, node in enumerate(order):
            parents = node._parents
            if not parents:
                continue
            out_name = self.full_name(i)
            for slot, (parent, local) in enumerate(zip(parents, node.local_grads)):
                attrs = [f"id=e{i}_{slot}"]
                if edge_labels:
                    d = derivative(out_name, self.full_name(index[parent]))
                    attrs.append(f"label={quote(TIMES + self.fmt(local))}")
                    attrs.append(f"tooltip={quote(f'local derivative {d} = {self.fmt(local)}')}")
                colour = highlight_edges.get((i, slot))
                if colour is not None:
                    attrs.append(f'color="{colour}" penwidth=3')
                edge_lines.append(f"n{index[parent]} -> o{i} [{' '.join(attrs)}]")
            edge_lines.append(f"o{i} -> n{i} [id=e{i}_out]")

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
                    f'color="#9ca3af" fontname="{FONT}" fontsize={FONT_SIZE} margin=6'
                )
                open_path = path[:depth]
            out.extend(members.get(path, ()))
        while open_path:
            out.append("}")
            open_path = open_path[:-1]
        return out

    # --- how big the drawing will be ---------------------------------------------

    def _ranks(self) -> list[int]:
        """Each Value's rank counted from the output (0), op ellipses in between.

        dot ranks a graph so that edges are short; a node sits one op before
        the first op (furthest from the output) that uses it: the longest path to the root.
        """
        index = self.index
        rank = [0] * len(self.order)
        for i in range(len(self.order) - 1, -1, -1):
            node = self.order[i]
            below = rank[i] + 2  # value -> its op -> this value
            for parent in node._parents:
                p = index[parent]
                if rank[p] < below:
                    rank[p] = below
        return rank

    def layout_nodes(self, edge_labels: bool = False) -> int:
        """How many nodes dot must place, real and virtual (one per rank an edge crosses).

        This is what makes dot slow (or crash): a value used by many ops far
        apart drags one virtual node per rank along each of its edges.
        """
        rank = self._ranks()
        index = self.index
        total = len(self.order) + sum(1 for node in self.order if node._parents)
        for i, node in enumerate(self.order):
            op_rank = rank[i] + 1
            for parent in node._parents:
                total += rank[index[parent]] - op_rank - 1
        return total * 2 if edge_labels else total

    def layout_model(self, edge_labels: bool = False, show_ids: bool = False) -> LayoutModel:
        """Boxes (value boxes and op ellipses), edges and clusters, sized from their text."""
        order = self.order
        index = self.index
        paths = self.scope_paths()
        model = LayoutModel()
        value_box = []
        for i, node in enumerate(order):
            name = self.box_name(node) or (f"n{i}" if show_ids else "")
            w = max(
                text_width(name, bold=True),
                text_width(f"data {self.fmt(node.data)}"),
                text_width(f"grad {self.fmt(node.grad)}"),
                text_width("grad -0.0000"),
            )
            rows = 3 if name else 2
            value_box.append(model.add(w + 10, rows * (FONT_SIZE + 4) + 6, paths[i]))
        for i, node in enumerate(order):
            if node._parents:
                op = model.add(max(22.0, text_width(op_symbol(node)) + 10), 19, paths[i])
                model.edge(op, value_box[i])
                for parent, local in zip(node._parents, node.local_grads):
                    label = (
                        text_width(TIMES + self.fmt(local), EDGE_FONT_SIZE) if edge_labels else 0
                    )
                    model.edge(value_box[index[parent]], op, label)
        return model

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

    def summary_body(
        self, max_nodes: int, reason: str | None = None
    ) -> tuple[list[str], str, LayoutModel]:
        """Lines of a summarized drawing small enough to lay out fast, and a note saying so.

        Tries module clusters from the deepest (neurons) to the shallowest (the
        model), keeping the first grouping with at most ``min(max_nodes,
        SUMMARY_BOXES)`` boxes and ``SUMMARY_EDGES`` edges. Also returns the
        layout model of the summary, to choose its direction.
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
        model = LayoutModel()
        box_of: dict[str, int] = {}
        line = FONT_SIZE + 4
        for g, key in enumerate(group_keys):
            if key[0] == "scope":
                title = " / ".join(self.cluster_name(k) for k in key[1][-1:])
            else:
                title = f"values {first[g]}..{last[g]} (topological order)"
            breakdown = f"{count[g]} values: " + ", ".join(
                f"{kinds[g][k]} {k}" for k in KINDS if k in kinds[g]
            )
            tail = order[last[g]]
            tail_text = f"last: data {self.fmt(tail.data)} | grad {self.fmt(tail.grad)}"
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
            fill, border, style, penwidth = KIND_STYLES[self.kind(node)]
            label = self.value_label(i, node.grad)
            lines.append(
                f"n{i} [label={label} fillcolor={quote(fill)} color={quote(border)} "
                f"style={quote(style)} penwidth={penwidth}]"
            )
            name = self.box_name(node)
            texts = (
                text_width(name, bold=True),
                text_width(f"data {self.fmt(node.data)}"),
                text_width(f"grad {self.fmt(node.grad)}"),
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
            + (
                "Pass max_nodes=None to draw every node."
                if "width=None" not in (reason or "")
                else ""
            )
        )
        return lines, note, model


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


def _short_name(dotted: str) -> str:
    """The name inside its module (see its cluster): the last word and its indices.

    >>> _short_name("layers.0.neurons.1.w.2"), _short_name("rnn.weight_ih_l0.3.5")
    ('w.2', 'weight_ih_l0.3.5')
    """
    parts = dotted.split(".")
    last_word = max((i for i, part in enumerate(parts) if not part.isdigit()), default=0)
    return ".".join(parts[last_word:])


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


def graph_attributes(rankdir: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    if rankdir not in RANKDIRS[1:]:
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
) -> Any:
    """A graphviz.Digraph holding ``lines`` as its body (graphviz imported here, lazily).

    Its ``pipe``, ``render``, ``view`` and notebook display run ``dot`` through
    :func:`chaingrad.viz.render.pipe`: bounded by ``timeout`` seconds, one-line errors.
    With ``width`` (px), dot scales a wider drawing down to it (its ``size``), so
    the picture is never wider than the column, wherever it is shown.
    """
    graphviz = import_graphviz()
    graph_attr, node_attr, edge_attr = graph_attributes(rankdir)
    if note:
        graph_attr.update(label=note, labelloc="t", labeljust="l")
    if width is not None:
        graph_attr["size"] = f"{width / 96:.4g},1000"  # inches; 96 px each
    body = [f"\t{line}\n" for line in lines]
    graph = _digraph_class(graphviz)(
        "chaingrad",
        format="svg",
        graph_attr=graph_attr,
        node_attr=node_attr,
        edge_attr=edge_attr,
        body=body,
    )
    graph.timeout = timeout
    return graph


_DIGRAPH_CLASS: Any = None


def _digraph_class(graphviz: Any) -> Any:
    """A graphviz.Digraph whose every ``dot`` run is bounded and fails in one line."""
    global _DIGRAPH_CLASS
    if _DIGRAPH_CLASS is not None:
        return _DIGRAPH_CLASS

    import importlib

    rendering = importlib.import_module("chaingrad.viz.render")  # the module, not the function

    class Digraph(graphviz.Digraph):
        """graphviz.Digraph from chaingrad.viz.draw_dot: ``dot`` runs at most ``timeout``
        seconds, and a missing, crashing or slow ``dot`` is one clear error."""

        timeout: float | None = None

        def pipe(
            self,
            format: str | None = None,
            renderer: str | None = None,
            formatter: str | None = None,
            neato_no_op: Any = None,
            quiet: bool = False,
            *,
            engine: str | None = None,
            encoding: str | None = None,
        ) -> Any:
            if renderer or formatter or neato_no_op or (engine and engine != "dot"):
                return super().pipe(
                    format,
                    renderer,
                    formatter,
                    neato_no_op,
                    quiet,
                    engine=engine,
                    encoding=encoding,
                )
            data = rendering.pipe(self.source, format or self.format, self.timeout)
            return data.decode(encoding) if encoding else data

        def render(
            self,
            filename: Any = None,
            directory: Any = None,
            view: bool = False,
            cleanup: bool = False,
            format: str | None = None,
            renderer: str | None = None,
            formatter: str | None = None,
            neato_no_op: Any = None,
            quiet: bool = False,
            quiet_view: bool = False,
            *,
            outfile: Any = None,
            engine: str | None = None,
            raise_if_result_exists: bool = False,
            overwrite_source: bool = False,
        ) -> str:
            import os
            from pathlib import Path

            if renderer or formatter or neato_no_op or (engine and engine != "dot"):
                try:
                    return str(
                        super().render(
                            filename,
                            directory,
                            view,
                            cleanup,
                            format,
                            renderer,
                            formatter,
                            neato_no_op,
                            quiet,
                            quiet_view,
                            outfile=outfile,
                            engine=engine,
                            raise_if_result_exists=raise_if_result_exists,
                            overwrite_source=overwrite_source,
                        )
                    )
                except graphviz.ExecutableNotFound:
                    rendering.require_dot()
                    raise
            # graphviz's own semantics: save the source, write the picture beside it
            # (FILE.gv.svg), or to outfile with the format taken from its extension.
            if outfile is not None:
                outfile = Path(outfile)
                if format is None:
                    format = outfile.suffix.lstrip(".").lower() or self.format
                if directory is None:
                    outfile = Path(self.directory or ".", outfile)
                if filename is None:
                    filename = outfile.with_suffix(".gv").name
                    directory = str(outfile.parent)
            format = format or self.format
            data = rendering.pipe(self.source, format, self.timeout)
            filepath = self.save(filename, directory=directory)
            rendered = str(outfile) if outfile is not None else f"{filepath}.{format}"
            if raise_if_result_exists and os.path.exists(rendered):
                raise FileExistsError(f"output file exists: {rendered!r}")
            rendering.write_atomic(rendered, data)
            if cleanup:
                os.remove(filepath)
            if view or quiet_view:
                self._view(rendered, format=format, quiet=quiet_view)
            return rendered

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


def check_max_nodes(max_nodes: int | None, who: str = "draw_dot") -> int | None:
    if max_nodes is not None and (
        isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1
    ):
        raise ValueError(f"{who}: max_nodes must be a positive int or None, got {max_nodes!r}")
    return max_nodes


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
        uses, name = _largest_fan_out(drawing)
        used = f"; {name} is used {uses} times" if uses > 1 else ""
        return f"its edges cross {layout} ranks, too many for dot to lay out quickly{used}"
    return None


def dot_width(lines: list[str], rankdir: str, timeout: float | None) -> float:
    """The width in CSS px dot gives these lines laid out with ``rankdir`` (-Tplain)."""
    from .render import dot_available, pipe

    if not dot_available():
        raise RuntimeError("dot is not installed")
    source = make_digraph(lines, rankdir, timeout=timeout).source
    first = pipe(source, "plain", timeout).split(b"\n", 1)[0].split()
    return float(first[2]) * 96  # "graph scale width height", in inches


def wrap_note(text: str, width: int = 100) -> str:
    """A graph title cut into lines (DOT's \\l: left-aligned) so it never widens the picture."""
    import textwrap

    return "".join(line + "\\l" for line in textwrap.wrap(text, width))


def _largest_fan_out(drawing: GraphDrawing) -> tuple[int, str]:
    uses = [0] * len(drawing.order)
    index = drawing.index
    for node in drawing.order:
        for parent in node._parents:
            uses[index[parent]] += 1
    best = max(range(len(uses)), key=uses.__getitem__)
    return uses[best], drawing.full_name(best)


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
    from .render import check_timeout

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
        lines, note, model = drawing.summary_body(max_nodes or DEFAULT_MAX_NODES, reason)
        if rankdir == "auto":
            measure = lambda d: dot_width(lines, d, timeout)  # noqa: E731
            rankdir = fit_rankdir(model, width, False, measure, trust=0)[0]
        return make_digraph(lines, rankdir, wrap_note(note), timeout, width)
    return make_digraph(lines, rankdir, timeout=timeout, width=width)
