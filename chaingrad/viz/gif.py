"""The step-through as an animated GIF: each frame's graph, its caption and the colour key.

Frames are streamed: dot renders a few at a time, and only the current frame
is in memory, so a GIF of hundreds of steps takes the memory of one frame.
Only the region that changed is stored per frame (the layout never moves).

>>> GifImage(b"GIF89a...")._repr_mimebundle_()["text/plain"]
'<animated GIF, 9 bytes>'
"""

from __future__ import annotations

import base64
import io
import os
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .graph import check_width
from .layout import FONT_SIZE, MIN_TEXT_PX, PX_PER_PT
from .output import write_atomic
from .rules import DOT
from .style import EDGE_COLOUR, STEP_KEY

if TYPE_CHECKING:
    from .stepthrough import StepThrough

MAX_GIF_PIXELS = 12_000_000  # per frame (~36 MB as RGB); bigger is refused (use the player)


def write_gif(steps: StepThrough, out: BinaryIO, duration_ms: int, width: float | None) -> None:
    try:
        from PIL import Image, ImageChops, ImageDraw
    except ImportError:
        raise ImportError(
            "GIF export needs Pillow: pip install pillow (or 'chaingrad[notebook]')"
        ) from None
    if isinstance(duration_ms, bool) or not isinstance(duration_ms, int) or duration_ms <= 0:
        raise ValueError(f"step-through: duration_ms must be a positive int, got {duration_ms!r}")
    limit = check_width(width, "step-through")
    font, ascii_only = _caption_font()
    writer: _GifWriter | None = None
    previous = None
    for k, png in enumerate(steps.rendered("png")):
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
            wrapped = [_wrap(c, canvas_width, ascii_only) for c in steps.captions]
            key = _key_rows(ImageDraw.Draw(Image.new("RGB", (1, 1))), font, canvas_width)
            caption_band = 12 + 20 * max(len(lines) for lines in wrapped)
            band = caption_band + KEY_ROW * len(key) + 6
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
        _draw_key(draw, font, key, size[1] + caption_band)
        # Only the part that changed is stored: the layout never moves.
        box = (0, 0, *canvas.size)
        if previous is not None:
            box = ImageChops.difference(previous, canvas).getbbox() or (0, 0, 1, 1)
        writer.frame(canvas.crop(box), box[:2])
        previous = canvas
    assert writer is not None
    writer.close()


KEY_ROW = 22  # px per row of the colour key under the caption
KEY_GAP = 18  # px between its entries


def _key_entries() -> list[tuple[str, str, str]]:
    """(fill, border, text) of each entry of the key; an empty fill is the edge's line."""
    entries = [(fill, border, text) for fill, border, text in STEP_KEY]
    entries.append(("", EDGE_COLOUR, "edge of this step, arrow pointing backward"))
    return entries


def _key_rows(draw: Any, font: Any, width: int) -> list[list[tuple[str, str, str, float]]]:
    """The key's entries placed in rows that fit ``width`` px: (fill, border, text, x)."""
    rows: list[list[tuple[str, str, str, float]]] = [[]]
    x = 10.0
    for fill, border, text in _key_entries():
        entry = 30 + draw.textlength(text, font=font)
        if rows[-1] and x + entry > width - 10:
            rows.append([])
            x = 10.0
        rows[-1].append((fill, border, text, x))
        x += entry + KEY_GAP
    return rows


def _draw_key(
    draw: Any, font: Any, rows: list[list[tuple[str, str, str, float]]], top: int
) -> None:
    """The colour key: what each fill of a frame means, and the backward edge."""
    for r, row in enumerate(rows):
        y = top + r * KEY_ROW
        for fill, border, text, x in row:
            if fill:
                draw.rounded_rectangle((x, y + 4, x + 22, y + 16), 3, fill=fill, outline=border)
            else:  # the step's edge: a thick line with its arrowhead at the receiving end
                draw.line((x + 6, y + 10, x + 24, y + 10), fill=border, width=3)
                draw.polygon([(x, y + 10), (x + 8, y + 5), (x + 8, y + 15)], fill=border)
            draw.text((x + 28, y + 2), text, fill="#374151", font=font)


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
