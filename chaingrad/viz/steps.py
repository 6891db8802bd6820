"""Backprop step-through: the backward pass as an ordered list of chain-rule steps, drawn.

``backprop_steps(root)`` lists what ``root.backward()`` does, one edge at a
time, in the engine's own order (``toposort(root)`` reversed):

    grad(parent) += d node/d parent * grad(node)

with every number written out. ``StepThrough`` draws one frame per step (the
seed ``grad(root) = 1`` first) with a fixed layout -- every frame is the same
DOT graph with fixed-size cells, only colours and the gradient text change,
so nodes never jump -- and exports them as an animated GIF or as one
self-contained interactive HTML file (inline SVG and JavaScript, no network).

Gradients are computed in a dictionary of their own, starting from zero as if
every ``.grad`` had just been zeroed: ``.grad`` is never read or changed, and
``backward()`` need not have been called.

>>> from chaingrad import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> c = a * b; c.label = "c"
>>> for step in backprop_steps(c):
...     print(step.text)
grad(a) += dc/da * grad(c) = -3 * 1 = -3, so grad(a) = 0 - 3 = -3
grad(b) += dc/db * grad(c) = 2 * 1 = 2, so grad(b) = 0 + 2 = 2
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaingrad.engine import Value

from .graph import GraphDrawing, derivative, graph_attributes, make_digraph
from .render import pipe, write_atomic

DEFAULT_MAX_STEPS = 300

# Colours of the current step: the node whose gradient flows back, the edge it
# flows along, and the parent receiving it.
UPSTREAM_FILL = "#fdba74"
RECEIVER_FILL = "#fde047"
EDGE_COLOUR = "#ea580c"
DONE_FILL = "#dcfce7"


@dataclass(frozen=True)
class BackpropStep:
    """One chain-rule step: ``grad(parent) += local * upstream``.

    ``node`` is the Value whose gradient (``upstream``, already final) flows
    back to its ``slot``-th parent ``parent``; ``local`` is
    ``d node / d parent``. ``before``/``after`` are the parent's accumulated
    gradient around this step. Positions are topological (node ids ``n<i>``).
    """

    number: int
    node: Value
    node_position: int
    parent: Value
    parent_position: int
    slot: int
    local: float
    upstream: float
    contribution: float
    before: float
    after: float
    text: str


def _name(drawing: GraphDrawing, node: Value, position: int) -> str:
    return drawing.name_of(node) or f"n{position}"


def _steps(drawing: GraphDrawing) -> tuple[list[BackpropStep], list[dict[Value, float]]]:
    """The steps, and the gradients known after each frame (frame 0: the seed)."""
    order = drawing.order
    index = drawing.index
    fmt = drawing.fmt
    root = drawing.root
    grads: dict[Value, float] = {root: 1.0}
    snapshots = [dict(grads)]
    steps: list[BackpropStep] = []
    for node in reversed(order):
        parents = node._parents
        if not parents:
            continue
        # Same loop as the engine's backward: the node's gradient is final here.
        upstream = grads.get(node, 0.0)
        i = index[node]
        for slot, (parent, local) in enumerate(zip(parents, node._local_grads)):
            p = index[parent]
            before = grads.get(parent, 0.0)
            contribution = local * upstream
            after = before + contribution
            grads[parent] = after
            out_name, in_name = _name(drawing, node, i), _name(drawing, parent, p)
            sign = "-" if contribution < 0 else "+"
            text = (
                f"grad({in_name}) += {derivative(out_name, in_name)} * grad({out_name}) = "
                f"{fmt(local)} * {fmt(upstream)} = {fmt(contribution)}, "
                f"so grad({in_name}) = {fmt(before)} {sign} {fmt(abs(contribution))} = {fmt(after)}"
            )
            steps.append(
                BackpropStep(
                    len(steps) + 1,
                    node,
                    i,
                    parent,
                    p,
                    slot,
                    local,
                    upstream,
                    contribution,
                    before,
                    after,
                    text,
                )
            )
            snapshots.append(dict(grads))
    return steps, snapshots


def backprop_steps(root: Value) -> list[BackpropStep]:
    """The backward pass from ``root`` as chain-rule steps, in the engine's order.

    >>> from chaingrad import Value
    >>> x = Value(3.0, label="x")
    >>> [s.after for s in backprop_steps(x * x)]   # a * a: two edges, gradients add
    [3.0, 6.0]
    """
    steps, _ = _steps(GraphDrawing(root))
    return steps


_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
_PNG_END = b"IEND\xaeB`\x82"


class StepThrough:
    """Frames of the backward pass of ``root``, ready to show, save as GIF or HTML.

    >>> from chaingrad import Value
    >>> x, w = Value(2.0, label="x"), Value(-1.0, label="w")
    >>> st = StepThrough((x * w).tanh())
    >>> len(st.steps), len(st.captions)        # one frame more than steps: the seed
    (3, 4)
    >>> st.save("backprop.html")               # doctest: +SKIP
    """

    def __init__(
        self,
        root: Value,
        *,
        params: Iterable[Value] | None = None,
        inputs: Iterable[Value] | None = None,
        rankdir: str = "LR",
        scopes: Any = None,
        model: Any = None,
        max_steps: int = DEFAULT_MAX_STEPS,
        precision: int = 4,
    ) -> None:
        graph_attributes(rankdir)  # validate early
        self.rankdir = rankdir
        self.drawing = GraphDrawing(
            root, params=params, inputs=inputs, scopes=scopes, model=model, precision=precision
        )
        edges = sum(len(node._parents) for node in self.drawing.order)
        if edges > max_steps:
            raise ValueError(
                f"step-through: this graph has {edges} backward steps, more than "
                f"max_steps={max_steps}; step through a smaller graph (or raise max_steps)"
            )
        self.steps, self._grads = _steps(self.drawing)
        root_name = _name(self.drawing, root, len(self.drawing.order) - 1)
        seed = f"grad({root_name}) = {derivative(root_name, root_name)} = 1 (the seed of backward)"
        total = len(self.steps)
        self.captions = [f"step 0 of {total}: {seed}"] + [
            f"step {s.number} of {total}: {s.text}" for s in self.steps
        ]
        self.final_grads = {n: self._grads[-1].get(n, 0.0) for n in self.drawing.order}
        self._widths = self.drawing.column_widths(self._grads)  # every frame fits

    def __len__(self) -> int:
        return len(self.captions)

    def frame_lines(self, k: int) -> list[str]:
        """DOT body lines of frame ``k`` (0 is the seed, ``k`` the state after step ``k``)."""
        if not isinstance(k, int) or not 0 <= k < len(self.captions):
            raise IndexError(f"step-through: frame {k!r} out of range 0..{len(self.captions) - 1}")
        highlight_nodes: dict[int, str] = {}
        highlight_edges: dict[tuple[int, int], str] = {}
        order = self.drawing.order
        if k == 0:
            highlight_nodes[len(order) - 1] = RECEIVER_FILL
        else:
            step = self.steps[k - 1]
            # Nodes after the current one in topological order: gradient already final.
            for position in range(step.node_position + 1, len(order)):
                highlight_nodes[position] = DONE_FILL
            highlight_nodes[step.node_position] = UPSTREAM_FILL
            highlight_nodes[step.parent_position] = RECEIVER_FILL
            highlight_edges[(step.node_position, step.slot)] = EDGE_COLOUR
        return self.drawing.body(
            edge_labels=True,
            grads=self._grads[k],
            unknown_grad=True,
            widths=self._widths,
            highlight_nodes=highlight_nodes,
            highlight_edges=highlight_edges,
        )

    def frame(self, k: int) -> Any:
        """Frame ``k`` as a graphviz.Digraph (displays inline in Jupyter)."""
        return make_digraph(self.frame_lines(k), self.rankdir)

    def frame_source(self, k: int) -> str:
        """DOT text of frame ``k``."""
        return self.frame(k).source

    def _render_all(self, fmt: str) -> list[bytes]:
        # One dot process renders every frame: its input holds all the graphs.
        sources = "".join(self.frame_source(k) for k in range(len(self)))
        out = pipe(sources, fmt, timeout=300)
        if fmt == "svg":
            parts = [m.group(0).encode("utf-8") for m in _SVG.finditer(out.decode("utf-8"))]
        else:
            parts = [chunk + _PNG_END for chunk in out.split(_PNG_END)[:-1]]
        if len(parts) != len(self):
            raise RuntimeError(f"dot returned {len(parts)} frames, expected {len(self)}")
        return parts

    def svgs(self) -> list[str]:
        """Every frame as SVG text."""
        return [part.decode("utf-8") for part in self._render_all("svg")]

    # --- GIF ------------------------------------------------------------------

    def gif_bytes(self, duration_ms: int = 1500) -> bytes:
        """An animated GIF: each frame's graph with its chain-rule caption underneath."""
        try:
            from PIL import Image, ImageDraw, ImageFont
        except ImportError:
            raise ImportError(
                "GIF export needs Pillow: pip install pillow (or 'chaingrad[notebook]')"
            ) from None
        if not isinstance(duration_ms, int) or duration_ms <= 0:
            raise ValueError(
                f"step-through: duration_ms must be a positive int, got {duration_ms!r}"
            )
        pngs = self._render_all("png")
        images = [Image.open(io.BytesIO(data)).convert("RGB") for data in pngs]
        width = max(im.width for im in images)
        height = max(im.height for im in images)
        try:
            font = ImageFont.load_default(size=14)
        except TypeError:  # Pillow < 10.1 has one fixed bitmap font
            font = ImageFont.load_default()
        canvas_width = max(width, 600)
        # Wrap captions to the picture (~8 px per character at size 14); every
        # frame gets the same band height so the animation does not jump.
        wrapped = [textwrap.wrap(c, width=max(40, (canvas_width - 20) // 8)) for c in self.captions]
        band = 16 + 20 * max(len(lines) for lines in wrapped)
        frames = []
        for image, lines in zip(images, wrapped):
            canvas = Image.new("RGB", (canvas_width, height + band), "white")
            canvas.paste(image, (0, 0))
            draw = ImageDraw.Draw(canvas)
            for row, line in enumerate(lines):
                draw.text((10, height + 8 + 20 * row), line, fill="black", font=font)
            frames.append(canvas.convert("P", palette=Image.Palette.ADAPTIVE))
        buffer = io.BytesIO()
        frames[0].save(
            buffer,
            format="GIF",
            save_all=True,
            append_images=frames[1:],
            duration=duration_ms,
            loop=0,
        )
        return buffer.getvalue()

    # --- HTML -----------------------------------------------------------------

    def html_fragment(self, element_id: str = "chaingrad-step-through") -> str:
        """A ``<div>`` + inline ``<script>`` player (for notebooks, or inside a page)."""
        if not re.fullmatch(r"[A-Za-z][\w-]*", element_id):
            raise ValueError(f"step-through: invalid element id {element_id!r}")
        frames = []
        for k, svg in enumerate(self.svgs()):
            frames.append(
                f'<div class="cg-frame" data-step="{k}"'
                f"{'' if k == 0 else ' hidden'}>{_clean_svg(svg, f'{element_id}-f{k}-')}</div>"
            )
        last = len(self.captions) - 1
        items = "".join(
            f'<li data-step="{k}">{html.escape(c)}</li>' for k, c in enumerate(self.captions)
        )
        captions_json = json.dumps(self.captions).replace("</", "<\\/")
        return f"""<div class="cg-step-through" id="{element_id}" data-current="0">
<style>
#{element_id} {{ font-family: Helvetica, Arial, sans-serif; }}
#{element_id} .cg-controls {{ display: flex; gap: 6px; align-items: center; margin: 6px 0; }}
#{element_id} .cg-caption {{ font-family: monospace; background: #f9fafb; border: 1px solid #e5e7eb;
  padding: 6px 8px; margin: 6px 0; white-space: pre-wrap; }}
#{element_id} .cg-frame svg {{ max-width: 100%; height: auto; }}
#{element_id} li.cg-current {{ font-weight: bold; }}
#{element_id} .cg-steps {{ font-family: monospace; font-size: 12px; }}
</style>
<div class="cg-controls">
<button type="button" class="cg-first" title="first step (Home)">&#x25C0;&#x25C0; first</button>
<button type="button" class="cg-prev" title="previous step (left arrow)">&#x25C0; back</button>
<input type="range" class="cg-slider" min="0" max="{last}" value="0" step="1" aria-label="step">
<button type="button" class="cg-next" title="next step (right arrow)">forward &#x25B6;</button>
<button type="button" class="cg-last" title="last step (End)">last &#x25B6;&#x25B6;</button>
<span class="cg-counter">step 0 of {last}</span>
</div>
<div class="cg-caption">{html.escape(self.captions[0])}</div>
<div class="cg-frames">{"".join(frames)}</div>
<details><summary>all steps</summary><ol class="cg-steps" start="0">{items}</ol></details>
<script>
(function () {{
  var root = document.getElementById("{element_id}");
  var captions = {captions_json};
  var last = captions.length - 1;
  var frames = root.querySelectorAll(".cg-frame");
  var slider = root.querySelector(".cg-slider");
  var counter = root.querySelector(".cg-counter");
  var caption = root.querySelector(".cg-caption");
  var items = root.querySelectorAll(".cg-steps li");
  var current = 0;
  function show(k) {{
    k = Math.max(0, Math.min(last, k | 0));
    for (var i = 0; i < frames.length; i++) {{ frames[i].hidden = (i !== k); }}
    for (var j = 0; j < items.length; j++) {{ items[j].className = (j === k) ? "cg-current" : ""; }}
    current = k;
    slider.value = String(k);
    counter.textContent = "step " + k + " of " + last;
    caption.textContent = captions[k];
    root.setAttribute("data-current", String(k));
  }}
  root.querySelector(".cg-first").addEventListener("click", function () {{ show(0); }});
  root.querySelector(".cg-prev").addEventListener("click", function () {{ show(current - 1); }});
  root.querySelector(".cg-next").addEventListener("click", function () {{ show(current + 1); }});
  root.querySelector(".cg-last").addEventListener("click", function () {{ show(last); }});
  slider.addEventListener("input", function () {{ show(parseInt(slider.value, 10)); }});
  root.tabIndex = 0;
  root.addEventListener("keydown", function (e) {{
    if (e.key === "ArrowRight") {{ show(current + 1); }}
    else if (e.key === "ArrowLeft") {{ show(current - 1); }}
    else if (e.key === "Home") {{ show(0); }}
    else if (e.key === "End") {{ show(last); }}
  }});
  // A link such as file.html#step=3 opens at that step.
  var match = /(?:^#|&)step=(\\d+)/.exec(window.location.hash || "");
  show(match ? parseInt(match[1], 10) : 0);
}})();
</script>
</div>"""

    def to_html(self, title: str = "chaingrad: backprop step by step") -> str:
        """One self-contained HTML page (inline SVG and JavaScript, no network access)."""
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n</head>\n<body>\n"
            f'<h1 style="font-family: Helvetica, Arial, sans-serif; font-size: 18px">'
            f"{html.escape(title)}</h1>\n{self.html_fragment()}\n</body>\n</html>\n"
        )

    _instances = 0

    def _repr_html_(self) -> str:
        # Each notebook output needs its own element id.
        StepThrough._instances += 1
        return self.html_fragment(f"chaingrad-step-through-{StepThrough._instances}")

    # --- files ----------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], duration_ms: int = 1500) -> Path:
        """Write ``.html`` (interactive) or ``.gif`` (animated), chosen by the extension."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            data = self.to_html().encode("utf-8")
        elif suffix == ".gif":
            data = self.gif_bytes(duration_ms)
        else:
            raise ValueError(
                f"step-through: cannot tell the format of {str(path)!r}; use .html or .gif"
            )
        write_atomic(path, data)
        return path


def step_through(
    root: Value, path: str | os.PathLike[str] | None = None, **options: Any
) -> StepThrough:
    """Build the step-through of ``root``'s backward pass; write it to ``path`` if given.

    >>> from chaingrad import Value
    >>> x = Value(0.5, label="x")
    >>> st = step_through(x.tanh(), "tanh.gif")   # doctest: +SKIP
    """
    duration_ms = options.pop("duration_ms", 1500)
    stepper = StepThrough(root, **options)
    if path is not None:
        stepper.save(path, duration_ms=duration_ms)
    return stepper


def _clean_svg(svg: str, id_prefix: str) -> str:
    """An SVG from dot made fit to inline: no XML prolog, no namespace URLs, unique ids."""
    start = svg.find("<svg")
    svg = svg[start:]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.DOTALL)
    # Namespace declarations are optional in HTML's inline SVG; dropping them
    # leaves the file without a single URL.
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = svg.replace(' id="', f' id="{id_prefix}')
    return svg
