"""make_xor: the XOR problem, seeded, balanced, labelled by quadrant."""

from __future__ import annotations

import pytest

from chaingrad.nn.data import make_xor


def test_labels_are_the_quadrants_and_the_classes_balanced() -> None:
    X, y = make_xor(400, seed=0)
    assert len(X) == len(y) == 400
    assert all((a * b > 0) == bool(label) for (a, b), label in zip(X, y))
    assert sum(y) == 200
    assert all(-1.0 <= v <= 1.0 for row in X for v in row)


def test_padding_keeps_points_off_the_axes() -> None:
    X, _ = make_xor(300, padding=0.2, seed=1)
    assert min(min(abs(a), abs(b)) for a, b in X) >= 0.2
    X, _ = make_xor(300, padding=0.0, seed=1)
    assert min(min(abs(a), abs(b)) for a, b in X) < 0.2


def test_seeded_and_noise_moves_the_points_but_not_the_labels() -> None:
    assert make_xor(50, seed=3) == make_xor(50, seed=3)
    assert make_xor(50, seed=3) != make_xor(50, seed=4)
    clean, y_clean = make_xor(200, seed=5, shuffle=False)
    noisy, y_noisy = make_xor(200, noise=0.3, seed=5, shuffle=False)
    assert y_noisy == y_clean
    assert noisy != clean
    crossed = sum((a * b > 0) != bool(t) for (a, b), t in zip(noisy, y_noisy))
    assert 0 < crossed < 100  # noise carries some points across an axis, as it should


def test_shuffle_false_cycles_the_quadrants() -> None:
    X, y = make_xor(8, seed=0, shuffle=False)
    assert y == [1, 1, 0, 0, 1, 1, 0, 0]
    assert [(a > 0, b > 0) for a, b in X[:4]] == [
        (True, True),
        (False, False),
        (True, False),
        (False, True),
    ]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_samples": 1}, ValueError, "make_xor: n_samples"),
        ({"n_samples": "10"}, ValueError, "make_xor: n_samples must be an int >= 2"),
        ({"noise": -0.1}, ValueError, "make_xor: noise must be a number >= 0"),
        ({"padding": 1.0}, ValueError, r"make_xor: padding must be a number in \[0, 1\)"),
    ],
)
def test_bad_arguments(kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        make_xor(**kwargs)
