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

from chaingrad.engine import Value, no_grad, sum_of
from chaingrad.engine.autodiff import _cycle_collector_paused

from . import functional as F
from . import inference
from ._checks import _describe, check_int, check_number, short_repr
from .data import as_rows, batches
from .init import Seed, make_rng
from .module import Module
from .optim import Adam, LRSchedule, Optimizer, check_lr

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


_BINARY_LABELS = ({0, 1}, {-1, 1})


def _binary_labels(y: Sequence[Any], loss: str, who: str) -> list[Any]:
    """Two-class labels as 1 (positive) / 0 (negative), from {0, 1} or {-1, +1}.

    Any other label, or a mix of the two conventions (-1, 0 and 1 are three
    classes), is a ValueError: mapping "t > 0" would silently merge classes.
    Value targets (graph inputs, as chaingrad.jit passes them) are kept as they are.
    """
    numbers_seen: set[int] = set()
    for t in y:
        if isinstance(t, Value):
            continue
        if not isinstance(t, numbers.Real) or t not in (-1, 0, 1):
            raise ValueError(
                f"{who}: loss {loss!r} needs two classes labelled 0/1 or -1/+1, "
                f"got the label {short_repr(t)}"
            )
        numbers_seen.add(round(float(t)))
    if not any(numbers_seen <= allowed for allowed in _BINARY_LABELS):
        raise ValueError(
            f"{who}: loss {loss!r} needs two classes labelled 0/1 or -1/+1, "
            f"got the labels {sorted(numbers_seen)} (three classes)"
        )
    return [t if isinstance(t, Value) else int(t == 1) for t in y]


def _class_labels(y: Sequence[Any], who: str) -> list[Any]:
    """Class indices as ints: 3 and 3.0 are class 3; 2.5, -1, True or "cat" are errors."""
    out: list[Any] = []
    for t in y:
        if isinstance(t, Value):
            out.append(t)
            continue
        number = float(t) if isinstance(t, numbers.Real) and not isinstance(t, bool) else math.nan
        if not (math.isfinite(number) and number == int(number) and number >= 0):
            raise ValueError(
                f"{who}: loss 'cross_entropy' needs class indices 0, 1, 2, ..., "
                f"got the label {short_repr(t)}"
            )
        out.append(int(number))
    return out


def check_targets(y: Sequence[Any], loss: str | Callable, who: str) -> list[Any]:
    """The targets of a built-in loss, checked: binary labels for hinge/bce, class indices
    for cross-entropy, numbers (or lists of numbers) for mse. Custom losses get ``y`` as is.

    >>> check_targets([0, 1, 1], "hinge", "fit")
    [0, 1, 1]
    >>> check_targets([2, 3], "hinge", "fit")
    Traceback (most recent call last):
    ...
    ValueError: fit: loss 'hinge' needs two classes labelled 0/1 or -1/+1, got the label 2
    """
    y = as_rows(y, who, "y")
    if loss in ("hinge", "bce"):
        _binary_labels(y, loss, who)  # checked; mapped per batch by data_loss
    elif loss == "cross_entropy":
        y = _class_labels(y, who)
    elif loss == "mse":
        for i, t in enumerate(y):
            row = t if isinstance(t, (list, tuple)) else [t]
            if not row or not all(
                isinstance(v, Value) or (isinstance(v, numbers.Real) and not isinstance(v, bool))
                for v in row
            ):
                raise ValueError(
                    f"{who}: loss 'mse' needs numbers (or lists of numbers) as targets, "
                    f"got {short_repr(t)} for sample {i}"
                )
    return y


def _as_scalar(output: Any, who: str) -> Value:
    if isinstance(output, Value):
        return output
    if isinstance(output, Sequence) and len(output) == 1 and isinstance(output[0], Value):
        return output[0]
    raise ValueError(f"{who}: the model must output one Value per sample, got {_describe(output)}")


def _mse(outputs: list[Any], targets: Sequence[Any]) -> Value:
    """Mean of ``(output - target)**2`` over every number; shapes must match exactly."""
    losses: list[Value] = []
    for i, (o, t) in enumerate(zip(outputs, targets)):
        outs = [o] if isinstance(o, Value) else list(o)
        tgts = list(t) if isinstance(t, (list, tuple)) else [t]
        if len(outs) != len(tgts):
            raise ValueError(
                f"mse loss: sample {i}: the model gave {len(outs)} output(s) but the target "
                f"has {len(tgts)} number(s)"
            )
        losses.extend((oi - ti) ** 2 for oi, ti in zip(outs, tgts))
    return sum_of(losses) / len(losses)


def data_loss(outputs: list[Any], targets: Sequence[Any], loss: str | Callable) -> Value:
    """The batch loss of model ``outputs`` (one per sample) for a loss name or function.

    Binary losses read labels 0/1 or -1/+1 (anything else is an error, never
    "positive if > 0"); cross-entropy needs one score per class; mse needs a
    target of the output's exact shape.
    """
    if callable(loss):
        return loss(outputs, targets)
    if len(outputs) != len(targets):
        raise ValueError(f"{loss} loss: got {len(outputs)} outputs but {len(targets)} targets")
    if not outputs:
        raise ValueError(f"{loss} loss: got an empty batch")
    if loss == "hinge":
        scores = [_as_scalar(o, "hinge loss") for o in outputs]
        positive = _binary_labels(targets, loss, "hinge loss")
        return F.hinge_loss(scores, [_signed(t) for t in positive])
    if loss == "bce":
        logits = [_as_scalar(o, "bce loss") for o in outputs]
        return F.binary_cross_entropy_with_logits(logits, _binary_labels(targets, loss, "bce loss"))
    if loss == "cross_entropy":
        for o in outputs:
            if isinstance(o, Value) or len(o) < 2:
                raise ValueError(
                    "cross_entropy loss: the model must output one score per class (a list of "
                    f"2 or more), got {'one Value' if isinstance(o, Value) else len(o)}; "
                    "for one output per sample use loss='bce' or 'hinge'"
                )
        return F.cross_entropy(outputs, _class_labels(targets, "cross_entropy loss"))
    if loss == "mse":
        return _mse(outputs, targets)
    raise ValueError(f"unknown loss {loss!r}; choose one of {LOSSES} or pass a function")


def _signed(positive: Any) -> Any:
    """1/0 as the hinge loss's +1/-1 (a Value label is already as the user gave it)."""
    return positive if isinstance(positive, Value) else (1 if positive else -1)


def loss_targets(targets: Sequence[Any], loss: str | Callable) -> list[Any]:
    """Targets as a built-in loss uses them: +1/-1 for hinge, 1/0 for bce, class ints.

    A compiled step (``fit(..., compiled=True)``) maps labels so outside the
    traced code, where they are still numbers; inside, ``data_loss`` then takes
    the Values it gets as they are.
    """
    if loss == "hinge":
        return [_signed(t) for t in _binary_labels(targets, loss, "hinge loss")]
    if loss == "bce":
        return _binary_labels(targets, loss, "bce loss")
    if loss == "cross_entropy":
        return _class_labels(targets, "cross_entropy loss")
    return list(targets)


def _number(x: Any) -> Any:
    return x.data if isinstance(x, Value) else x


def predictions(outputs: list[Any], loss: str | Callable) -> list[Any] | None:
    """Predicted labels from model outputs (Values, or the numbers a compiled step
    returns): sign for hinge/bce, argmax for cross-entropy."""
    if loss in ("hinge", "bce"):
        scores = [o if isinstance(o, float) else _as_scalar(o, "accuracy") for o in outputs]
        return [1 if _number(s) > 0 else 0 for s in scores]
    if loss == "cross_entropy":
        return [_argmax(o) for o in outputs]
    return None  # regression or a custom loss: no notion of a label


def _argmax(values: Sequence[Value | float]) -> int:
    return max(range(len(values)), key=lambda i: _number(values[i]))


def accuracy(outputs: list[Any], targets: Sequence[Any], loss: str | Callable) -> float:
    """Fraction of samples predicted right (nan when the loss has no labels)."""
    labels = predictions(outputs, loss)
    if labels is None:
        return math.nan
    if loss in ("hinge", "bce"):
        truth = _binary_labels(targets, loss, "accuracy")
    else:
        truth = _class_labels(targets, "accuracy")
    truth = [t.data if isinstance(t, Value) else t for t in truth]
    return sum(p == t for p, t in zip(labels, truth)) / len(truth)


def predict(model: Callable, X: Sequence[Any], loss: str = "cross_entropy") -> list[Any]:
    """Labels for rows ``X`` (eval mode, no graph recorded).

    The forward pass is compiled a batch at a time where there are rows enough
    (:mod:`chaingrad.nn.inference`), with the numbers of the eager loop.

    ``loss`` says how to read outputs: ``"cross_entropy"`` takes the argmax,
    ``"hinge"``/``"bce"`` the sign (1 for positive, else 0).
    """
    if not (callable(loss) or loss in LOSSES):
        raise ValueError(f"predict: unknown loss {loss!r}; choose one of {LOSSES}")
    if predictions([], loss) is None:
        raise ValueError(f"predict: loss {loss!r} has no class labels")
    X = as_rows(X, "predict")
    with _eval_mode(model):
        _, found = inference.rows_through(model, X)  # one compiled pass over alike rows
        with no_grad():
            outputs = [found[i] if i in found else model(x) for i, x in enumerate(X)]
    return predictions(outputs, loss) or []


def evaluate(
    model: Callable, X: Sequence[Any], y: Sequence[Any], loss: str | Callable = "cross_entropy"
) -> dict[str, float]:
    """``{"loss": ..., "accuracy": ...}`` on ``(X, y)`` in eval mode, recording no graph.

    The forward pass is compiled a batch at a time where there are rows enough
    (:mod:`chaingrad.nn.inference`), with the numbers of the eager loop.
    """
    X, y = _dataset(X, y, loss, "evaluate")
    if callable(loss):  # a loss of the whole batch: the outputs first, then the loss
        with _eval_mode(model):
            values = inference.outputs(model, X)  # compiled for alike rows
        with no_grad():
            value = float(data_loss(values, y, loss))
        return {"loss": value, "accuracy": accuracy(values, y, loss)}
    targets = loss_targets(y, loss)
    with _eval_mode(model):
        # Each row's loss and outputs in one compiled pass over alike rows; the rest eagerly.
        losses, found = inference.rows_through(model, X, targets, loss)
        outputs: list[Any] = []
        row_losses: list[float] = []
        with no_grad():
            for i, x in enumerate(X):
                if i in found:
                    outputs.append(found[i])
                    row_losses.append(losses[i])
                else:
                    out = model(x)
                    outputs.append(out)
                    row_losses.append(data_loss([out], [targets[i]], loss).data)
    return {"loss": _mean_loss(row_losses, outputs, loss), "accuracy": accuracy(outputs, y, loss)}


def _mean_loss(row_losses: list[float], outputs: list[Any], loss: str) -> float:
    """The batch loss from each row's own: their mean (mse: over every number, as eager)."""
    if loss != "mse":
        return sum(row_losses) / len(row_losses)  # sum_of's order, then the mean's division
    sizes = [1 if isinstance(o, (Value, float)) else len(o) for o in outputs]
    return sum(v * k for v, k in zip(row_losses, sizes)) / sum(sizes)


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


def _dataset(X: Any, y: Any, loss: str | Callable, who: str) -> tuple[list[Any], list[Any]]:
    """Rows and targets as lists, same length, not empty, targets checked for ``loss``."""
    X = as_rows(X, who, "X")
    y = as_rows(y, who, "y")
    if len(X) != len(y):
        raise ValueError(f"{who}: X has {len(X)} rows but y has {len(y)}")
    if not X:
        raise ValueError(f"{who}: X and y are empty (no samples)")
    if not (callable(loss) or loss in LOSSES):
        raise ValueError(f"{who}: unknown loss {loss!r}; choose one of {LOSSES} or pass a function")
    return X, check_targets(y, loss, who)


def _training_optimizer(optimizer: Any, schedule: Any, params: list[Value]) -> Optimizer:
    """The optimizer fit steps: checked to be one, and to move this model's parameters."""
    if optimizer is None and isinstance(schedule, LRSchedule):
        optimizer = schedule.optimizer  # the schedule names the optimizer it drives
    if optimizer is None:
        if not params:
            raise ValueError(
                "fit: the model has no parameters to train; pass optimizer= with the Values "
                "to update"
            )
        return Adam(params, lr=0.01)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            "fit: optimizer must be an optimizer from chaingrad.nn.optim, such as "
            f"Adam(model, lr=0.01), got {_describe(optimizer)}"
        )
    if params and not set(map(id, optimizer.params)) & set(map(id, params)):
        raise ValueError(
            f"fit: the optimizer updates none of the model's {len(params)} parameters; "
            f"it was made for another model (make it with {type(optimizer).__name__}(model, ...))"
        )
    if isinstance(schedule, LRSchedule) and schedule.optimizer is not optimizer:
        raise ValueError(
            f"fit: the {type(schedule).__name__} schedule drives another optimizer than the one "
            "fit steps; make the schedule on the same optimizer"
        )
    return optimizer


def _scheduled_lr(schedule: Callable[[int], float], step: int) -> float:
    try:
        lr = schedule(step)
        return check_lr("fit", lr)
    except (TypeError, ValueError, ArithmeticError) as error:
        raise ValueError(
            f"fit: schedule({step}) must give a learning rate, a finite number >= 0 ({error})"
        ) from None


def _forward(
    model: Module,
    Xb: Any,
    yb: Any,
    loss: str | Callable,
    params: list[Value],
    l2: float,
    l1: float,
) -> tuple[Value, list[Any]]:
    """One batch's total loss (data loss plus penalties) and the model's outputs."""
    outputs = [model(x) for x in Xb]
    total = data_loss(outputs, yb, loss)
    if l2:
        total = total + l2 * F.l2_penalty(params)
    if l1:
        total = total + l1 * F.l1_penalty(params)
    return total, outputs


def _compiled_step(
    model: Module,
    loss: str | Callable,
    optimizer: Optimizer,
    params: list[Value],
    l2: float,
    l1: float,
) -> Any:
    """fit's step as a chaingrad.jit step returning (loss, outputs); it also updates."""
    from chaingrad.compiled import jit
    from chaingrad.compiled.step import fusable

    def step(Xb: Any, yb: Any) -> Any:
        return _forward(model, Xb, yb, loss, params, l2, l1)

    if fusable(optimizer):
        # The parameters stay in the step's arrays between steps; fit hands them back
        # to the Values (step.sync()) before anything can look: a callback, a
        # validation pass, the end of training.
        return jit(step, params=model, optimizer=optimizer, sync=False)
    return _UnfusedStep(jit(step, params=model), optimizer)


class _UnfusedStep:
    """A compiled step followed by the optimizer's own ``step()`` (one jit cannot fuse)."""

    def __init__(self, compiled: Callable[..., Any], optimizer: Optimizer) -> None:
        self.compiled = compiled
        self.optimizer = optimizer

    def __call__(self, Xb: Any, yb: Any) -> Any:
        self.optimizer.zero_grad()
        result = self.compiled(Xb, yb)
        self.optimizer.step()
        return result

    def sync(self) -> None:
        """Nothing to do: the Values are current after every call."""


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
    compiled: bool = False,
) -> History:
    """Train ``model`` on ``(X, y)`` and return a :class:`History`.

    ``X`` and ``y`` are lists or NumPy arrays. ``steps`` (number of updates) or
    ``epochs`` (passes over the data; default 1) say how long.
    ``batch_size=None`` is full-batch. ``optimizer`` defaults to
    ``Adam(model, lr=0.01)`` (or the optimizer of an :class:`LRSchedule`
    given as ``schedule``). ``l2``/``l1`` add ``l2 * sum(p**2)`` /
    ``l1 * sum(|p|)`` to the loss. ``schedule`` is an :class:`LRSchedule` on
    the optimizer or a function ``k -> lr`` for step ``k``. ``validation=(X, y)``
    is evaluated after every epoch. ``seed`` drives the minibatch shuffling.
    ``callback(step, history)`` runs after every step. Python's cycle collector
    is paused during each eager step (Values form no cycles, and the step's
    graph is freed before it resumes; ~15% of a step); callbacks run with it on.

    ``compiled=True`` runs each step through ``chaingrad.jit``: traced once per
    batch shape, then replayed (with SGD, Adam or AdamW the update is fused
    into the compiled step too, the weights kept in its arrays and written
    back to the Values before every callback and validation and at the end).
    The history is the same as without it, only sooner.

    Every argument is checked before training starts; a bad one is one error
    naming it (``fit: batch_size must be a positive int, got '8'``).
    """
    # --- check everything first: a mistake is reported before any time is spent -----------
    if not isinstance(model, Module):
        raise TypeError(f"fit: model must be a chaingrad.nn.Module, got {type(model).__name__}")
    X, y = _dataset(X, y, loss, "fit")
    if steps is not None and epochs is not None:
        raise ValueError("fit: give steps or epochs, not both")
    for name, value in (("steps", steps), ("epochs", epochs), ("batch_size", batch_size)):
        if value is not None:
            check_int(value, f"fit: {name}")
    l2, l1 = check_number(l2, "fit: l2"), check_number(l1, "fit: l1")
    if schedule is not None and not callable(schedule) and not isinstance(schedule, LRSchedule):
        raise TypeError(
            "fit: schedule must be an LRSchedule or a function of the step, "
            f"got {_describe(schedule)}"
        )
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError(f"fit: validation must be a pair (X, y), got {_describe(validation)}")
        validation = _dataset(validation[0], validation[1], loss, "fit: validation")
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"fit: progress must be True, False or None, got {_describe(progress)}")
    if callback is not None and not callable(callback):
        raise TypeError(
            f"fit: callback must be a function (step, history), got {_describe(callback)}"
        )
    if not isinstance(compiled, bool):
        raise TypeError(f"fit: compiled must be True or False, got {_describe(compiled)}")
    rng = make_rng(seed)
    params = model.parameters()
    optimizer = _training_optimizer(optimizer, schedule, params)

    n_batches = math.ceil(len(X) / (batch_size or len(X)))
    total = steps if steps is not None else n_batches * (epochs or 1)
    n_epochs = math.ceil(total / n_batches)

    compiled_step = _compiled_step(model, loss, optimizer, params, l2, l1) if compiled else None

    # --- train ---------------------------------------------------------------------------
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
                    optimizer.lr = _scheduled_lr(schedule, step)
                history.lr.append(optimizer.lr)
                if compiled_step is not None:
                    # zero_grad, forward, backward and the update, in one compiled call.
                    value, outputs = compiled_step(Xb, loss_targets(yb, loss))
                    history.loss.append(value)
                    history.accuracy.append(accuracy(outputs, yb, loss))
                else:
                    # The cycle collector is paused for the step and the step's graph is
                    # freed (del) before it resumes, so it never traverses the graph: Values
                    # form no cycles, and that traversal is about a fifth of an eager step.
                    with _cycle_collector_paused():
                        total_loss, outputs = _forward(model, Xb, yb, loss, params, l2, l1)
                        history.loss.append(total_loss.data)
                        history.accuracy.append(accuracy(outputs, yb, loss))
                        optimizer.zero_grad()
                        total_loss.backward()
                        optimizer.step()
                        del total_loss, outputs
                if isinstance(schedule, LRSchedule):
                    schedule.step()
                step += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(
                        loss=f"{history.loss[-1]:.4f}", acc=f"{history.accuracy[-1]:.3f}"
                    )
                if callback is not None:
                    if compiled_step is not None:
                        compiled_step.sync()
                    callback(step, history)
            if validation is not None:
                if compiled_step is not None:
                    compiled_step.sync()
                result = evaluate(model, validation[0], validation[1], loss)
                history.val_step.append(step)
                history.val_loss.append(result["loss"])
                history.val_accuracy.append(result["accuracy"])
    finally:
        if compiled_step is not None:
            compiled_step.sync()  # the model's Values hold the trained weights, whatever happened
        if bar is not None:
            bar.close()
    return history
