"""Backward semantics, topological order, depth and memory behaviour."""

from __future__ import annotations

import gc
import sys

import pytest

from chaingrad import Value, sum_of, toposort


def test_toposort_puts_parents_first_and_lists_each_node_once():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = toposort(e)
    assert len(order) == len(set(order)) == 5
    position = {node: i for i, node in enumerate(order)}
    for node in order:
        for parent in node.parents:
            assert position[parent] < position[node]
    assert order[-1] is e


def test_toposort_is_deterministic():
    def build():
        xs = [Value(float(i)) for i in range(5)]
        y = xs[0]
        for x in xs[1:]:
            y = y * x + x
        return y

    first = [n.data for n in toposort(build())]
    second = [n.data for n in toposort(build())]
    assert first == second


def test_leaf_gradients_accumulate_until_zeroed():
    x = Value(3.0)
    y = x * x
    y.backward()
    assert x.grad == 6.0
    y.backward()
    assert x.grad == 12.0
    x.grad = 0.0
    y.backward()
    assert x.grad == 6.0


def test_intermediate_gradients_are_the_latest_pass_never_doubled():
    x = Value(3.0)
    h = x * 2
    y = h * h
    y.backward()
    assert h.grad == 12.0
    y.backward()
    assert h.grad == 12.0 and y.grad == 1.0
    assert x.grad == 48.0  # the leaf accumulated two passes


def test_backward_on_an_inner_node():
    x = Value(2.0)
    h = x.tanh()
    y = h * 5
    h.backward()
    assert x.grad == pytest.approx(1 - h.data**2)
    assert y.grad == 0.0  # y is downstream of h: untouched


def test_backward_with_a_seed_gradient():
    x = Value(2.0)
    y = x * x
    y.backward(0.5)
    assert x.grad == 2.0


def test_backward_on_a_leaf_is_its_own_derivative():
    x = Value(2.0)
    x.backward()
    assert x.grad == 1.0


def test_million_node_chain_builds_and_backpropagates():
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0000001 + 0.0
    y.backward()
    # dy/dx = 1.0000001 ** 1e6
    assert x.grad == pytest.approx(1.0000001**1_000_000, rel=1e-6)
    assert len(toposort(y)) > 2_000_000
    assert sys.getrecursionlimit() < 100_000  # no raised limit was needed


def test_wide_node_with_many_parents():
    xs = [Value(float(i)) for i in range(100_000)]
    s = sum_of(xs)
    s.backward()
    assert all(x.grad == 1.0 for x in xs)


def test_graph_is_freed_by_reference_counting_alone():
    gc.collect()
    gc.disable()
    try:
        x = Value(2.0)
        y = x
        for _ in range(1000):
            y = (y * x).tanh() + x.exp() / 10
        y.backward()
        tracked = len(gc.get_objects())
        del y
        # No reference cycles: refcounting alone freed the graph, and the cycle
        # collector finds nothing.
        assert len(gc.get_objects()) < tracked - 3000
        assert gc.collect() == 0
    finally:
        gc.enable()
