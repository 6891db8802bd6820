"""chaingrad.viz.Playground in a real JupyterLab page: press play, read the falling loss."""

from __future__ import annotations

import math
import time

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("anywidget")

from chaingrad.viz.widgets.playground import make_dataset  # noqa: E402

CELLS = [
    "from chaingrad.viz import Playground",
    'pg = Playground(dataset="moons", hidden=[8, 8], activation="tanh", lr=0.1, speed=100)\npg',
]


def number(page, stat: str) -> float:
    return float(page.locator(f'.cg-pg [data-stat="{stat}"]').inner_text().replace(",", ""))


def test_play_trains_and_the_page_shows_the_loss_falling(page, open_notebook):
    open_notebook(page, CELLS)
    playground = page.locator(".cg-pg")
    playground.wait_for()
    assert number(page, "step") == 0
    start = number(page, "loss")
    assert 0.3 < start < 1.0  # an untrained network on two classes: about log 2

    play = playground.locator(".cg-pg-play")
    assert play.inner_text().strip().endswith("play")
    play.click()
    seen = []  # (step, loss) as the page shows them while it trains
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen.append((number(page, "step"), number(page, "loss")))
        if seen[-1][0] >= 300:
            break
        time.sleep(0.25)
    assert play.inner_text().strip().endswith("pause")
    play.click()
    page.wait_for_function(
        "() => document.querySelector('.cg-pg-play').textContent.trim().endsWith('play')"
    )
    steps = [s for s, _ in seen]
    assert steps[-1] >= 300, seen
    assert len(set(steps)) >= 4, seen  # the page was refreshed several times while training
    assert steps == sorted(steps)
    losses = [loss for _, loss in seen]
    assert losses[-1] < 0.5 * start, seen
    assert float(playground.locator(".cg-pg-numbers").inner_text().split("accuracy ")[1][:4]) > 90

    # paused: the step count stays where it is
    stopped = number(page, "step")
    time.sleep(1.0)
    assert number(page, "step") == stopped


def test_controls_on_the_page_change_the_kernels_settings(page, open_notebook):
    open_notebook(page, CELLS)
    playground = page.locator(".cg-pg")
    playground.wait_for()
    playground.locator("[data-action=step]").click()
    page.wait_for_function("() => document.querySelector('[data-stat=step]').textContent === '1'")

    # a dataset button: new points, the network starts again
    playground.locator('[data-dataset="xor"]').click()
    page.wait_for_function(
        "() => document.querySelector('[data-dataset=xor]').classList.contains('cg-pg-on')"
    )
    assert number(page, "step") == 0

    # a select: the learning rate
    playground.locator('select[data-control="lr"]').select_option("0.03")
    page.wait_for_function(
        "() => document.querySelector('select[data-control=lr]').value === '0.03'"
    )

    # a refused change: the page says why and the control shows the kernel's value again
    # (the kernel handles the page's requests in the order they were sent)
    playground.locator('input[data-control="batch_size"]').fill("100")
    playground.locator('input[data-control="validation"]').fill("0.9")
    error = playground.locator(".cg-pg-error")
    page.wait_for_function("() => document.querySelector('.cg-pg-error').textContent !== ''")
    assert "batch_size 100 is more than the 20 training points" in error.inner_text()
    page.wait_for_function(
        "() => document.querySelector('input[data-control=validation]').value === '0.5'"
    )
    playground.locator('input[data-control="batch_size"]').fill("10")
    page.wait_for_function("() => document.querySelector('.cg-pg-error').textContent === ''")

    # the network's buttons: one more hidden layer
    playground.locator("[data-action=add-layer]").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.cg-pg-node').length === 7 + 8 + 8 + 8 + 1"
    )

    # an input feature: clicking x1² feeds it to the network
    playground.locator('.cg-pg-node[data-node="x1^2"]').click()
    page.wait_for_function(
        "() => !document.querySelector('.cg-pg-node[data-node=\"x1^2\"]')"
        ".classList.contains('cg-pg-unused')"
    )

    # clicking a neuron draws its graph for one example
    playground.locator('.cg-pg-node[data-node="0.1"]').click()
    graph = playground.locator(".cg-pg-graph")
    graph.locator("svg").first.wait_for()
    assert "layers.0.neurons.1" in graph.inner_text()
    assert "training point #0 " in graph.inner_text()

    # clicking a training point in the picture draws that neuron's graph for that point
    X, _ = make_dataset("xor", 200, 0.1, 0)  # what the kernel made: seed 0, 200 points
    domain = max(1.25, math.ceil(float(np.abs(X).max()) * 1.08 * 4.0) / 4.0)
    x1, x2 = X[100 + 5]  # training point #5 (the first half is held out)
    left, top, width = page.evaluate(
        """() => { const r = document.querySelector('.cg-pg-boundary').getBoundingClientRect();
          return [r.left, r.top, r.width]; }"""
    )
    page.mouse.click(
        left + (x1 + domain) / (2 * domain) * width, top + (domain - x2) / (2 * domain) * width
    )
    page.wait_for_function(
        "() => document.querySelector('.cg-pg-graphhead').textContent.includes('point #5 ')"
    )
    assert "layers.0.neurons.1" in graph.inner_text()
    assert playground.locator(".cg-pg-error").inner_text() == ""


def test_it_fits_the_notebook_column_and_its_text_is_readable(page, open_notebook):
    open_notebook(page, CELLS)
    playground = page.locator(".cg-pg")
    playground.wait_for()
    column = page.locator(".jp-OutputArea-output").first.bounding_box()
    box = playground.bounding_box()
    assert (
        box["x"] >= column["x"] - 1 and box["x"] + box["width"] <= column["x"] + column["width"] + 1
    )
    overflow = page.evaluate(
        """() => {
          const root = document.querySelector('.cg-pg').getBoundingClientRect();
          return [...document.querySelectorAll('.cg-pg *')]
            .filter((e) => e.getBoundingClientRect().width > 0)
            .filter((e) => e.getBoundingClientRect().right > root.right + 1)
            .map((e) => e.className || e.tagName);
        }"""
    )
    assert overflow == []
    small = page.evaluate(
        """() => [...document.querySelectorAll('.cg-pg *')]
            .filter((e) => e.childNodes.length && [...e.childNodes].some(
                (n) => n.nodeType === 3 && n.textContent.trim()))
            .map((e) => [e.textContent.trim().slice(0, 30),
                         parseFloat(getComputedStyle(e).fontSize)])
            .filter(([, size]) => size < 10)"""
    )
    assert small == []
