"""Explorer: a computation graph to touch -- a slider per leaf, every box's data and grad live.

>>> from chaingrad.viz import Explorer
>>> ex = Explorer(lambda x1, w1, x2, w2, b: (x1*w1 + x2*w2 + b).tanh(),
...               x1=2.0, w1=-3.0, x2=0.0, w2=1.0, b=6.8813735870195432)
>>> round(ex.output, 4), round(ex.grads["w1"], 4)
(0.7071, 1.0)
>>> ex.set(w1=-2.0)                 # what dragging w1's slider does
>>> round(ex.output, 4), round(ex.grads["w1"], 4)
(0.9937, 0.025)

Shown in a notebook (``ex`` as a cell's last line), it is the graph drawn by
:func:`chaingrad.viz.draw_dot`, with a slider and a number field per leaf.
Moving one reruns the forward and backward pass in the kernel; the page then
updates every box's ``data`` and ``grad`` in place (the layout is made once,
by Graphviz, so nothing jumps). Hovering an op shows its local rule with the
numbers, hovering an edge its chain-rule factor. ``nudge`` shows beside each
leaf's gradient the slope measured by central finite differences (the
gradient *is* that slope); ``mode = "backward"`` steps the chain rule one
edge at a time in the same picture (``step`` is the edge shown).
"""

from __future__ import annotations

import html
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

import traitlets

from chaingrad import Value, no_grad
from chaingrad.viz import (
    DEFAULT_MAX_NODES,
    GraphDrawing,
    backprop_steps,
    draw_dot,
    format_number,
)

from ._base import Widget, asset, real_number

NUDGE = 1e-6  # finite-difference step, relative to max(1, |value|)
TIMES = "\N{MULTIPLICATION SIGN}"
INPUT_GROUP = "input"
OUTPUT_LABEL = "out"  # the output's name when the function leaves it unlabelled
# Boxes and edge labels are laid out for a number this wide (six characters): wide enough
# for most, narrow enough that a neuron keeps micrograd's left-to-right look in the
# column. The page squeezes a wider number ("-0.01249") into its box.
WIDEST = -8.888
# The width the graph is laid out for, in CSS px: JupyterLab's notebook column in a
# 1,300 px window with the file browser open. draw_dot keeps text >= 10 px at it.
COLUMN = 860
_EDGE_LABEL = re.compile(f'label="{TIMES}[^"]*"')
_SVG_WIDTH = re.compile(r'<svg width="([0-9.]+)pt"')
_SCALE = re.compile(r'class="graph" transform="scale\(([0-9.]+)')
_FONT = re.compile(r'font-size="([0-9.]+)"')
PX_PER_PT = 4 / 3
MIN_TEXT_PX = 10  # a picture shrinks to fit the column until its smallest text is this


def _FROM_MODEL() -> None:
    """Stands for the function when Explorer.from_model builds the widget."""


def _range(value: float) -> tuple[float, float]:
    """A slider range around zero that holds ``value`` with room on both sides."""
    span = max(4.0, 2.0 * abs(value))
    return -span, span


def _group_of(path: str) -> str:
    """A parameter's layer: its path up to the first index (``layers.0`` of
    ``layers.0.neurons.3.w.1``), else its first part (``wte`` of ``wte.weight``)."""
    parts = path.split(".")
    for k, part in enumerate(parts):
        if part.isdigit():
            return ".".join(parts[: k + 1])
    return parts[0] if len(parts) > 1 else ""


def _svg_only(svg: str) -> str:
    """The ``<svg>`` element of Graphviz's output (no XML prolog, doctype or comments)."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


class _Pass:
    """One forward and backward pass: the graph, its order and names, and the leaves."""

    def __init__(self, root: Value, leaves: dict[str, Value], model: Any, scopes: Any) -> None:
        self.root = root
        self.leaves = leaves
        self.drawing = GraphDrawing(root, model=model, scopes=scopes)
        self.order = self.drawing.order
        self.index = self.drawing.index
        # Gradients as this pass left them (a model's .grad may be changed later).
        self.grads = [node.grad for node in self.order]
        self.structure = tuple(
            (
                node._rule.name if node._rule is not None else "",
                [self.index[p] for p in node._parents],
            )
            for node in self.order
        )


class Explorer(Widget):
    """A live computation graph: a slider per leaf, every box's data and grad updated in place.

    ``Explorer(f, **values)`` calls ``f`` with one labelled leaf ``Value`` per
    argument (named as the argument), and explores the Value it returns. Its
    arguments' names and the keywords given must match exactly.
    :meth:`from_model` explores a module's forward pass instead.

    ``set(w1=-2.0)`` does what dragging ``w1``'s slider does; ``values``,
    ``grads`` (by leaf name) and ``output`` read the state. ``nudge``,
    ``mode`` (``"live"`` or ``"backward"``) and ``step`` are what the toggles
    and the step buttons change.

    >>> ex = Explorer(lambda x, w: (x * w).tanh(), x=2.0, w=-1.0)
    >>> ex.set(x=1.0)
    >>> ex.values
    {'x': 1.0, 'w': -1.0}
    >>> ex.set(y=1.0)
    Traceback (most recent call last):
    ...
    ValueError: Explorer.set: no leaf named 'y'; the leaves are x, w
    """

    _esm = asset("explorer.js")
    _css = asset("explorer.css")

    # The graph as Graphviz laid it out (SVG), made once: the page changes its texts
    # and colours in place. Node ids are draw_dot's: n<i>, o<i>, e<i>_<slot>.
    svg = traitlets.Unicode("").tag(sync=True)
    # Everything the page writes into the picture and the controls, as display text.
    view = traitlets.Dict().tag(sync=True)
    nudge = traitlets.Bool(False).tag(sync=True)
    mode = traitlets.Enum(["live", "backward"], default_value="live").tag(sync=True)
    step = traitlets.Int(0).tag(sync=True)

    def __init__(self, function: Callable[..., Any], /, **values: Any) -> None:
        super().__init__()
        self._function: Callable[..., Any] | None = None
        self._model: Any = None
        self._params: dict[str, Value] = {}
        self._values: dict[str, float] = {}
        self._groups: dict[str, str] = {}
        self._ranges: dict[str, tuple[float, float]] = {}
        if function is _FROM_MODEL:  # from_model fills the widget in
            return
        if not callable(function):
            raise TypeError(f"Explorer: the first argument must be a function, got {function!r}")
        names = _argument_names(function)
        given = list(values)
        missing = [n for n in names if n not in values]
        extra = [n for n in given if n not in names]
        if missing or extra:
            parts = []
            if missing:
                parts.append("no value for " + ", ".join(missing))
            if extra:
                parts.append("no argument named " + ", ".join(extra))
            raise TypeError(
                f"Explorer: the function takes ({', '.join(names)}); " + "; ".join(parts)
            )
        self._function = function
        self._values = {n: real_number(values[n], f"Explorer: {n}") for n in names}
        self._groups = dict.fromkeys(names, "")
        self._start()

    @classmethod
    def from_model(cls, model: Any, x: Any) -> Explorer:
        """Explore ``model(x)``: a slider per input and per parameter, named by its path
        (``layers.0.neurons.1.w.0``, from ``named_parameters()``) and grouped per layer.

        ``x`` is a list of numbers (or a single number): each becomes a leaf
        ``x[0]``, ``x[1]``, ... The model must return one Value (or a list
        holding one). Setting a parameter sets its ``.data`` in the model;
        every pass zeroes the model's gradients first.
        """
        if not hasattr(model, "named_parameters") or not callable(model):
            raise TypeError(
                f"Explorer.from_model: expected a chaingrad Module, got {type(model).__name__}"
            )
        inputs = list(x) if isinstance(x, (list, tuple)) else [x]
        self = cls(_FROM_MODEL)
        self._model = model
        self._params = dict(model.named_parameters())
        for k, item in enumerate(inputs):
            name = f"x[{k}]"
            data = item.data if isinstance(item, Value) else item
            self._values[name] = real_number(data, f"Explorer.from_model: {name}")
            self._groups[name] = INPUT_GROUP
        for name, p in self._params.items():
            self._values[name] = p.data
            self._groups[name] = _group_of(name)
        self._start()
        return self

    # --- the state, read ---------------------------------------------------------

    @property
    def values(self) -> dict[str, float]:
        """Each leaf's value, by name."""
        return dict(self._values)

    @property
    def grads(self) -> dict[str, float]:
        """Each leaf's gradient ``d output / d leaf``, by name."""
        result = self._pass
        return {
            name: result.grads[result.index[leaf]] if leaf in result.index else 0.0
            for name, leaf in result.leaves.items()
        }

    @property
    def output(self) -> float:
        """The output's data."""
        return self._pass.root.data

    @property
    def slopes(self) -> dict[str, float]:
        """Each leaf's slope measured by central finite differences, by name:
        ``(f(v + h) - f(v - h)) / 2h`` with ``h = 1e-6 * max(1, |v|)``."""
        return {name: self._slope(name) for name in self._values}

    # --- the state, changed --------------------------------------------------------

    def set(self, values: Mapping[str, Any] | None = None, /, **more: Any) -> None:
        """Set some leaves (``set(w1=-2.0)``, or a dict for names like ``layers.0.b``)
        and rerun the forward and backward pass. A bad name or number, or a pass
        that fails at the new values, raises one error and changes nothing."""
        changes = {**(values or {}), **more}
        if not changes:
            return
        new = dict(self._values)
        for name, value in changes.items():
            if name not in new:
                raise ValueError(
                    f"Explorer.set: no leaf named {name!r}; the leaves are " + ", ".join(new)
                )
            new[name] = real_number(value, f"Explorer.set: {name}")
        result = self._run(new)  # raises before anything is committed
        svg = None
        if result.structure != self._pass.structure:
            # A Python branch on .data changed the graph: lay it out again.
            try:
                svg = self._layout(result)
            except BaseException:
                for name, p in self._params.items():
                    p.data = self._values[name]
                raise
        self._values = new
        for name in changes:
            low, high = self._ranges[name]
            if not low <= new[name] <= high:
                self._ranges[name] = _range(new[name])
        if svg is not None:
            self.svg = svg
        self._commit(result)

    # --- the passes --------------------------------------------------------------

    def _forward(self, values: Mapping[str, float]) -> tuple[Value, dict[str, Value], Any]:
        """Build the graph at ``values``: (output, leaves by name, scopes or None)."""
        if self._function is not None:
            leaves = {n: Value(v, label=n) for n, v in values.items()}
            out = self._function(**leaves)
            return _one_value(out, "the function"), leaves, None
        from chaingrad.engine.scopes import record_scopes

        inputs = {n: Value(v, label=n) for n, v in values.items() if self._groups[n] == INPUT_GROUP}
        for name, p in self._params.items():
            p.data = values[name]
        with record_scopes() as scopes:
            out = self._model(list(inputs.values()))
        return _one_value(out, "the model"), {**inputs, **self._params}, scopes

    def _run(self, values: Mapping[str, float]) -> _Pass:
        """A forward and backward pass at ``values``; the model is left as it was on error."""
        saved = {name: p.data for name, p in self._params.items()}
        try:
            root, leaves, scopes = self._forward(values)
            if self._model is not None:
                self._model.zero_grad()
            root.backward()
        except BaseException:
            for name, p in self._params.items():
                p.data = saved[name]
            raise
        return _Pass(root, leaves, self._model, scopes)

    def _output_at(self, values: Mapping[str, float]) -> float:
        with no_grad():
            root, _, _ = self._forward(values)
        return root.data

    def _slope(self, name: str) -> float:
        value = self._values[name]
        h = NUDGE * max(1.0, abs(value))
        try:
            up = self._output_at({**self._values, name: value + h})
            down = self._output_at({**self._values, name: value - h})
        finally:
            for param_name, p in self._params.items():  # back to the current point
                p.data = self._values[param_name]
        return (up - down) / (2 * h)

    def _start(self) -> None:
        self._ranges = {n: _range(v) for n, v in self._values.items()}
        self._pass = result = self._run(self._values)
        count = len(result.order)
        if count > DEFAULT_MAX_NODES:
            raise ValueError(
                f"Explorer: this graph has {count:,} values, more than {DEFAULT_MAX_NODES}; "
                "explore a smaller one (one neuron, a tiny MLP)"
            )
        self.svg = self._layout(result)
        self._commit(result)

    def _layout(self, result: _Pass) -> str:
        """The graph laid out by Graphviz, as SVG: made once, the page keeps this picture.

        Every gradient and edge factor is laid out as the widest number a box
        shows (``WIDEST``), so whatever numbers a slider brings fit their boxes
        and labels; the page writes the real ones in at once.
        """
        root_id = f'id="n{len(result.order) - 1}"'
        widest = f'label="{TIMES}{format_number(WIDEST)}"'
        # Left to right as micrograd draws it if that is readable in the column, else
        # the direction draw_dot finds best (a summary has no box per value: next).
        for rankdir in ("LR", "auto"):
            graph = self._draw(result, dict.fromkeys(result.order, WIDEST), rankdir=rankdir)
            graph.body = [_EDGE_LABEL.sub(widest, line) for line in graph.body]
            svg = _svg_only(graph.pipe(format="svg").decode("utf-8"))
            if root_id in svg:
                return svg
        # Too wide for the column that way: the boxes as wide as today's numbers (the
        # page squeezes a longer number into its box) ...
        svg = _svg_only(self._draw(result).pipe(format="svg").decode("utf-8"))
        if root_id in svg:
            return svg
        # ... or every box at its natural size, wider than the column: the page scrolls
        # it, the output in view, rather than shrink text below 10 px.
        graph = self._draw(result, width=None)
        return _svg_only(graph.pipe(format="svg").decode("utf-8"))

    def _draw(
        self,
        result: _Pass,
        grads: Mapping[Value, float] | None = None,
        width: float | None = COLUMN,
        rankdir: str = "auto",
    ) -> Any:
        params = None
        if self._model is not None:
            params = list(self._params.values())
        return draw_dot(
            result.root,
            params=params,
            inputs=[leaf for leaf in result.leaves.values() if leaf not in (params or [])],
            model=self._model,
            scopes=result.drawing.scopes,
            edge_labels=True,
            grads=grads,
            width=width,
            max_nodes=None if width is None else DEFAULT_MAX_NODES,
            rankdir=rankdir,
        )

    def _commit(self, result: _Pass) -> None:
        self._pass = result
        self.view = self._view()
        self.step = min(self.step, len(self.view["steps"]))
        self._update_static()

    @traitlets.observe("nudge")
    def _nudge_changed(self, change: Any) -> None:
        if getattr(self, "_pass", None) is not None:
            self.view = self._view()
            self._update_static()

    @traitlets.validate("step")
    def _valid_step(self, proposal: Any) -> int:
        total = len(self.view.get("steps", ())) if self.view else 0
        return max(0, min(int(proposal["value"]), total))

    # --- what the page shows -----------------------------------------------------

    def _view(self) -> dict[str, Any]:
        result = self._pass
        drawing = result.drawing
        fmt = drawing.fmt
        order, index = result.order, result.index
        names = [drawing.full_name(i) for i in range(len(order))]
        root_name = names[-1]
        steps = backprop_steps(result.root, model=self._model, max_steps=None)
        rules: dict[int, list[str]] = {}
        edges: dict[str, dict[str, str]] = {}
        step_view = []
        for s in steps:
            rules.setdefault(s.node_position, []).append(s.rule)
            edge = f"e{s.node_position}_{s.slot}"
            edges[edge] = {
                "label": TIMES + fmt(s.local),
                "hover": f"chain-rule factor {s.rule}\n{s.text}",
            }
            step_view.append(
                {
                    "edge": edge,
                    "out": f"e{s.node_position}_out",
                    "node": f"n{s.node_position}",
                    "parent": f"n{s.parent_position}",
                    "after": fmt(s.after),
                    "final": s.final,
                    "caption": f"step {s.number} of {len(steps)}: {s.text}\nwhere {s.rule}",
                }
            )
        nodes = {}
        for i, node in enumerate(order):
            kind = drawing.kind(node)
            grad = result.grads[i]
            hover = [f"{names[i]} ({kind}): data {fmt(node.data)}, grad {fmt(grad)}"]
            if i != len(order) - 1:
                hover.append(f"grad = d{root_name}/d{names[i]}: how fast the output moves with it")
            nodes[f"n{i}"] = {
                "data": fmt(node.data),
                "grad": fmt(grad),
                "sign": (grad > 0) - (grad < 0),
                "hover": "\n".join(hover),
            }
        ops = {
            f"o{i}": f"the op making {names[i]}; its local derivatives:\n"
            + "\n".join(rules.get(i, []))
            for i, node in enumerate(order)
            if node._parents
        }
        leaves = []
        for name, leaf in result.leaves.items():
            if leaf not in index:
                continue  # a parameter the output does not use
            low, high = self._ranges[name]
            entry = {
                "name": name,
                "node": f"n{index[leaf]}",
                "value": self._values[name],
                "text": format_number(self._values[name], 6),
                "min": low,
                "max": high,
                "step": (high - low) / 1000,
                "grad": fmt(result.grads[index[leaf]]),
                "group": self._groups[name],
            }
            if self.nudge:
                entry["slope"] = fmt(self._slope(name))
            leaves.append(entry)
        return {
            "output": fmt(result.root.data),
            "output_name": root_name,
            "nodes": nodes,
            "ops": ops,
            "edges": edges,
            "leaves": leaves,
            "steps": step_view,
            "seed": f"step 0 of {len(steps)}: grad({root_name}) = 1, the seed of backward",
            "root": f"n{len(order) - 1}",
        }

    def _action_set(self, content: Mapping[str, Any]) -> None:
        values = content.get("values")
        if not isinstance(values, dict):
            raise TypeError(f"Explorer: a set request needs values, got {values!r}")
        self.set(values)

    def _static_html(self) -> str:
        view = self.view
        svg = _with_texts(self.svg, view)
        svg = svg.replace("<svg ", f'<svg style="{_readable_style(svg)}" ', 1)
        rows = []
        for leaf in view["leaves"]:
            slope = f"<td>slope {html.escape(leaf['slope'])}</td>" if "slope" in leaf else ""
            rows.append(
                f"<tr><td><b>{html.escape(leaf['name'])}</b></td>"
                f"<td>= {html.escape(leaf['text'])}</td>"
                f"<td>grad {html.escape(leaf['grad'])}</td>{slope}</tr>"
            )
        style = "font:13px sans-serif;text-align:left"
        rows = [row.replace("<td>", '<td style="text-align:left">') for row in rows]
        return (
            f'<div style="{style}"><b>Explorer</b>: output {html.escape(view["output_name"])} = '
            f"{html.escape(view['output'])} (a picture; run the notebook to move the sliders)</div>"
            f'<div style="max-width:100%;overflow-x:auto">{svg}</div>'
            f'<table style="{style}">{"".join(rows)}</table>'
        )


def _readable_style(svg: str) -> str:
    """CSS shrinking the picture to the column, but not its smallest text below 10 px."""
    width, scale = _SVG_WIDTH.search(svg), _SCALE.search(svg)
    fonts = [float(size) for size in _FONT.findall(svg)]
    if width is None or not fonts:
        return "max-width:100%;height:auto"
    natural = float(width.group(1)) * PX_PER_PT
    smallest = min(fonts) * PX_PER_PT * (float(scale.group(1)) if scale else 1.0)
    least = natural * min(1.0, MIN_TEXT_PX / smallest)
    return f"max-width:100%;min-width:{least:.0f}px;height:auto"


_PIECE = re.compile(r'<g id="(n\d+|e\d+_\d+)" class="(?:node|edge)">')


_TEXT = r'(<text [^>]*x="([-0-9.]+)"[^>]*font-size="([0-9.]+)"[^>]*>)({prefix}[^<]*)(</text>)'
_NUMBER = re.compile(r"-?[0-9.]+")
# Helvetica's glyph widths in ems (digits and most lower case 0.556), to tell whether a
# number overflows its box in a picture drawn without a browser to measure it.
HELVETICA_EMS = {".": 0.278, " ": 0.278, "t": 0.278, "r": 0.333, "-": 0.333, TIMES: 0.584}


def _text_width(text: str, size: float) -> float:
    return size * sum(HELVETICA_EMS.get(char, 0.556) for char in text)


def _write_text(body: str, prefix: str, text: str, right: float | None = None) -> str:
    """``body`` with its first SVG text starting with ``prefix`` replaced by ``text``
    (plain), squeezed (``textLength``) if it would pass ``right``, its box's edge."""
    match = re.search(_TEXT.format(prefix=re.escape(prefix)), body)
    if match is None:
        return body
    tag, x, size = match.group(1), float(match.group(2)), float(match.group(3))
    if right is not None:
        room = right - x - 3
        if _text_width(text, size) > room > 0:
            tag = tag[:-1] + f' textLength="{room:.1f}" lengthAdjust="spacingAndGlyphs">'
    return f"{body[: match.start()]}{tag}{html.escape(text)}</text>{body[match.end() :]}"


def _right_edge(body: str) -> float | None:
    """The right edge of a node's box: the largest x of its outline's first shape."""
    shape = re.search(r'<(?:path[^>]* d|polygon[^>]* points)="([^"]*)"', body)
    if shape is None:
        return None
    numbers = [float(n) for n in _NUMBER.findall(shape.group(1))]
    return max(numbers[0::2]) if numbers else None


def _with_texts(svg: str, view: Mapping[str, Any]) -> str:
    """The laid-out SVG with the view's numbers written in (what the page does), and no
    tooltips: a picture of the current state without running Graphviz again."""
    pieces = []
    last = 0
    matches = list(_PIECE.finditer(svg))
    for k, match in enumerate(matches):
        pieces.append(svg[last : match.end()])
        end = matches[k + 1].start() if k + 1 < len(matches) else len(svg)
        body = svg[match.end() : end]
        key = match.group(1)
        node = view["nodes"].get(key)
        edge = view["edges"].get(key)
        if node is not None:
            right = _right_edge(body)
            for field in ("data", "grad"):
                body = _write_text(body, f"{field} ", f"{field} {node[field]}", right)
        elif edge is not None:
            body = _write_text(body, TIMES, edge["label"])
        pieces.append(body)
        last = end
    pieces.append(svg[last:])
    return re.sub(r' xlink:title="[^"]*"', "", "".join(pieces))


# traitlets' __new__ takes (*args, **kwargs): documentation tools would show that.
_init = inspect.signature(Explorer.__init__)
Explorer.__signature__ = _init.replace(parameters=list(_init.parameters.values())[1:])


def _argument_names(function: Callable[..., Any]) -> list[str]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as error:
        raise TypeError(f"Explorer: cannot read the arguments of {function!r}") from error
    names = []
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise TypeError(
                "Explorer: the function's arguments must be plain named ones "
                f"(each a leaf), got {p}"
            )
        names.append(p.name)
    if not names:
        raise TypeError("Explorer: the function takes no arguments; give it one per leaf")
    return names


def _one_value(out: Any, who: str) -> Value:
    if isinstance(out, (list, tuple)) and len(out) == 1:
        out = out[0]
    if not isinstance(out, Value):
        raise TypeError(
            f"Explorer: {who} must return one Value (the output to explore), "
            f"got {type(out).__name__}"
        )
    if not out.label:
        out.label = OUTPUT_LABEL  # so its box and the captions name it (a fresh node)
    return out
