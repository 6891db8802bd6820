"""The step-through player as a learner uses it (issue 15): names shared with draw_dot,
parameters named by their path, hover texts that give the rule, an address that
follows the step, edge labels on their own edges, a big graph opened readable,
and a GIF that carries its colour key."""

from __future__ import annotations

import html
import json
import math
import re
import xml.etree.ElementTree as ET

import pytest

from chaingrad import Value, dot
from chaingrad.nn import MLP
from chaingrad.viz import StepThrough, backprop_steps, draw_dot
from chaingrad.viz.layout import EDGE_FONT_SIZE, MIN_TEXT_PX, PX_PER_PT
from chaingrad.viz.output import pipe
from chaingrad.viz.style import EDGE_COLOUR, STEP_KEY, UPSTREAM_FILL

from .helpers import SVG_NS, needs_chromium, needs_dot, run_chromium, svg_nodes, svg_text


def bare_neuron() -> Value:
    """micrograd's neuron with only its leaves labelled, as a learner first writes it."""
    x1, w1 = Value(2.0, label="x1"), Value(-3.0, label="w1")
    x2, w2 = Value(0.0, label="x2"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    return (x1 * w1 + x2 * w2 + b).tanh()


def mlp_loss() -> tuple[MLP, Value]:
    model = MLP(3, [4, 4, 1], seed=0)
    xs, ys = [[2.0, 3.0, -1.0]], [1.0]
    loss = sum((model(x) - y) ** 2 for x, y in zip(xs, ys))  # as micrograd's lecture writes it
    return model, loss


def player_data(page: str) -> dict:
    """The data the player's script reads, from its call at the end of the script."""
    call = re.search(r"chaingradPlayer\(document\.getElementById\([^)]*\), (\{.*\})\);", page)
    assert call, "the player's script is not in the page"
    return json.loads(call.group(1))


def box_names(svg: str) -> dict[str, str]:
    """Node id -> the name line of its box (the first text), from dot's SVG."""
    return {
        node: svg_text(group).split(" data ")[0]
        for node, group in svg_nodes(svg).items()
        if node.startswith("n")
    }


# --- names ------------------------------------------------------------------------


@needs_dot
def test_draw_dot_render_and_the_player_call_every_node_by_the_same_name(tmp_path):
    o = bare_neuron()
    st = StepThrough(o)
    names = st.drawing.names()
    # the user's labels stay; the others get short expressions or v<i>, never n<i>
    assert names[:2] == ["x1", "w1"] and "x1*w1" in names and "x2*w2" in names
    assert names[-1].startswith("v") and not any(re.fullmatch(r"n\d+", n) for n in names)
    assert len(set(names)) == len(names)
    # draw_dot's SVG (as render writes it) shows each node's name in its box...
    drawn = box_names(pipe(draw_dot(o).source, "svg"))
    assert drawn == {f"n{i}": name for i, name in enumerate(names)}
    # ... as the player's frames do, and the captions and hover texts use them
    framed = box_names(pipe(st.frame(0).source, "svg"))
    assert framed == drawn
    page = st.to_html()
    data = player_data(page)
    for i, name in enumerate(names):
        assert data["tips"]["nodes"][i].startswith(f"{name} (")
    captions = "\n".join(st.captions)
    for name in names:
        if name not in ("x1", "w1", "x2", "w2", "b"):
            assert f"grad({name})" in captions
    # a user's label that looks like an automatic name is never repeated
    a = Value(1.0, label="v1")
    twice = a * Value(2.0)
    assert StepThrough(twice).drawing.names() == ["v1", "v1'", "v2"]


def test_a_model_names_its_parameters_by_path_in_the_steps_and_the_player():
    model, loss = mlp_loss()
    steps = backprop_steps(loss, model=model)
    assert len(steps) == 95
    receivers = {s.text.split(" += ")[0] for s in steps}
    for i in range(4):
        assert f"grad(layers.0.neurons.{i}.b)" in receivers
    assert "grad(layers.1.neurons.1.w.2)" in receivers
    assert not any(re.search(r"grad\(n\d+\)", s.text) for s in steps)
    # the collection given as params= names them too when it is the model itself
    st = StepThrough(loss, params=model)
    names = st.drawing.names()
    assert sum(name.startswith("layers.") for name in names) == len(model.parameters()) == 41
    assert st.drawing.kind(model.parameters()[0]) == "parameter"


# --- hover ------------------------------------------------------------------------


def test_hover_texts_write_the_rule_symbolically_and_with_numbers():
    st = StepThrough(bare_neuron())
    names = st.drawing.names()
    tips = st.drawing.hover_texts(st.final_grads)
    product = names.index("x1*w1")
    edge = tips["edges"][product][0]  # x1 into x1*w1
    assert edge == (
        "backward: grad(x1) += d(x1*w1)/dx1 · grad(x1*w1)\nlocal derivative: d(x1·w1)/dx1 = w1 = −3"
    )
    top = len(names) - 1
    assert "1 − tanh(" in tips["edges"][top][0] and "= 0.5" in tips["edges"][top][0]
    assert tips["ops"][product].splitlines() == [
        "*: inputs x1, w1 → x1*w1",
        "d(x1·w1)/dx1 = w1 = −3",
        "d(x1·w1)/dw1 = x1 = 2",
    ]
    assert tips["nodes"][0] == "x1 (input): data 2, grad after every step -1.5"
    assert tips["nodes"][product] == (
        "x1*w1 (intermediate) = * of x1, w1: data -6, grad after every step 0.5"
    )
    assert not any("->" in text for text in tips["ops"] + tips["nodes"])


# --- edge labels --------------------------------------------------------------------


def _path_start(group: ET.Element) -> tuple[float, float]:
    d = next(group.iter(f"{SVG_NS}path")).get("d")
    x, y = re.match(r"M\s*([-\d.]+),([-\d.]+)", d).groups()
    return float(x), float(y)


def _label_position(group: ET.Element) -> tuple[float, float] | None:
    for text in group.iter(f"{SVG_NS}text"):
        if (text.text or "").strip():
            return float(text.get("x")), float(text.get("y"))
    return None


@needs_dot
def test_edge_labels_of_a_many_input_op_sit_on_their_own_edges():
    xs = [Value(v, label=f"x{i}") for i, v in enumerate((1.0, -2.0, 0.5, 3.0))]
    ws = [Value(v, label=f"w{i}") for i, v in enumerate((0.1, 0.2, -0.3, 0.4))]
    neuron = dot(ws, xs).tanh()  # one op with 8 inputs, each used once
    svg = pipe(draw_dot(neuron, edge_labels=True).source, "svg")
    root = ET.fromstring(svg)
    into_dot = [
        g
        for g in root.iter(f"{SVG_NS}g")
        if g.get("class") == "edge"
        and g.get("id", "").startswith("e8_")
        and g.get("id") != "e8_out"
    ]
    assert len(into_dot) == 8
    starts = [_path_start(g) for g in into_dot]
    labels = [_label_position(g) for g in into_dot]
    assert all(labels)
    for k, (x, y) in enumerate(labels):
        # each label is nearest the start of its own edge (at its own input's box)...
        distances = [math.hypot(x - sx, y - sy) for sx, sy in starts]
        assert distances.index(min(distances)) == k
    # ... and no two labels stack on one another
    for a in range(8):
        for b in range(a + 1, 8):
            assert math.hypot(labels[a][0] - labels[b][0], labels[a][1] - labels[b][1]) > 10


# --- the GIF's key --------------------------------------------------------------------


@needs_dot
def test_the_gif_carries_the_colour_key(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image

    st = StepThrough(bare_neuron())
    path = st.save(tmp_path / "neuron.gif")
    with Image.open(path) as gif:
        first = gif.convert("RGB")
    colours = {first.getpixel((x, y)) for x in range(first.width) for y in range(first.height)}

    def rgb(hex_colour: str) -> tuple[int, int, int]:
        return tuple(int(hex_colour[k : k + 2], 16) for k in (1, 3, 5))

    # the seed frame colours no node "flows from" and no edge: those come from the key
    assert rgb(UPSTREAM_FILL) in colours and rgb(EDGE_COLOUR) in colours
    for fill, _border, _text in STEP_KEY:
        assert rgb(fill) in colours


# --- in a real browser ------------------------------------------------------------

HARNESS = r"""
<script>
(function () {
  var root = document.querySelector(".cg-step-through");
  var log = {};
  function current() { return root.getAttribute("data-current"); }
  log.titles = root.querySelectorAll("svg title").length;
  // hover an edge and an op: the tip gives the rule
  function hover(id) {
    var g = document.getElementById(root.id + "-" + id);
    g.querySelector("path, polygon, ellipse").dispatchEvent(
      new MouseEvent("mouseover", {bubbles: true}));
    return root.querySelector(".cg-tip").textContent;
  }
  log.edgeTip = hover("e2_0");
  log.opTip = hover("o2");
  // the address follows the step shown
  root.querySelector(".cg-next").click();
  root.querySelector(".cg-next").click();
  log.afterNext = location.hash + "@" + current();
  root.querySelector(".cg-last").click();
  log.afterLast = location.hash + "@" + current();
  // and a new address moves the player
  location.hash = "#step=4";
  setTimeout(function () {
    log.afterHash = location.hash + "@" + current();
    var out = document.createElement("pre");
    out.id = "harness-log";
    out.textContent = JSON.stringify(log);
    document.body.appendChild(out);
  }, 200);
})();
</script>
</body>"""


def harness_log(dom: str) -> dict:
    found = re.search(r'<pre id="harness-log">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


@needs_dot
@needs_chromium
def test_hover_and_the_address_in_a_real_browser(tmp_path):
    st = StepThrough(bare_neuron())
    page = st.to_html(element_id="player")
    path = tmp_path / "harness.html"
    path.write_text(page.replace("</body>", HARNESS))
    log = harness_log(run_chromium(path.as_uri() + "#step=1", tmp_path))
    assert log["titles"] == 0  # Graphviz's own tooltips (n0->o2) are gone
    assert "d(x1·w1)/dx1 = w1 = −3" in log["edgeTip"] and "grad(x1) +=" in log["edgeTip"]
    assert "d(x1·w1)/dw1 = x1 = 2" in log["opTip"]
    last = len(st.captions) - 1
    assert log["afterNext"] == "#step=3@3"  # opened at #step=1, then two steps on
    assert log["afterLast"] == f"#step={last}@{last}"
    assert log["afterHash"] == "#step=4@4"


FIT_HARNESS = r"""
<script>
(function () {
  var root = document.querySelector(".cg-step-through");
  var view = root.querySelector(".cg-view"), svg = view.querySelector("svg");
  var frame = view.getBoundingClientRect();
  var out = document.getElementById(root.id + "-nROOT").getBoundingClientRect();
  var scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  var smallest = 1e9, texts = svg.querySelectorAll("text");
  for (var i = 0; i < texts.length; i++) {
    if (!texts[i].textContent.trim()) { continue; }
    smallest = Math.min(smallest, parseFloat(texts[i].getAttribute("font-size")) * scale);
  }
  var log = {
    inView: out.left >= frame.left && out.right <= frame.right &&
            out.top >= frame.top && out.bottom <= frame.bottom,
    smallest: smallest, width: frame.width
  };
  var pre = document.createElement("pre");
  pre.id = "harness-log";
  pre.textContent = JSON.stringify(log);
  document.body.appendChild(pre);
})();
</script>
</body>"""


@needs_dot
@needs_chromium
def test_a_large_graph_opens_fitted_with_the_output_in_view_and_text_readable(tmp_path):
    model, loss = mlp_loss()
    st = StepThrough(loss, model=model)
    assert len(st.steps) == 95
    root = len(st.drawing.order) - 1
    path = tmp_path / "mlp.html"
    path.write_text(st.to_html().replace("</body>", FIT_HARNESS.replace("ROOT", str(root))))
    log = harness_log(run_chromium(path.as_uri(), tmp_path))
    assert log["width"] > 1200  # the window is 1,300 px wide
    assert log["inView"]
    assert log["smallest"] >= MIN_TEXT_PX - 0.05, log
    assert player_data(st.to_html())["minZoom"] == MIN_TEXT_PX / (EDGE_FONT_SIZE * PX_PER_PT)


def test_the_players_files_ship_in_the_package_and_the_script_parses():
    import shutil
    import subprocess
    from importlib import resources

    static = resources.files("chaingrad.viz") / "static"
    names = sorted(entry.name for entry in static.iterdir())
    assert names == ["player.css", "player.html", "player.js"]
    assert "http" not in "".join((static / name).read_text() for name in names)  # no CDN
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the script's syntax is checked by the browser tests")
    done = subprocess.run(
        [node, "--check", str(static / "player.js")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_a_huge_graph_names_its_nodes_without_walking_them_all():
    from chaingrad.viz.drawing import EXPRESSION_NAMES_UP_TO, GraphDrawing

    x = Value(1.0, label="v3")  # a label that looks automatic
    y = x
    for _ in range(EXPRESSION_NAMES_UP_TO // 2 + 1):
        y = y * 1.0001 + 0.5
    drawing = GraphDrawing(y)
    assert len(drawing.order) > EXPRESSION_NAMES_UP_TO
    assert drawing.full_name(0) == "v3" and drawing.full_name(3) == "v3'"
    assert drawing.full_name(2) == "v2"  # v2*1.0001 is not tried: too many values
    assert drawing.names()[:4] == ["v3", "v1", "v2", "v3'"]
    assert [drawing.full_name(i) for i in range(len(drawing.order))] == drawing.names()
