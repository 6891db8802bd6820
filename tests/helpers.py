"""Small checks shared by the whole suite: numbers close, one-line errors, snapshots, SVG lengths.

Helpers of one area stay beside its tests (``tests/compiled/helpers.py``,
``tests/viz/helpers.py``, ``tests/nn/torch_oracle.py``); what more than one
area needs lives here, once.
"""

from __future__ import annotations

import math
import re
from typing import Any


def close(a: float, b: float, tol: float = 1e-9, *, floor: float = 1.0) -> bool:
    """``a`` and ``b`` agree to ``tol`` relative to ``max(floor, |a|, |b|)``; two nans agree.

    With the default ``floor=1`` numbers below 1 are compared absolutely (to
    ``tol``), larger ones relatively. A smaller floor compares small numbers
    relatively too, down to an absolute ``tol * floor``.
    """
    if a != a or b != b:
        return a != a and b != b
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= tol * max(floor, abs(a), abs(b))


def one_line(error: BaseException) -> str:
    """The error's message, asserted to be one non-empty line."""
    text = str(error)
    assert "\n" not in text and text, text
    return text


def snapshot(model: Any) -> list[float]:
    """Every parameter's number, in order: to show a model was left unchanged."""
    return [p.data for p in model.parameters()]


# CSS and SVG length units, in px (96 px to the inch).
PX_PER_UNIT = {"": 1.0, "px": 1.0, "pt": 4 / 3, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54}
_LENGTH = re.compile(r"\s*([-+\d.eE]+)\s*(px|pt|pc|in|cm|%)?\s*$")


def length_px(text: str | None) -> float | None:
    """A CSS or SVG length in px (``"12pt"`` -> 16.0); None for a missing or percentage length."""
    if text is None:
        return None
    match = _LENGTH.match(text)
    if match is None or match.group(2) == "%":
        return None
    return float(match.group(1)) * PX_PER_UNIT[match.group(2) or ""]
