"""Pictures a learner can read: they fit a 1,100 px notebook column with text >= 10 px as shown.

A picture wider than the column is shrunk by the browser, and its text with it,
so every check computes the size text is shown at (tests/viz/helpers.svg_fit).
"""

from __future__ import annotations

import re
import subprocess
import sys

from chaingrad import Value, dot, sum_of, toposort
from chaingrad.engine.scopes import record_scopes
from chaingrad.nn import MLP, Neuron
from chaingrad.viz import StepThrough, draw_dot

from .helpers import (
    COLUMN_PX,
    MIN_TEXT_PX,
    assert_fits,
    needs_dot,
    neuron,
    svg_fit,
    tanh_chain,
)


def lecture():
    g = neuron()
    g["o"].backward()
    return g, [g["w1"], g["w2"], g["b"]]


@needs_dot
def test_the_lecture_neuron_fits_the_column_at_full_size():
    g, params = lecture()
    for what, graph in [
        ("draw_dot(o)", draw_dot(g["o"])),
        ("draw_dot(o, params, edge_labels)", draw_dot(g["o"], params=params, edge_labels=True)),
        ("draw_dot(o, ..., number_backward, legend)",
         draw_dot(g["o"], params=params, edge_labels=True, number_backward=True, legend=True)),
    ]:  # fmt: skip
        svg = graph.pipe(format="svg")
        assert_fits(svg, what)
        _width, _, text = svg_fit(svg)
        assert text >= 11.9, f"{what}: {text:.1f} px"  # shown at full size (9pt), not shrunk
    # left to right, like micrograd's pictures, because it fits
    assert "rankdir=LR" in draw_dot(g["o"], params=params, edge_labels=True).source


@needs_dot
def test_every_step_through_frame_of_the_lecture_neuron_fits():
    g, params = lecture()
    st = StepThrough(g["o"], params=params)
    svgs = st.svgs()
    assert len(svgs) == 10
    widths = set()
    for k, svg in enumerate(svgs):
        assert_fits(svg, f"step-through frame {k}")
        widths.add(svg_fit(svg)[0])
    assert len(widths) == 1  # one layout for every frame
    # the player's one inline SVG is that same picture
    fragment = st.html_fragment("p")
    inline = re.search(r"<svg\b.*?</svg>", fragment, re.S).group(0)
    namespaces = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
    inline = inline.replace("<svg", f"<svg {namespaces}", 1)
    assert_fits(inline, "the player's SVG")


@needs_dot
def test_frames_are_no_wider_than_draw_dot_needs():
    # Boxes are sized per node: a frame is not every box as wide as the widest one.
    g, params = lecture()
    plain = svg_fit(draw_dot(g["o"], params=params, edge_labels=True).pipe(format="svg"))[0]
    frame = svg_fit(StepThrough(g["o"], params=params).svgs()[0])[0]
    assert frame <= 1.15 * plain, (frame, plain)


@needs_dot
def test_the_gif_is_readable_at_notebook_width():
    from io import BytesIO

    from PIL import Image

    g, params = lecture()
    st = StepThrough(g["o"], params=params)
    with Image.open(BytesIO(st.gif_bytes(duration_ms=100))) as gif:
        assert gif.width <= COLUMN_PX
        # not shrunk: the graph part is exactly as wide as dot drew it
        assert gif.width >= round(svg_fit(st.svgs()[0])[0]) - 1


def notebook_drawings():
    """The drawings notebook 02 makes (the lecture neuron, a module, a small MLP)."""
    g, params = lecture()
    yield "neuron with legend", draw_dot(g["o"], params=params, legend=True)
    yield "neuron numbered", draw_dot(g["o"], params=params, edge_labels=True, number_backward=True)
    a = Value(3.0, label="a")
    twice = a + a
    twice.label = "b"
    twice.backward()
    yield "a node used twice", draw_dot(twice, edge_labels=True)
    cell = Neuron(2, activation="tanh")
    cell.w[0].data, cell.w[1].data, cell.b.data = -3.0, 1.0, 6.8813735870195432
    with record_scopes() as recorder:
        out = cell([Value(2.0, label="x1"), Value(0.0, label="x2")])
    out.backward()
    yield "Neuron module", draw_dot(out, scopes=recorder, model=cell, edge_labels=True)
    model = MLP(2, [3, 1], seed=0)
    with record_scopes() as recorder:
        score = model([Value(2.0, label="x1"), Value(0.0, label="x2")])
    score.backward()
    yield "MLP(2, [3, 1])", draw_dot(score, scopes=recorder, model=model, color_grad=True)
    yield "MLP summary", draw_dot(score, scopes=recorder, model=model, max_nodes=10)


@needs_dot
def test_drawings_like_the_notebooks_are_readable():
    count = 0
    for what, graph in notebook_drawings():
        svg = graph.pipe(format="svg")
        _width, _shown, text = svg_fit(svg)
        assert text >= MIN_TEXT_PX, f"{what}: text {text:.1f} px as shown"
        count += 1
    assert count == 6


def big_mlp_graph():
    model = MLP(3, [4, 4, 1], seed=0)
    with record_scopes() as recorder:
        loss = (model([Value(2.0, label="x1"), Value(3.0, label="x2"), Value(-1.0, label="x3")])
                - 1.0) ** 2  # fmt: skip
    loss.backward()
    return loss, recorder, model


@needs_dot
def test_a_graph_too_big_for_the_column_is_summarized_not_shrunk():
    loss, recorder, model = big_mlp_graph()
    full = draw_dot(loss, scopes=recorder, model=model, width=None)
    _width, _shown, text = svg_fit(full.pipe(format="svg"))
    assert text < MIN_TEXT_PX  # drawn in full it would be unreadable in a notebook...
    graph = draw_dot(loss, scopes=recorder, model=model)
    assert "summarized" in graph.source and "too big to read in a 1100 px column" in graph.source
    _width, _shown, text = svg_fit(graph.pipe(format="svg"))
    assert text >= MIN_TEXT_PX  # ...so it is summarized: one box per neuron
    assert graph.source.count("(Neuron)") == 9


@needs_dot
def test_a_deep_chain_turns_top_to_bottom_and_a_wide_sum_stays_left_to_right():
    deep = draw_dot(tanh_chain(12), edge_labels=True)
    assert "rankdir=TB" in deep.source
    assert_fits(deep.pipe(format="svg"), "a chain of 12 tanh")
    xs = [Value(float(i), label=f"x{i}") for i in range(12)]
    ws = [Value(0.1 * i, label=f"w{i}") for i in range(12)]
    wide = draw_dot(sum_of([x * w for x, w in zip(xs, ws)]), edge_labels=True)
    assert "rankdir=LR" in wide.source
    assert_fits(wide.pipe(format="svg"), "a sum of 12 products")
    # a forced direction is kept
    assert "rankdir=TB" in draw_dot(sum_of(xs), rankdir="TB").source


def micrograd_style_mlp():
    """micrograd's MLP(3, [4, 4, 1]) on one example: each neuron sums w*x products one by one."""
    import random

    rng = random.Random(0)
    x = [Value(2.0, label="x1"), Value(3.0, label="x2"), Value(-1.0, label="x3")]
    sizes = [3, 4, 4, 1]
    for layer in range(3):
        outs = []
        for _ in range(sizes[layer + 1]):
            act = Value(rng.uniform(-1, 1))
            for xi in x:
                act = act + Value(rng.uniform(-1, 1)) * xi
            outs.append(act.tanh() if layer < 2 else act)
        x = outs
    return (x[0] - 1.0) ** 2


@needs_dot
def test_the_player_of_an_mlp_is_kilobytes_not_megabytes():
    loss, recorder, model = big_mlp_graph()
    chaingrad_mlp = StepThrough(loss, scopes=recorder, model=model)
    micrograd_mlp = StepThrough(micrograd_style_mlp())
    sizes = [len(st.to_html().encode("utf-8")) for st in (chaingrad_mlp, micrograd_mlp)]
    assert sizes[0] < 250_000, sizes  # the README says about 210 KB
    for st, size in zip((chaingrad_mlp, micrograd_mlp), sizes):
        assert size < 1_000_000, size
        assert st.to_html().count("<svg") == 1  # one picture, recoloured by the script
    assert len(micrograd_mlp.steps) > 100


def test_the_tanh_step_names_its_rule():
    g, params = lecture()
    st = StepThrough(g["o"], params=params)
    tanh_caption = st.captions[1]
    assert re.search(r"1 − tanh\(.+\)²", tanh_caption), tanh_caption
    assert "1 − tanh(n)² = 1 − 0.7071² = 0.5" in tanh_caption
    # and a product names the other factor
    assert "d(x1·w1)/dw1 = x1 = 2" in st.captions[9]


def test_parameters_are_named_by_their_full_module_path():
    loss, recorder, model = big_mlp_graph()
    st = StepThrough(loss, scopes=recorder, model=model)
    text = "\n".join(st.captions)
    names = [name for name, _ in model.named_parameters()]
    assert "layers.0.neurons.3.w.1" in names
    assert "grad(layers.0.neurons.3.w.1) +=" in text
    for name in names:  # every parameter's gradient appears under its own full name
        assert f"grad({name}) +=" in text
    assert not re.search(r"grad\(w\.\d\)", text)


def test_finished_nodes_and_number_backward_agree_step_by_step():
    g, params = lecture()
    st = StepThrough(g["o"], params=params)
    numbers = st.drawing.backward_numbers()
    order = toposort(g["o"])
    finished_before = set()
    for k in range(len(st)):
        fills, _edges = st._state(k)
        done = {i for i, fill in fills.items() if fill == "#bbf7d0"}
        now_final = {i for i in range(len(order)) if st.finish_step[i] <= k}
        current = (
            set() if k == 0 else {st.steps[k - 1].node_position, st.steps[k - 1].parent_position}
        )
        assert done == now_final - current - ({len(order) - 1} if k == 0 else set())
        newly = now_final - finished_before
        assert len(newly) == 1 or (k > 0 and not newly)  # one node at a time, in order
        for i in newly:
            assert numbers[i] == len(finished_before) + 1
            if k:
                assert f"(final, #{numbers[i]})" in st.captions[k]
        finished_before |= newly
    assert len(finished_before) == len(order)


@needs_dot
def test_players_from_two_processes_share_no_element_id():
    code = (
        "from tests.lecture import neuron; from chaingrad.viz import StepThrough; "
        "print(StepThrough(neuron()['o']).html_fragment())"
    )
    pages = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
        ).stdout
        for _ in range(2)
    ]
    ids = [set(re.findall(r'\bid="([^"]+)"', page)) for page in pages]
    assert len(ids[0]) > 20 and len(ids[1]) > 20
    assert not ids[0] & ids[1]
    # and within one page, each id is used once
    for page in pages:
        found = re.findall(r'\bid="([^"]+)"', page)
        assert len(found) == len(set(found))


@needs_dot
def test_dot_weighted_sums_draw_as_one_node_with_their_rule():
    w = [Value(0.5, label="w1"), Value(-1.0, label="w2")]
    x = [Value(2.0, label="x1"), Value(3.0, label="x2")]
    y = dot(w, x)
    y.label = "y"
    st = StepThrough(y)
    assert "d(w1·x1 + w2·x2)/dw2 = x2 = 3" in "\n".join(st.captions)
    assert_fits(st.svgs()[-1], "dot frame")
