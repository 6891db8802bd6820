"""micrograd's lecture and README examples give micrograd's printed numbers."""

from __future__ import annotations

import math
import pickle
import random
import re

import pytest

from chaingrad import TracingError, Value, grad, jit, no_grad
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


# --- micrograd's way of adding an op: Value(data, _children, _op) and a _backward closure ---
# The lecture's own code, written against chaingrad's Value.


def lecture_tanh(self):
    x = self.data
    t = (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1)
    out = Value(t, (self,), "tanh")

    def _backward():
        self.grad += (1 - t**2) * out.grad

    out._backward = _backward
    return out


def lecture_exp(self):
    x = self.data
    out = Value(math.exp(x), (self,), "exp")

    def _backward():
        self.grad += out.data * out.grad  # NOTE: in the lecture, we take out.data

    out._backward = _backward
    return out


def lecture_add(self, other):
    other = other if isinstance(other, Value) else Value(other)
    out = Value(self.data + other.data, (self, other), "+")

    def _backward():
        self.grad += 1.0 * out.grad
        other.grad += 1.0 * out.grad

    out._backward = _backward
    return out


def lecture_neuron(tanh, exp):
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = tanh(n) * exp(n * 0.1)
    o.label = "o"
    return o, [x1, x2, w1, w2, b]


def test_lecture_ops_give_the_numbers_of_the_built_in_ops():
    ours, ours_leaves = lecture_neuron(lecture_tanh, lecture_exp)
    table, table_leaves = lecture_neuron(Value.tanh, Value.exp)
    ours.backward()
    table.backward()
    assert ours.data == pytest.approx(table.data, rel=1e-12)
    for a, b in zip(ours_leaves, table_leaves):
        assert a.grad == pytest.approx(b.grad, rel=1e-12, abs=1e-15)
    tanh_node = ours.parents[0]
    assert tanh_node._op == "tanh" and tanh_node._prev == tanh_node.parents
    assert tanh_node.local_grads == pytest.approx(table.parents[0].local_grads, rel=1e-12)
    assert grad(ours, ours_leaves[2]) == pytest.approx(table_leaves[2].grad, rel=1e-12)


def test_the_lectures_manual_backward_calls_work_on_both_kinds_of_node():
    # o = tanh(n), n = x*w + b: the lecture sets o.grad = 1 and calls _backward() top down
    x, w, b = Value(2.0), Value(-3.0), Value(6.8813735870195432)
    xw = x * w
    n = xw + b
    o = lecture_tanh(n)
    o.grad = 1.0
    o._backward()  # the closure
    n._backward()  # a rule-table node's chain-rule step
    xw._backward()
    assert n.grad == pytest.approx(0.5, abs=1e-6)
    assert (x.grad, w.grad, b.grad) == pytest.approx((-1.5, 1.0, 0.5), abs=1e-6)


def test_a_closure_sees_a_parent_used_twice_and_keeps_micrograds_bugs():
    a = Value(3.0)
    b = lecture_add(a, a)
    b.backward()
    assert a.grad == 2.0 and b.local_grads == (1.0, 1.0)

    def buggy_add(self, other):  # '=' instead of '+=': the lecture's bug, kept as it is
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad = 1.0 * out.grad
            other.grad = 1.0 * out.grad

        out._backward = _backward
        return out

    a = Value(3.0)
    buggy_add(a, a).backward()
    assert a.grad == 1.0  # as micrograd gives it


def test_a_node_without_a_closure_passes_nothing_back_and_grads_are_left_alone():
    a = Value(2.0, label="a")
    out = Value(4.0, (a,), "sq")
    assert out.local_grads == (0.0,) and not out.is_leaf
    out.backward()
    assert a.grad == 0.0
    y = lecture_tanh(a)
    a.grad = 7.0
    assert y.local_grads == pytest.approx((1 - math.tanh(2.0) ** 2,))
    assert a.grad == 7.0 and y.grad == 0.0  # reading the closure's derivative changed nothing


def test_what_a_closure_cannot_do_says_so():
    x = Value(0.5)
    y = lecture_tanh(x)
    with pytest.raises(TypeError, match=r"_backward closure.*chaingrad.op"):
        grad(y, x, create_graph=True)
    with pytest.raises(pickle.PicklingError, match=r"_backward closure.*chaingrad.op"):
        pickle.dumps(y)
    with pytest.raises(TypeError, match="_children must hold Values"):
        Value(1.0, (1.0,), "+")
    w = Value(0.3)
    step = jit(lambda v: lecture_tanh(w * v) + 0.0, params=[w])
    with pytest.raises(TracingError):
        step(2.0)
    with no_grad():
        assert lecture_tanh(x).is_leaf


def test_a_label_in_second_place_still_names_a_leaf():
    a = Value(2.0, "a")
    assert a.label == "a" and a.is_leaf


def test_closure_nodes_draw_and_step_through():
    pytest.importorskip("graphviz")
    from chaingrad.viz import StepThrough, backprop_steps, draw_dot

    ours, _ = lecture_neuron(lecture_tanh, lecture_exp)
    table, _ = lecture_neuron(Value.tanh, Value.exp)
    source = draw_dot(ours, edge_labels=True).source
    assert 'label="tanh"' in source and 'label="exp"' in source
    # The same drawing; only the hover texts differ: a closure has no symbolic rule, so
    # its tooltip gives the number alone (as its step caption below does).
    untipped = re.compile(r' (?:edge)?tooltip="[^"]*"')
    assert untipped.sub("", source) == untipped.sub("", draw_dot(table, edge_labels=True).source)
    steps, expected = backprop_steps(ours), backprop_steps(table)
    assert [s.text for s in steps] == [s.text for s in expected]
    tanh_rule = next(s.rule for s in steps if s.node.op.symbol == "tanh")
    assert tanh_rule == "d tanh(n)/dn = 0.5"  # the closure's number, with the op it names
    st = StepThrough(ours)
    assert len(st.captions) == len(steps) + 1 and "tanh" in st.to_html()


def test_an_mlp_written_the_lectures_way_trains_like_the_built_in_one():
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]

    def train(tanh):
        rng = random.Random(0)
        sizes = [3, 4, 4, 1]
        layers = [
            [
                ([Value(rng.uniform(-1, 1)) for _ in range(nin)], Value(rng.uniform(-1, 1)))
                for _ in range(nout)
            ]
            for nin, nout in zip(sizes, sizes[1:])
        ]
        params = [p for layer in layers for ws, b in layer for p in (*ws, b)]
        losses = []
        for _ in range(20):
            total = Value(0.0)
            for x, y in zip(xs, ys):
                act = [Value(v) for v in x]
                for layer in layers:
                    act = [tanh(sum((w * a for w, a in zip(ws, act)), b)) for ws, b in layer]
                total = total + (act[0] - y) ** 2
            for p in params:
                p.grad = 0.0
            total.backward()
            for p in params:
                p.data += -0.1 * p.grad
            losses.append(total.data)
        return losses

    ours, table = train(lecture_tanh), train(Value.tanh)
    assert ours == pytest.approx(table, rel=1e-9)
    assert ours[-1] < 0.1 * ours[0]


def test_assigning_a_closure_to_a_rule_table_node_replaces_its_step():
    a, b = Value(2.0), Value(5.0)
    out = a * b
    calls = []

    def _backward():
        calls.append(out.grad)
        a.grad += 10.0 * out.grad

    out._backward = _backward
    out.backward()
    assert calls == [1.0] and (a.grad, b.grad) == (10.0, 0.0)
    assert out.local_grads == (10.0, 0.0) and out._op == "*"


def test_deepcopy_of_a_closure_node_is_refused_clearly():
    import copy

    y = lecture_tanh(Value(0.5))
    with pytest.raises(TypeError, match="cannot deepcopy a Value made by a _backward closure"):
        copy.deepcopy(y)
