"""StepThrough: the backward pass drawn step by step on one fixed layout.

Each frame colours the node whose gradient flows back, the parent receiving
it, and the edge between them, drawn pointing backward (from the node to the
parent), and shows the gradients known so far. The frames are shown as a
player (:mod:`chaingrad.viz.player`: one inline SVG a small script recolours,
so kilobytes, not one picture per step), an animated GIF
(:mod:`chaingrad.viz.gif`), or one at a time (``frame(k)``).

Both ``StepThrough`` and the steps it draws refuse graphs above
``max_steps`` before doing any work.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from chaingrad.engine import Value

from .drawing import GraphDrawing
from .gif import GifImage, write_gif
from .graph import DEFAULT_WIDTH, check_rankdir, check_width, dot_width
from .layout import fit_rankdir
from .output import check_timeout, pipe, write_atomic
from .player import player_html, player_page
from .steps import caption_of, check_max_steps, iter_steps
from .style import DONE_FILL, EDGE_COLOUR, RECEIVER_FILL, UPSTREAM_FILL, make_digraph
from .summary import MAX_LAYOUT_NODES
from .text import derivative

DEFAULT_MAX_STEPS = 300  # a player: more steps than anyone clicks through
STEP_HINT = "step through a smaller graph"
FRAMES_PER_DOT_RUN = 8  # GIF frames rendered per dot process (bounded output held)

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
    step 1 of 3: grad(x*w) += dv3/d(x*w) · grad(v3) = 0.07065 · 1 = 0.07065,
    so grad(x*w) = 0 + 0.07065 = 0.07065 (final, #2)
    where dv3/d(x*w) = d tanh(x*w)/d(x*w) = 1 − tanh(x*w)² = 1 − (−0.964)² = 0.07065
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
                drawing.layout_model(edge_labels=True),
                self.width,
                True,
                lambda d: dot_width(self.frame_lines(len(self.steps)), d, self.timeout),
            )
        self.rankdir = rankdir

    def __len__(self) -> int:
        return len(self.captions)

    # --- frames -----------------------------------------------------------------

    def _state(self, k: int) -> tuple[dict[int, str], dict[tuple[int, int], str]]:
        """Fills and the coloured edge of frame ``k`` (drawn pointing backward)."""
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
        backward = next(((i, slot, colour) for (i, slot), colour in edges.items()), None)
        return self.drawing.body(
            edge_labels=True,
            grads=grads,
            unknown_grad=True,
            grad_widths=self._grad_widths,
            plain_fill=True,
            highlight_nodes=fills,
            backward_edge=backward,
            tooltips=False,  # the player shows its own hover texts; a GIF shows none
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
            self.frame_lines(k),
            self.rankdir,
            timeout=self.timeout,
            width=self.width,
            hint=STEP_HINT,
        )

    def frame_source(self, k: int) -> str:
        """DOT text of frame ``k``."""
        return str(self.frame(k).source)

    def rendered(self, fmt: str) -> Iterator[bytes]:
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
        return [part.decode("utf-8") for part in self.rendered("svg")]

    # --- GIF ------------------------------------------------------------------

    def gif_bytes(self, duration_ms: int = 1500, width: float | None = DEFAULT_WIDTH) -> bytes:
        """An animated GIF: each frame's graph with its chain-rule caption underneath.

        Frames are streamed (one in memory at a time) and drawn at most
        ``width`` px wide (a notebook column; None: as dot draws them); a graph
        whose text would then be smaller than 10 px is refused with a pointer
        to the HTML player, which zooms.
        """
        buffer = io.BytesIO()
        write_gif(self, buffer, duration_ms, width)
        return buffer.getvalue()

    def gif(self, duration_ms: int = 1500, width: float | None = DEFAULT_WIDTH) -> GifImage:
        """The animated GIF as a notebook output (an ``<img>``: JupyterLab and HTML exports).

        >>> from chaingrad import Value
        >>> StepThrough(Value(2.0, label="x").tanh()).gif(800)    # doctest: +SKIP
        """
        return GifImage(self.gif_bytes(duration_ms, width))

    # --- the HTML player --------------------------------------------------------

    def html_fragment(self, element_id: str | None = None) -> str:
        """A ``<div>`` + inline ``<script>`` player (for notebooks, or inside a page).

        Each call gets element ids of its own (random unless ``element_id`` is
        given), so any number of players work in one page.
        """
        return player_html(self, element_id)

    def to_html(
        self, title: str = "chaingrad: backprop step by step", element_id: str | None = None
    ) -> str:
        """One self-contained HTML page (inline SVG and JavaScript, no network access);
        its address follows the step shown (``page.html#step=12`` opens step 12)."""
        return player_page(self, title, element_id)

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
