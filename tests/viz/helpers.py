"""Shared pieces for the viz tests: the classic neuron, tiny modules, SVG parsing."""

from __future__ import annotations

import random
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from chaingrad import Value, dot
from chaingrad.engine.scopes import active_recorder
from tests.helpers import length_px
from tests.lecture import neuron  # noqa: F401  (re-exported for the viz tests)

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_nodes(svg: str | bytes) -> dict[str, ET.Element]:
    """Graphviz SVG node groups by their title (our node id)."""
    root = ET.fromstring(svg)
    found = {}
    for group in root.iter(f"{SVG_NS}g"):
        if group.get("class") == "node":
            found[group.find(f"{SVG_NS}title").text] = group
    return found


def svg_edges(svg: str | bytes) -> list[str]:
    root = ET.fromstring(svg)
    return [
        g.find(f"{SVG_NS}title").text for g in root.iter(f"{SVG_NS}g") if g.get("class") == "edge"
    ]


def svg_text(element: ET.Element) -> str:
    return " ".join(t.text or "" for t in element.iter(f"{SVG_NS}text"))


# --- tiny modules that route through the scope recorder like chaingrad.nn will ---


class TinyModule:
    def __call__(self, *args):
        recorder = active_recorder()
        if recorder is None:
            return self.forward(*args)
        return recorder.call(self, self.forward, *args)

    def children(self):
        for name, value in vars(self).items():
            if isinstance(value, TinyModule):
                yield name, value
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, TinyModule):
                        yield f"{name}.{i}", item

    def named_modules(self):
        queue = [("", self)]
        while queue:
            name, module = queue.pop(0)
            yield name, module
            for child_name, child in module.children():
                queue.append((f"{name}.{child_name}" if name else child_name, child))

    def named_parameters(self):
        for prefix, module in self.named_modules():
            own = vars(module)
            for i, w in enumerate(own.get("w", [])):
                yield f"{prefix}.w.{i}" if prefix else f"w.{i}", w
            if "b" in own:
                yield f"{prefix}.b" if prefix else "b", own["b"]


class TinyNeuron(TinyModule):
    def __init__(self, nin: int, rng: random.Random) -> None:
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)

    def forward(self, x):
        return (dot(self.w, x) + self.b).tanh()

    def parameters(self):
        return [*self.w, self.b]


class TinyLayer(TinyModule):
    def __init__(self, nin: int, nout: int, rng: random.Random) -> None:
        self.neurons = [TinyNeuron(nin, rng) for _ in range(nout)]

    def forward(self, x):
        return [n(x) for n in self.neurons]

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class TinyMLP(TinyModule):
    def __init__(self, nin: int, nouts: list[int], seed: int = 0) -> None:
        rng = random.Random(seed)
        sizes = [nin, *nouts]
        self.layers = [TinyLayer(sizes[i], sizes[i + 1], rng) for i in range(len(nouts))]

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x[0] if len(x) == 1 else x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


# --- how a drawing looks in a notebook column ---------------------------------

COLUMN_PX = 1100  # a notebook's output column
MIN_TEXT_PX = 10


def svg_fit(svg: str | bytes, column: float = COLUMN_PX) -> tuple[float, float, float]:
    """(natural width px, width as shown px, smallest text px as shown) of a dot SVG.

    A picture wider than the column is scaled down by the browser (max-width:
    100%), so its text shrinks by the same factor: that is the size a learner reads.
    """
    import re as _re

    root = ET.fromstring(svg)
    width = length_px(root.get("width"))
    assert width, f"unexpected SVG width {root.get('width')!r}"
    view = [float(v) for v in root.get("viewBox").split()]
    units_to_px = width / view[2]
    shown = min(width, column)
    shrink = shown / width
    # dot scales the whole drawing (its size attribute) with a transform on the graph group
    graph = next(g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "graph")
    scale = _re.search(r"scale\(([\d.]+)", graph.get("transform") or "")
    factor = float(scale.group(1)) if scale else 1.0
    smallest = float("inf")
    for text in root.iter(f"{SVG_NS}text"):
        if not (text.text or "").strip():
            continue
        size = float(text.get("font-size", "14"))
        smallest = min(smallest, size * factor * units_to_px * shrink)
    return width, shown, smallest


def assert_fits(svg: str | bytes, what: str, column: float = COLUMN_PX) -> None:
    width, _shown, text = svg_fit(svg, column)
    assert width <= column, f"{what}: {width:.0f} px wide, more than the {column:.0f} px column"
    assert text >= MIN_TEXT_PX, f"{what}: text {text:.1f} px as shown, less than {MIN_TEXT_PX}"


def tanh_chain(length: int) -> Value:
    """x.tanh().tanh()...: a deep, narrow graph."""
    y = Value(0.5, label="x")
    for _ in range(length):
        y = y.tanh()
    return y


# --- a real browser: headless Chromium runs a page and returns its DOM ---


def run_chromium(url: str, tmp_path) -> str:
    profile = tmp_path / "profile"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=5000",
        "--window-size=1300,1000",
        "--dump-dom",
    ]
    done = subprocess.run(
        [CHROMIUM, *flags, f"--user-data-dir={profile}", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
