"""draw_dot: DOT text (nodes, edges, labels, styles) and the SVG dot makes of it."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from chaingrad import Value, sum_of, toposort
from chaingrad.viz import draw_dot, format_number
from chaingrad.viz.style import KIND_STYLES, grad_color
from chaingrad.viz.text import TIMES

from .helpers import needs_dot, neuron, svg_edges, svg_nodes, svg_text


def value_lines(source: str) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in re.finditer(r"^\s*(n\d+) \[.*$", source, re.M)}


def edges(source: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+) -> (\w+)", source, re.M)


def test_returns_a_graphviz_digraph_with_micrograd_layout():
    import graphviz

    g = neuron()
    graph = draw_dot(g["o"])
    assert isinstance(graph, graphviz.Digraph)
    assert "rankdir=LR" in graph.source
    assert "rankdir=TB" in draw_dot(g["o"], rankdir="TB").source


def test_one_box_per_value_one_ellipse_per_op_and_every_edge():
    g = neuron()
    g["o"].backward()
    source = draw_dot(g["o"]).source
    order = toposort(g["o"])
    boxes = value_lines(source)
    assert len(boxes) == len(order) == 10
    ops = re.findall(r"^\s*(o\d+) \[label=\"([^\"]*)\"", source, re.M)
    assert sorted(symbol for _, symbol in ops) == ["*", "*", "+", "+", "tanh"]
    # value -> op for each parent, op -> value for each op node
    expected = sum(len(v.parents) for v in order) + len(ops)
    assert len(edges(source)) == expected == 14
    # each node shows its label, data and grad, cleanly formatted
    o_line = boxes[f"n{len(order) - 1}"]
    assert "<b>o</b>" in o_line and "data 0.7071" in o_line and "grad 1<" in o_line
    b_line = next(line for line in boxes.values() if "<b>b</b>" in line)
    assert "data 6.881" in b_line and "grad 0.5" in b_line


def test_ids_are_topological_and_text_is_identical_run_to_run():
    first = draw_dot(neuron()["o"], edge_labels=True, number_backward=True).source
    second = draw_dot(neuron()["o"], edge_labels=True, number_backward=True).source
    assert first == second
    assert "0x" not in first  # no id()/addresses leak into the text
    code = (
        "from tests.viz.helpers import neuron; from chaingrad.viz import draw_dot; "
        "print(draw_dot(neuron()['o'], edge_labels=True, number_backward=True).source, end='')"
    )
    other_process = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert other_process == first


def test_duplicate_parents_give_two_edges():
    a = Value(3.0, label="a")
    source = draw_dot(a + a).source
    assert edges(source).count(("n0", "o1")) == 2


def test_kinds_have_distinct_styles():
    assert len({style for style in KIND_STYLES.values()}) == len(KIND_STYLES)
    x = Value(2.0, label="x")
    w = Value(-1.0, label="w")
    out = (x * w + 1).tanh()
    source = draw_dot(out, params=[w], legend=True).source
    lines = value_lines(source)
    kinds = {n: re.search(r'tooltip="[^"]* \((\w+)\)', line).group(1) for n, line in lines.items()}
    assert kinds["n0"] == "input"
    assert kinds["n1"] == "parameter"
    assert sorted(kinds.values()) == [
        "constant", "input", "intermediate", "intermediate", "output", "parameter"
    ]  # fmt: skip
    for n, kind in kinds.items():
        fill, border, _style, _width = KIND_STYLES[kind]
        assert f'fillcolor="{fill}"' in lines[n] and f'color="{border}"' in lines[n]
    # the legend shows one sample per kind
    for kind in KIND_STYLES:
        assert f"legend_{kind} [" in source
    assert "cluster_legend" in source


def test_leaves_the_user_made_are_inputs_numbers_in_the_formula_are_constants():
    x = Value(2.0)
    out = x * 3
    source = draw_dot(out).source
    assert 'tooltip="v0 (input): data 2' in source  # x, unlabelled but made by the user
    assert 'tooltip="v1 (constant): data 3' in source  # the 3
    assert 'tooltip="v1 (input)' in draw_dot(out, inputs=[out.parents[1]]).source


def edge_line(source, edge_id):
    (line,) = [line for line in source.splitlines() if f"[id={edge_id} " in line]
    return line


def test_edge_labels_carry_the_local_derivative():
    g = neuron()
    source = draw_dot(g["o"], edge_labels=True).source
    # d(x1*w1)/dx1 = w1 = -3 and d(x1*w1)/dw1 = x1 = 2; dtanh(n)/dn = 1 - 0.7071**2 = 0.5;
    # hovering an edge gives the rule, symbolic and with the numbers
    assert "n0 -> o2 [id=e2_0 tooltip=" in source  # x1 into x1*w1
    assert "local derivative: d(x1·w1)/dx1 = w1 = −3" in source
    assert f'taillabel="{TIMES}-3"' in edge_line(source, "e2_0")
    assert f'taillabel="{TIMES}2"' in edge_line(source, "e2_1")
    assert f'label="{TIMES}0.5"' in edge_line(source, "e9_0")
    assert "d tanh(n)/dn = 1 − tanh(n)² = 1 − 0.7071² = 0.5" in edge_line(source, "e9_0")
    assert f'label="{TIMES}' not in draw_dot(g["o"]).source


def test_number_backward_is_the_order_gradients_become_final_in_the_steps():
    from chaingrad.viz import backprop_steps

    g = neuron()
    source = draw_dot(g["o"], number_backward=True).source
    order = toposort(g["o"])
    lines = value_lines(source)
    numbers = {}
    for position in range(len(order)):
        found = re.findall(r"<i>#(\d+)</i>", lines[f"n{position}"])
        assert len(found) == 1
        numbers[position] = int(found[0])
    assert sorted(numbers.values()) == list(range(1, len(order) + 1))
    assert numbers[len(order) - 1] == 1  # the output comes first
    # #k+1 is the node whose gradient the k-th "final" step completes
    finals = [s.parent_position for s in backprop_steps(g["o"]) if s.final]
    assert [numbers[p] for p in finals] == list(range(2, len(order) + 1))
    # b's gradient is final long before x1's, though b comes later in topological order
    index = {v: i for i, v in enumerate(order)}
    assert numbers[index[g["b"]]] < numbers[index[g["x1"]]]
    assert index[g["b"]] > index[g["x1"]]


def test_color_by_gradient_sign_and_magnitude():
    a, b, c = Value(1.0, label="a"), Value(1.0, label="b"), Value(1.0, label="c")
    out = sum_of([a * 4, b * -1, c * 0])
    out.backward()
    lines = value_lines(draw_dot(out, color_grad=True, legend=True).source)
    fills = {n: re.search(r'fillcolor="(#\w+)"', line).group(1) for n, line in lines.items()}
    order = toposort(out)
    fill_of = {order.index(v): fills[f"n{order.index(v)}"] for v in (a, b, c)}
    red, blue, white = fill_of[order.index(a)], fill_of[order.index(b)], fill_of[order.index(c)]
    assert white == "#ffffff"
    r, g_, b_ = (int(red[i : i + 2], 16) for i in (1, 3, 5))
    assert r > b_ and r > g_  # positive: red
    r2, _g2, b2 = (int(blue[i : i + 2], 16) for i in (1, 3, 5))
    assert b2 > r2  # negative: blue
    # larger magnitude -> deeper colour (further from white)
    assert sum(int(grad_color(4, 4)[i : i + 2], 16) for i in (1, 3, 5)) < sum(
        int(grad_color(1, 4)[i : i + 2], 16) for i in (1, 3, 5)
    )
    assert grad_color(float("nan"), 1) != grad_color(0.0, 1)


def test_grads_option_overrides_the_shown_gradient():
    x = Value(2.0, label="x")
    y = x * x
    source = draw_dot(y, grads={x: 4.0, y: 1.0}).source
    assert "grad 4<" in source and "grad 0<" not in source


def test_format_number():
    assert format_number(2.0) == "2"
    assert format_number(-0.0) == "0"
    assert format_number(0.70710678118) == "0.7071"
    assert format_number(6.8813735870195432) == "6.881"
    assert format_number(12345678.0) == "1.235e+07"
    assert format_number(float("inf")) == "inf"
    assert format_number(float("nan")) == "nan"
    assert format_number(0.70710678118, precision=2) == "0.71"


def test_labels_are_escaped_for_html():
    x = Value(1.0, label='<b>&"x"')
    source = draw_dot(x * 2).source
    assert "&lt;b&gt;&amp;&quot;x&quot;" in source


def test_bad_arguments_are_clear_errors():
    x = Value(1.0)
    with pytest.raises(TypeError, match="root must be a Value, got float"):
        draw_dot(1.0)
    with pytest.raises(ValueError, match="rankdir must be one of"):
        draw_dot(x, rankdir="XY")
    with pytest.raises(TypeError, match=r"params\[1\] must be a Value"):
        draw_dot(x, params=[x, 3])
    with pytest.raises(ValueError, match="max_nodes"):
        draw_dot(x, max_nodes=0)


def test_deep_chain_needs_no_recursion():
    x = Value(1.0, label="x")
    y = x
    for _ in range(30_000):
        y = y * 1.0001
    source = draw_dot(y, max_nodes=None).source
    assert len(value_lines(source)) == 60_001


@needs_dot
def test_svg_has_every_node_edge_and_number():
    g = neuron()
    g["o"].backward()
    svg = draw_dot(g["o"], edge_labels=True).pipe(format="svg")
    nodes = svg_nodes(svg)
    assert len([n for n in nodes if n.startswith("n")]) == 10
    assert len([n for n in nodes if n.startswith("o")]) == 5
    assert len(svg_edges(svg)) == 14
    assert "x1 data 2 grad -1.5" in svg_text(nodes["n0"])
    assert "o data 0.7071 grad 1" in svg_text(nodes["n9"])


@needs_dot
def test_svg_of_every_option_together_renders():
    g = neuron()
    g["o"].backward()
    graph = draw_dot(
        g["o"],
        params=[g["w1"], g["w2"], g["b"]],
        edge_labels=True,
        color_grad=True,
        number_backward=True,
        legend=True,
        rankdir="TB",
    )
    svg = graph.pipe(format="svg")
    assert {"legend_parameter", "legend_grad_pos"} <= set(svg_nodes(svg))
