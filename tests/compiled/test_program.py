"""The flat Program (leaf kinds, order, listing) and the input structures it is keyed by."""

from __future__ import annotations

import threading

import pytest

from chaingrad import Value, jit, sum_of
from chaingrad.compiled import inputs
from chaingrad.compiled.program import CONST, INPUT, OP, PARAM, RANDOM
from chaingrad.nn import MLP, Dropout, Layer, Sequential
from chaingrad.nn import functional as F


def test_leaves_come_first_in_kind_order_and_ops_follow_their_parents():
    model = Sequential(Layer(2, 3, seed=0), Dropout(0.5, seed=0), Layer(3, 2, nonlin=False, seed=1))
    step = jit(lambda X, y: F.cross_entropy([model(x) for x in X], y), params=model)
    step([[0.5, -1.0], [1.0, 0.25]], [1, 0])
    program = step.program
    kinds = program.kinds
    order = [PARAM, INPUT, RANDOM, CONST, OP]
    assert [order.index(k) for k in kinds] == sorted(order.index(k) for k in kinds)
    assert kinds[: program.num_params] == [PARAM] * program.num_params
    assert program.num_params == len(model.parameters()) == len(program.params)
    assert program.input_slots == list(range(6))  # X[0][0], X[0][1], X[1][0], X[1][1], y[0], y[1]
    assert program.input_is_int == [False] * 4 + [True] * 2
    assert sum(len(ids) for _, ids, _ in program.random_blocks) == 6  # 3 units, 2 samples
    for i in range(program.first_op, len(program)):
        assert all(p < i for p in program.parents[i])
    assert program.output == len(program) - 1
    assert program.num_edges == sum(len(p) for p in program.parents)


def test_unused_inputs_are_not_in_the_program():
    w = Value(1.0)
    step = jit(lambda x, unused: w * x[1], params=[w])
    step([1.0, 2.0], 5.0)
    assert step.program.input_slots == [1]
    assert step.program.names[step.program.num_params] == "x[1]"


def test_listing_names_leaves_and_compresses_runs():
    model = MLP(3, [2], seed=0)
    step = jit(lambda X: sum_of(model(X[0])), params=model)
    step([[1.0, 2.0, 3.0]])
    listing = step.program.listing()
    assert listing.splitlines()[0] == "program(X: float[1][3]) -> v4"
    assert "v0 = dot([layers.0.neurons.0.w[0..2]], [X[0][0..2]])" in listing
    assert "v1 = add(v0, layers.0.neurons.0.b)" in listing
    assert "params: 8 values: layers.0.neurons.0.w[0..2], layers.0.neurons.0.b," in listing
    assert "v4 = sum(v1, v3)" in listing


def test_a_long_listing_is_cut_with_counts_and_can_be_shown_whole():
    model = MLP(2, [4, 1], seed=0)
    step = jit(lambda X, y: F.hinge_loss([model(x) for x in X], y), params=model)
    step([[0.1, 0.2]] * 20, [1, -1] * 10)
    short = str(step.program)
    assert "more ops" in short and "ops (" in short
    assert len(short.splitlines()) < 70
    full = step.program.listing(max_lines=None)
    assert len(full.splitlines()) == step.program.num_ops + 2
    assert repr(step.program).startswith("<Program(X: float[20][2], y: int[20]):")


def test_input_keys_describe_structure():
    numbers, key = inputs.flatten(([[0.5, 1], (2.0, 3.0)], 4, [[[1.0]]]), {"k": 7})
    assert numbers == [0.5, 1, 2.0, 3.0, 4, 1.0, 7]
    assert inputs.describe(key, ["a", "b", "c"]) == "a: mixed[2], b: int, c: float[1][1][1], k: int"
    args, kwargs = inputs.rebuild(key, lambda position, kind: (position, kind))
    assert args == [[[(0, "f"), (1, "i")], ((2, "f"), (3, "f"))], (4, "i"), [[[(5, "f")]]]]
    assert kwargs == {"k": (6, "i")}
    assert inputs.leaf_names(key, ["a"]) == [
        "a[0][0]",
        "a[0][1]",
        "a[1][0]",
        "a[1][1]",
        "arg1",
        "arg2[0][0][0]",
        "k",
    ]
    assert inputs.samples(key) is None  # lists of different lengths: no batch


def test_ints_and_floats_are_different_structures_and_bools_are_refused():
    assert inputs.flatten(([1, 2],), {})[1] != inputs.flatten(([1.0, 2.0],), {})[1]
    with pytest.raises(TypeError, match=r"argument x\[1\] must be a number .* got a bool"):
        inputs.flatten(([1.0, True],), {}, ("x",))
    deep: list = [1.0]
    for _ in range(40):
        deep = [deep]
    with pytest.raises(ValueError, match="nested deeper than 32"):
        inputs.flatten((deep,), {}, ("x",))


def test_calls_from_several_threads_agree():
    model = MLP(3, [4, 2], seed=0)
    step = jit(lambda X, y: F.cross_entropy([model(x) for x in X], y), params=model)
    batches = [([[0.1 * k, 0.2, -0.3]] * 4, [k % 2] * 4) for k in range(8)]
    expected = [F.cross_entropy([model(x) for x in X], y).data for X, y in batches]
    results: dict[int, float] = {}

    def work(k: int) -> None:
        results[k] = step(*batches[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(abs(results[k] - expected[k]) < 1e-12 for k in range(8))
    assert len(step.programs) == 1


def test_clear_forgets_the_traces():
    w = Value(2.0)
    step = jit(lambda x: w * x, params=[w])
    step(1.0)
    step.clear()
    with pytest.raises(RuntimeError, match="nothing traced yet"):
        step.source  # noqa: B018
    assert step(3.0) == 6.0 and len(step.programs) == 1
