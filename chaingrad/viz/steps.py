"""Backprop step-through: the backward pass as an ordered list of chain-rule steps, drawn.

``backprop_steps(root)`` lists what ``root.backward()`` does, one edge at a
time, in the engine's own order (``toposort(root)`` reversed):

    grad(parent) += d node/d parent * grad(node)

with every number written out, and the local derivative as a rule
(``step.rule``: ``d tanh(n)/dn = 1 − tanh(n)² = 1 − 0.7071² = 0.5``).

``StepThrough`` shows the steps on one fixed layout: a player (one inline SVG
whose colours and gradient texts a small script changes per step, so it is
kilobytes, not one picture per step), an animated GIF, or single frames.

Gradients are computed apart from ``.grad``, starting from zero as if every
``.grad`` had just been zeroed: ``.grad`` is never read or changed, and
``backward()`` need not have been called. Memory grows linearly with the
number of steps (nothing is copied per step), and both ``backprop_steps`` and
``StepThrough`` refuse graphs above ``max_steps`` before doing any work.

>>> from chaingrad import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> c = a * b; c.label = "c"
>>> for step in backprop_steps(c):
...     print(step.text)
grad(a) += dc/da * grad(c) = -3 * 1 = -3, so grad(a) = 0 - 3 = -3
grad(b) += dc/db * grad(c) = 2 * 1 = 2, so grad(b) = 0 + 2 = 2
>>> backprop_steps(c)[0].rule
'd(a·b)/da = b = −3'
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import secrets
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from chaingrad.engine import Constant, Value

from .graph import (
    DEFAULT_WIDTH,
    KIND_STYLES,
    MAX_LAYOUT_NODES,
    GraphDrawing,
    check_rankdir,
    check_width,
    derivative,
    dot_width,
    make_digraph,
)
from .layout import FONT_SIZE, MIN_TEXT_PX, PX_PER_PT, fit_rankdir
from .render import check_timeout, pipe, write_atomic
from .rules import DOT, local_rule, number

DEFAULT_MAX_STEPS = 300  # a player: more steps than anyone clicks through
MAX_LISTED_STEPS = 10_000  # backprop_steps: about 1 KB each

# Colours of a step: the node whose gradient flows back, the parent receiving
# it, the edge it flows along; nodes whose gradient is final; the rest.
UPSTREAM_FILL = "#fdba74"
RECEIVER_FILL = "#fde047"
EDGE_COLOUR = "#ea580c"
DONE_FILL = "#bbf7d0"
PENDING_FILL = "#ffffff"
EDGE_DEFAULT = "#4b5563"

STEP_HINT = "step through a smaller graph"
FRAMES_PER_DOT_RUN = 8  # GIF frames rendered per dot process (bounded output held)
MAX_GIF_PIXELS = 12_000_000  # per frame (~36 MB as RGB); bigger is refused (use the player)


@dataclass(frozen=True)
class BackpropStep:
    """One chain-rule step: ``grad(parent) += local * upstream``.

    ``node`` is the Value whose gradient (``upstream``, already final) flows
    back to its ``slot``-th parent ``parent``; ``local`` is
    ``d node / d parent``. ``before``/``after`` are the parent's accumulated
    gradient around this step; ``final`` says no later step adds to it.
    ``text`` writes the step out, ``rule`` the local derivative
    (``d tanh(n)/dn = 1 − tanh(n)² = 1 − 0.7071² = 0.5``). Positions are
    topological (node ids ``n<i>``).
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
    rule: str = ""
    final: bool = False


def _rule_names(drawing: GraphDrawing, node: Value) -> list[str]:
    """What a rule calls each parent: its name, or an unnamed constant's number."""
    index = drawing.index
    names = []
    for parent in node._parents:
        if isinstance(parent, Constant) and not drawing.name_of(parent):
            names.append(number(parent.data, drawing.precision))
        else:
            names.append(drawing.full_name(index[parent]))
    return names


def check_max_steps(drawing: GraphDrawing, max_steps: int | None, who: str) -> None:
    """Refuse, before any work, a graph with more backward steps (edges) than ``max_steps``."""
    if max_steps is None:
        return
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"{who}: max_steps must be a positive int or None, got {max_steps!r}")
    if drawing.edge_count > max_steps:
        raise ValueError(
            f"{who}: this graph has {drawing.edge_count:,} backward steps, more than "
            f"max_steps={max_steps:,}; step through a smaller graph (or pass a larger max_steps)"
        )


def iter_steps(drawing: GraphDrawing) -> Iterator[BackpropStep]:
    """The steps one at a time, with only the running gradients held (linear memory)."""
    order = drawing.order
    index = drawing.index
    fmt = drawing.fmt
    grads: dict[Value, float] = {drawing.root: 1.0}
    pending = [0] * len(order)  # uses of each node not yet passed back
    for node in order:
        for parent in node._parents:
            pending[index[parent]] += 1
    count = 0
    for node in reversed(order):
        parents = node._parents
        if not parents:
            continue
        # Same loop as the engine's backward: the node's gradient is final here.
        upstream = grads.get(node, 0.0)
        i = index[node]
        out_name = drawing.full_name(i)
        rule_names = None
        for slot, (parent, local) in enumerate(zip(parents, node.local_grads)):
            p = index[parent]
            before = grads.get(parent, 0.0)
            contribution = local * upstream
            after = before + contribution
            grads[parent] = after
            pending[p] -= 1
            in_name = drawing.full_name(p)
            sign = "-" if contribution < 0 else "+"
            text = (
                f"grad({in_name}) += {derivative(out_name, in_name)} * grad({out_name}) = "
                f"{fmt(local)} * {fmt(upstream)} = {fmt(contribution)}, "
                f"so grad({in_name}) = {fmt(before)} {sign} {fmt(abs(contribution))} = {fmt(after)}"
            )
            if rule_names is None:
                rule_names = _rule_names(drawing, node)
            rule = local_rule(node, slot, rule_names, drawing.precision, in_name)
            count += 1
            yield BackpropStep(
                count,
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
                rule,
                pending[p] == 0,
            )


def backprop_steps(
    root: Value,
    *,
    max_steps: int | None = MAX_LISTED_STEPS,
    model: Any = None,
    precision: int = 4,
) -> list[BackpropStep]:
    """The backward pass from ``root`` as chain-rule steps, in the engine's order.

    A graph with more than ``max_steps`` edges is refused at once (None: no
    limit; each step takes about 1 KB). ``model`` names parameters by their
    path (``layers.0.neurons.1.w.0``).

    >>> from chaingrad import Value
    >>> x = Value(3.0, label="x")
    >>> [s.after for s in backprop_steps(x * x)]   # a * a: two edges, gradients add
    [3.0, 6.0]
    """
    drawing = GraphDrawing(root, model=model, precision=precision)
    check_max_steps(drawing, max_steps, "backprop_steps")
    return list(iter_steps(drawing))


def _minus(text: str) -> str:
    return text.replace("-", "\N{MINUS SIGN}")


def _factor(text: str) -> str:
    """A number as the second factor of a product: ``(−4.882)``, so ``· −`` never appears."""
    return f"({_minus(text)})" if text.startswith("-") else text


def caption_of(step: BackpropStep, total: int, drawing: GraphDrawing, rank: int | None) -> str:
    """Two lines: the chain-rule step with its numbers, then the local rule."""
    out_name = drawing.full_name(step.node_position)
    in_name = drawing.full_name(step.parent_position)
    fmt = drawing.fmt
    d = derivative(out_name, in_name)
    sign = "\N{MINUS SIGN}" if step.contribution < 0 else "+"
    final = f" (final, #{rank})" if step.final and rank is not None else ""
    first = (
        f"step {step.number} of {total}: grad({in_name}) += {d} {DOT} grad({out_name}) = "
        f"{_minus(fmt(step.local))} {DOT} {_factor(fmt(step.upstream))} = "
        f"{_minus(fmt(step.contribution))}, so grad({in_name}) = {_minus(fmt(step.before))} "
        f"{sign} {fmt(abs(step.contribution))} = {_minus(fmt(step.after))}{final}"
    )
    rule = step.rule
    if rule.startswith(f"{d} = "):  # the node's name is its expression: say it once
        rule = rule[len(d) + 3 :]
    return f"{first}\nwhere {d} = {rule}"


def _script_json(data: Any) -> str:
    """JSON safe inside an HTML <script>: no ``<``, ``>``, ``&`` or line separators raw,
    so no label (``</script>``, ``<!--<script>``) can end or confuse the script."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text


_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
_PNG_END = b"IEND\xaeB`\x82"


class StepThrough:
    """The backward pass of ``root``, step by step: a player, a GIF, or single frames.

    >>> from chaingrad import Value
    >>> x, w = Value(2.0, label="x"), Value(-1.0, label="w")
    >>> st = StepThrough((x * w).tanh())
    >>> len(st.steps), len(st.captions)        # one frame more than steps: the seed
    (3, 4)
    >>> print(st.captions[1])                  # doctest: +NORMALIZE_WHITESPACE
    step 1 of 3: grad(n2) += dn3/dn2 · grad(n3) = 0.07065 · 1 = 0.07065,
    so grad(n2) = 0 + 0.07065 = 0.07065 (final, #2)
    where dn3/dn2 = d tanh(n2)/dn2 = 1 − tanh(n2)² = 1 − (−0.964)² = 0.07065
    >>> st.save("backprop.html")               # doctest: +SKIP
    """

    def __init__(
        self,
        root: Value,
        *,
        params: Iterable[Value] | None = None,
        inputs: Iterable[Value] | None = None,
        rankdir: str = "auto",
        scopes: Any = None,
        model: Any = None,
        max_steps: int | None = DEFAULT_MAX_STEPS,
        precision: int = 4,
        width: float | None = DEFAULT_WIDTH,
        timeout: float | None = None,
    ) -> None:
        check_rankdir(rankdir, "step-through")
        self.width = check_width(width, "step-through")
        self.timeout = check_timeout(timeout, "step-through") if timeout is not None else None
        self.drawing = GraphDrawing(
            root, params=params, inputs=inputs, scopes=scopes, model=model, precision=precision
        )
        drawing = self.drawing
        check_max_steps(drawing, max_steps, "step-through")
        layout = drawing.layout_nodes(edge_labels=True)
        if max_steps is not None and layout > MAX_LAYOUT_NODES:
            raise ValueError(
                f"step-through: this graph's edges cross {layout:,} ranks, too many for dot "
                "to lay out quickly (a value used by many ops far apart); step through a "
                "smaller graph, or pass max_steps=None to try anyway"
            )
        self.steps = list(iter_steps(drawing))
        order = drawing.order
        root_i = len(order) - 1
        self.ranks = drawing.backward_numbers()  # #k: the k-th gradient made final
        # the step at which each node's gradient becomes final (the root: the seed)
        self.finish_step = [0] * len(order)
        for step in self.steps:
            if step.final:
                self.finish_step[step.parent_position] = step.number
        total = len(self.steps)
        root_name = drawing.full_name(root_i)
        seed = f"grad({root_name}) = {derivative(root_name, root_name)} = 1 (the seed of backward)"
        self.captions = [f"step 0 of {total}: {seed}, final (#1)"] + [
            caption_of(s, total, drawing, self.ranks[s.parent_position]) for s in self.steps
        ]
        final: dict[Value, float] = {root: 1.0}
        shown: dict[int, set[str]] = {i: set() for i in range(len(order))}
        shown[root_i].add(drawing.fmt(1.0))
        for s in self.steps:
            final[s.parent] = s.after
            shown[s.parent_position].add(drawing.fmt(s.after))
        self.final_grads = {n: final.get(n, 0.0) for n in order}
        self._grad_widths = drawing.grad_widths(shown)
        if rankdir == "auto":
            rankdir, _ = fit_rankdir(
                drawing.layout_model(edge_labels=True, show_ids=True),
                self.width,
                True,
                lambda d: dot_width(self.frame_lines(len(self.steps)), d, self.timeout),
            )
        self.rankdir = rankdir

    def __len__(self) -> int:
        return len(self.captions)

    # --- frames -----------------------------------------------------------------

    def _state(self, k: int) -> tuple[dict[int, str], dict[tuple[int, int], str]]:
        """Fills and edge colours of frame ``k``."""
        # every node but the root becomes final at a step >= 1; the root at the seed
        fills = {i: DONE_FILL for i, step in enumerate(self.finish_step) if step <= k}
        edges: dict[tuple[int, int], str] = {}
        if k == 0:
            fills[len(self.drawing.order) - 1] = RECEIVER_FILL
        else:
            step = self.steps[k - 1]
            fills[step.node_position] = UPSTREAM_FILL
            fills[step.parent_position] = RECEIVER_FILL
            edges[(step.node_position, step.slot)] = EDGE_COLOUR
        return fills, edges

    def _frames(self) -> Iterator[list[str]]:
        """DOT body lines of every frame in order, updating gradients as it goes."""
        grads: dict[Value, float] = {self.drawing.root: 1.0}
        for k in range(len(self.captions)):
            if k:
                step = self.steps[k - 1]
                grads[step.parent] = step.after
            yield self._lines(k, grads)

    def _lines(self, k: int, grads: dict[Value, float]) -> list[str]:
        fills, edges = self._state(k)
        return self.drawing.body(
            edge_labels=True,
            grads=grads,
            unknown_grad=True,
            grad_widths=self._grad_widths,
            show_ids=True,
            plain_fill=True,
            highlight_nodes=fills,
            highlight_edges=edges,
        )

    def frame_lines(self, k: int) -> list[str]:
        """DOT body lines of frame ``k`` (0 is the seed, ``k`` the state after step ``k``)."""
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(self.captions):
            raise IndexError(f"step-through: frame {k!r} out of range 0..{len(self.captions) - 1}")
        grads: dict[Value, float] = {self.drawing.root: 1.0}
        for step in self.steps[:k]:
            grads[step.parent] = step.after
        return self._lines(k, grads)

    def frame(self, k: int) -> Any:
        """Frame ``k`` as a graphviz.Digraph (displays inline in Jupyter, at most ``width`` px)."""
        return make_digraph(
            self.frame_lines(k), self.rankdir, timeout=self.timeout, width=self.width
        )

    def frame_source(self, k: int) -> str:
        """DOT text of frame ``k``."""
        return str(self.frame(k).source)

    def _rendered(self, fmt: str) -> Iterator[bytes]:
        """Every frame rendered by dot, a few frames per dot process, one at a time."""
        batch: list[str] = []
        expected = len(self)
        produced = 0

        def run(sources: list[str]) -> list[bytes]:
            out = pipe("".join(sources), fmt, self.timeout, "a step-through frame", STEP_HINT)
            if fmt == "svg":
                return [m.group(0).encode("utf-8") for m in _SVG.finditer(out.decode("utf-8"))]
            return [chunk + _PNG_END for chunk in out.split(_PNG_END)[:-1]]

        for lines in self._frames():
            batch.append(make_digraph(lines, self.rankdir).source)
            if len(batch) == FRAMES_PER_DOT_RUN:
                parts = run(batch)
                if len(parts) != len(batch):
                    raise RuntimeError(f"dot returned {len(parts)} frames, expected {len(batch)}")
                produced += len(parts)
                yield from parts
                batch = []
        if batch:
            parts = run(batch)
            produced += len(parts)
            yield from parts
        if produced != expected:
            raise RuntimeError(f"dot returned {produced} frames, expected {expected}")

    def svgs(self) -> list[str]:
        """Every frame as SVG text (the player needs only one; see :meth:`html_fragment`)."""
        return [part.decode("utf-8") for part in self._rendered("svg")]

    # --- GIF ------------------------------------------------------------------

    def gif_bytes(self, duration_ms: int = 1500, width: float | None = DEFAULT_WIDTH) -> bytes:
        """An animated GIF: each frame's graph with its chain-rule caption underneath.

        Frames are streamed (one in memory at a time) and drawn at most
        ``width`` px wide (a notebook column; None: as dot draws them); a graph
        whose text would then be smaller than 10 px is refused with a pointer
        to the HTML player, which zooms.
        """
        buffer = io.BytesIO()
        self._write_gif(buffer, duration_ms, width)
        return buffer.getvalue()

    def gif(self, duration_ms: int = 1500, width: float | None = DEFAULT_WIDTH) -> GifImage:
        """The animated GIF as a notebook output (an ``<img>``: JupyterLab and HTML exports).

        >>> from chaingrad import Value
        >>> StepThrough(Value(2.0, label="x").tanh()).gif(800)    # doctest: +SKIP
        """
        return GifImage(self.gif_bytes(duration_ms, width))

    def _write_gif(self, out: BinaryIO, duration_ms: int, width: float | None) -> None:
        try:
            from PIL import Image, ImageChops, ImageDraw
        except ImportError:
            raise ImportError(
                "GIF export needs Pillow: pip install pillow (or 'chaingrad[notebook]')"
            ) from None
        if isinstance(duration_ms, bool) or not isinstance(duration_ms, int) or duration_ms <= 0:
            raise ValueError(
                f"step-through: duration_ms must be a positive int, got {duration_ms!r}"
            )
        limit = check_width(width, "step-through")
        font, ascii_only = _caption_font()
        writer: _GifWriter | None = None
        previous = None
        for k, png in enumerate(self._rendered("png")):
            with Image.open(io.BytesIO(png)) as opened:
                graph = opened.convert("RGB")
            if writer is None:
                scale = 1.0
                if limit is not None and graph.width > limit:
                    scale = limit / graph.width
                    if FONT_SIZE * PX_PER_PT * scale < MIN_TEXT_PX:
                        raise ValueError(
                            f"step-through: the graph is {graph.width} px wide, so a GIF "
                            f"{limit:g} px wide would shrink its text below {MIN_TEXT_PX} px; "
                            'save a .html player instead (it zooms and pans), or try rankdir="TB"'
                        )
                size = (round(graph.width * scale), round(graph.height * scale))
                canvas_width = max(size[0], 480)
                wrapped = [_wrap(c, canvas_width, ascii_only) for c in self.captions]
                band = 12 + 20 * max(len(lines) for lines in wrapped)
                if canvas_width * (size[1] + band) > MAX_GIF_PIXELS:
                    raise ValueError(
                        f"step-through: GIF frames would be {canvas_width} x {size[1] + band} px, "
                        f"more than {MAX_GIF_PIXELS:,} pixels; save a .html player instead "
                        "(it zooms and pans)"
                    )
                writer = _GifWriter(out, (canvas_width, size[1] + band), duration_ms)
            if scale != 1.0:
                graph = graph.resize(size, Image.Resampling.LANCZOS)
            canvas = Image.new("RGB", writer.size, "white")
            canvas.paste(graph, ((canvas_width - size[0]) // 2, 0))
            draw = ImageDraw.Draw(canvas)
            for row, line in enumerate(wrapped[k]):
                draw.text((10, size[1] + 6 + 20 * row), line, fill="black", font=font)
            # Only the part that changed is stored: the layout never moves.
            box = (0, 0, *canvas.size)
            if previous is not None:
                box = ImageChops.difference(previous, canvas).getbbox() or (0, 0, 1, 1)
            writer.frame(canvas.crop(box), box[:2])
            previous = canvas
        assert writer is not None
        writer.close()

    # --- the HTML player --------------------------------------------------------

    def html_fragment(self, element_id: str | None = None) -> str:
        """A ``<div>`` + inline ``<script>`` player (for notebooks, or inside a page).

        Each call gets element ids of its own (random unless ``element_id`` is
        given), so any number of players work in one page.
        """
        if element_id is None:
            element_id = f"cg-st-{secrets.token_hex(6)}"
        if not re.fullmatch(r"[A-Za-z][\w-]*", element_id):
            raise ValueError(f"step-through: invalid element id {element_id!r}")
        svg = pipe(
            make_digraph(self.frame_lines(0), self.rankdir).source,
            "svg",
            self.timeout,
            "the step-through",
            STEP_HINT,
        ).decode("utf-8")
        data = {
            "root": len(self.drawing.order) - 1,
            "steps": [
                [s.node_position, s.parent_position, s.slot, self.drawing.fmt(s.after)]
                for s in self.steps
            ],
            "finish": self.finish_step,
            "captions": self.captions,
            "colours": {
                "upstream": UPSTREAM_FILL,
                "receiver": RECEIVER_FILL,
                "done": DONE_FILL,
                "pending": PENDING_FILL,
                "edge": EDGE_COLOUR,
                "edgeDefault": EDGE_DEFAULT,
            },
            "minZoom": MIN_TEXT_PX / (FONT_SIZE * PX_PER_PT),
        }
        caption = html.escape(self.captions[0])
        last = len(self.captions) - 1
        return _PLAYER.format(
            id=element_id,
            last=last,
            caption=caption,
            key=_key_html(),
            svg=_clean_svg(svg, f"{element_id}-"),
            data=_script_json(data),
            script=_PLAYER_SCRIPT.replace("ROOT_ID", element_id),
        )

    def to_html(
        self, title: str = "chaingrad: backprop step by step", element_id: str | None = None
    ) -> str:
        """One self-contained HTML page (inline SVG and JavaScript, no network access)."""
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n</head>\n<body>\n"
            f'<h1 style="font-family: Helvetica, Arial, sans-serif; font-size: 18px">'
            f"{html.escape(title)}</h1>\n{self.html_fragment(element_id)}\n</body>\n</html>\n"
        )

    def _repr_html_(self) -> str:
        return self.html_fragment()

    # --- files ----------------------------------------------------------------

    def save(
        self,
        path: str | os.PathLike[str],
        duration_ms: int = 1500,
        width: float | None = DEFAULT_WIDTH,
    ) -> Path:
        """Write ``.html`` (interactive) or ``.gif`` (animated), chosen by the extension.

        The file is replaced atomically (a failure leaves the old one); through
        a symlink, its target is written.
        """
        suffix = Path(path).suffix.lower()
        if suffix in (".html", ".htm"):
            data = self.to_html().encode("utf-8")
        elif suffix == ".gif":
            data = self.gif_bytes(duration_ms, width)
        else:
            raise ValueError(
                f"step-through: cannot tell the format of {str(path)!r}; use .html or .gif"
            )
        return write_atomic(path, data)


class GifImage:
    """GIF bytes that show themselves in a notebook, also in exported HTML.

    ``IPython.display.Image(format="gif")`` is not shown by nbconvert's HTML;
    an ``<img>`` with the GIF inline is shown everywhere, at most 100% wide.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        encoded = base64.b64encode(self.data).decode("ascii")
        return {
            "text/html": (
                f'<img src="data:image/gif;base64,{encoded}" '
                'alt="backprop step by step (animated)" style="max-width: 100%">'
            ),
            "image/gif": encoded,
            "text/plain": f"<animated GIF, {len(self.data):,} bytes>",
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the GIF to ``path`` (atomically; through a symlink, its target)."""
        return write_atomic(path, self.data)


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


# --- GIF helpers ----------------------------------------------------------------

_FONT_FILES = (
    "DejaVuSans.ttf",
    "LiberationSans-Regular.ttf",
    "Arial.ttf",
    "arial.ttf",
    "/System/Library/Fonts/Helvetica.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
)
_ASCII = str.maketrans(
    {"\N{MINUS SIGN}": "-", DOT: "*", "²": "^2", "³": "^3", "≤": "<=", "…": "...", "⁻": "^-"}
)


def _caption_font() -> tuple[Any, bool]:
    """A TrueType font with the caption's symbols (− · ²), else Pillow's own (ASCII only)."""
    from PIL import ImageFont

    for name in _FONT_FILES:
        try:
            return ImageFont.truetype(name, 15), False
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=15), True
    except TypeError:  # Pillow < 10.1 has one fixed bitmap font
        return ImageFont.load_default(), True


def _wrap(caption: str, width: int, ascii_only: bool) -> list[str]:
    if ascii_only:
        caption = caption.translate(_ASCII)
    columns = max(40, (width - 20) // 8)  # ~8 px per character at 15 px
    lines = []
    for paragraph in caption.split("\n"):
        lines.extend(textwrap.wrap(paragraph, columns, subsequent_indent="    ") or [""])
    return lines


class _GifWriter:
    """An animated GIF written frame by frame: only the current frame is in memory.

    Pillow encodes each frame (a single-image GIF); its palette and image data
    are copied into this file as a local colour table and image block, after a
    graphic control block giving the delay. Frames may be a changed region only.
    """

    def __init__(self, out: BinaryIO, size: tuple[int, int], duration_ms: int) -> None:
        self.out = out
        self.size = size
        self.delay = max(1, round(duration_ms / 10))  # GIF delays are in 1/100 s
        width, height = size
        out.write(b"GIF89a" + _u16(width) + _u16(height) + b"\x00\x00\x00")
        # NETSCAPE2.0: loop forever
        out.write(b"!\xff\x0bNETSCAPE2.0\x03\x01" + _u16(0) + b"\x00")

    def frame(self, image: Any, offset: tuple[int, int]) -> None:
        from PIL import Image

        encoded = io.BytesIO()
        image.convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(
            encoded, format="GIF", interlace=False
        )
        data = encoded.getvalue()
        packed = data[10]
        position = 13
        table = b""
        bits = 0
        if packed & 0x80:
            bits = packed & 0x07
            size = 3 * (2 ** (bits + 1))
            table = data[position : position + size]
            position += size
        while data[position] == 0x21:  # skip extension blocks
            position += 2
            while data[position]:
                position += data[position] + 1
            position += 1
        if data[position] != 0x2C:
            raise RuntimeError("unexpected GIF data from Pillow")
        descriptor = data[position : position + 10]
        position += 10
        if descriptor[9] & 0x80:  # a local table of its own
            bits = descriptor[9] & 0x07
            size = 3 * (2 ** (bits + 1))
            table = data[position : position + size]
            position += size
        start = position
        position += 1  # LZW minimum code size
        while data[position]:
            position += data[position] + 1
        position += 1
        # graphic control: disposal 1 (keep), delay; then the image with a local table
        self.out.write(b"!\xf9\x04\x04" + _u16(self.delay) + b"\x00\x00")
        self.out.write(
            b","
            + _u16(offset[0])
            + _u16(offset[1])
            + _u16(image.width)
            + _u16(image.height)
            + bytes([0x80 | (descriptor[9] & 0x40) | bits])  # local table, interlace as encoded
            + table
            + data[start:position]
        )

    def close(self) -> None:
        self.out.write(b";")


def _u16(value: int) -> bytes:
    return value.to_bytes(2, "little")


# --- the player's page parts -------------------------------------------------------


def _key_html() -> str:
    states = [
        (UPSTREAM_FILL, "#9a3412", "gradient flows from"),
        (RECEIVER_FILL, "#a16207", "gradient flows into"),
        (DONE_FILL, "#15803d", "gradient final"),
        (PENDING_FILL, "#6b7280", "not final yet (? = none so far)"),
    ]
    parts = [
        f'<span class="cg-sw" style="background:{fill};border-color:{border}"></span>{text}'
        for fill, border, text in states
    ]
    parts.append(
        f'<span class="cg-edge" style="border-color:{EDGE_COLOUR}"></span>edge of this step'
    )
    kinds = []
    for kind in ("output", "parameter", "input", "constant", "intermediate"):
        _fill, border, style, width = KIND_STYLES[kind]
        dashed = "dashed" if "dashed" in style else "solid"
        kinds.append(
            f'<span class="cg-sw" style="border:{max(1.0, float(width)):g}px {dashed} {border}">'
            f"</span>{kind}"
        )
    return (
        '<span class="cg-key-group">' + " ".join(f"<span>{p}</span>" for p in parts) + "</span>"
        '<span class="cg-key-group">borders: '
        + " ".join(f"<span>{k}</span>" for k in kinds)
        + "</span>"
    )


_PLAYER = """<div class="cg-step-through" id="{id}" data-current="0" tabindex="0">
<style>
#{id} {{ font-family: Helvetica, Arial, sans-serif; font-size: 13px; color: #111827;
  max-width: 100%; outline: none; }}
#{id} .cg-controls {{ display: flex; flex-wrap: wrap; gap: 4px; align-items: center;
  margin: 4px 0; }}
#{id} button {{ font: inherit; padding: 2px 8px; border: 1px solid #d1d5db; border-radius: 4px;
  background: #f9fafb; cursor: pointer; }}
#{id} button:hover {{ background: #eef2ff; }}
#{id} .cg-slider {{ flex: 1 1 160px; min-width: 120px; }}
#{id} .cg-caption {{ font-family: Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 13px; background: #f9fafb; border: 1px solid #e5e7eb; padding: 6px 8px;
  margin: 4px 0; white-space: pre-wrap; min-height: 3em; }}
#{id} .cg-key {{ display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px;
  color: #374151; margin: 4px 0; }}
#{id} .cg-key span {{ white-space: nowrap; }}
#{id} .cg-sw {{ display: inline-block; width: 14px; height: 10px; border: 1px solid;
  border-radius: 3px; margin-right: 4px; vertical-align: middle; }}
#{id} .cg-edge {{ display: inline-block; width: 18px; border-top: 3px solid;
  margin-right: 4px; vertical-align: middle; }}
#{id} .cg-view {{ overflow: auto; max-height: 75vh; border: 1px solid #e5e7eb;
  border-radius: 4px; cursor: grab; background: #fff; }}
#{id} .cg-view.cg-dragging {{ cursor: grabbing; user-select: none; }}
#{id} .cg-view svg {{ display: block; }}
#{id} .cg-steps {{ font-family: Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 12px; max-height: 14em; overflow: auto; margin: 4px 0; padding-left: 3.5em; }}
#{id} .cg-steps li {{ cursor: pointer; padding: 1px 4px; white-space: pre-wrap; }}
#{id} .cg-steps li:hover {{ background: #eef2ff; }}
#{id} .cg-steps li.cg-current {{ background: #fef9c3; font-weight: bold; }}
</style>
<div class="cg-controls">
<button type="button" class="cg-first" title="first step (Home)">&#x25C0;&#x25C0;</button>
<button type="button" class="cg-prev" title="previous step (left arrow)">&#x25C0; back</button>
<button type="button" class="cg-play" title="play / pause (space)">play</button>
<button type="button" class="cg-next" title="next step (right arrow)">forward &#x25B6;</button>
<button type="button" class="cg-last" title="last step (End)">&#x25B6;&#x25B6;</button>
<input type="range" class="cg-slider" min="0" max="{last}" value="0" step="1" aria-label="step">
<span class="cg-counter">step 0 of {last}</span>
<span style="flex: 0 0 12px"></span>
<button type="button" class="cg-zoom-out" title="zoom out (-)">&minus;</button>
<button type="button" class="cg-zoom-in" title="zoom in (+)">+</button>
<button type="button" class="cg-fit" title="fit the width (0)">fit</button>
<span class="cg-zoom">100%</span>
</div>
<div class="cg-caption">{caption}</div>
<div class="cg-key">{key}</div>
<div class="cg-view">{svg}</div>
<details class="cg-list" open><summary>all steps (click one to go there)</summary>
<ol class="cg-steps" start="0"></ol></details>
<script>
(function () {{
var data = {data};
{script}
}})();
</script>
</div>"""

# The player: one SVG; each step recolours nodes and the edge and rewrites the
# gradient texts. State of step k is rebuilt from the step list (O(steps)).
_PLAYER_SCRIPT = r"""
var root = document.getElementById("ROOT_ID");
var view = root.querySelector(".cg-view");
var svg = view.querySelector("svg");
var captions = data.captions, steps = data.steps, last = captions.length - 1;
var C = data.colours;
var slider = root.querySelector(".cg-slider");
var counter = root.querySelector(".cg-counter");
var caption = root.querySelector(".cg-caption");
var list = root.querySelector(".cg-steps");
var zoomLabel = root.querySelector(".cg-zoom");
var prefix = "ROOT_ID-";
var nodes = [], current = 0, timer = null, highlighted = null;
for (var i = 0; i < data.finish.length; i++) {
  var g = document.getElementById(prefix + "n" + i);
  var shape = g ? g.querySelector("path, polygon") : null;
  var texts = g ? g.querySelectorAll("text") : [];
  nodes.push({group: g, shape: shape, grad: texts.length ? texts[texts.length - 1] : null});
}
function edge(node, slot) {
  var g = document.getElementById(prefix + "e" + node + "_" + slot);
  return g ? {path: g.querySelector("path"), head: g.querySelector("polygon")} : null;
}
function paint(e, colour, width) {
  if (!e) { return; }
  if (e.path) { e.path.setAttribute("stroke", colour); e.path.setAttribute("stroke-width", width); }
  if (e.head) { e.head.setAttribute("stroke", colour); e.head.setAttribute("fill", colour); }
}
var items = [];
for (var k = 0; k <= last; k++) {
  var li = document.createElement("li");
  li.textContent = captions[k].replace(/^step \d+ of \d+: /, "");
  li.title = captions[k];
  li.setAttribute("data-step", String(k));
  li.addEventListener("click", (function (k) { return function () { stop(); show(k); }; })(k));
  list.appendChild(li);
  items.push(li);
}
function show(k) {
  k = Math.max(0, Math.min(last, k | 0));
  var grads = [];
  for (var i = 0; i < nodes.length; i++) { grads.push(i === data.root ? "1" : "?"); }
  for (var s = 0; s < k; s++) { grads[steps[s][1]] = steps[s][3]; }
  var step = k > 0 ? steps[k - 1] : null;
  for (var i = 0; i < nodes.length; i++) {
    var n = nodes[i];
    if (!n.group) { continue; }
    var fill = data.finish[i] <= k ? C.done : C.pending;
    if (step && i === step[0]) { fill = C.upstream; }
    if ((step && i === step[1]) || (!step && i === data.root)) { fill = C.receiver; }
    if (n.shape) { n.shape.setAttribute("fill", fill); }
    if (n.grad) { n.grad.textContent = "grad " + grads[i]; }
  }
  if (highlighted) { paint(highlighted, C.edgeDefault, "1"); highlighted = null; }
  if (step) { highlighted = edge(step[0], step[2]); paint(highlighted, C.edge, "3"); }
  if (items[current]) { items[current].className = ""; }
  items[k].className = "cg-current";
  if (list.scrollHeight > list.clientHeight) {
    list.scrollTop = items[k].offsetTop - list.offsetTop - list.clientHeight / 2;
  }
  current = k;
  slider.value = String(k);
  counter.textContent = "step " + k + " of " + last;
  caption.textContent = captions[k];
  root.setAttribute("data-current", String(k));
  var focus = step ? nodes[step[1]] : nodes[data.root];
  if (focus && focus.group) { reveal(focus.group); }
}
// --- zoom and pan ---
var natural = svg.width.baseVal.value, naturalHeight = svg.height.baseVal.value;
var zoom = 1;
function setZoom(z) {
  zoom = Math.max(0.1, Math.min(4, z));
  svg.style.width = (natural * zoom) + "px";
  svg.style.height = (naturalHeight * zoom) + "px";
  zoomLabel.textContent = Math.round(zoom * 100) + "%";
}
function fit() {
  var room = view.clientWidth - 2;
  setZoom(room > 0 && natural > room ? Math.max(data.minZoom, room / natural) : 1);
}
function reveal(el) {
  var box = el.getBoundingClientRect(), frame = view.getBoundingClientRect();
  if (box.left < frame.left || box.right > frame.right) {
    view.scrollLeft += (box.left + box.right) / 2 - (frame.left + frame.right) / 2;
  }
  if (box.top < frame.top || box.bottom > frame.bottom) {
    view.scrollTop += (box.top + box.bottom) / 2 - (frame.top + frame.bottom) / 2;
  }
}
var drag = null;
view.addEventListener("pointerdown", function (e) {
  drag = {x: e.clientX, y: e.clientY, left: view.scrollLeft, top: view.scrollTop};
  view.classList.add("cg-dragging");
});
window.addEventListener("pointermove", function (e) {
  if (!drag) { return; }
  view.scrollLeft = drag.left - (e.clientX - drag.x);
  view.scrollTop = drag.top - (e.clientY - drag.y);
});
window.addEventListener("pointerup", function () {
  drag = null;
  view.classList.remove("cg-dragging");
});
view.addEventListener("wheel", function (e) {
  if (!(e.ctrlKey || e.metaKey)) { return; }
  e.preventDefault();
  setZoom(zoom * (e.deltaY < 0 ? 1.1 : 1 / 1.1));
}, {passive: false});
// --- controls ---
function stop() {
  if (timer) { clearInterval(timer); timer = null; }
  root.querySelector(".cg-play").textContent = "play";
}
function play() {
  if (timer) { stop(); return; }
  if (current >= last) { show(0); }
  root.querySelector(".cg-play").textContent = "pause";
  timer = setInterval(function () {
    if (current >= last) { stop(); } else { show(current + 1); }
  }, 1200);
}
function on(cls, f) { root.querySelector(cls).addEventListener("click", f); }
on(".cg-first", function () { stop(); show(0); });
on(".cg-prev", function () { stop(); show(current - 1); });
on(".cg-next", function () { stop(); show(current + 1); });
on(".cg-last", function () { stop(); show(last); });
on(".cg-play", play);
on(".cg-zoom-in", function () { setZoom(zoom * 1.25); });
on(".cg-zoom-out", function () { setZoom(zoom / 1.25); });
on(".cg-fit", fit);
slider.addEventListener("input", function () { stop(); show(parseInt(slider.value, 10)); });
root.addEventListener("keydown", function (e) {
  var keys = {ArrowRight: 1, ArrowLeft: -1};
  if (e.key in keys) { stop(); show(current + keys[e.key]); }
  else if (e.key === "Home") { stop(); show(0); }
  else if (e.key === "End") { stop(); show(last); }
  else if (e.key === "+" || e.key === "=") { setZoom(zoom * 1.25); }
  else if (e.key === "-") { setZoom(zoom / 1.25); }
  else if (e.key === "0") { fit(); }
  else if (e.key === " ") { play(); }
  else { return; }
  e.preventDefault();
});
svg.removeAttribute("width");
svg.removeAttribute("height");
fit();
// A link such as file.html#step=3 opens at that step.
var match = /(?:^#|&)step=(\d+)/.exec(window.location.hash || "");
show(match ? parseInt(match[1], 10) : 0);
"""
