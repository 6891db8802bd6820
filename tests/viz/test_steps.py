"""Backprop step-through: steps in the engine's order, stable frames, GIF and HTML."""

from __future__ import annotations

import math
import re
import shutil

import pytest

from chaingrad import Value, gradcheck, sum_of, toposort
from chaingrad.viz import StepThrough, backprop_steps, draw_dot, step_through

from .helpers import needs_chromium, needs_dot, neuron, run_chromium, svg_nodes


def test_steps_follow_the_engine_backward_and_match_its_gradients():
    g = neuron()
    steps = backprop_steps(g["o"])
    order = toposort(g["o"])
    # one step per edge, in reverse topological order of the node pushing gradient
    assert len(steps) == sum(len(v.parents) for v in order) == 9
    positions = [s.node_position for s in steps]
    assert positions == sorted(positions, reverse=True)
    assert steps[0].node is g["o"] and steps[0].parent is g["n"]
    assert all(s.contribution == s.local * s.upstream for s in steps)
    assert all(s.after == s.before + s.contribution for s in steps)
    # computed apart from .grad: nothing was touched
    assert all(v.grad == 0.0 for v in order)
    final = {s.parent: s.after for s in steps}
    g["o"].backward()
    for leaf in ("x1", "x2", "w1", "w2", "b"):
        assert final[g[leaf]] == g[leaf].grad
    assert math.isclose(final[g["w1"]], 1.0, rel_tol=1e-12)  # 2 * (1 - tanh(n)**2) = 2 * 0.5


def test_steps_agree_with_finite_differences_on_a_shared_node():
    def f(a, b):
        c = a * b
        return (c + a).tanh() * c + (a**2).sin()

    a, b = Value(0.7, label="a"), Value(-1.3, label="b")
    steps = backprop_steps(f(a, b))
    final = {}
    for s in steps:
        final[s.parent] = s.after
    assert gradcheck(f, [0.7, -1.3])  # the engine's own gradients are right...
    h = 1e-6
    numeric_a = (f(Value(0.7 + h), Value(-1.3)).data - f(Value(0.7 - h), Value(-1.3)).data) / 2 / h
    numeric_b = (f(Value(0.7), Value(-1.3 + h)).data - f(Value(0.7), Value(-1.3 - h)).data) / 2 / h
    assert math.isclose(final[a], numeric_a, rel_tol=1e-6, abs_tol=1e-8)  # ...and so are ours
    assert math.isclose(final[b], numeric_b, rel_tol=1e-6, abs_tol=1e-8)
    # a feeds three ops, so its gradient is accumulated over three steps
    assert len([s for s in steps if s.parent is a]) == 3


def test_steps_agree_with_torch():
    torch = pytest.importorskip("torch")
    g = neuron()
    final = {s.parent: s.after for s in backprop_steps(g["o"])}
    t = {k: torch.tensor(g[k].data, dtype=torch.float64, requires_grad=True)
         for k in ("x1", "x2", "w1", "w2", "b")}  # fmt: skip
    out = torch.tanh(t["x1"] * t["w1"] + t["x2"] * t["w2"] + t["b"])
    out.backward()
    for k, tensor in t.items():
        assert math.isclose(final[g[k]], tensor.grad.item(), rel_tol=1e-12, abs_tol=1e-15)


def test_step_text_writes_out_the_chain_rule_product():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    texts = [s.text for s in backprop_steps(c)]
    assert texts == [
        "grad(a) += dc/da * grad(c) = -3 * 1 = -3, so grad(a) = 0 - 3 = -3",
        "grad(b) += dc/db * grad(c) = 2 * 1 = 2, so grad(b) = 0 + 2 = 2",
    ]
    x = Value(3.0, label="x")
    y = x * x
    assert [s.after for s in backprop_steps(y)] == [3.0, 6.0]  # accumulation is visible
    # names that are not one word are bracketed so the derivative reads unambiguously
    texts = [s.text for s in backprop_steps(neuron()["o"])]
    assert texts[1].startswith("grad(x1*w1 + x2*w2) += dn/d(x1*w1 + x2*w2) * grad(n) = 1 * 0.5")
    assert any(t.startswith("grad(w1) += d(x1*w1)/dw1 * grad(x1*w1) = 2 * 0.5 = 1,") for t in texts)


def test_frames_mark_the_current_step_and_unknown_gradients():
    g = neuron()
    st = StepThrough(g["o"], params=[g["w1"], g["w2"], g["b"]])
    assert len(st) == len(st.steps) + 1 == 10
    assert st.captions[0].startswith("step 0 of 9: grad(o) = do/do = 1")
    first = st.frame_source(0)
    assert first.count("grad ?") == 9  # only the output's gradient is known
    third = st.frame_source(3)
    step = st.steps[2]
    # the edge the gradient flows along, and the op's output edge, point backward:
    # from the node whose gradient flows to the parent receiving it
    assert third.count("penwidth=3 dir=back") == 2
    i, p = step.node_position, step.parent_position
    edge = rf"n{p} -> o{i} \[id=e{i}_{step.slot} [^\]]*"
    assert re.search(edge + 'color="#ea580c" fontcolor="#ea580c" penwidth=3 dir=back', third)
    assert re.search(rf'o{i} -> n{i} \[id=e{i}_out color="#ea580c" penwidth=3 dir=back', third)
    assert "dir=back" not in first
    if shutil.which("dot"):  # drawn so: the arrowhead sits where the edge leaves the parent
        from chaingrad.viz.output import pipe

        svg = pipe(third, "svg").decode()
        group = re.search(rf'<g id="e{i}_{step.slot}" class="edge">(.*?)</g>\n</g>', svg, re.S)
        group = group or re.search(rf'<g id="e{i}_{step.slot}" class="edge">(.*?)</g>', svg, re.S)
        body = group.group(1)
        path = re.search(r' d="M([-\d.]+),([-\d.]+).*?([-\d.]+),([-\d.]+)"', body)
        start, end = [float(v) for v in path.groups()[:2]], [float(v) for v in path.groups()[2:]]
        points = re.search(r'<polygon[^>]* points="([^"]+)"', body).group(1).split()
        head = [sum(float(p.split(",")[k]) for p in points) / len(points) for k in (0, 1)]
        assert math.dist(head, start) < math.dist(head, end)
    assert st.captions[3].startswith("step 3 of 9: grad(b) += dn/db · grad(n) = 1 · 0.5 = 0.5")
    assert st.captions[3].endswith("where dn/db = d(x1*w1 + x2*w2 + b)/db = 1")
    last = st.frame_source(len(st) - 1)
    assert "grad ?" not in last
    with pytest.raises(IndexError):
        st.frame_source(10)


def test_steps_carry_their_rule_and_whether_the_gradient_is_final():
    a = Value(3.0, label="a")
    y = a * a
    y.label = "y"
    steps = backprop_steps(y)
    assert [s.rule for s in steps] == ["d(a·a)/da = a = 3", "d(a·a)/da = a = 3"]
    assert [s.final for s in steps] == [False, True]  # a is used twice: final after both
    st = StepThrough(y)
    assert "(final, #2)" not in st.captions[1] and "(final, #2)" in st.captions[2]
    # unlabelled nodes get the names draw_dot shows: v<i>, or a short expression
    z = Value(2.0) * 3
    texts = [s.text for s in backprop_steps(z)]
    assert texts[0].startswith("grad(v0) += d(v0*3)/dv0 * grad(v0*3) = 3 * 1 = 3")
    assert ">v0<" in StepThrough(z).frame_source(0) and ">v0*3<" in draw_dot(z).source
    # a constant is written as its number inside a rule
    assert backprop_steps(z)[0].rule == "d(v0·3)/dv0 = 3"


@needs_dot
def test_layout_is_identical_in_every_frame():
    g = neuron()
    st = StepThrough(g["o"])
    svgs = st.svgs()
    assert len(svgs) == len(st)

    def geometry(svg):
        nodes = svg_nodes(svg.encode())
        shapes = {}
        for name, group in nodes.items():
            shape = next(
                el for el in group.iter() if el.tag.endswith(("path", "polygon", "ellipse"))
            )
            shapes[name] = dict(shape.attrib, fill=None, stroke=None)
        return shapes

    reference = geometry(svgs[0])
    assert len(reference) == 15
    for svg in svgs[1:]:
        assert geometry(svg) == reference
    # while the text did change
    assert "grad ?" in svgs[0] and "grad ?" not in svgs[-1]


@needs_dot
def test_gif_has_one_frame_per_step_all_the_same_size(tmp_path):
    from PIL import Image

    g = neuron()
    path = tmp_path / "backprop.gif"
    st = step_through(g["o"], path, duration_ms=200)
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == len(st) == 10
        sizes = set()
        first = None
        for k in range(gif.n_frames):
            gif.seek(k)
            sizes.add(gif.size)
            frame = gif.convert("RGB")
            if k == 0:
                first = frame
        assert len(sizes) == 1
        assert gif.info["duration"] == 200
        # the last frame differs from the first (colours, gradients) on the same canvas
        assert frame.getbbox() == first.getbbox() and frame.tobytes() != first.tobytes()
    assert [p.name for p in tmp_path.iterdir()] == ["backprop.gif"]


@needs_dot
def test_html_is_one_self_contained_file_with_one_picture(tmp_path):
    g = neuron()
    path = StepThrough(g["o"]).save(tmp_path / "backprop.html")
    text = path.read_text()
    assert "http" not in text  # no URLs at all: no network needed
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", text)
    assert text.count("<svg") == 1  # one picture; the script recolours it per step
    assert "<script>" in text and "cg-next" in text and 'type="range"' in text
    for part in ("cg-zoom-in", "cg-fit", "cg-steps", "cg-key", "gradient final", "parameter"):
        assert part in text
    ids = re.findall(r' id="([^"]+)"', text)
    assert len(ids) == len(set(ids))


def test_too_many_steps_is_a_clear_error():
    x = Value(1.0)
    y = sum_of([x * i for i in range(200)])
    with pytest.raises(ValueError, match="600 backward steps, more than max_steps=300"):
        StepThrough(y)
    with pytest.raises(ValueError, match="600 backward steps, more than max_steps=599"):
        backprop_steps(y, max_steps=599)
    assert len(backprop_steps(y)) == 600
    with pytest.raises(ValueError, match="max_steps must be a positive int or None"):
        backprop_steps(y, max_steps=0)


def test_save_refuses_unknown_formats(tmp_path):
    with pytest.raises(ValueError, match=r"use \.html or \.gif"):
        StepThrough(Value(1.0) * 2).save(tmp_path / "a.mp4")


HARNESS = r"""
<script>
(function () {
  var root = document.querySelector(".cg-step-through");
  var log = [];
  function node(i) { return document.getElementById(root.id + "-n" + i); }
  function state() {
    var grads = [], fills = [];
    for (var i = 0; i < NODES; i++) {
      var texts = node(i).querySelectorAll("text");
      grads.push(texts[texts.length - 1].textContent);
      fills.push(node(i).querySelector("path, polygon").getAttribute("fill"));
    }
    // the step's edge: marked backward, its arrowhead's tip on the receiving box
    var marked = [];
    var edges = root.querySelectorAll('g.edge[data-step-edge="backward"]');
    for (var j = 0; j < edges.length; j++) { marked.push(edges[j].id); }
    var heads = root.querySelectorAll(".cg-back-head");
    var where = "";
    for (var h = 0; h < heads.length; h++) {
      var tip = heads[h].getAttribute("points").split(" ")[0].split(",");
      var x = parseFloat(tip[0]), y = parseFloat(tip[1]), inside = [];
      for (var i = 0; i < NODES; i++) {
        var b = node(i).getBBox();
        if (x >= b.x - 2 && x <= b.x + b.width + 2 && y >= b.y - 2 && y <= b.y + b.height + 2) {
          inside.push(i);
        }
      }
      where += "tip@" + inside.join("+");
    }
    var flows = root.querySelectorAll(".cg-flow").length;
    return grads.join(",") + "|" + fills.join(",") + "|" + marked.join(",") + "|" + where +
      "|" + flows;
  }
  function note() {
    log.push(root.getAttribute("data-current") + "|" +
             root.querySelector(".cg-caption").textContent.replace(/\n/g, "\\n") + "|" + state());
  }
  function click(cls) { root.querySelector(cls).click(); note(); }
  click(".cg-next"); click(".cg-next"); click(".cg-next"); click(".cg-prev");
  click(".cg-last"); click(".cg-next"); click(".cg-first"); click(".cg-prev");
  var slider = root.querySelector(".cg-slider");
  slider.value = "5"; slider.dispatchEvent(new Event("input")); note();
  root.querySelectorAll(".cg-steps li")[7].click(); note();
  var svg = root.querySelector(".cg-view svg");
  var before = svg.getBoundingClientRect().width;
  root.querySelector(".cg-zoom-in").click();
  var after = svg.getBoundingClientRect().width;
  root.querySelector(".cg-fit").click();
  log.push("zoom|" + before + "|" + after + "|" + svg.getBoundingClientRect().width + "|" +
           root.querySelector(".cg-view").clientWidth + "|" +
           root.querySelectorAll(".cg-steps li").length);
  var out = document.createElement("pre");
  out.id = "harness-log";
  out.textContent = log.join("\n");
  document.body.appendChild(out);
})();
</script>
</body>"""


@needs_dot
@needs_chromium
def test_html_steps_forward_and_back_in_a_real_browser(tmp_path):
    import html

    g = neuron()
    st = StepThrough(g["o"])
    path = st.save(tmp_path / "backprop.html")
    n = len(st.drawing.order)

    # 1. A link to #step=3 opens at step 3.
    dom = run_chromium(path.as_uri() + "#step=3", tmp_path)
    assert 'data-current="3"' in dom
    assert "step 3 of 9</span>" in dom

    # 2. Click the real buttons, the slider and the step list, recording what the page shows.
    test_page = tmp_path / "harness.html"
    test_page.write_text(path.read_text().replace("</body>", HARNESS.replace("NODES", str(n))))
    dom = run_chromium(test_page.as_uri(), tmp_path)
    log = html.unescape(re.search(r'<pre id="harness-log">(.*?)</pre>', dom, re.S).group(1))
    lines = [line.split("|") for line in log.strip().split("\n")]
    zoom = lines.pop()
    assert [line[0] for line in lines] == ["1", "2", "3", "2", "9", "9", "0", "0", "5", "7"]
    for k, caption, grads, fills, marked, where, flows in lines:
        k = int(k)
        assert caption.replace("\\n", "\n") == st.captions[k]
        # the gradient texts are those of frame k
        expected = {st.drawing.root: 1.0}
        for step in st.steps[:k]:
            expected[step.parent] = step.after
        shown = grads.split(",")
        for i, node in enumerate(st.drawing.order):
            value = expected.get(node)
            assert shown[i] == "grad " + ("?" if value is None else st.drawing.fmt(value))
        colours, _edges = st._state(k)
        for i, fill in enumerate(fills.split(",")):
            assert fill == colours.get(i, "#ffffff"), (k, i)
        if k:
            # the edge of the step points backward: its arrowhead is on the parent,
            # the box receiving the gradient; the op's output edge flows back too
            step = st.steps[k - 1]
            assert marked.endswith(f"-e{step.node_position}_{step.slot}")
            assert where == f"tip@{step.parent_position}", (k, where)
            assert flows == "2"
        else:
            assert marked == where == "" and flows == "0"
    _, before, after, fitted, room, items = zoom
    assert float(after) > float(before) * 1.2  # zoom in
    assert float(fitted) <= float(room) + 1  # fit: the lecture neuron fits without scrolling
    assert int(items) == len(st)  # the clickable list has every step


@needs_dot
@needs_chromium
def test_two_players_in_one_page_drive_their_own_pictures(tmp_path):
    a = Value(2.0, label="a")
    first = StepThrough(a * a)
    second = StepThrough((a * 3).tanh())
    page = (
        "<!DOCTYPE html><html><body>"
        + first.html_fragment()
        + second.html_fragment()
        + """<script>
var players = document.querySelectorAll(".cg-step-through");
players[1].querySelector(".cg-last").click();
var out = document.createElement("pre"); out.id = "harness-log";
out.textContent = players[0].getAttribute("data-current") + "," +
  players[1].getAttribute("data-current");
document.body.appendChild(out);
</script></body></html>"""
    )
    path = tmp_path / "two.html"
    path.write_text(page)
    dom = run_chromium(path.as_uri(), tmp_path)
    assert re.search(r'<pre id="harness-log">0,3</pre>', dom)


@needs_dot
def test_the_gif_shows_itself_in_notebooks_and_html_exports(tmp_path):
    import base64

    from PIL import Image

    st = StepThrough(Value(0.5, label="x").tanh())
    gif = st.gif(duration_ms=300)
    bundle = gif._repr_mimebundle_()
    assert bundle["text/html"].startswith('<img src="data:image/gif;base64,')
    assert 'style="max-width: 100%"' in bundle["text/html"]
    assert base64.b64decode(bundle["image/gif"]) == gif.data
    path = gif.save(tmp_path / "tanh.gif")
    with Image.open(path) as image:
        assert image.n_frames == len(st) == 2
