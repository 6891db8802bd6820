"""Module clusters from scope tags, and summaries that keep big graphs drawable."""

from __future__ import annotations

import re
import time

from chaingrad import Value, toposort
from chaingrad.engine.scopes import record_scopes
from chaingrad.viz import draw_dot

from .helpers import TinyMLP, needs_dot, svg_nodes


def clusters(source: str) -> list[tuple[str, str]]:
    return re.findall(r"subgraph (cluster_\d+) \{\n\s*label=\"([^\"]*)\"", source)


def forward(model, x):
    with record_scopes() as recorder:
        y = model(x)
    y.backward()
    return y, recorder


def test_clusters_per_layer_and_neuron_named_by_named_modules():
    model = TinyMLP(3, [4, 2, 1])
    x = [Value(1.0, label="x0"), Value(-2.0, label="x1"), Value(0.5, label="x2")]
    y, recorder = forward(model, x)
    source = draw_dot(y, scopes=recorder, model=model, params=model.parameters(), width=None).source
    names = [name for _, name in clusters(source)]
    assert names[0] == "TinyMLP"
    assert "layers.0 (TinyLayer)" in names and "layers.2 (TinyLayer)" in names
    neurons = [n for n in names if n.endswith("(TinyNeuron)")]
    assert len(neurons) == 4 + 2 + 1
    assert "layers.0.neurons.3 (TinyNeuron)" in neurons
    # clusters nest: the MLP opens first and every brace closes
    assert source.count("{") == source.count("}")
    # a neuron cluster holds its 3 weights, bias, dot, +, tanh (7 value boxes)
    body = source.split('label="layers.0.neurons.0 (TinyNeuron)"')[1].split("}")[0]
    assert len(re.findall(r"^\s*n\d+ \[", body, re.M)) == 3 + 1 + 3
    assert body.count(" (parameter): data ") == 4  # hover texts name the kind
    # inputs were made outside the model: not inside any cluster
    before_first_cluster = source.split("subgraph")[0]
    assert before_first_cluster.count(" (input): data ") == 3


def test_a_model_names_and_marks_its_parameters():
    model = TinyMLP(2, [2, 1])
    y, recorder = forward(model, [Value(1.0, label="x0"), Value(2.0, label="x1")])
    source = draw_dot(y, scopes=recorder, model=model, edge_labels=True, width=None).source
    assert source.count(" (parameter): data ") == len(model.parameters()) == 9
    # boxes inside a neuron's cluster say w.0; tooltips and derivatives give the full path
    assert source.count("<b>w.0</b>") == 3 and source.count("<b>b</b>") == 3
    assert re.search(r"grad\(layers\.0\.neurons\.1\.w\.1\) \+= dv\d+/d\(layers\.0", source)
    assert 'tooltip="layers.1.neurons.0.b (parameter)' in source
    # explicit params win over the model's
    explicit = draw_dot(y, scopes=recorder, model=model, params=[]).source
    assert " (parameter): data " not in explicit and "<b>w.0</b>" in explicit


def test_cluster_names_fall_back_to_type_and_index():
    model = TinyMLP(2, [2, 1])
    y, recorder = forward(model, [Value(1.0), Value(2.0)])
    names = [name for _, name in clusters(draw_dot(y, scopes=recorder).source)]
    assert names[0] == "TinyMLP 0"
    assert {"TinyLayer 0", "TinyLayer 1", "TinyNeuron 0", "TinyNeuron 2"} <= set(names)


def test_cluster_text_is_stable_across_runs():
    def source():
        model = TinyMLP(2, [3, 1], seed=5)
        y, recorder = forward(model, [Value(1.0), Value(2.0)])
        return draw_dot(y, scopes=recorder, model=model).source

    assert source() == source()


def test_no_scopes_no_clusters():
    model = TinyMLP(2, [2, 1])
    y = model([Value(1.0), Value(2.0)])  # no recorder: modules run plain
    assert "subgraph" not in draw_dot(y).source


def test_over_budget_neurons_collapse_into_summary_nodes_and_say_so():
    model = TinyMLP(3, [4, 4, 1])
    y, recorder = forward(model, [Value(1.0, label="x0"), Value(2.0), Value(3.0)])
    total = len(toposort(y))
    graph = draw_dot(y, scopes=recorder, model=model, max_nodes=20)
    source = graph.source
    assert f"summarized: {total} values" in source and "max_nodes=None" in source
    summaries = re.findall(r"^\s*(g\d+) \[label=<(.*)> shape=box3d", source, re.M)
    assert len(summaries) == 9  # one per neuron
    titles = [re.search(r"<b>(.*?)</b>", label).group(1) for _, label in summaries]
    assert "layers.1.neurons.2 (TinyNeuron)" in titles
    first_layer = next(label for _, label in summaries if "layers.0.neurons.0" in label)
    assert "7 values" in first_layer
    # the output stays visible as itself, with its data and grad
    assert "grad 1<" in source
    # edges between neurons are merged, e.g. 4 neurons of layer 0 feed each of layer 1
    assert re.search(r"g\d+ -> g\d+", source)


def test_coarser_summary_when_neurons_are_still_too_many():
    model = TinyMLP(4, [30, 30, 1])
    with record_scopes() as recorder:
        y = model([Value(0.1 * i) for i in range(4)])
    source = draw_dot(y, scopes=recorder, model=model, max_nodes=40).source
    titles = re.findall(r"<b>([^<]*)</b>", source)
    assert "layers.0 (TinyLayer)" in titles and "layers.1 (TinyLayer)" in titles
    assert not any("neurons" in t for t in titles)


def test_unscoped_graph_summarizes_into_runs():
    x = Value(1.0, label="x")
    y = x
    for _ in range(2000):
        y = y * 0.999 + 0.001
    source = draw_dot(y, max_nodes=100).source
    assert "summarized: 8001 values" in source
    boxes = re.findall(r"^\s*(g\d+|n\d+) \[", source, re.M)
    assert len(boxes) <= 60
    assert "(topological order)" in source


@needs_dot
def test_hundred_thousand_nodes_drawn_summarized_in_seconds():
    model = TinyMLP(10, [20, 20, 1], seed=1)
    start = time.perf_counter()
    with record_scopes() as recorder:
        losses = []
        for k in range(120):
            x = [Value((k * 7 + i) % 11 / 10) for i in range(10)]
            losses.append((model(x) - 1.0) ** 2)
        loss = losses[0]
        for term in losses[1:]:
            loss = loss + term
    x = Value(1.0, label="x")
    chain = x
    for _ in range(50_000):
        chain = chain * 0.999 + 0.001
    loss = loss + chain
    n = len(toposort(loss))
    assert n > 100_000
    start = time.perf_counter()
    graph = draw_dot(loss, scopes=recorder, model=model)
    svg = graph.pipe(format="svg")
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"drawing {n} nodes took {elapsed:.1f} s"
    assert f"summarized: {n} values" in graph.source
    assert len(svg_nodes(svg)) <= 80
