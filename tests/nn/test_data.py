"""Datasets are local and seeded; splits and minibatches cover the data exactly once."""

from __future__ import annotations

import math
import random
import socket

import numpy as np
import pytest

from chaingrad.nn import data
from chaingrad.nn.data import batches, make_blobs, make_moons, standardize, train_test_split
from tests.helpers import one_line
from tests.limits import memory_error_of


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: data.make_moons(101, noise=0.1, **kw),
        lambda **kw: data.make_circles(101, noise=0.05, **kw),
        lambda **kw: data.make_blobs(101, centers=3, **kw),
        lambda **kw: data.make_spirals(101, n_classes=3, **kw),
    ],
)
def test_generators_are_seeded_and_well_formed(make):
    X, y = make(seed=4)
    assert (X, y) == make(seed=4)
    assert make(seed=5)[0] != X
    assert make() == make(seed=None)  # the documented default seed
    assert len(X) == len(y) == 101
    assert all(len(row) == 2 and all(isinstance(v, float) for v in row) for row in X)
    counts = [y.count(k) for k in sorted(set(y))]
    assert max(counts) - min(counts) <= 1  # balanced classes
    state = random.getstate()
    make(seed=1)
    assert random.getstate() == state  # global RNG untouched


def test_moons_geometry_without_noise():
    X, y = data.make_moons(100, noise=0.0, shuffle=False)
    for (a, b), label in zip(X, y):
        if label == 0:
            assert math.isclose(a * a + b * b, 1.0) and b >= -1e-12
        else:
            assert math.isclose((a - 1) ** 2 + (b - 0.5) ** 2, 1.0) and b <= 0.5 + 1e-12


def test_circles_radii():
    X, y = data.make_circles(40, noise=0.0, factor=0.3)
    for (a, b), label in zip(X, y):
        assert math.isclose(math.hypot(a, b), 1.0 if label == 0 else 0.3)


def test_blobs_cluster_around_centers():
    X, y = data.make_blobs(300, centers=[[0, 0], [10, 10]], std=0.5, seed=0)
    for k, center in enumerate([[0, 0], [10, 10]]):
        rows = [x for x, label in zip(X, y) if label == k]
        mean = [sum(col) / len(rows) for col in zip(*rows)]
        assert mean == pytest.approx(center, abs=0.2)


def test_bundled_sklearn_sets_load_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    pytest.importorskip("sklearn")
    X, y = data.load_digits()
    assert len(X) == 1797 and len(X[0]) == 64 and sorted(set(y)) == list(range(10))
    assert max(max(row) for row in X) == 1.0
    assert max(max(row) for row in data.load_digits(scale=False)[0]) == 16.0
    X, y = data.load_iris()
    assert len(X) == 150 and len(X[0]) == 4 and sorted(set(y)) == [0, 1, 2]


def test_train_test_split_is_a_seeded_partition():
    X = [[i] for i in range(50)]
    y = [i % 2 for i in range(50)]
    X_train, X_test, y_train, y_test = data.train_test_split(X, y, 0.2, seed=3)
    assert len(X_test) == 10 and len(X_train) == 40
    assert sorted(map(tuple, X_train + X_test)) == sorted(map(tuple, X))
    assert all(row[0] % 2 == label for row, label in zip(X_train + X_test, y_train + y_test))
    assert (X_train, X_test) == data.train_test_split(X, y, 0.2, seed=3)[:2]
    assert X_test != data.train_test_split(X, y, 0.2, seed=4)[1]
    assert len(data.train_test_split(X, y, 7, seed=0)[1]) == 7


def test_stratified_split_keeps_class_proportions():
    y = [0] * 80 + [1] * 20
    X = [[i] for i in range(100)]
    _, _, y_train, y_test = data.train_test_split(X, y, 0.25, seed=0, stratify=True)
    assert y_test.count(1) == 5 and y_test.count(0) == 20
    assert y_train.count(1) == 15


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([[1]] * 3, [0] * 2), "X has 3 rows but y has 2"),
        (([[1]] * 3, [0] * 3, 1.5), "test_size must be in"),
        (([[1]] * 3, [0] * 3, 3), "test_size must be a fraction or a row count"),
    ],
)
def test_split_errors(args, message):
    with pytest.raises(ValueError, match=message):
        data.train_test_split(*args)


def test_batches_cover_each_row_once_per_epoch():
    X = [[i] for i in range(10)]
    y = list(range(10))
    out = list(data.batches(X, y, batch_size=4, seed=0, epochs=3))
    assert [len(xb) for xb, _ in out] == [4, 4, 2] * 3
    for epoch in range(3):
        rows = [r[0] for xb, _ in out[epoch * 3 : epoch * 3 + 3] for r in xb]
        assert sorted(rows) == list(range(10))
    assert all(r[0] == label for xb, yb in out for r, label in zip(xb, yb))
    first_epochs = [[r[0] for xb, _ in out[e * 3 : e * 3 + 3] for r in xb] for e in range(3)]
    assert first_epochs[0] != first_epochs[1]  # reshuffled every epoch
    assert out == list(data.batches(X, y, batch_size=4, seed=0, epochs=3))
    (whole,) = data.batches(X, y)  # batch_size=None: one batch of everything
    assert sorted(whole[1]) == y


def test_batches_validate_eagerly():
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        data.batches([[1]], [0], batch_size=0)
    with pytest.raises(ValueError, match="the dataset is empty"):
        data.batches([], [])


def test_standardize_uses_train_statistics():
    train, test = data.standardize([[1.0, 5.0], [3.0, 5.0]], [[2.0, 6.0]])
    assert train == [[-1.0, 0.0], [1.0, 0.0]]
    assert test == [[0.0, 1.0]]


@pytest.mark.parametrize(
    "call",
    [
        lambda: data.make_moons(1),
        lambda: data.make_moons(10, noise=-1),
        lambda: data.make_circles(10, factor=1.5),
        lambda: data.make_spirals(10, n_classes=1),
        lambda: data.make_blobs(10, centers=[[0, 0], [1]]),
        lambda: data.make_moons(10, seed=1.5),
    ],
)
def test_generator_errors(call):
    with pytest.raises((ValueError, TypeError)):
        call()


# --- NumPy arrays, ragged rows, sizes -----------------------------------------------------


def test_numpy_input_gives_the_same_results_as_lists():
    X, y = make_moons(40, noise=0.1, seed=0)
    Xn, yn = np.array(X), np.array(y)
    split = train_test_split(Xn, yn, 0.25, seed=0)
    assert split == train_test_split(X, y, 0.25, seed=0)
    assert standardize(Xn, Xn[:3]) == standardize(X, X[:3])
    assert list(batches(Xn, yn, 16, seed=0)) == list(batches(X, y, 16, seed=0))
    assert make_blobs(10, centers=np.array([[0.0, 0.0], [5.0, 5.0]]), seed=0) == make_blobs(
        10, centers=[[0.0, 0.0], [5.0, 5.0]], seed=0
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ([[1.0, 2.0], [3.0]],),
            "standardize: row 1 of train has 1 numbers, but train's rows have 2",
        ),
        (([[1.0, 2.0]], [[1.0]]), "row 0 of others[0] has 1 numbers, but train's rows have 2"),
        (([[1.0, "x"]],), "standardize: row 0 of train is not a list of numbers"),
        (([1.0, 2.0],), "standardize: row 0 of train is not a list of numbers: 1.0"),
        (([],), "standardize: train is empty"),
        ((np.zeros((0, 3)),), "standardize: train is empty"),
    ],
)
def test_standardize_refuses_ragged_and_non_numeric_rows(args, message):
    with pytest.raises(ValueError) as info:
        standardize(*args)
    assert message in one_line(info.value)


def test_standardize_matches_numpy():
    rng = np.random.default_rng(0)
    train, test = rng.normal(3.0, 2.0, (50, 4)), rng.normal(0.0, 1.0, (7, 4))
    ours_train, ours_test = standardize(train, test)
    mean, std = train.mean(axis=0), train.std(axis=0)
    np.testing.assert_allclose(ours_train, (train - mean) / std, rtol=1e-12)
    np.testing.assert_allclose(ours_test, (test - mean) / std, rtol=1e-12)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "from chaingrad.nn.data import make_moons; make_moons(10**9)",
            "make_moons: 1,000,000,000",
        ),
        (
            "from chaingrad.nn.data import make_blobs; make_blobs(10**8, 3, n_features=50)",
            "make_blobs",
        ),
    ],
)
def test_sizes_that_need_gigabytes_are_refused_before_allocating(code, message):
    printed = memory_error_of(code)
    assert message in printed and "would need about" in printed, printed
