"""numpy arrays as a compiled step's arguments: read as they are, the same program as lists."""

from __future__ import annotations

import math
import random

import pytest

from chaingrad import Value, jit
from chaingrad.compiled.inputs import Chunked, flatten
from chaingrad.nn import MLP
from chaingrad.nn import functional as F
from chaingrad.nn.optim import SGD

from .helpers import close

np = pytest.importorskip("numpy")

BACKENDS = ["numpy", "python"]


def _batch(seed, size=6, features=4, classes=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(size, features)), rng.integers(0, classes, size=size)


def _classifier(backend, optimizer=False):
    model = MLP(4, [5, 3], seed=0)
    fn = lambda xb, yb: F.cross_entropy([model(x) for x in xb], yb)  # noqa: E731
    step = jit(
        fn, params=model, backend=backend, optimizer=SGD(model, lr=0.1) if optimizer else None
    )
    return model, fn, step


def _eager(model, fn, X, y):
    """Eager loss and gradients on the batch as Python lists (what the arrays hold)."""
    model.zero_grad()
    loss = fn(X.tolist(), y.tolist())
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    model.zero_grad()
    return loss.data, grads


@pytest.mark.parametrize("backend", BACKENDS)
def test_arrays_replay_the_program_lists_traced_with_eager_numbers(backend):
    model, fn, step = _classifier(backend)
    X, y = _batch(0)
    step(X.tolist(), y.tolist())  # traced on lists
    for seed in range(1, 4):
        X, y = _batch(seed)
        want, want_grads = _eager(model, fn, X, y)
        model.zero_grad()
        got = step(X, y)
        assert close(got, want)
        assert all(close(g, p.grad) for g, p in zip(want_grads, model.parameters()))
    assert len(step.programs) == 1  # arrays and lists share one structure


def test_an_array_and_its_lists_have_the_same_key():
    X, y = _batch(0)
    assert flatten((X, y), {})[1] == flatten((X.tolist(), y.tolist()), {})[1]
    scalar = np.array(2.5)  # a 0-d array is one float
    assert flatten((scalar,), {})[1] == flatten((2.5,), {})[1]
    images = np.zeros((2, 1, 3, 3))
    assert flatten((images,), {})[1] == flatten((images.tolist(),), {})[1]
    ids = np.arange(5, dtype=np.int32)
    assert flatten((ids,), {})[1] == flatten(([0, 1, 2, 3, 4],), {})[1]  # ints stay ints


def test_a_float64_array_alone_is_read_without_a_copy():
    X = np.arange(12.0).reshape(3, 4)
    numbers, _ = flatten((X,), {})
    assert isinstance(numbers, Chunked)
    assert np.shares_memory(numbers.array(), X)
    assert numbers.numbers() == X.reshape(-1).tolist()
    assert len(numbers) == 12


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float16", "int64"])
def test_other_dtypes_give_the_numbers_the_lists_of_the_array_give(backend, dtype):
    model, fn, step = _classifier(backend)
    X, y = _batch(5)
    X = (X * 4).astype(dtype)  # int features are numbers too
    for labels in (y.astype(np.int32), y.astype(np.uint8), y.tolist()):
        want, want_grads = _eager(model, fn, X, np.asarray(labels))
        model.zero_grad()
        assert close(step(X, labels), want)
        assert all(close(g, p.grad) for g, p in zip(want_grads, model.parameters()))


@pytest.mark.parametrize("backend", BACKENDS)
def test_arrays_mixed_with_lists_numbers_and_keywords(backend):
    w = [Value(0.5), Value(-1.5), Value(2.0)]

    def fn(x, rows, scale=1.0):
        total = sum((wi * xi for wi, xi in zip(w, x)), Value(0.0))
        for row in rows:
            total = total + (w[0] * row[0] - w[1] * row[1]).tanh()
        return total * scale

    step = jit(fn, params=w, backend=backend)
    rows = [np.array([0.5, 1.0]), [2.0, -1.0], np.array([3.0, 0.25])]  # a list of arrays
    calls = [
        ((np.array([1.0, 2.0, 3.0]), rows), {"scale": np.float64(0.5)}),
        (([1.0, 2.0, 3.0], rows), {"scale": np.array(2.0)}),
        ((np.array([0.1, -0.2, 0.3]), np.array(rows)), {"scale": 1.5}),
    ]
    for args, kwargs in calls:
        for p in w:
            p.grad = 0.0
        got = step(*args, **kwargs)
        grads = [p.grad for p in w]
        for p in w:
            p.grad = 0.0
        plain = [a.tolist() if hasattr(a, "tolist") else a for a in args[1]]
        want = fn(list(map(float, args[0])), plain, float(kwargs["scale"]))
        want.backward()
        assert close(got, want.data)
        assert all(close(g, p.grad) for g, p in zip(grads, w))
    assert len(step.programs) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_bad_label_in_an_array_raises_eagers_error_and_changes_nothing(backend):
    model, fn, step = _classifier(backend, optimizer=True)
    X, y = _batch(1)
    step(X, y)
    before = [p.data for p in model.parameters()]
    bad = y.copy()
    bad[3] = 7  # 3 classes
    with pytest.raises(ValueError) as eager:
        fn(X.tolist(), bad.tolist())
    with pytest.raises(ValueError) as compiled:
        step(X, bad)
    assert str(compiled.value) == str(eager.value)
    assert "7" in str(compiled.value)
    assert [p.data for p in model.parameters()] == before  # no half-done step
    assert bad[3] == 7 and bad.dtype == y.dtype  # the argument untouched


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_caller_s_arrays_are_not_changed_and_views_work(backend):
    _, _, step = _classifier(backend, optimizer=True)
    X, y = _batch(2, size=8, features=8)
    Xc, yc = X.copy(), y.copy()
    view = X[:, ::2]  # not contiguous
    model_b, fn_b, _ = _classifier(backend)
    want, _ = _eager(model_b, fn_b, np.ascontiguousarray(view), y)
    assert close(step(view, y), want)
    assert np.array_equal(X, Xc) and np.array_equal(y, yc)


@pytest.mark.parametrize("backend", BACKENDS)
def test_arrays_refused_as_their_lists_are(backend):
    step = jit(lambda x: x[0] * 2.0, params=[], backend=backend)
    with pytest.raises(TypeError, match="bool"):
        step(np.array([True, False]))
    with pytest.raises(TypeError, match="complex"):
        step(np.array([1 + 2j]))


def test_ints_beyond_float64_are_read_exactly():
    big = np.array([2**60 + 1, 3], dtype=np.int64)
    numbers, key = flatten((big,), {})
    assert numbers == [2**60 + 1, 3]  # not rounded through float64
    assert key == flatten(([2**60 + 1, 3],), {})[1]


def test_a_floating_point_event_reruns_exactly_with_int_labels():
    w = [Value(1.0), Value(-1.0)]

    def fn(x, y):
        return F.cross_entropy([(w[0] * x[0]).exp(), w[1] * x[1]], y)

    step = jit(fn, params=w, backend="numpy")
    step(np.array([0.5, 1.0]), np.array(1))
    overflow = np.array([1000.0, 1.0])  # exp(1000) overflows: the exact rerun decides
    try:
        want = fn(overflow.tolist(), 1).data
    except OverflowError as error:
        with pytest.raises(type(error)):
            step(overflow, np.array(1))
    else:
        got = step(overflow, np.array(1))
        assert got == want or (math.isnan(got) and math.isnan(want))


def test_map_checks_labels_of_every_row_at_once():
    model = MLP(4, [3], seed=0)
    step = jit(
        lambda x, y: F.cross_entropy([model(x)], [y]), params=model, grad=False, backend="numpy"
    )
    X, y = _batch(3, size=10)
    got = step.map(X, y)
    want = [F.cross_entropy([model(x)], [t]).data for x, t in zip(X.tolist(), y.tolist())]
    assert all(close(a, b) for a, b in zip(got, want))
    bad = y.copy()
    bad[6] = -2
    with pytest.raises(ValueError) as eager:
        F.cross_entropy([model(X[6].tolist())], [-2])
    with pytest.raises(ValueError) as compiled:
        step.map(X, bad)
    assert str(compiled.value) == str(eager.value)


def test_digits_batch_of_arrays_trains_like_eager():
    rng = random.Random(0)
    model = MLP(8, [6, 4], seed=1)
    twin = MLP(8, [6, 4], seed=1)
    step = jit(
        lambda xb, yb: F.cross_entropy([model(x) for x in xb], yb),
        params=model,
        optimizer=SGD(model, lr=0.2),
    )
    optimizer = SGD(twin, lr=0.2)
    for _ in range(5):
        X = np.array([[rng.gauss(0, 1) for _ in range(8)] for _ in range(16)], dtype=np.float32)
        y = np.array([rng.randrange(4) for _ in range(16)])
        got = step(X, y)
        optimizer.zero_grad()
        loss = F.cross_entropy([twin(x) for x in X.tolist()], y.tolist())
        loss.backward()
        optimizer.step()
        assert close(got, loss.data)
    assert all(close(a.data, b.data) for a, b in zip(model.parameters(), twin.parameters()))
