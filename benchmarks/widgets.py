"""How fast the Explorer answers a slider: in the kernel, and in a real JupyterLab page.

Kernel: the median time of ``Explorer.set`` (a forward and a backward pass, the
page's texts for every box, edge and backward step) beside the static
alternative a learner has without the widget, drawing the graph again with
``draw_dot`` and Graphviz (``dot -Tsvg``) -- the ratio is the speed-up.

Page: JupyterLab on 127.0.0.1 in headless Chromium (the system Chromium, as
the browser tests); the script moves a slider ``--moves`` times from inside the
page (an ``input`` event, as a drag does) and times until the new numbers are
written into the graph (the widget's ``data-revision`` changes), and until the
next frame is drawn.

    python benchmarks/widgets.py               # ~1 minute
    python benchmarks/widgets.py --moves 100

Needs the test extra (JupyterLab, Playwright) and Graphviz; run from the
repository root.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chaingrad.nn import MLP  # noqa: E402
from chaingrad.viz import Explorer, draw_dot  # noqa: E402

NEURON = "lambda x1, w1, x2, w2, b: (x1*w1 + x2*w2 + b).tanh()"
START = dict(x1=2.0, w1=-3.0, x2=0.0, w2=1.0, b=6.8813735870195432)
CASES = {
    "neuron (10 values)": (
        "from chaingrad.viz import Explorer\n"
        f"ex = Explorer({NEURON}, x1=2.0, w1=-3.0, x2=0.0, w2=1.0, b=6.8813735870195432)\nex",
        "w1",
    ),
    "MLP(3, [4, 4, 1]) (70 values)": (
        "from chaingrad.viz import Explorer\nfrom chaingrad.nn import MLP\n"
        "ex = Explorer.from_model(MLP(3, [4, 4, 1], seed=0), [1.0, -2.0, 0.5])\nex",
        "x[0]",
    ),
}

# Moves a leaf's slider `n` times from inside the page; per move, the ms until the
# kernel's new numbers are in the graph (a MutationObserver on data-revision, which
# the widget sets after writing them) and until the next frame.
MOVES = """async ([leaf, n]) => {
  const ex = document.querySelector(".cg-explorer");
  const slider = ex.querySelector(`.cg-row[data-leaf="${leaf}"] .cg-slider`);
  const low = Number(slider.min), high = Number(slider.max);
  const written = [], drawn = [];
  for (let k = 0; k < n; k++) {
    const before = ex.dataset.revision;
    const changed = new Promise((resolve) => {
      const watch = new MutationObserver(() => {
        if (ex.dataset.revision !== before) { watch.disconnect(); resolve(); }
      });
      watch.observe(ex, { attributes: true, attributeFilter: ["data-revision"] });
    });
    const t0 = performance.now();
    slider.value = String(low + (high - low) * (0.3 + 0.4 * ((k * 7) % 10) / 10));
    slider.dispatchEvent(new Event("input", { bubbles: true }));
    await changed;
    written.push(performance.now() - t0);
    await new Promise((resolve) => requestAnimationFrame(() => resolve()));
    drawn.push(performance.now() - t0);
  }
  return [written, drawn];
}"""


def median_ms(run: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def kernel(repeats: int) -> None:
    neuron = Explorer(eval(NEURON), **START)
    mlp = Explorer.from_model(MLP(3, [4, 4, 1], seed=0), [1.0, -2.0, 0.5])
    cases = [("neuron (10 values)", neuron, "w1"), ("MLP(3, [4, 4, 1]) (70 values)", mlp, "x[0]")]
    print(f"kernel: median of {repeats}; set = forward + backward + the page's texts")
    print(f"{'graph':32} {'set (ms)':>9} {'draw_dot + dot (ms)':>20} {'speed-up':>9}")
    for name, ex, leaf in cases:
        set_ms = median_ms(moving(ex, leaf), repeats)
        redraw_ms = median_ms(redrawing(ex), 5)
        print(f"{name:32} {set_ms:9.2f} {redraw_ms:20.1f} {redraw_ms / set_ms:8.0f}x")


def moving(ex: Explorer, leaf: str) -> Any:
    values = iter(range(10**9))
    return lambda: ex.set({leaf: 0.5 + 1e-3 * next(values)})


def redrawing(ex: Explorer) -> Any:
    root = ex._pass.root
    return lambda: draw_dot(root, edge_labels=True).pipe(format="svg")


def page_latency(moves: int) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import (
        CHROMIUM,
        CHROMIUM_ARGS,
        HEIGHT,
        WIDTH,
        run_notebook,
        start_lab,
    )

    print(f"\npage: JupyterLab + headless Chromium, {moves} slider moves, median (90th pct) ms")
    print(f"{'graph':32} {'numbers written':>16} {'frame drawn':>14}")
    with (
        tempfile.TemporaryDirectory() as base,
        start_lab(Path(base)) as lab,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, (code, leaf) in CASES.items():
                page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
                page.set_default_timeout(60_000)
                run_notebook(page, lab, [code])
                page.locator(".cg-explorer").wait_for()
                page.evaluate(MOVES, [leaf, 3])  # warm up
                written, drawn = page.evaluate(MOVES, [leaf, moves])
                print(f"{name:32} {summary(written):>16} {summary(drawn):>14}")
                page.close()
        finally:
            browser.close()


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"{statistics.median(times):.1f} ({p90:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moves", type=int, default=40, help="slider moves timed per graph")
    parser.add_argument("--repeats", type=int, default=50, help="kernel set() calls timed")
    parser.add_argument("--kernel-only", action="store_true", help="skip the browser")
    args = parser.parse_args()
    kernel(args.repeats)
    if not args.kernel_only:
        page_latency(args.moves)


if __name__ == "__main__":
    main()
