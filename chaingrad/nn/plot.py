"""Plots for training: the loss curve and a 2-D decision boundary, as matplotlib Figures.

Figures are made with ``matplotlib.figure.Figure`` (no pyplot state), so they
work in scripts, on headless machines and inline in Jupyter; save one with
``fig.savefig("loss.png")``. matplotlib (and numpy) are imported only when a
plot is made.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

from chaingrad.engine import Value, no_grad

from ._checks import check_int, check_number, short_repr
from .data import as_rows

MAX_RESOLUTION = 1000


def _is_point(row: Any) -> bool:
    return (
        isinstance(row, (list, tuple))
        and len(row) == 2
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in row)
    )


def _matplotlib() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plotting needs matplotlib; pip install matplotlib (or pip install 'chaingrad[plot]')"
        ) from None
    return Figure


def plot_loss_curve(history: Any, title: str = "training") -> Any:
    """Loss per step (left axis) and accuracy per step (right axis) from ``fit``'s History.

    Also accepts a plain list of losses.
    """
    if hasattr(history, "loss") and hasattr(history, "accuracy"):
        losses, accuracies = list(history.loss), list(history.accuracy)
    else:
        losses, accuracies = as_rows(history, "plot_loss_curve", "history"), []
    for i, loss in enumerate(losses):
        if isinstance(loss, bool) or not isinstance(loss, numbers.Real):
            raise TypeError(
                "plot_loss_curve: history must be fit's History or a list of numbers, "
                f"got {short_repr(loss)} at position {i}"
            )
    Figure = _matplotlib()
    fig = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(range(len(losses)), losses, color="tab:blue", label="loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss", color="tab:blue")
    ax.set_title(title)
    if accuracies and any(a == a for a in accuracies):  # a != a for nan
        acc_ax = ax.twinx()
        acc_ax.plot(range(len(accuracies)), accuracies, color="tab:orange", label="accuracy")
        val_steps = getattr(history, "val_step", [])
        if val_steps:
            acc_ax.plot(
                val_steps, history.val_accuracy, "o--", color="tab:green", label="val accuracy"
            )
        acc_ax.set_ylabel("accuracy", color="tab:orange")
        acc_ax.set_ylim(0.0, 1.05)
    return fig


def _output_score(output: Any) -> float:
    """A number whose sign or argmax gives the class: score, or argmax index."""
    if isinstance(output, Value):
        return output.data
    if len(output) == 1:
        return output[0].data
    return float(max(range(len(output)), key=lambda i: output[i].data))


def plot_decision_boundary(
    model: Callable,
    X: Sequence[Sequence[float]],
    y: Sequence[Any],
    resolution: int = 60,
    title: str = "decision boundary",
    margin: float = 0.5,
) -> Any:
    """The model's predicted class over the plane, with the data on top (2 input features).

    One-output models (hinge/bce scores) are split at 0; multi-output models
    by argmax. ``resolution`` is the grid size per axis, from 2 to 1000 (the
    model is run ``resolution**2`` times, in eval mode with no graph
    recorded; a figure is a few hundred pixels wide, so more adds nothing).
    ``X`` and ``y`` are lists or NumPy arrays. Each class has one colour, for its
    region (lighter) and for its points, and the legend names the classes.
    """
    who = "plot_decision_boundary"
    X, y = as_rows(X, who, "X"), as_rows(y, who, "y")
    if not X or any(not _is_point(row) for row in X):
        raise ValueError(f"{who}: needs data with exactly 2 features (rows of 2 numbers)")
    if len(y) != len(X):
        raise ValueError(f"{who}: X has {len(X)} rows but y has {len(y)}")
    if any(isinstance(t, bool) or not isinstance(t, numbers.Real) for t in y):
        raise ValueError(f"{who}: y must hold numeric class labels, got {short_repr(y)}")
    check_int(resolution, f"{who}: resolution", minimum=2)
    if resolution > MAX_RESOLUTION:
        raise ValueError(
            f"{who}: resolution must be an int from 2 to {MAX_RESOLUTION} (the model runs "
            f"resolution**2 times), got {resolution!r}"
        )
    margin = check_number(margin, f"{who}: margin")
    Figure = _matplotlib()
    import numpy as np

    points = np.asarray(X, dtype=float)
    if not np.isfinite(points).all():
        raise ValueError(f"{who}: X holds nan or infinite values; there is no plane to draw")
    labels = np.asarray([float(v) for v in y])
    x_min, y_min = points.min(axis=0) - margin
    x_max, y_max = points.max(axis=0) + margin
    xs = np.linspace(x_min, x_max, resolution)
    ys = np.linspace(y_min, y_max, resolution)

    from .train import _eval_mode

    scores = np.empty((resolution, resolution))
    with no_grad(), _eval_mode(model):
        for i, gy in enumerate(ys.tolist()):
            for j, gx in enumerate(xs.tolist()):
                scores[i, j] = _output_score(model([gx, gy]))
    binary = len(np.unique(labels)) <= 2 and not _is_multiclass(model, points[0])
    fig = Figure(figsize=(5.0, 4.2), layout="constrained")
    ax = fig.add_subplot()
    # One colour per class, the same for its region (lighter) and its points, named in
    # a legend: the reader can tell which region predicts which class.
    from matplotlib import colormaps

    def palette(n: int) -> list[Any]:
        if n <= 10:  # distinct, readable hues (matplotlib's default cycle)
            return [colormaps["tab10"](i) for i in range(n)]
        return [colormaps["Spectral"](i / (n - 1)) for i in range(n)]

    if binary:
        # A score below 0 predicts the smaller label, above 0 the larger one.
        classes = sorted(set(labels.tolist())) or [0.0]
        low_class, high_class = classes[0], classes[-1]
        colours = palette(2)
        colour_of = {low_class: colours[0], high_class: colours[1]}
        low, high = min(scores.min(), -1.0) - 1.0, max(scores.max(), 1.0) + 1.0
        # the contour of the score itself is smoother than a contour of a 0/1 grid
        ax.contourf(xs, ys, scores, levels=[low, 0.0, high], colors=colours, alpha=0.35)
        ax.contour(xs, ys, scores, levels=[0.0], colors="k", linewidths=0.8)
    else:
        n = int(max(scores.max(), labels.max())) + 1
        colours = palette(n)
        colour_of = {float(i): colours[i] for i in range(n)}
        ax.contourf(xs, ys, scores, levels=np.arange(-0.5, n), colors=colours, alpha=0.35)
    for label in sorted(set(labels.tolist())):
        mine = points[labels == label]
        ax.scatter(
            mine[:, 0],
            mine[:, 1],
            color=colour_of.get(label, "gray"),
            s=25,
            edgecolors="k",
            label=f"class {label:g}",
        )
    ax.legend(loc="best", fontsize=9, framealpha=0.9)
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    ax.set_title(title)
    return fig


def _is_multiclass(model: Callable, x: Any) -> bool:
    from .train import _eval_mode

    with no_grad(), _eval_mode(model):
        out = model([float(v) for v in x])
    return not isinstance(out, Value) and len(out) > 1
