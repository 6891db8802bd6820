"""How long Graphviz's dot takes against the nodes it must place: the drawing guard's figure.

``draw_dot`` summarizes a graph before dot sees it when dot would place more
than ``chaingrad.viz.graph.MAX_LAYOUT_NODES`` nodes, real and virtual (one per
rank an edge crosses). This script times ``dot -Tsvg`` on ordinary graphs and
on the worst shape (one value used by many ops far apart) so that limit stays
a measured one. Each graph is drawn in full (``max_nodes=None``), left to right;
the last column says whether the guard (at the default max_nodes) summarizes it.

    python benchmarks/viz_layout.py            # ~3 minutes on 2 cores
    python benchmarks/viz_layout.py --quick    # the small half
"""

from __future__ import annotations

import argparse
import subprocess
import time

from chaingrad import Value, sum_of
from chaingrad.engine.scopes import record_scopes
from chaingrad.nn import MLP
from chaingrad.viz import draw_dot
from chaingrad.viz.graph import DEFAULT_MAX_NODES, MAX_LAYOUT_NODES, GraphDrawing, too_big

TIMEOUT = 120.0


def product_of_one_leaf(factors: int) -> tuple[Value, dict]:
    x = Value(1.01, label="x")
    y = x
    for _ in range(factors - 1):
        y = y * x
    return y, {}


def chain(length: int) -> tuple[Value, dict]:
    y = Value(0.5, label="x")
    for _ in range(length):
        y = (y * 0.9 + 0.1).tanh()
    return y, {}


def mlp_loss(sizes: list[int], samples: int) -> tuple[Value, dict]:
    model = MLP(sizes[0], sizes[1:], seed=0)
    with record_scopes() as recorder:
        terms = [
            (model([Value(0.1 * i * (k + 1)) for i in range(sizes[0])]) - 1.0) ** 2
            for k in range(samples)
        ]
        loss = sum_of(terms)
    return loss, dict(scopes=recorder, model=model)


def seconds(source: str) -> float:
    start = time.perf_counter()
    try:
        subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True,
                       timeout=TIMEOUT, check=True)  # fmt: skip
    except subprocess.TimeoutExpired:
        return float("inf")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the slow cases")
    quick = parser.parse_args().quick
    cases = [
        ("MLP(3, [4, 4, 1]) loss", mlp_loss([3, 4, 4, 1], 1)),
        ("MLP(2, [8, 8, 1]), 3 samples", mlp_loss([2, 8, 8, 1], 3)),
        ("MLP(2, [16, 16, 1]) loss", mlp_loss([2, 16, 16, 1], 1)),
        ("chain of 100 (x * 0.9 + 0.1).tanh()", chain(100)),
        ("x * x * ... (20 factors)", product_of_one_leaf(20)),
        ("x * x * ... (30 factors)", product_of_one_leaf(30)),
        ("x * x * ... (45 factors)", product_of_one_leaf(45)),
    ]
    if not quick:
        cases.append(("x * x * ... (40 factors)", product_of_one_leaf(40)))
        cases.append(("x * x * ... (61 factors)", product_of_one_leaf(61)))
    print(f"dot -Tsvg, left to right, full drawing; limit MAX_LAYOUT_NODES = {MAX_LAYOUT_NODES}")
    print(f"{'graph':38} {'labels':>6} {'values':>7} {'placed':>7} {'dot (s)':>8}  guard")
    for name, (root, options) in cases:
        for labels in (False, True):
            drawing = GraphDrawing(root, **options)
            placed = drawing.layout_nodes(labels)
            if quick and placed > 2 * MAX_LAYOUT_NODES:
                continue
            graph = draw_dot(root, edge_labels=labels, max_nodes=None, width=None,
                             rankdir="LR", **options)  # fmt: skip
            took = seconds(graph.source)
            verdict = "summarizes" if too_big(drawing, DEFAULT_MAX_NODES, labels) else "-"
            shown = "> 120" if took == float("inf") else f"{took:.2f}"
            print(f"{name:38} {'yes' if labels else 'no':>6} {len(drawing.order):>7} "
                  f"{placed:>7} {shown:>8}  {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
