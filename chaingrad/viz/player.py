"""The step-through as an interactive HTML player: the page parts and the data its script reads.

The player's HTML template, CSS and JavaScript are files of their own in
``chaingrad/viz/static`` (``player.html``, ``player.css``, ``player.js``),
read with :mod:`importlib.resources` and inlined, so a saved page needs no
network and a notebook output needs no extension. Python fills in the SVG
(laid out once by dot), the captions, the hover texts and the step list.

>>> static_text("player.js").count("function chaingradPlayer(root, data)")
1
>>> print(_script_json({"caption": "</script>"}))   # no label can end the script
{"caption":"\\u003c/script\\u003e"}
"""

from __future__ import annotations

import html
import json
import re
import secrets
import string
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from .layout import EDGE_FONT_SIZE, MIN_TEXT_PX, PX_PER_PT
from .output import pipe
from .style import (
    DONE_FILL,
    EDGE_COLOUR,
    EDGE_DEFAULT,
    KIND_STYLES,
    PENDING_FILL,
    RECEIVER_FILL,
    STEP_KEY,
    UPSTREAM_FILL,
    make_digraph,
)

if TYPE_CHECKING:
    from .stepthrough import StepThrough


@cache
def static_text(name: str) -> str:
    """A file of ``chaingrad/viz/static`` as text (the player's HTML, CSS or JavaScript)."""
    return (resources.files("chaingrad.viz") / "static" / name).read_text(encoding="utf-8")


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


def _key_html() -> str:
    parts = [
        f'<span class="cg-sw" style="background:{fill};border-color:{border}"></span>{text}'
        for fill, border, text in STEP_KEY
    ]
    parts.append(
        f'<span class="cg-edge" style="border-color:{EDGE_COLOUR}"></span>'
        f'<span class="cg-back-arrow" style="color:{EDGE_COLOUR}">&#x25C0;</span>'
        "edge of this step, pointing backward (the gradient's way)"
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


def player_data(steps: StepThrough, follow_address: bool) -> dict[str, Any]:
    """What the player's script reads: the steps, the colours, the hover texts."""
    drawing = steps.drawing
    return {
        "root": len(drawing.order) - 1,
        "steps": [
            [s.node_position, s.parent_position, s.slot, drawing.fmt(s.after)] for s in steps.steps
        ],
        "finish": steps.finish_step,
        "captions": steps.captions,
        "tips": drawing.hover_texts(steps.final_grads),
        "colours": {
            "upstream": UPSTREAM_FILL,
            "receiver": RECEIVER_FILL,
            "done": DONE_FILL,
            "pending": PENDING_FILL,
            "edge": EDGE_COLOUR,
            "edgeDefault": EDGE_DEFAULT,
        },
        # fitting never shrinks the smallest text (edge labels) under MIN_TEXT_PX
        "minZoom": MIN_TEXT_PX / (EDGE_FONT_SIZE * PX_PER_PT),
        "followAddress": follow_address,
    }


def player_html(
    steps: StepThrough, element_id: str | None = None, follow_address: bool = False
) -> str:
    """The player as a ``<div>`` with its style and script inline (a notebook output).

    ``follow_address``: the page's address follows the step (``#step=12``); for a
    page of its own, not for a notebook holding several outputs.
    """
    if element_id is None:
        element_id = f"cg-st-{secrets.token_hex(6)}"
    if not re.fullmatch(r"[A-Za-z][\w-]*", element_id):
        raise ValueError(f"step-through: invalid element id {element_id!r}")
    svg = pipe(
        make_digraph(steps.frame_lines(0), steps.rankdir).source,
        "svg",
        steps.timeout,
        "the step-through",
        "step through a smaller graph",
    ).decode("utf-8")
    data = _script_json(player_data(steps, follow_address))
    script = (
        "(function () {\n"
        + static_text("player.js")
        + f"\nchaingradPlayer(document.getElementById({json.dumps(element_id)}), {data});\n"
        + "})();"
    )
    return string.Template(static_text("player.html")).substitute(
        id=element_id,
        last=len(steps.captions) - 1,
        caption=html.escape(steps.captions[0]),
        key=_key_html(),
        svg=_clean_svg(svg, f"{element_id}-"),
        style=static_text("player.css"),
        script=script,
    )


def player_page(steps: StepThrough, title: str, element_id: str | None = None) -> str:
    """One self-contained HTML page; its address follows the step (``#step=12``)."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n"
        f'<h1 style="font-family: Helvetica, Arial, sans-serif; font-size: 18px">'
        f"{html.escape(title)}</h1>\n{player_html(steps, element_id, True)}\n</body>\n</html>\n"
    )
