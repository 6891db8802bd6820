"""Hold every number a notebook's prose quotes against what its code prints.

A **figure** is a number in a markdown cell that a run of the code could change:

* a decimal number: digits, a point, digits (``0.54``, ``14.003``, ``-1.4999999999999993``);
  version numbers such as ``0.1.0`` are not figures;
* a percentage (``97%``, ``99.5 %``, ``40\\%`` in LaTeX);
* a count of steps or epochs (``30 steps``, ``1,000 steps``, ``20 epochs``).

Other integers ("notebook 2", "16 units") are not figures. The prose is every markdown
cell outside its fenced code blocks (inline code spans and LaTeX included), plus the
``#`` comments of the Python blocks of folded solutions (they say what the solution
prints).

A figure is **accounted for** when at least one of these holds:

1. **An output prints it.** Some executed output of the notebook (printed text, a
   value's repr, the visible text of an HTML or SVG output, the texts of a matplotlib
   figure, the solutions' outputs included) contains the same number, or a more precise
   one that rounds to it: ``0.5412`` accounts for ``0.54``, ``96.7%`` for ``97%`` (a
   percentage only by a printed percentage: print accuracies with ``:.0%``). Signs are
   ignored (prose writes -1.5 as $-1.5$ or "minus").
2. **The code has it as a literal.** A setting (``lr=0.05``, ``Dropout(0.2)``,
   ``test_size=0.4`` for "40%", ``steps=40`` for "40 steps") or a number an ``assert``
   checks: ``assert abs(history.loss[-1] - 0.54) < 0.01`` accounts for "settles at
   0.54". An assert is the way to quote a figure that no cell prints at that precision.
3. **The cell says it is not from the run**, in an HTML comment (invisible once
   rendered) listing such figures: ``<!-- fixed: 0.5 0.7071 -->``. Use it for exact
   arithmetic, definitions and facts (``0.1 + 0.2``, a derivative worked by hand),
   never for a result of training. A listed figure that the cell does not contain is
   an error as well (a stale list).

:func:`unaccounted_figures` returns one line per figure that is none of these.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

FENCED = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
FIXED = re.compile(r"<!--\s*fixed:(.*?)-->", re.S)

# A decimal that is not part of a longer dotted run (0.1.0) or of a word (x1.5, v2.0);
# a speed ratio (2.27x) counts.
DECIMAL = r"(?<![\w.])\d+\.\d+(?![^\Wx]|x\w|\.\d)"
PERCENT = r"(?<![\w.])(\d+(?:\.\d+)?)\s?\\?%"
COUNT = r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)\s+(steps?|epochs?)\b"
FIGURE = re.compile(rf"(?P<percent>{PERCENT})|(?P<count>{COUNT})|(?P<decimal>{DECIMAL})")

# Numbers in outputs and code: 1,000 and 5_000 and 1e-05 included.
NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+(?![\d])|\d[\d_]*(?:\.\d+)?(?:[eE][-+]?\d+)?)(%?)"
)
TAG = re.compile(r"<[^>]*>")
SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.S | re.I)


@dataclass(frozen=True)
class Figure:
    """A number the prose quotes: its text as written and what kind of figure it is."""

    text: str  # as written: "0.54", "97%", "30 steps"
    kind: str  # "decimal", "percent" or "count"
    value: Decimal

    @property
    def places(self) -> int:
        """Decimal places as written: 2 for 0.54, 0 for 97%."""
        exponent = self.value.as_tuple().exponent
        return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def figures_in(text: str) -> list[Figure]:
    """The figures of one piece of prose, in order."""
    found = []
    for match in FIGURE.finditer(text):
        if match.group("percent"):
            found.append(Figure(match.group(0), "percent", Decimal(match.group(2))))
        elif match.group("count"):
            number = Decimal(match.group(4).replace(",", ""))
            if number >= 2:
                found.append(Figure(match.group(0), "count", number))
        else:
            found.append(Figure(match.group(0), "decimal", Decimal(match.group(0))))
    return found


def prose_of_cell(source: str) -> str:
    """The prose of a markdown cell: without fenced blocks, but with solutions' comments."""
    comments = [
        line.split("#", 1)[1]
        for block in PYTHON_BLOCK.findall(source)
        for line in block.splitlines()
        if "#" in line
    ]
    text = FENCED.sub(" ", source)
    text = FIXED.sub(" ", text)
    return "\n".join([text, *comments])


def fixed_figures(source: str) -> list[str]:
    """The figures a cell lists as not run-dependent (``<!-- fixed: ... -->``)."""
    return [word for listed in FIXED.findall(source) for word in listed.split()]


def numbers_in(text: str) -> set[tuple[Decimal, bool]]:
    """Every number of an output or of code, as (absolute value, written as a percent)."""
    found = set()
    for match in NUMBER.finditer(text):
        digits = match.group(1).replace(",", "").replace("_", "")
        try:
            found.add((abs(Decimal(digits)), bool(match.group(2))))
        except ArithmeticError:
            continue
    return found


def visible_text(output: dict[str, Any]) -> str:
    """What a learner can read in one executed output (not SVG coordinates or scripts)."""
    if output.get("output_type") == "stream":
        return str(output.get("text", ""))
    parts = []
    data = output.get("data", {})
    for mime, content in data.items():
        text = "".join(content) if isinstance(content, list) else content
        if mime == "text/plain" and not any(m.startswith("image/") for m in data):
            parts.append(str(text))
        elif mime in ("text/html", "image/svg+xml", "text/markdown"):
            parts.append(html.unescape(TAG.sub(" ", SCRIPT.sub(" ", str(text)))))
        elif mime.startswith("application/vnd.chaingrad.figure-text"):
            parts.extend(str(t[1]) for t in content.get("texts", []))
    return "\n".join(parts)


def rounds_to(number: Decimal, figure: Figure) -> bool:
    """True when ``number`` is the figure, or a more precise number written rounded."""
    if number == figure.value:
        return True
    step = Decimal(1).scaleb(-figure.places)
    return any(
        number.quantize(step, rounding=r) == figure.value for r in (ROUND_HALF_UP, ROUND_HALF_EVEN)
    )


def printed(figure: Figure, outputs: set[tuple[Decimal, bool]]) -> bool:
    for number, is_percent in outputs:
        if figure.kind == "percent":
            if is_percent and rounds_to(number, figure):
                return True
        elif figure.kind == "count":
            if number == figure.value:
                return True
        elif not is_percent and rounds_to(number, figure):
            return True
    return False


def in_code(figure: Figure, literals: set[tuple[Decimal, bool]]) -> bool:
    for number, _ in literals:
        if number == figure.value or (figure.kind == "percent" and number * 100 == figure.value):
            return True
    return False


def unaccounted_figures(
    markdown: list[str], code: Iterable[str], outputs: Iterable[dict[str, Any]]
) -> list[str]:
    """One message per figure of the prose that no output, code literal or list accounts for.

    ``markdown`` is the notebook's markdown cells in order, ``code`` the source of every
    code cell and solution block, ``outputs`` every executed output.
    """
    printed_numbers = set().union(*(numbers_in(visible_text(o)) for o in outputs))
    literals = set().union(*(numbers_in(source) for source in code))
    problems = []
    for index, source in enumerate(markdown):
        prose = prose_of_cell(source)
        fixed = fixed_figures(source)
        figures = figures_in(prose)
        written = {f.text for f in figures} | {str(f.value) for f in figures}
        for stale in fixed:
            if stale not in written and stale not in prose:
                problems.append(
                    f"markdown cell {index}: <!-- fixed: {stale} --> is not in the cell"
                )
        for figure in figures:
            if figure.text in fixed or str(figure.value) in fixed:
                continue
            if printed(figure, printed_numbers) or in_code(figure, literals):
                continue
            start = prose.find(figure.text)
            context = " ".join(prose[max(0, start - 50) : start + len(figure.text) + 30].split())
            problems.append(
                f"markdown cell {index}: {figure.text!r} is printed by no output and is no "
                f"literal of the code (…{context}…); print it, assert it, or list it in "
                f"<!-- fixed: ... --> if no run can change it"
            )
    return problems
