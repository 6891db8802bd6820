"""chaingrad.viz.draw_program: a compiled step's ops, or the groups the numpy backend runs."""

from __future__ import annotations

import pytest

from chaingrad import Value, jit
from chaingrad.nn import MLP
from chaingrad.nn import functional as F
from chaingrad.viz.program import TIMES, program_dot


def _small():
    w, b = Value(0.5, label="w"), Value(0.1, label="b")
    step = jit(lambda x, y: ((w * x + b - y) ** 2).tanh(), params=[w, b])
    step(2.0, 1.0)
    return step


def _mlp():
    model = MLP(2, [4, 1], seed=0)
    step = jit(lambda X, y: F.hinge_loss([model(x) for x in X], y), params=model)
    step([[0.1, 0.2]] * 30, [1, -1] * 15)
    return step


def test_ops_view_is_the_listing_as_a_graph():
    text = program_dot(_small())
    assert text.startswith("digraph program {")
    for line in ("v0 = mul", "v3 = pow_const[2]", "v4 = tanh"):
        assert f'label="{line}' in text
    assert 'label="w"' in text and 'label="x"' in text
    assert text.count("->") == 8  # w,x -> mul; mul,b -> add; add,y -> sub; sub -> pow; -> tanh
    assert "program(x: float, y: float) -&gt; v4" in text


def test_groups_view_names_the_matrix_products_and_the_arguments():
    step = _mlp()
    text = program_dot(step)  # auto: too many ops for one box each
    assert "ops in" in text and "groups)" in text
    assert f"matrix product X[30{TIMES}2] @ W[4{TIMES}2].T" in text
    assert f"<b>relu</b> {TIMES} 120" in text
    assert "<b>X</b> float[30][2]" in text and "<b>y</b> int[30]" in text
    assert len([line for line in text.splitlines() if "label=<" in line]) < 20
    assert program_dot(step, "ops").count("->") > 100


def test_bad_arguments():
    with pytest.raises(TypeError, match=r"a chaingrad\.jit step or a Program"):
        program_dot(3)
    with pytest.raises(ValueError, match="view must be one of"):
        program_dot(_small(), "pixels")
    with pytest.raises(ValueError, match="rankdir"):
        program_dot(_small(), rankdir="XY")


def test_draws_with_graphviz(tmp_path):
    pytest.importorskip("graphviz")
    from chaingrad.viz import dot_available, draw_program, render

    if not dot_available():
        pytest.skip("needs the Graphviz dot program")
    path = render(draw_program(_mlp()), tmp_path / "program.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
