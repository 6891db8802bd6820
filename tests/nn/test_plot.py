"""plot_decision_boundary and plot_loss_curve: NumPy input, and absurd arguments refused at once."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chaingrad.nn import MLP
from chaingrad.nn.data import make_moons


def test_numpy_input_to_plot_decision_boundary():
    pytest.importorskip("matplotlib")
    X, y = make_moons(30, seed=0)
    model = MLP(2, [4, 1], seed=0)
    from chaingrad.nn import plot_decision_boundary, plot_loss_curve

    fig = plot_decision_boundary(model, np.array(X), np.array(y), resolution=8)
    axes = fig.axes[0]
    assert len(axes.collections) >= 2  # the filled regions and the points
    plot_loss_curve(np.array([3.0, 2.0, 1.0]))


def test_plot_decision_boundary_refuses_an_absurd_resolution_at_once():
    pytest.importorskip("matplotlib")
    from chaingrad.nn import plot_decision_boundary

    X, y = make_moons(20, seed=0)
    for bad in (10**5, 1001, 1, "60", 2.5):
        with pytest.raises(ValueError, match="resolution must be"):
            plot_decision_boundary(MLP(2, [1]), X, y, resolution=bad)
    for kwargs, message in (
        ({"margin": math.inf}, "margin must be a finite number >= 0"),
        ({"margin": -1.0}, "margin must be a finite number >= 0"),
        ({"y": y[:5]}, "X has 20 rows but y has 5"),
        ({"X": [[math.nan, 0.0], *X[1:]]}, "X holds nan or infinite values"),
        ({"y": ["a"] * 20}, "y must hold numeric class labels"),
    ):
        call = {"X": X, "y": y, **kwargs}
        with pytest.raises(ValueError, match=message):
            plot_decision_boundary(MLP(2, [1]), call.pop("X"), call.pop("y"), **call)
