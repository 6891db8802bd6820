"""Drawing real chaingrad.nn models: clusters per layer and neuron, summaries, step-through."""

from __future__ import annotations

import re

from chaingrad import Value, toposort
from chaingrad.engine.scopes import record_scopes
from chaingrad.nn import MLP, Neuron
from chaingrad.viz import StepThrough, draw_dot

from .helpers import needs_dot, svg_nodes


def cluster_names(source: str) -> list[str]:
    return re.findall(r"subgraph cluster_\d+ \{\n\s*label=\"([^\"]*)\"", source)


def test_mlp_clusters_are_named_after_named_modules():
    model = MLP(2, [3, 1], seed=0)
    with record_scopes() as recorder:
        score = model([Value(2.0, label="x1"), Value(0.0, label="x2")])
    score.backward()
    source = draw_dot(score, scopes=recorder, model=model).source
    expected = [name for name, _ in model.named_modules()]
    names = cluster_names(source)
    assert len(names) == len(expected) == 1 + 2 + 3 + 1
    assert names[0] == "MLP"
    for name in expected[1:]:
        assert any(n.startswith(f"{name} (") for n in names), name
    # every parameter is drawn as a parameter and named inside its neuron
    assert source.count(" (parameter): data ") == len(model.parameters()) == 13
    assert source.count("<b>b</b>") == 4


def test_the_lecture_neuron_as_an_nn_module():
    cell = Neuron(2, activation="tanh")
    cell.w[0].data, cell.w[1].data, cell.b.data = -3.0, 1.0, 6.8813735870195432
    with record_scopes() as recorder:
        out = cell([Value(2.0, label="x1"), Value(0.0, label="x2")])
    source = draw_dot(out, scopes=recorder, model=cell).source
    assert cluster_names(source) == ["Neuron"]
    st = StepThrough(out, scopes=recorder, model=cell)
    final = {s.parent: s.after for s in st.steps}
    assert abs(final[cell.w[0]] - 1.0) < 1e-12 and abs(final[cell.b] - 0.5) < 1e-12
    assert any(s.text.startswith("grad(w.0) += ") for s in st.steps)


@needs_dot
def test_big_mlp_batch_is_summarized_per_layer_and_renders():
    model = MLP(4, [16, 16, 1], seed=1)
    with record_scopes() as recorder:
        total = Value(0.0)
        for k in range(40):
            total = total + (model([((k + i) % 5) / 5 for i in range(4)]) - 1.0) ** 2
    n = len(toposort(total))
    graph = draw_dot(total, scopes=recorder, model=model)
    assert n > 500 and f"summarized: {n} values" in graph.source
    svg = graph.pipe(format="svg").decode()
    assert len(svg_nodes(svg.encode())) <= 80
    # summary boxes carry the module names and counts of what they stand for
    assert re.search(r"layers\.\d+(\.neurons\.\d+)? \((Layer|Neuron)\)", svg)
    assert re.search(r"\d+ values: \d+ parameter", svg)


def test_matrix_parameters_keep_their_own_names_in_boxes():
    # weight_ih.0.0 and weight_hh.0.0 of a recurrent cell must not both show as "0.0".
    from chaingrad.nn import RNNCell

    cell = RNNCell(1, 1, bias=False, seed=0)
    with record_scopes() as recorder:  # inside a cluster, boxes show short names
        h = cell([Value(0.5, label="x")])
    source = draw_dot(h[0], model=cell, scopes=recorder).source
    assert "<b>weight_ih.0.0</b>" in source and "<b>weight_hh.0.0</b>" in source
