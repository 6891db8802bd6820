"""The training loop as one call: ``fit`` returns a history of loss and accuracy.

``fit`` does what micrograd's demo loop does -- forward every sample of a
batch, average the loss, add a penalty, ``zero_grad``, ``backward``, step --
with minibatches, optimizers, schedules and a progress bar (tqdm, shown only
when stderr is a terminal unless ``progress=True``).

Losses by name (targets as the loss expects them):

``"hinge"``          one score per sample; targets -1/+1 (0/1 also accepted)
``"bce"``            one logit per sample; targets 0/1 (sigmoid + cross-entropy)
``"cross_entropy"``  one logit per class; targets are class indices
``"mse"``            one output per sample (or a list); targets are numbers

>>> from chaingrad.nn import MLP, fit
>>> from chaingrad.nn.data import make_moons
>>> from chaingrad.nn.optim import SGD
>>> X, y = make_moons(60, noise=0.1, seed=0)
>>> model = MLP(2, [8, 1], seed=0)
>>> history = fit(model, X, y, loss="hinge", optimizer=SGD(model, lr=0.2), steps=40)
>>> history.accuracy[-1] > history.accuracy[0]
True
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chaingrad.engine import Value, no_grad

from . import functional as F
from ._checks import check_int
from .data import batches
from .init import Seed, make_rng
from .module import Module
from .optim import Adam, LRSchedule, Optimizer

LOSSES = ("hinge", "bce", "cross_entropy", "mse")


@dataclass
class History:
    """What ``fit`` recorded: per training step and, with validation data, per epoch.

    ``loss`` is the minimised quantity (data loss plus penalties) and
    ``accuracy`` the fraction right on that step's batch, both measured in the
    forward pass before the update (as micrograd's demo prints them).
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    val_step: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)

    def __getitem__(self, key: str) -> list[Any]:
        return getattr(self, key)

    def __len__(self) -> int:
        return len(self.loss)


def _binary_target(t: Any, negative: float) -> float:
    return 1.0 if t > 0 else negative


def _as_scalar(output: Any, who: str) -> Value:
    if isinstance(output, Value):
        return output
    if isinstance(output, Sequence) and len(output) == 1 and isinstance(output[0], Value):
        return output[0]
    raise ValueError(f"{who}: the model must output one Value per sample, got {output!r}"[:200])


def data_loss(outputs: list[Any], targets: Sequence[Any], loss: str | Callable) -> Value:
    """The batch loss of model ``outputs`` (one per sample) for a loss name or function."""
    if callable(loss):
        return loss(outputs, targets)
    if loss == "hinge":
        scores = [_as_scalar(o, "hinge loss") for o in outputs]
        return F.hinge_loss(scores, [_binary_target(t, -1.0) for t in targets])
    if loss == "bce":
        logits = [_as_scalar(o, "bce loss") for o in outputs]
        return F.binary_cross_entropy_with_logits(logits, [_binary_target(t, 0.0) for t in targets])
    if loss == "cross_entropy":
        return F.cross_entropy(outputs, list(targets))
    if loss == "mse":
        losses = []
        for o, t in zip(outputs, targets):
            if isinstance(o, Value):
                losses.append((o - t) ** 2)
            else:
                losses.extend((oi - ti) ** 2 for oi, ti in zip(o, t))
        from chaingrad.engine import sum_of

        return sum_of(losses) / len(losses)
    raise ValueError(f"unknown loss {loss!r}; choose one of {LOSSES} or pass a function")


def predictions(outputs: list[Any], loss: str | Callable) -> list[Any] | None:
    """Predicted labels from model outputs: sign for hinge/bce, argmax for cross-entropy."""
    if loss in ("hinge", "bce"):
        return [1 if _as_scalar(o, "accuracy").data > 0 else 0 for o in outputs]
    if loss == "cross_entropy":
        return [_argmax(o) for o in outputs]
    return None  # regression or a custom loss: no notion of a label


def _argmax(values: Sequence[Value]) -> int:
    return max(range(len(values)), key=lambda i: values[i].data)


def accuracy(outputs: list[Any], targets: Sequence[Any], loss: str | Callable) -> float:
    """Fraction of samples predicted right (nan when the loss has no labels)."""
    labels = predictions(outputs, loss)
    if labels is None:
        return math.nan
    if loss in ("hinge", "bce"):
        truth = [1 if t > 0 else 0 for t in targets]
    else:
        truth = list(targets)
    return sum(p == t for p, t in zip(labels, truth)) / len(truth)


def predict(model: Callable, X: Sequence[Any], loss: str = "cross_entropy") -> list[Any]:
    """Labels for rows ``X`` (eval mode, no graph recorded).

    ``loss`` says how to read outputs: ``"cross_entropy"`` takes the argmax,
    ``"hinge"``/``"bce"`` the sign (1 for positive, else 0).
    """
    with no_grad(), _eval_mode(model):
        outputs = [model(x) for x in X]
    labels = predictions(outputs, loss)
    if labels is None:
        raise ValueError(f"predict: loss {loss!r} has no class labels")
    return labels


def evaluate(
    model: Callable, X: Sequence[Any], y: Sequence[Any], loss: str | Callable = "cross_entropy"
) -> dict[str, float]:
    """``{"loss": ..., "accuracy": ...}`` on ``(X, y)`` in eval mode, recording no graph."""
    with no_grad(), _eval_mode(model):
        outputs = [model(x) for x in X]
        value = data_loss(outputs, y, loss)
    return {"loss": float(value), "accuracy": accuracy(outputs, y, loss)}


class _eval_mode:
    """Put a Module in eval mode for a block and restore its previous modes."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.saved: list[tuple[Module, bool]] = []

    def __enter__(self) -> None:
        if isinstance(self.model, Module):
            self.saved = [(m, m.training) for m in self.model.modules()]
            self.model.eval()

    def __exit__(self, *exc: object) -> None:
        for module, mode in self.saved:
            module.training = mode


def _progress_bar(total: int, progress: bool | None, desc: str) -> Any:
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError(
            "fit(progress=True) needs tqdm; pip install tqdm (or pip install 'chaingrad[progress]')"
        ) from None
    return tqdm(total=total, desc=desc, leave=True)


def fit(
    model: Module,
    X: Sequence[Any],
    y: Sequence[Any],
    *,
    loss: str | Callable = "cross_entropy",
    optimizer: Optimizer | None = None,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    l2: float = 0.0,
    l1: float = 0.0,
    schedule: LRSchedule | Callable[[int], float] | None = None,
    validation: tuple[Sequence[Any], Sequence[Any]] | None = None,
    seed: Seed = None,
    progress: bool | None = None,
    callback: Callable[[int, History], Any] | None = None,
) -> History:
    """Train ``model`` on ``(X, y)`` and return a :class:`History`.

    ``steps`` (number of updates) or ``epochs`` (passes over the data; default
    1) say how long. ``batch_size=None`` is full-batch. ``optimizer`` defaults
    to ``Adam(model, lr=0.01)``. ``l2``/``l1`` add ``l2 * sum(p**2)`` /
    ``l1 * sum(|p|)`` to the loss. ``schedule`` is an :class:`LRSchedule` on
    the optimizer or a function ``k -> lr`` for step ``k``. ``validation=(X, y)``
    is evaluated after every epoch. ``seed`` drives the minibatch shuffling.
    ``callback(step, history)`` runs after every step.
    """
    if not isinstance(model, Module):
        raise TypeError(f"fit: model must be a chaingrad.nn.Module, got {type(model).__name__}")
    if len(X) != len(y):
        raise ValueError(f"fit: X has {len(X)} rows but y has {len(y)}")
    if not (callable(loss) or loss in LOSSES):
        raise ValueError(f"fit: unknown loss {loss!r}; choose one of {LOSSES} or pass a function")
    if steps is not None and epochs is not None:
        raise ValueError("fit: give steps or epochs, not both")
    for name, value in (("steps", steps), ("epochs", epochs)):
        if value is not None:
            check_int(value, f"fit: {name}")
    for name, weight in (("l2", l2), ("l1", l1)):
        if not isinstance(weight, numbers.Real) or weight < 0:
            raise ValueError(f"fit: {name} must be a number >= 0, got {weight!r}")
    params = model.parameters()
    if optimizer is None:
        optimizer = Adam(params, lr=0.01)
    rng = make_rng(seed)
    n_batches = math.ceil(len(X) / (batch_size or len(X)))
    total = steps if steps is not None else n_batches * (epochs or 1)
    n_epochs = math.ceil(total / n_batches)

    history = History()
    bar = _progress_bar(total, progress, "training")
    model.train()
    step = 0
    try:
        for _ in range(n_epochs):
            for Xb, yb in batches(X, y, batch_size, shuffle=batch_size is not None, seed=rng):
                if step == total:
                    break
                if schedule is not None and not isinstance(schedule, LRSchedule):
                    optimizer.lr = float(schedule(step))
                outputs = [model(x) for x in Xb]
                total_loss = data_loss(outputs, yb, loss)
                if l2:
                    total_loss = total_loss + l2 * F.l2_penalty(params)
                if l1:
                    total_loss = total_loss + l1 * F.l1_penalty(params)
                history.loss.append(total_loss.data)
                history.accuracy.append(accuracy(outputs, yb, loss))
                history.lr.append(optimizer.lr)
                optimizer.zero_grad()
                total_loss.backward()
                optimizer.step()
                if isinstance(schedule, LRSchedule):
                    schedule.step()
                step += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(
                        loss=f"{history.loss[-1]:.4f}", acc=f"{history.accuracy[-1]:.3f}"
                    )
                if callback is not None:
                    callback(step, history)
            if validation is not None:
                result = evaluate(model, validation[0], validation[1], loss)
                history.val_step.append(step)
                history.val_loss.append(result["loss"])
                history.val_accuracy.append(result["accuracy"])
    finally:
        if bar is not None:
            bar.close()
    return history
