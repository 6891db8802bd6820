"""How numbers and names are written in a drawing: short numbers, safe labels, DOT quoting.

Everything a box, an edge label or a caption shows goes through these: a
label can hold anything (control characters, ``</script>``, 10,000
characters) and still make valid DOT, SVG and HTML.

>>> format_number(-0.70710678), derivative("x1*w1", "x1"), short_name("layers.0.neurons.1.w.2")
('-0.7071', 'd(x1*w1)/dx1', 'w.2')
"""

from __future__ import annotations

import math
import re
import textwrap
import unicodedata
from typing import Any

TIMES = "\N{MULTIPLICATION SIGN}"  # edge labels read "x local derivative"
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


def short_name(dotted: str) -> str:
    """The name inside its module (see its cluster): the last word and its indices.

    >>> short_name("layers.0.neurons.1.w.2"), short_name("rnn.weight_ih_l0.3.5")
    ('w.2', 'weight_ih_l0.3.5')
    """
    parts = dotted.split(".")
    last_word = max((i for i, part in enumerate(parts) if not part.isdigit()), default=0)
    return ".".join(parts[last_word:])


def wrap_note(text: str, width: int = 100) -> str:
    """A graph title cut into lines (DOT's \\l: left-aligned) so it never widens the picture."""
    return "".join(line + "\\l" for line in textwrap.wrap(text, width))
