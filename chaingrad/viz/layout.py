"""How big a drawing will be, before dot draws it: text widths and a model of dot's layout.

``draw_dot`` and the step-through use this to choose a direction (left to
right when it fits the column, else top to bottom) and to tell whether a
graph can be read at all in a notebook column: a picture wider than the
column is scaled down, and text under :data:`MIN_TEXT_PX` is not read.

>>> m = LayoutModel()
>>> a, b, c = m.add(60, 20), m.add(60, 20), m.add(60, 20)
>>> m.edge(a, c); m.edge(b, c)
>>> fit_rankdir(m, width=1100, edge_labels=False)
('LR', True)
"""

from __future__ import annotations

from typing import Any

FONT = "Helvetica"
FONT_SIZE = 10  # points: 13.3 CSS px at 100%, the size of a notebook's own text
EDGE_FONT_SIZE = 9
PX_PER_PT = 4 / 3  # browsers draw 1pt as 1.333 px
MIN_TEXT_PX = 10  # smallest text a learner should have to read, as shown
RANKSEP = 0.22  # inches between ranks (dot's default 0.5 makes wide drawings)
NODESEP = 0.12


# Helvetica advance widths in em (Arial and Liberation Sans share them): enough to
# size cells and estimate a layout; dot measures the text itself when it draws.
_NARROW = set("il.,:;'|!ijfrt ()[]")
_WIDE = set("mwMW@%")


def text_width(text: str, size: float = FONT_SIZE, bold: bool = False) -> float:
    """Estimated width of ``text`` in points at ``size`` points."""
    em = 0.0
    for ch in text:
        if ch in _NARROW:
            em += 0.3
        elif ch in _WIDE:
            em += 0.85
        elif ch.isupper():
            em += 0.68
        elif ord(ch) > 0x2E7F:  # CJK and other wide scripts
            em += 1.0
        else:
            em += 0.57
    return em * size * (1.07 if bold else 1.0)


class LayoutModel:
    """A model of dot's layered layout, to tell how wide a drawing will be before drawing it.

    Boxes are ranked by the longest path to a sink (dot keeps edges short, so a
    leaf sits just before its first consumer); left to right, the width is the
    sum of each rank's widest box plus the gaps and edge labels between ranks;
    top to bottom, it is the widest rank: its boxes side by side, the edges
    passing through it, and the margins of the clusters it cuts. Good to about
    ten percent on the graphs of the tests, which is what choosing a direction
    needs; the tests measure the real SVGs.

    >>> m = LayoutModel()
    >>> a, b = m.add(50, 20), m.add(50, 20)
    >>> m.edge(a, b)
    >>> round(m.width("LR")) > round(m.width("TB"))
    True
    """

    def __init__(self) -> None:
        self.sizes: list[tuple[float, float]] = []
        self.paths: list[tuple[int, ...]] = []
        self.edges: list[tuple[int, int, float]] = []

    def add(self, width: float, height: float, path: tuple[int, ...] = ()) -> int:
        self.sizes.append((width, height))
        self.paths.append(path)
        return len(self.sizes) - 1

    def edge(self, source: int, target: int, label_width: float = 0.0) -> None:
        self.edges.append((source, target, label_width))

    def ranks(self) -> list[int]:
        n = len(self.sizes)
        out: list[list[int]] = [[] for _ in range(n)]
        indegree = [0] * n
        for source, target, _ in self.edges:
            out[source].append(target)
            indegree[target] += 1
        # Kahn's order; boxes left in a cycle (possible between summary groups) go last.
        order = [i for i in range(n) if indegree[i] == 0]
        seen = [False] * n
        for i in order:
            seen[i] = True
        k = 0
        while k < len(order):
            for target in out[order[k]]:
                indegree[target] -= 1
                if indegree[target] == 0 and not seen[target]:
                    seen[target] = True
                    order.append(target)
            k += 1
        order.extend(i for i in range(n) if not seen[i])
        position = {box: k for k, box in enumerate(order)}
        rank = [0] * n
        for box in reversed(order):
            for target in out[box]:
                if position[target] > position[box] and rank[box] < rank[target] + 1:
                    rank[box] = rank[target] + 1
        return rank

    def width(self, rankdir: str) -> float:
        """Estimated width in CSS px when laid out with ``rankdir``."""
        if not self.sizes:
            return 0.0
        rank = self.ranks()
        ranksep, nodesep = RANKSEP * 72, NODESEP * 72
        depth = max((len(p) for p in self.paths), default=0)
        if rankdir in ("LR", "RL"):
            widest: dict[int, float] = {}
            for box, (w, _h) in enumerate(self.sizes):
                widest[rank[box]] = max(widest.get(rank[box], 0.0), w)
            labels: dict[int, float] = {}
            for source, _target, label in self.edges:
                labels[rank[source]] = max(labels.get(rank[source], 0.0), label)
            width = sum(widest.values()) + (len(widest) - 1) * ranksep + sum(labels.values())
            width += depth * 2 * 8  # nested cluster margins at both ends
        else:
            row: dict[int, float] = {}
            clusters: dict[int, set[tuple[int, ...]]] = {}
            for box, (w, _h) in enumerate(self.sizes):
                row[rank[box]] = row.get(rank[box], -nodesep) + w + nodesep
                path = self.paths[box]
                for d in range(1, len(path) + 1):
                    clusters.setdefault(rank[box], set()).add(path[:d])
            for source, target, label in self.edges:
                for r in range(rank[target] + 1, rank[source]):  # an edge crossing rank r
                    row[r] = row.get(r, 0.0) + nodesep + max(label, 4.0)
            width = max(row[r] + 16 * len(clusters.get(r, ())) for r in row)
        return (width + 8) * PX_PER_PT


def min_text_px(edge_labels: bool) -> float:
    """The smallest text of a drawing at full size, in CSS px."""
    return (EDGE_FONT_SIZE if edge_labels else FONT_SIZE) * PX_PER_PT


def fit_rankdir(
    model: LayoutModel,
    width: float | None,
    edge_labels: bool,
    measure: Any = None,
    rankdir: str = "auto",
    trust: float = 0.85,
) -> tuple[str, bool]:
    """The direction to draw a graph in, and whether its text is readable in ``width`` px.

    With ``rankdir="auto"``: left to right (micrograd's look) when it fits; else
    top to bottom if that fits; else the narrower. A picture wider than the
    column is shrunk by the browser: it stays readable while its smallest text
    is >= 10 px. Widths come from ``model``; when ``measure(rankdir)`` is given
    (dot's real layout) and the estimate is above ``trust`` times the column
    (not clearly inside it), from that.
    """
    if width is None:
        return ("LR" if rankdir == "auto" else rankdir), True
    estimates = {"LR": model.width("LR"), "TB": model.width("TB")}
    estimates["RL"], estimates["BT"] = estimates["LR"], estimates["TB"]
    widths: dict[str, float] = estimates
    if measure is not None and estimates["LR" if rankdir == "auto" else rankdir] > trust * width:
        widths = _Measured(measure, estimates)
    if rankdir == "auto":
        if widths["LR"] <= width:
            return "LR", True
        if widths["TB"] <= width:
            return "TB", True
        rankdir = "TB" if widths["TB"] < widths["LR"] else "LR"
    shown = widths[rankdir]
    return rankdir, shown <= width or min_text_px(edge_labels) * width / shown >= MIN_TEXT_PX


class _Measured(dict[str, float]):
    """Widths measured by dot on first use (estimates if dot cannot measure)."""

    def __init__(self, measure: Any, estimates: dict[str, float]) -> None:
        super().__init__()
        self.measure = measure
        self.estimates = estimates

    def __missing__(self, rankdir: str) -> float:
        try:
            value = float(self.measure(rankdir))
        except Exception:  # no dot, or dot failed: the estimate decides
            value = self.estimates[rankdir]
        self[rankdir] = value
        return value
