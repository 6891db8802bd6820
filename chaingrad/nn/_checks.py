"""Argument checks shared across chaingrad.nn, so every message reads the same."""

from __future__ import annotations

from typing import Any


def check_int(value: Any, what: str, minimum: int = 1) -> int:
    """``value`` if it is an int (not a bool) >= ``minimum``, else a ValueError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        wanted = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{what} must be {wanted}, got {value!r}")
    return value
