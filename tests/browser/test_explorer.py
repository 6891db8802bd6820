"""chaingrad.viz.Explorer in a real JupyterLab page: drag a slider, read the new gradient."""

from __future__ import annotations

import html
import json
import os
import re
import time
from pathlib import Path

import pytest

from chaingrad import Value

ROOT = Path(__file__).resolve().parents[2]
TIMES = "\N{MULTIPLICATION SIGN}"

CELLS = [
    "from chaingrad.viz import Explorer",
    "ex = Explorer(lambda x1, w1, x2, w2, b: (x1*w1 + x2*w2 + b).tanh(),\n"
    "              x1=2.0, w1=-3.0, x2=0.0, w2=1.0, b=6.8813735870195432)\nex",
]


def expected(**values: float) -> dict[str, float]:
    leaves = {name: Value(v, label=name) for name, v in values.items()}
    out = (leaves["x1"] * leaves["w1"] + leaves["x2"] * leaves["w2"] + leaves["b"]).tanh()
    out.backward()
    return {name: leaf.grad for name, leaf in leaves.items()} | {"output": out.data}


def grad_of(box) -> float:
    return float(re.sub("[^0-9eE.+-]", "", box.inner_text().replace("grad", "")))


def test_dragging_a_slider_updates_the_gradients(page, open_notebook):
    path = open_notebook(page, CELLS)
    explorer = page.locator(".cg-explorer")
    explorer.wait_for()
    row = explorer.locator('.cg-row[data-leaf="w1"]')
    x1_grad = explorer.locator('.cg-row[data-leaf="x1"] .cg-grad')
    assert grad_of(x1_grad) == -1.5  # micrograd's lecture: dL/dx1 = w1 * (1 - tanh^2) = -1.5
    revision = explorer.get_attribute("data-revision")

    # Drag w1's slider with the mouse to the right end of its range.
    slider = row.locator(".cg-slider")
    box = slider.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    page.wait_for_function(
        "r => document.querySelector('.cg-explorer').dataset.revision !== r", arg=revision
    )
    page.wait_for_function("() => !document.querySelector('.cg-explorer').dataset.busy")
    w1 = float(row.locator(".cg-field").input_value())
    assert w1 > 3  # the slider moved from -3 to the top of its range
    want = expected(x1=2.0, w1=w1, x2=0.0, w2=1.0, b=6.8813735870195432)
    assert abs(grad_of(x1_grad) - want["x1"]) <= 1e-3 * max(1, abs(want["x1"]))

    # The graph's own boxes changed too: x1's box now shows the new gradient.
    x1_box = explorer.locator('.cg-graph g.node[data-key="n0"] text').all_text_contents()
    assert x1_box[0] == "x1"
    assert abs(float(x1_box[-1].removeprefix("grad ")) - want["x1"]) < 1e-3

    # Typing into a number field does the same.
    field = explorer.locator('.cg-row[data-leaf="x2"] .cg-field')
    revision = explorer.get_attribute("data-revision")
    field.fill("1.5")
    field.press("Enter")
    page.wait_for_function(
        "r => document.querySelector('.cg-explorer').dataset.revision !== r", arg=revision
    )
    want = expected(x1=2.0, w1=w1, x2=1.5, w2=1.0, b=6.8813735870195432)
    w2_grad = explorer.locator('.cg-row[data-leaf="w2"] .cg-grad')
    assert abs(grad_of(w2_grad) - want["w2"]) <= 1e-3 * max(1, abs(want["w2"]))

    # Something not a number: the kernel's error is shown, the field goes back.
    revision = explorer.get_attribute("data-revision")
    field.fill("abc")
    field.press("Enter")
    page.wait_for_function(
        "r => document.querySelector('.cg-explorer').dataset.revision !== r", arg=revision
    )
    error = explorer.locator(".cg-error")
    assert error.is_visible()
    assert error.inner_text() == "Explorer.set: x2 must be a real number, got str 'abc'"
    assert field.input_value() == "1.5"

    # Saved now, the notebook's picture for exports shows this last state.
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    deadline = time.monotonic() + 20
    while True:  # the file is written by the server, a moment later
        outputs = json.loads(path.read_text())["cells"][1]["outputs"]
        picture = "".join(outputs[-1]["data"]["text/html"]) if outputs else ""
        if ">data 1.5<" in html.unescape(picture) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert 'class="chaingrad-static"' in picture
    assert ">data 1.5<" in html.unescape(picture)  # x2's box, as typed


def test_the_widget_shows_hovers_steps_and_slopes(page, open_notebook):
    open_notebook(page, CELLS)
    explorer = page.locator(".cg-explorer")
    explorer.wait_for()
    # the static picture for exports is in the page but hidden by the widget's stylesheet
    static = page.locator(".chaingrad-static")
    assert static.count() == 1 and not static.is_visible()

    # hover the tanh op: its local rule with the numbers
    explorer.locator('.cg-graph g.node[data-key="o9"]').hover()
    tip = explorer.locator(".cg-tip")
    assert tip.is_visible()
    # (whatever the viz names an unlabelled node: n8, or its expression)
    assert re.search(r"= 1 − tanh\(.+\)² = 1 − 0\.7071² = 0\.5", tip.inner_text())  # noqa: RUF001
    # hover an edge: its chain-rule factor
    factor = explorer.locator('.cg-graph g.edge[data-key="e2_0"] text', has_text=TIMES)
    factor.hover()
    assert re.search(r"grad\(x1\) \+= d.+/dx1 \* grad\(.+\) = -3 \* 0\.5 = -1\.5", tip.inner_text())

    # backward mode: one chain-rule step at a time, in the same picture
    explorer.locator(".cg-mode", has_text="backward").click()
    caption = explorer.locator(".cg-caption")
    assert caption.inner_text().startswith("step 0 of 9")
    explorer.locator(".cg-step-next").click()
    page.wait_for_function(
        "() => document.querySelector('.cg-caption').textContent.startsWith('step 1 of 9')"
    )
    assert re.search(
        r"grad\(.+\) \+= dout/d.+ \* grad\(out\) = 0\.5 \* 1 = 0\.5", caption.inner_text()
    )
    assert explorer.locator(".cg-graph g.edge.cg-flow").count() == 2  # the edge and its op's
    explorer.locator(".cg-mode", has_text="live").click()

    # nudge: each leaf's slope by finite differences, beside its gradient
    explorer.locator(".cg-nudge input").check()
    slope = explorer.locator('.cg-row[data-leaf="x1"] .cg-slope')
    page.wait_for_function(
        "() => document.querySelector('.cg-row[data-leaf=\"x1\"] .cg-slope').textContent !== ''"
    )
    assert slope.inner_text() == "slope -1.5"


def test_exported_html_shows_the_last_state_without_network(page, tmp_path):
    """nbconvert's HTML of an executed notebook (widget state saved, as nbclient and
    `jupyter nbconvert --execute` do) shows the picture, offline, never a blank cell."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nbconvert = pytest.importorskip("nbconvert")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(c) for c in [*CELLS, "ex.set(w1=-2.0)"]]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    client = nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3")
    client.execute(env=env)
    assert "widgets" in notebook.metadata  # the hard case: a widget manager would be tried
    body, _ = nbconvert.HTMLExporter().from_notebook_node(notebook)
    path = tmp_path / "explorer.html"
    path.write_text(body, encoding="utf-8")

    page.route("http*://**", lambda route: route.abort())  # as on a machine offline
    page.goto(path.as_uri(), wait_until="load")
    picture = page.locator(".chaingrad-static")
    assert picture.is_visible()
    box = picture.locator("svg").bounding_box()
    assert box["width"] > 250 and box["height"] > 100
    texts = picture.locator("svg text").all_text_contents()
    assert "data -2" in texts  # w1 after ex.set(w1=-2.0): the last state
    assert "grad -0.02498" in texts  # x1's gradient there
