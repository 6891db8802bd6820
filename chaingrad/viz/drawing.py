"""GraphDrawing: what a drawing needs to know about one graph, computed once.

The topological order (node ids ``n<i>`` come from it, so DOT text is stable
run to run), each node's kind and name, the module clusters, the DOT body of a
full drawing, and how big dot's layout will be. ``draw_dot`` asks one for a
picture; the step-through asks the same one for many frames of one layout.

>>> from chaingrad import Value
>>> x, w = Value(2.0, label="x"), Value(-3.0, label="w")
>>> drawing = GraphDrawing((x * w).tanh() + 1)
>>> drawing.names()   # the user's labels, then names every drawing of this graph shares
['x', 'w', 'x*w', 'v3', 'v4', 'v3+1']
>>> drawing.kind(drawing.order[-1]), drawing.kind(drawing.order[4])
('output', 'constant')
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from chaingrad.engine import Constant, Value, toposort

from .layout import EDGE_FONT_SIZE, FONT, FONT_SIZE, LayoutModel, text_width
from .rules import DOT, local_rule, number
from .style import KIND_STYLES, OP_STYLE, grad_color, legend_lines
from .text import TIMES, derivative, format_number, html_escape, quote, safe_text, short_name


def op_symbol(node: Value) -> str:
    """What the ellipsis of the op that made ``node`` shows: ``+``, ``tanh``, ``**2``."""
    op = node.op
    return op.symbol if op is not None else ""


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
        if model is None and params is not None and hasattr(params, "named_parameters"):
            model, params = params, None  # params=model: the model names its parameters
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
        self._names: list[str] | None = None
        self._given: set[str] | None = None  # the names users gave (big graphs only)

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

    def names(self) -> list[str]:
        """Every node's name, the same in every drawing, caption and player of this graph.

        The user's label; else the parameter's path in ``model``; else an automatic
        name: a short expression of its inputs' names when that is unique
        (``x1*w1``, ``tanh(n)``, ``x**2``), else ``v<i>`` (``i`` its topological
        position). Automatic names never repeat a user's label. Graphs of more
        than :data:`EXPRESSION_NAMES_UP_TO` values (only ever drawn summarized)
        name every unlabelled node ``v<i>``, so a few names cost no walk of them all.
        """
        if self._names is None:
            if len(self.order) > EXPRESSION_NAMES_UP_TO:
                self._names = [self.full_name(i) for i in range(len(self.order))]
            else:
                self._names = self._expression_names()
        return self._names

    def _expression_names(self) -> list[str]:
        given = [self.name_of(node) for node in self.order]
        taken = set(given)
        names: list[str] = []
        for i, node in enumerate(self.order):
            name = given[i]
            if not name:
                expression = _expression_name(node, names, given, self.index, self.precision)
                name = expression if expression and expression not in taken else f"v{i}"
                while name in taken:
                    name += "'"
                taken.add(name)
            names.append(name)
        return names

    def full_name(self, i: int) -> str:
        """The name of the node at position ``i`` (see :meth:`names`)."""
        if self._names is not None or len(self.order) <= EXPRESSION_NAMES_UP_TO:
            return self.names()[i]
        given = self.name_of(self.order[i])
        if given:
            return given
        if self._given is None:  # what an automatic name could collide with: v...
            labels = (safe_text(node.label) for node in self.order if node.label)
            self._given = {name for name in labels if name.startswith("v")}
            self._given.update(name for name in self.param_names.values() if name[:1] == "v")
        name = f"v{i}"
        while name in self._given:
            name += "'"
        return name

    def is_automatic(self, i: int) -> bool:
        """True when the node's name is made up here (no label, no parameter path)."""
        return not self.name_of(self.order[i])

    def box_name(self, node: Value) -> str:
        """What a node's box shows: its name, a parameter's short inside its module's
        cluster (``w.1`` in ``layers.0.neurons.3``)."""
        label = node.label
        if label:
            return safe_text(label)
        name = self.param_names.get(node, "")
        if name and self.scopes is not None and self.scopes.scope_of(node):
            return short_name(name)
        return name or self.full_name(self.index[node])

    def rule_names(self, node: Value) -> list[str]:
        """What a rule calls each input of ``node``: its name, or an unnamed constant's number."""
        index = self.index
        names = []
        for parent in node._parents:
            if isinstance(parent, Constant) and not self.name_of(parent):
                names.append(number(parent.data, self.precision))
            else:
                names.append(self.full_name(index[parent]))
        return names

    def uses(self) -> list[int]:
        """For each position, how many op inputs it is (its outgoing edges)."""
        uses = [0] * len(self.order)
        index = self.index
        for node in self.order:
            for parent in node._parents:
                uses[index[parent]] += 1
        return uses

    # --- hover texts: what a box, an op or an edge means, with its numbers -------

    def node_text(self, i: int, grad: float | None, final: bool = False) -> str:
        """``x1*w1 (intermediate) = * of x1, w1: data -6, grad 0.5``; with ``final``,
        the gradient is the one the whole backward pass leaves (a player's frames
        show it growing)."""
        node = self.order[i]
        made = ""
        if node._parents:
            made = f" = {op_symbol(node)} of {', '.join(self.rule_names(node))}"
        shown = self.fmt(grad) if grad is not None else "?"
        data = self.fmt(node.data)
        text = f"{self.full_name(i)} ({self.kind(node)}){made}: data {data}, "
        return text + (f"grad after every step {shown}" if final else f"grad {shown}")

    def edge_text(self, i: int, slot: int) -> str:
        """The chain-rule step along an edge and its local derivative, symbolic and in numbers."""
        node = self.order[i]
        p = self.index[node._parents[slot]]
        out_name, in_name = self.full_name(i), self.full_name(p)
        rule = local_rule(node, slot, self.rule_names(node), self.precision, in_name)
        return (
            f"backward: grad({in_name}) += {derivative(out_name, in_name)} {DOT} "
            f"grad({out_name})\nlocal derivative: {rule}"
        )

    def op_text(self, i: int, limit: int = 12) -> str:
        """The op's local derivatives, one line per input (at most ``limit`` lines)."""
        node = self.order[i]
        names = self.rule_names(node)
        arrow = "\N{RIGHTWARDS ARROW}"
        lines = [f"{op_symbol(node)}: inputs {', '.join(names)} {arrow} {self.full_name(i)}"]
        for slot, parent in enumerate(node._parents[:limit]):
            in_name = self.full_name(self.index[parent])
            lines.append(local_rule(node, slot, names, self.precision, in_name))
        if len(node._parents) > limit:
            lines.append(f"... and {len(node._parents) - limit} more inputs")
        return "\n".join(lines)

    def hover_texts(self, grads: Mapping[Value, float]) -> dict[str, Any]:
        """Every hover text of a player: per node, per op, per edge (lists by position)."""
        order = self.order
        return {
            "nodes": [self.node_text(i, grads.get(node), True) for i, node in enumerate(order)],
            "ops": [self.op_text(i) if node._parents else "" for i, node in enumerate(order)],
            "edges": [
                [self.edge_text(i, slot) for slot in range(len(node._parents))]
                for i, node in enumerate(order)
            ],
        }

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
        automatic: bool = False,
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
        if name and automatic:  # a name made up by the drawing: plain and grey
            title.append(f'<font color="#4b5563">{html_escape(name)}</font>')
        elif name:
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
        plain_fill: bool = False,
        highlight_nodes: Mapping[int, str] | None = None,
        backward_edge: tuple[int, int, str] | None = None,
        tooltips: bool = True,
    ) -> list[str]:
        """Lines of a full (not summarized) drawing.

        ``grads`` overrides the ``.grad`` shown; with ``unknown_grad`` a node
        missing from ``grads`` shows ``grad ?``. ``grad_widths`` fixes gradient
        cell widths and ``plain_fill`` fills every box white (kinds keep their
        borders): the step-through uses these. ``highlight_nodes`` maps a
        position to a fill colour; ``backward_edge`` ``(child position, parent
        slot, colour)`` draws that edge and the op's output edge in the colour,
        pointing backward: the way the gradient flows, from the child to the parent.
        ``tooltips`` puts the hover texts (a node's kind and numbers, an edge's
        rule) in the SVG; the player shows its own instead.
        """
        order = self.order
        index = self.index
        highlight_nodes = highlight_nodes or {}
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
            label = self.value_label(
                i,
                g,
                numbers[i] if numbers is not None else None,
                grad_widths.get(i) if grad_widths is not None else None,
                self.box_name(node),
                self.is_automatic(i),
            )
            tip = f" tooltip={quote(self.node_text(i, g))}" if tooltips else ""
            lines = [
                f"n{i} [label={label} id=n{i} fillcolor={quote(fill)} color={quote(border)} "
                f"style={quote(style)} penwidth={penwidth}{tip}]"
            ]
            if node._parents:
                tip = f" tooltip={quote(self.op_text(i))}" if tooltips else ""
                lines.append(f"o{i} [label={quote(op_symbol(node))} id=o{i} {OP_STYLE}{tip}]")
            node_lines.append(lines)

        uses = self.uses() if edge_labels else []
        edge_lines: list[str] = []
        for i, node in enumerate(order):
            parents = node._parents
            if not parents:
                continue
            for slot, (parent, local) in enumerate(zip(parents, node._local_grads)):
                p = index[parent]
                attrs = [f"id=e{i}_{slot}"]
                if tooltips:
                    attrs.append(f"tooltip={quote(self.edge_text(i, slot))}")
                if edge_labels:
                    # The edges into a many-input op (a neuron's dot) converge: labels
                    # placed midway stack up in one column before the op. An input
                    # used once carries its factor at its own end of the edge instead;
                    # a shared input's edge keeps it midway, where dot routes the edge
                    # through the label's place (its other end is shared too).
                    shared = uses[p] > 1 or len(parents) == 1
                    where = "label" if shared else "taillabel"
                    text = TIMES + self.fmt(local)
                    attrs.append(f"{where}={quote(text)}")
                    if where == "taillabel":
                        # dot keeps no room for a tail label: a blank label as wide
                        # keeps the edge long enough to hold it clear of the op
                        blank = "\N{FIGURE SPACE}" * (len(text) + 2)
                        attrs.append(f"label={quote(blank)} labeldistance=1.6")
                if backward_edge is not None and backward_edge[:2] == (i, slot):
                    colour = backward_edge[2]
                    attrs.append(f'color="{colour}" fontcolor="{colour}" penwidth=3 dir=back')
                edge_lines.append(f"n{p} -> o{i} [{' '.join(attrs)}]")
            attrs = [f"id=e{i}_out"]
            if tooltips:
                attrs.append(f"tooltip={quote(self.op_text(i))}")
            if backward_edge is not None and backward_edge[0] == i:
                attrs.append(f'color="{backward_edge[2]}" penwidth=3 dir=back')
            edge_lines.append(f"o{i} -> n{i} [{' '.join(attrs)}]")

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

    def layout_model(self, edge_labels: bool = False) -> LayoutModel:
        """Boxes (value boxes and op ellipses), edges and clusters, sized from their text."""
        order = self.order
        index = self.index
        paths = self.scope_paths()
        model = LayoutModel()
        value_box = []
        for i, node in enumerate(order):
            name = self.box_name(node)
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
                for parent, local in zip(node._parents, node._local_grads):
                    label = (
                        text_width(TIMES + self.fmt(local), EDGE_FONT_SIZE) if edge_labels else 0
                    )
                    model.edge(value_box[index[parent]], op, label)
        return model


MAX_EXPRESSION_NAME = 12  # longer expressions are named v<i> instead
EXPRESSION_NAMES_UP_TO = 20_000  # values; bigger graphs are drawn summarized
_WORD = re.compile(r"[\w.]+")


def _expression_name(
    node: Value, names: list[str], given: list[str], index: Mapping[Value, int], precision: int
) -> str | None:
    """``x1*w1``, ``tanh(n)``, ``x**2``, ``-a``: a short name from the op and the names of
    its inputs (each one word or a number), or None when there is none short enough."""
    parents = node._parents
    op = node.op
    if op is None or not parents:
        return None
    words = []
    for parent in parents:
        word = names[index[parent]]
        if isinstance(parent, Constant) and not given[index[parent]]:
            word = format_number(parent.data, precision)
        if not _WORD.fullmatch(word.lstrip("-")):
            return None
        words.append(f"({word})" if word.startswith("-") else word)
    symbol = op.symbol
    if len(words) == 2 and symbol in ("+", "-", "*", "/"):
        name = f"{words[0]}{symbol}{words[1]}"
    elif len(words) == 1 and symbol == "neg":
        name = f"-{words[0]}"
    elif len(words) == 1 and symbol.startswith("**"):
        name = f"{words[0]}{symbol}"
    elif len(words) == 1 and _WORD.fullmatch(symbol):
        name = f"{symbol}({words[0]})"
    else:
        return None
    return name if len(name) <= MAX_EXPRESSION_NAME else None


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
