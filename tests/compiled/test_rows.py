"""``Step.map``: a forward-only step traced on one row, run on every row at once.

The row backend (``chaingrad.compiled.rows``) compiles the program of one
example with a trailing row axis; ``map`` must give what calling the step (and
the eager function) row by row gives, for programs using every op of the rule
table, extra outputs, int inputs read by ``take``, a user's own op, and it
must refuse or fall back where it cannot serve.
"""

from __future__ import annotations

import random

import pytest

from chaingrad import Value, jit, op, sum_of, take
from chaingrad.nn import GPT, MLP, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential

from .test_random_programs import make_recipe, run_recipe

np = pytest.importorskip("numpy")


def close(a, b, tol=1e-10):
    return abs(a - b) <= tol * max(1.0, abs(b))


@pytest.mark.parametrize("seed", range(30))
def test_random_programs_map_as_eager_row_by_row(seed):
    rng = random.Random(seed)
    n_params, n_inputs = 5, 3
    recipe = make_recipe(rng, n_params, n_inputs, length=rng.randint(6, 25))
    params = [Value(rng.uniform(-1, 1)) for _ in range(n_params)]

    def forward(x, label):
        out = run_recipe(recipe, params, x, label)
        return out, [out * 2.0, x[0] * params[0]]

    step = jit(forward, params=params, grad=False)
    X = [[rng.uniform(-2, 2) for _ in range(n_inputs)] for _ in range(13)]
    labels = [rng.randrange(3) for _ in X]
    got = step.map(X, labels)
    assert len(step._rows_cache) == 1  # one row program served every row
    for (loss, extra), x, t in zip(got, X, labels):
        want = run_recipe(recipe, params, x, t)
        assert close(loss, want.data)
        assert close(extra[0], 2.0 * want.data) and close(extra[1], x[0] * params[0].data)
    for p in params:  # new parameter numbers are read by every call
        p.data += 0.25
    again = step.map(X, labels)
    for (loss, _), x, t in zip(again, X, labels):
        assert close(loss, run_recipe(recipe, params, x, t).data)


def test_models_map_as_they_run_row_by_row():
    rng = random.Random(0)
    cnn = Sequential(Conv2d(1, 3, 3, seed=0), ReLU(), MaxPool2d(2), Flatten(), Linear(27, 4))
    images = [[[[rng.uniform(-1, 1) for _ in range(8)] for _ in range(8)]] for _ in range(9)]
    gpt = GPT(7, 6, 8, 2, 1, seed=0)
    ids = [[rng.randrange(7) for _ in range(5)] for _ in range(9)]
    mlp = MLP(4, [5, 3], seed=1)
    rows = np.array([[rng.uniform(-1, 1) for _ in range(4)] for _ in range(9)])  # an array
    for model, X in ((cnn, images), (gpt, ids), (mlp, rows)):
        step = jit(lambda x, m=model: (sum_of(_flat(m(x))), m(x)), params=model, grad=False)
        for (_, out), x in zip(step.map(X), X):
            want = [v.data for v in _flat(model(list(x) if hasattr(x, "tolist") else x))]
            got = _flat_numbers(out)
            assert len(got) == len(want)
            assert all(close(a, b, 1e-12) for a, b in zip(got, want))


def _flat(out):
    if isinstance(out, Value):
        return [out]
    return [v for item in out for v in _flat(item)]


def _flat_numbers(out):
    if isinstance(out, float):
        return [out]
    return [v for item in out for v in _flat_numbers(item)]


def test_a_users_op_maps_through_its_own_forward():
    @op("cube_plus", graph_grads=lambda out, x: (3 * x * x,))
    def cube_plus(x):
        return x**3 + 1.0, (3.0 * x * x,)

    w = Value(0.5)
    step = jit(lambda x: cube_plus(w * x), params=[w], grad=False)
    assert step.map([1.0, 2.0, -4.0]) == [(0.5 * x) ** 3 + 1.0 for x in (1.0, 2.0, -4.0)]


def test_a_bad_index_is_the_eager_error_naming_the_row():
    table = [Value(1.0), Value(2.0), Value(3.0)]
    step = jit(lambda i: take(table, i), params=table, grad=False)
    assert step.map([2, 0, 1]) == [3.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="must be a whole number in \\[0, 3\\)"):
        step.map([0, 5, 1])


def test_map_falls_back_to_calls_where_rows_differ_and_refuses_training_steps():
    w = Value(2.0)
    step = jit(lambda xs: sum_of([w * x for x in xs]), params=[w], grad=False)
    assert step.map([[1.0], [1.0, 2.0]]) == [2.0, 6.0]  # two structures: call by call
    assert step.map([]) == []
    train = jit(lambda x: w * x, params=[w])
    with pytest.raises(ValueError, match="forward-only"):
        train.map([1.0, 2.0])


def test_a_floating_point_event_gives_eagers_result_or_error():
    w = Value(1.0)
    step = jit(lambda x: (w * x).exp(), params=[w], grad=False)
    assert step.map([0.0, 1.0]) == [1.0, pytest.approx(2.718281828459045)]
    with pytest.raises(OverflowError, match="exp"):
        step.map([0.0, 1000.0])  # row by row: the engine's own error
