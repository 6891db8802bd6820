"""micrograd's lecture and README examples give micrograd's printed numbers."""

from __future__ import annotations

import pytest

from chaingrad import Value
from tests.lecture import neuron


def readme_example(value_cls):
    # micrograd README, verbatim apart from the class used.
    a = value_cls(-4.0)
    b = value_cls(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    return g, a, b


def test_readme_example_prints_micrograds_numbers():
    g, a, b = readme_example(Value)
    assert f"{g.data:.4f}" == "24.7041"
    assert f"{a.grad:.4f}" == "138.8338"
    assert f"{b.grad:.4f}" == "645.5773"


def test_readme_example_agrees_with_micrograd_itself():
    micrograd = pytest.importorskip("micrograd.engine")
    ours = readme_example(Value)
    theirs = readme_example(micrograd.Value)
    for x, y in zip(ours, theirs):
        assert x.data == pytest.approx(y.data, rel=1e-12)
        assert x.grad == pytest.approx(y.grad, rel=1e-12)


def test_lecture_neuron():
    # "The spelled-out intro to neural networks and backpropagation": the tanh neuron.
    nodes = neuron()
    o, n = nodes["o"], nodes["n"]
    x1, x2, w1, w2 = nodes["x1"], nodes["x2"], nodes["w1"], nodes["w2"]
    o.backward()
    assert f"{o.data:.4f}" == "0.7071"
    assert n.grad == pytest.approx(0.5, abs=1e-12)
    assert x1.grad == pytest.approx(-1.5, abs=1e-12)
    assert w1.grad == pytest.approx(1.0, abs=1e-12)
    assert x2.grad == pytest.approx(0.5, abs=1e-12)
    assert w2.grad == pytest.approx(0.0, abs=1e-12)


def test_lecture_neuron_with_exp_written_out():
    # The lecture's second version: tanh spelled as (e^2n - 1) / (e^2n + 1).
    x1, x2 = Value(2.0), Value(0.0)
    w1, w2 = Value(-3.0), Value(1.0)
    b = Value(6.8813735870195432)
    n = x1 * w1 + x2 * w2 + b
    e = (2 * n).exp()
    o = (e - 1) / (e + 1)
    o.backward()
    assert f"{o.data:.4f}" == "0.7071"
    assert x1.grad == pytest.approx(-1.5, abs=1e-9)
    assert w1.grad == pytest.approx(1.0, abs=1e-9)


def test_lecture_reused_node_bug_is_fixed():
    # The lecture's "a + a" bug: the gradient must be 2, not 1.
    a = Value(3.0, label="a")
    b = a + a
    b.backward()
    assert a.grad == 2.0
