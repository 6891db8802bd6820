"""chaingrad.viz.Explorer in a real JupyterLab page: drag a slider, read the new gradient."""

from __future__ import annotations

import re

from chaingrad import Value

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
    open_notebook(page, CELLS)
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
