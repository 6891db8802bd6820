"""Measure the pictures a notebook outputs as a learner sees them in a ~1,100 px column.

JupyterLab (and nbconvert's HTML) show an image at its natural size, scaled down to
the column width when it is wider (``max-width: 100%``), and so does the inline
step-through player. So for every picture this module finds its natural width in
CSS pixels and the height of its smallest text as shown:

* **SVG** (``draw_dot``, a displayed ``Value``, a player frame inside HTML): the
  ``width`` attribute gives the natural width (``pt`` is 4/3 px), the ``viewBox``
  how many pixels one user unit is, and every ``<text>`` its ``font-size`` in user
  units (times the ``scale`` of the groups around it). Shown size =
  font-size x px per unit x min(1, column / natural width).
* **matplotlib figures**: a probe installed in the kernel (:data:`PROBE`) adds the
  font sizes of every visible text of the figure (in points) and its dpi to the
  display data; a point is dpi/72 pixels in the PNG, which is shown 1:1 unless it
  is wider than the column.
* **Other PNG and GIF images** (the step-through GIF): natural width only. The
  GIF's frames are Graphviz PNGs at 96 dpi, the same 4/3 px per point as the SVG
  frames, so when the GIF fits the column its text is as large as theirs.
"""

from __future__ import annotations

import base64
import html.entities
import math
import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from tests.helpers import PX_PER_UNIT, length_px

COLUMN_PX = 1100  # JupyterLab's output column at a normal window size
MIN_TEXT_PX = 10.0
FIGURE_MIME = "application/vnd.chaingrad.figure-text+json"

# Run first in the kernel: every displayed matplotlib figure also reports its texts.
PROBE = f"""
def _chaingrad_measure_figures():
    shell = get_ipython()
    plain_format = shell.display_formatter.format

    def format(obj, include=None, exclude=None):
        data, metadata = plain_format(obj, include=include, exclude=exclude)
        if type(obj).__module__ == "matplotlib.figure" and "image/png" in data:
            from matplotlib.text import Text

            obj.draw_without_rendering()  # makes the tick labels
            texts = [
                (t.get_fontsize(), t.get_text())
                for t in obj.findobj(Text)
                if t.get_visible() and t.get_text().strip()
            ]
            data["{FIGURE_MIME}"] = {{"dpi": obj.dpi, "texts": texts}}
        return data, metadata

    shell.display_formatter.format = format


_chaingrad_measure_figures()
del _chaingrad_measure_figures
"""

_SCALE = re.compile(r"scale\(\s*([-+\d.eE]+)(?:[\s,]+([-+\d.eE]+))?\s*\)")
_MATRIX = re.compile(r"matrix\(\s*" + r"[\s,]*".join([r"([-+\d.eE]+)"] * 6) + r"\s*\)")
_FONT_SIZE_STYLE = re.compile(r"font-size\s*:\s*([-+\d.eE]+)\s*(px|pt)?")
_SVG_IN_HTML = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}


@dataclass(frozen=True)
class Drawing:
    """One picture of a notebook output, measured."""

    kind: str  # "svg", "svg in html", "matplotlib figure", "png", "gif"
    width_px: float  # natural width in CSS pixels
    text_px: float | None  # smallest text as shown, None when it cannot be measured
    smallest_text: str = ""

    def problems(self) -> list[str]:
        found = []
        if self.width_px > COLUMN_PX:
            found.append(f"{self.width_px:.0f} px wide, wider than the {COLUMN_PX} px column")
        if self.text_px is not None and self.text_px < MIN_TEXT_PX:
            found.append(
                f"text {self.smallest_text!r} is {self.text_px:.1f} px tall as shown "
                f"(at least {MIN_TEXT_PX:.0f} px needed)"
            )
        return found


def _vertical_scale(transform: str | None) -> float:
    """How much a ``transform`` attribute scales text height."""
    if not transform:
        return 1.0
    factor = 1.0
    for match in _SCALE.finditer(transform):
        sx = float(match.group(1))
        factor *= abs(float(match.group(2)) if match.group(2) else sx)
    for match in _MATRIX.finditer(transform):
        _, _, c, d, _, _ = (float(g) for g in match.groups())
        factor *= math.hypot(c, d)
    return factor


def _font_size(element: ET.Element) -> float | None:
    """font-size of an element in user units, if it sets one."""
    match = _FONT_SIZE_STYLE.search(element.get("style", ""))
    if match:
        return float(match.group(1)) * (PX_PER_UNIT["pt"] if match.group(2) == "pt" else 1.0)
    size = element.get("font-size")
    if size is None:
        return None
    return length_px(size)


def _parse_svg(svg: str) -> ET.Element:
    svg = svg[svg.find("<svg") :]  # no XML prolog or DOCTYPE

    def entity(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in _XML_ENTITIES or name not in html.entities.name2codepoint:
            return match.group(0)
        return f"&#{html.entities.name2codepoint[name]};"

    svg = re.sub(r"&(\w+);", entity, svg)
    # Prefixed attributes (xlink:title, xmlns:xlink) say nothing about size, and inline
    # SVG in HTML may use a prefix it never declares, which XML refuses.
    svg = re.sub(r"\s[\w-]+:[\w-]+=(\"[^\"]*\"|'[^']*')", "", svg)
    return ET.fromstring(svg)


def measure_svg(svg: str, kind: str = "svg") -> Drawing:
    """Natural width and smallest shown text of one SVG document."""
    root = _parse_svg(svg)
    width = length_px(root.get("width"))
    view_box = root.get("viewBox")
    view_width = float(view_box.replace(",", " ").split()[2]) if view_box else None
    if width is None:  # width="100%", or no width: it fills the column
        width = float(COLUMN_PX)
    unit_px = width / view_width if view_width else 1.0
    shown = min(1.0, COLUMN_PX / width) if width else 1.0

    smallest: tuple[float, str] | None = None
    # Walk the tree with each element's inherited font size and scale (no recursion).
    stack: list[tuple[ET.Element, float, float]] = [(root, 16.0, 1.0)]
    while stack:
        element, inherited_size, scale = stack.pop()
        size = _font_size(element) or inherited_size
        scale *= _vertical_scale(element.get("transform"))
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "text":
            content = "".join(element.itertext()).strip()
            if content:
                px = size * scale * unit_px * shown
                if smallest is None or px < smallest[0]:
                    smallest = (px, content)
        stack.extend((child, size, scale) for child in element)
    if smallest is None:
        return Drawing(kind, width, None)
    return Drawing(kind, width, smallest[0], smallest[1])


def image_width(data: bytes, mime: str) -> int:
    """Pixel width from a PNG or GIF header."""
    if mime == "image/png":
        if data[:8] != b"\x89PNG\r\n\x1a\n":
            raise ValueError("not a PNG")
        return struct.unpack(">I", data[16:20])[0]
    if mime == "image/gif":
        if data[:3] != b"GIF":
            raise ValueError("not a GIF")
        return struct.unpack("<H", data[6:8])[0]
    raise ValueError(f"no width reader for {mime}")


def drawings_in_output(output: Any) -> list[Drawing]:
    """Every picture in one notebook output (display_data or execute_result)."""
    data = output.get("data", {})
    metadata = output.get("metadata", {})
    found = []
    if "image/svg+xml" in data:
        found.append(measure_svg(data["image/svg+xml"]))
    elif "text/html" in data:
        found.extend(measure_svg(s, "svg in html") for s in _SVG_IN_HTML.findall(data["text/html"]))
    for mime in ("image/png", "image/gif"):
        if mime not in data:
            continue
        width = float(image_width(base64.b64decode(data[mime]), mime))
        shown_width = metadata.get(mime, {}).get("width") or width  # retina images say so
        figure = data.get(FIGURE_MIME)
        if mime == "image/png" and figure and figure["texts"]:
            size_pt, text = min(figure["texts"])
            px_per_pt = figure["dpi"] / 72 * (shown_width / width)
            px = size_pt * px_per_pt * min(1.0, COLUMN_PX / shown_width)
            found.append(Drawing("matplotlib figure", shown_width, px, text))
        else:
            found.append(Drawing(mime.split("/")[1], shown_width, None))
    return found
