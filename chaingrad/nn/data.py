"""Toy and small real datasets, seeded splits, and a minibatch iterator.

Nothing is downloaded. ``make_moons``, ``make_circles``, ``make_blobs``,
``make_spirals`` and ``make_xor`` are generated here with a seeded ``random.Random`` (standard
library only); ``load_digits`` and ``load_iris`` read the copies that ship
inside scikit-learn (``pip install scikit-learn``). ``load_names`` reads the
32,033 names shipped inside chaingrad, and ``CharTokenizer`` maps their
characters to ids (both from :mod:`chaingrad.nn.text`).

Datasets are plain Python lists: ``X`` a list of rows of floats, ``y`` a list
of ints (class indices), ready to wrap in Values.

>>> from chaingrad.nn.data import make_moons, train_test_split, batches
>>> X, y = make_moons(100, noise=0.1, seed=0)
>>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0)
>>> len(X_train), len(X_test)
(80, 20)
>>> [len(xb) for xb, yb in batches(X_train, y_train, batch_size=32, seed=0)]
[32, 32, 16]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from typing import Any

from ._checks import _describe, check_int, short_repr
from ._memory import BYTES_PER_FLOAT_IN_A_ROW, BYTES_PER_ROW, check_memory
from .init import Seed, make_rng

# Text for language models (the names dataset and a character tokenizer) lives in text.py.
from .text import CharTokenizer, load_names  # noqa: F401

Rows = list[list[float]]


def as_rows(X: Any, who: str, name: str = "X") -> list[Any]:
    """``X`` as a list of samples: lists and tuples as they are, NumPy arrays (or
    anything with ``tolist``, such as a torch tensor or a pandas Series) converted
    once. Anything else is a TypeError naming ``who`` and what it got.

    >>> as_rows((3, 1, 2), "fit", "y")
    [3, 1, 2]
    >>> as_rows("abc", "fit")
    Traceback (most recent call last):
    ...
    TypeError: fit: X must be a list of samples or a NumPy array, got str 'abc'
    """
    if hasattr(X, "to_numpy") and not hasattr(X, "tolist"):
        X = X.to_numpy()  # a pandas DataFrame
    if hasattr(X, "tolist") and not isinstance(X, (list, tuple)):
        X = X.tolist()
    if isinstance(X, (str, bytes)) or not isinstance(X, Sequence):
        raise TypeError(
            f"{who}: {name} must be a list of samples or a NumPy array, got {_describe(X)}"
        )
    return X if isinstance(X, list) else list(X)


def _check_count(who: str, name: str, n: Any, minimum: int = 1) -> int:
    return check_int(n, f"{who}: {name}", minimum)


def _check_size(who: str, n_samples: int, n_features: int) -> None:
    check_memory(
        who,
        n_samples * (BYTES_PER_ROW + BYTES_PER_FLOAT_IN_A_ROW * n_features + 8),
        f"{n_samples:,} samples of {n_features} features",
    )


def _check_noise(who: str, noise: Any) -> float:
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0:
        raise ValueError(f"{who}: noise must be a number >= 0, got {noise!r}")
    return float(noise)


def _shuffled(X: Rows, y: list[int], rng: Any) -> tuple[Rows, list[int]]:
    order = list(range(len(X)))
    rng.shuffle(order)
    return [X[i] for i in order], [y[i] for i in order]


def make_moons(
    n_samples: int = 100, noise: float = 0.1, *, seed: Seed = None, shuffle: bool = True
) -> tuple[Rows, list[int]]:
    """Two interleaving half circles (classes 0 and 1), as scikit-learn's ``make_moons``.

    >>> X, y = make_moons(4, noise=0.0, shuffle=False)
    >>> X[0], y
    ([1.0, 0.0], [0, 0, 1, 1])
    """
    _check_count("make_moons", "n_samples", n_samples, 2)
    _check_size("make_moons", n_samples, 2)
    noise = _check_noise("make_moons", noise)
    rng = make_rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    X: Rows = []
    for i in range(n_out):  # upper moon: angles 0..pi
        t = math.pi * i / max(n_out - 1, 1)
        X.append([math.cos(t), math.sin(t)])
    for i in range(n_in):  # lower moon, shifted right and down
        t = math.pi * i / max(n_in - 1, 1)
        X.append([1.0 - math.cos(t), 0.5 - math.sin(t)])
    y = [0] * n_out + [1] * n_in
    if noise:
        X = [[a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] for a, b in X]
    return _shuffled(X, y, rng) if shuffle else (X, y)


def make_circles(
    n_samples: int = 100,
    noise: float = 0.05,
    factor: float = 0.5,
    *,
    seed: Seed = None,
    shuffle: bool = True,
) -> tuple[Rows, list[int]]:
    """A circle of radius 1 (class 0) around one of radius ``factor`` (class 1).

    >>> X, y = make_circles(8, noise=0.0, shuffle=False)
    >>> X[0], X[4], y[0], y[4]
    ([1.0, 0.0], [0.5, 0.0], 0, 1)
    """
    _check_count("make_circles", "n_samples", n_samples, 2)
    _check_size("make_circles", n_samples, 2)
    noise = _check_noise("make_circles", noise)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"make_circles: factor must be in (0, 1), got {factor!r}")
    rng = make_rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    X: Rows = []
    for n, radius in ((n_out, 1.0), (n_in, factor)):
        for i in range(n):
            t = 2.0 * math.pi * i / n
            X.append([radius * math.cos(t), radius * math.sin(t)])
    y = [0] * n_out + [1] * n_in
    if noise:
        X = [[a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] for a, b in X]
    return _shuffled(X, y, rng) if shuffle else (X, y)


def make_blobs(
    n_samples: int = 100,
    centers: int | Sequence[Sequence[float]] = 3,
    std: float = 1.0,
    *,
    n_features: int = 2,
    seed: Seed = None,
    shuffle: bool = True,
) -> tuple[Rows, list[int]]:
    """Gaussian clusters, one class per center (random centers in [-10, 10] if ``centers`` is int).

    >>> X, y = make_blobs(30, centers=[[0, 0], [5, 5]], std=0.5, seed=0)
    >>> sorted(set(y)), len(X[0])
    ([0, 1], 2)
    """
    _check_count("make_blobs", "n_samples", n_samples)
    std = _check_noise("make_blobs", std)
    rng = make_rng(seed)
    if isinstance(centers, int) and not isinstance(centers, bool):
        _check_count("make_blobs", "centers", centers)
        _check_count("make_blobs", "n_features", n_features)
        _check_size("make_blobs", n_samples + centers, n_features)
        points = [[rng.uniform(-10.0, 10.0) for _ in range(n_features)] for _ in range(centers)]
    else:
        points = as_rows(centers, "make_blobs", "centers")
        if not points or not all(_is_row(p) for p in points) or len(set(map(len, points))) != 1:
            raise ValueError(
                "make_blobs: centers must be a count or a non-empty list of points "
                f"of equal length, got {short_repr(centers)}"
            )
        points = [[float(c) for c in center] for center in points]
        _check_size("make_blobs", n_samples, len(points[0]))
    X: Rows = []
    y: list[int] = []
    for i in range(n_samples):
        k = i % len(points)  # classes as balanced as n_samples allows
        X.append([c + rng.gauss(0.0, std) for c in points[k]])
        y.append(k)
    return _shuffled(X, y, rng) if shuffle else (X, y)


def make_spirals(
    n_samples: int = 100,
    n_classes: int = 2,
    noise: float = 0.2,
    *,
    turns: float = 1.0,
    seed: Seed = None,
    shuffle: bool = True,
) -> tuple[Rows, list[int]]:
    """Interleaved spiral arms, one per class (the CS231n toy problem), radius up to 1.

    >>> X, y = make_spirals(90, n_classes=3, seed=0)
    >>> len(X), sorted(set(y))
    (90, [0, 1, 2])
    """
    _check_count("make_spirals", "n_samples", n_samples, 2)
    _check_size("make_spirals", n_samples, 2)
    _check_count("make_spirals", "n_classes", n_classes, 2)
    noise = _check_noise("make_spirals", noise)
    rng = make_rng(seed)
    X: Rows = []
    y: list[int] = []
    per_class = [n_samples // n_classes + (k < n_samples % n_classes) for k in range(n_classes)]
    for k, n in enumerate(per_class):
        for i in range(n):
            r = i / max(n - 1, 1)
            angle = 2.0 * math.pi * (turns * r + k / n_classes) + rng.gauss(0.0, noise)
            X.append([r * math.sin(angle), r * math.cos(angle)])
            y.append(k)
    return _shuffled(X, y, rng) if shuffle else (X, y)


_QUADRANTS = ((1.0, 1.0), (-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0))


def make_xor(
    n_samples: int = 100,
    noise: float = 0.0,
    *,
    padding: float = 0.05,
    seed: Seed = None,
    shuffle: bool = True,
) -> tuple[Rows, list[int]]:
    """Points spread over the square [-1, 1]², class 1 where ``x * y > 0`` (the XOR problem).

    Points are drawn uniformly, kept at least ``padding`` away from both axes so
    the four quadrants are separated, labelled by quadrant, then moved by
    Gaussian ``noise`` (which can carry a point across an axis, as in
    TensorFlow Playground's XOR).

    >>> X, y = make_xor(200, seed=0)
    >>> all((a * b > 0) == bool(label) for (a, b), label in zip(X, y))
    True
    """
    _check_count("make_xor", "n_samples", n_samples, 2)
    _check_size("make_xor", n_samples, 2)
    noise = _check_noise("make_xor", noise)
    if isinstance(padding, bool) or not isinstance(padding, (int, float)) or not 0 <= padding < 1:
        raise ValueError(f"make_xor: padding must be a number in [0, 1), got {padding!r}")
    rng = make_rng(seed)
    X: Rows = []
    y: list[int] = []
    for i in range(n_samples):
        # Quadrants in turn, so the classes are as balanced as n_samples allows.
        signs = _QUADRANTS[i % 4]
        a = signs[0] * rng.uniform(padding, 1.0)
        b = signs[1] * rng.uniform(padding, 1.0)
        X.append([a, b])
        y.append(1 if a * b > 0 else 0)
    if noise:
        X = [[a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] for a, b in X]
    return _shuffled(X, y, rng) if shuffle else (X, y)


def _sklearn_dataset(name: str) -> Any:
    try:
        from sklearn import datasets
    except ImportError:
        raise ImportError(
            f"load_{name} reads the copy bundled with scikit-learn, which is not installed; "
            "pip install scikit-learn (or pip install 'chaingrad[data]')"
        ) from None
    # These loaders read files inside the sklearn package: no network access.
    return getattr(datasets, f"load_{name}")()


def load_digits(scale: bool = True) -> tuple[Rows, list[int]]:
    """scikit-learn's bundled 8x8 handwritten digits: 1797 rows of 64 pixels, classes 0-9.

    Pixels are 0..16; with ``scale`` (default) they are divided by 16 into [0, 1].
    """
    bunch = _sklearn_dataset("digits")
    divisor = 16.0 if scale else 1.0
    X = [[float(v) / divisor for v in row] for row in bunch.data]
    return X, [int(t) for t in bunch.target]


def load_iris() -> tuple[Rows, list[int]]:
    """scikit-learn's bundled iris flowers: 150 rows of 4 measurements (cm), classes 0-2."""
    bunch = _sklearn_dataset("iris")
    return [[float(v) for v in row] for row in bunch.data], [int(t) for t in bunch.target]


def train_test_split(
    X: Sequence[Any],
    y: Sequence[Any],
    test_size: float | int = 0.2,
    *,
    seed: Seed = None,
    stratify: bool = False,
) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """Shuffle with ``seed`` and split into ``(X_train, X_test, y_train, y_test)``.

    ``test_size`` is a fraction in (0, 1) or a number of rows. With
    ``stratify`` each class is split in the same proportion.

    >>> split = train_test_split([[0], [1], [2], [3]], [0, 0, 1, 1], 0.5, seed=1, stratify=True)
    >>> sorted(split[3])
    [0, 1]
    """
    X, y = as_rows(X, "train_test_split", "X"), as_rows(y, "train_test_split", "y")
    n = len(X)
    if n != len(y):
        raise ValueError(f"train_test_split: X has {n} rows but y has {len(y)}")
    if isinstance(test_size, float):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"train_test_split: test_size must be in (0, 1), got {test_size!r}")
        fraction = test_size
    elif isinstance(test_size, int) and not isinstance(test_size, bool) and 0 < test_size < n:
        fraction = test_size / n
    else:
        raise ValueError(
            f"train_test_split: test_size must be a fraction or a row count in 1..{n - 1}, "
            f"got {test_size!r}"
        )
    rng = make_rng(seed)
    if stratify:
        groups: dict[Any, list[int]] = {}
        for i, label in enumerate(y):
            groups.setdefault(label, []).append(i)
        test_idx: list[int] = []
        train_idx: list[int] = []
        for label in sorted(groups, key=repr):
            idx = groups[label]
            rng.shuffle(idx)
            k = round(len(idx) * fraction)
            test_idx += idx[:k]
            train_idx += idx[k:]
        rng.shuffle(test_idx)
        rng.shuffle(train_idx)
    else:
        order = list(range(n))
        rng.shuffle(order)
        k = test_size if isinstance(test_size, int) else math.ceil(n * fraction)
        test_idx, train_idx = order[:k], order[k:]
    if not test_idx or not train_idx:
        raise ValueError(f"train_test_split: test_size {test_size!r} leaves one side empty")
    return (
        [X[i] for i in train_idx],
        [X[i] for i in test_idx],
        [y[i] for i in train_idx],
        [y[i] for i in test_idx],
    )


def _is_row(row: Any) -> bool:
    return isinstance(row, (list, tuple)) and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) for v in row
    )


def _table(rows: Any, who: str, name: str, width: int | None) -> Rows:
    """``rows`` as a list of rows of floats, all of length ``width`` (the first row's if None)."""
    rows = as_rows(rows, who, name)
    out = []
    for i, row in enumerate(rows):
        if hasattr(row, "tolist"):
            row = row.tolist()
        if not _is_row(row):
            raise ValueError(
                f"{who}: row {i} of {name} is not a list of numbers: {short_repr(row)}"
            )
        if width is None:
            width = len(row)
        if len(row) != width:
            raise ValueError(
                f"{who}: row {i} of {name} has {len(row)} numbers, but train's rows have {width}"
            )
        out.append([float(v) for v in row])
    return out


def standardize(train: Rows, *others: Rows) -> list[Rows]:
    """Scale each column to mean 0, std 1 using statistics of ``train`` only.

    Returns ``[train_scaled, *others_scaled]``; constant columns are only
    centred. Lists of rows or NumPy arrays; every row must have the same
    number of columns (a ragged row is an error, never a dropped column).

    >>> standardize([[1.0], [3.0]], [[5.0]])
    [[[-1.0], [1.0]], [[3.0]]]
    """
    rows = _table(train, "standardize", "train", None)
    if not rows:
        raise ValueError("standardize: train is empty")
    width = len(rows[0])
    tables = [rows] + [
        _table(other, "standardize", f"others[{k}]", width) for k, other in enumerate(others)
    ]
    columns = list(zip(*rows))
    means = [math.fsum(c) / len(c) for c in columns]
    stds = [
        math.sqrt(math.fsum((v - m) ** 2 for v in c) / len(c)) or 1.0
        for c, m in zip(columns, means)
    ]
    return [[[(v - m) / s for v, m, s in zip(row, means, stds)] for row in t] for t in tables]


def batches(
    X: Sequence[Any],
    y: Sequence[Any],
    batch_size: int | None = None,
    *,
    shuffle: bool = True,
    seed: Seed = None,
    epochs: int = 1,
) -> Iterator[tuple[list[Any], list[Any]]]:
    """Yield ``(X_batch, y_batch)`` minibatches for ``epochs`` passes over the data.

    ``batch_size=None`` means the whole dataset (full-batch, as micrograd's
    demo). With ``shuffle`` each epoch visits the rows in a new order drawn
    from ``seed``; the last batch of an epoch may be smaller.

    >>> list(batches([[1], [2], [3]], [0, 1, 0], batch_size=2, shuffle=False))
    [([[1], [2]], [0, 1]), ([[3]], [0])]
    """
    X, y = as_rows(X, "batches", "X"), as_rows(y, "batches", "y")
    n = len(X)
    if n != len(y):
        raise ValueError(f"batches: X has {n} rows but y has {len(y)}")
    if n == 0:
        raise ValueError("batches: the dataset is empty")
    size = n if batch_size is None else _check_count("batches", "batch_size", batch_size)
    _check_count("batches", "epochs", epochs)
    # Checked above, now; the generator below runs only when iterated.
    return _batches(X, y, size, shuffle, make_rng(seed), epochs)


def _batches(
    X: Sequence[Any], y: Sequence[Any], size: int, shuffle: bool, rng: Any, epochs: int
) -> Iterator[tuple[list[Any], list[Any]]]:
    order = list(range(len(X)))
    for _ in range(epochs):
        if shuffle:
            rng.shuffle(order)
        for start in range(0, len(order), size):
            idx = order[start : start + size]
            yield [X[i] for i in idx], [y[i] for i in idx]
