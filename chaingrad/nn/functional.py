"""Activations, losses and penalties as functions of Values.

Activations apply to one Value or elementwise to a list. Losses take one
sample or a batch (a list of samples) and average over the batch by default
(``reduction="mean"``; also ``"sum"`` and ``"none"`` for the list of
per-sample losses). Everything is built from engine ops, so ``backward()``
works through it; the numerically delicate ones (``softmax``,
``log_softmax``, ``cross_entropy``, ``softplus``,
``binary_cross_entropy_with_logits``) never exponentiate a large positive
number.

>>> from chaingrad import Value
>>> from chaingrad.nn import functional as F
>>> logits = [Value(2.0), Value(1.0), Value(0.1)]
>>> loss = F.cross_entropy(logits, 0)
>>> round(loss.data, 6)
0.41703
>>> loss.backward()
>>> [round(v.grad, 6) for v in logits]
[-0.340999, 0.242433, 0.098566]
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, overload

from chaingrad.engine import Value, dot, sum_of, take
from chaingrad.engine import logsumexp as engine_logsumexp
from chaingrad.engine.trace_hook import TracingError, check_input, is_tracing

Number = int | float
Reduction = str


def _elementwise(x: Any, fn: Callable[[Value], Value]) -> Value | list[Value]:
    if isinstance(x, Value):
        return fn(x)
    if isinstance(x, numbers.Real):
        return fn(Value(x))
    return [fn(v if isinstance(v, Value) else Value(v)) for v in x]


# --- activations -------------------------------------------------------------------


@overload
def relu(x: Value | float) -> Value: ...
@overload
def relu(x: Sequence[Value | float]) -> list[Value]: ...


def relu(x: Value | float | Sequence[Value | float]) -> Value | list[Value]:
    """``max(0, x)`` (derivative 0 at 0).

    >>> [v.data for v in relu([Value(-1.0), Value(2.0)])]
    [0.0, 2.0]
    """
    return _elementwise(x, Value.relu)


@overload
def leaky_relu(x: Value | float, alpha: float = 0.01) -> Value: ...
@overload
def leaky_relu(x: Sequence[Value | float], alpha: float = 0.01) -> list[Value]: ...


def leaky_relu(
    x: Value | float | Sequence[Value | float], alpha: float = 0.01
) -> Value | list[Value]:
    """``x`` if positive else ``alpha * x``.

    >>> leaky_relu(Value(-2.0), 0.1).data
    -0.2
    """
    return _elementwise(x, lambda v: v.leaky_relu(alpha))


@overload
def sigmoid(x: Value | float) -> Value: ...
@overload
def sigmoid(x: Sequence[Value | float]) -> list[Value]: ...


def sigmoid(x: Value | float | Sequence[Value | float]) -> Value | list[Value]:
    """``1 / (1 + exp(-x))``, computed without overflow.

    >>> sigmoid(Value(0.0)).data
    0.5
    """
    return _elementwise(x, Value.sigmoid)


@overload
def tanh(x: Value | float) -> Value: ...
@overload
def tanh(x: Sequence[Value | float]) -> list[Value]: ...


def tanh(x: Value | float | Sequence[Value | float]) -> Value | list[Value]:
    """Hyperbolic tangent.

    >>> tanh(Value(0.0)).data
    0.0
    """
    return _elementwise(x, Value.tanh)


@overload
def softplus(x: Value | float) -> Value: ...
@overload
def softplus(x: Sequence[Value | float]) -> list[Value]: ...


def softplus(x: Value | float | Sequence[Value | float]) -> Value | list[Value]:
    """``log(1 + exp(x))``, a smooth ReLU; stable for large ``|x|``.

    >>> round(softplus(Value(1000.0)).data, 6)
    1000.0
    """
    return _elementwise(x, Value.softplus)


def _as_value_list(values: Iterable[Value | Number], who: str) -> list[Value]:
    out = [v if isinstance(v, Value) else Value(v) for v in values]
    if not out:
        raise ValueError(f"{who}: needs at least one value")
    return out


def logsumexp(values: Sequence[Value]) -> Value:
    """``log(sum(exp(v)))`` as one node, without overflow (its derivative is the softmax).

    >>> round(logsumexp([Value(1000.0), Value(1000.0)]).data, 6)
    1000.693147
    """
    return engine_logsumexp(_as_value_list(values, "logsumexp"))


def _shifted(xs: list[Value]) -> list[Value]:
    """``x_i - logsumexp(x)``, the logits shifted so the largest is about 0 (``<= 0``).

    The softmax family does not change when every logit moves by the same amount;
    it is computed from these shifted logits (``log_softmax = d - logsumexp(d)``),
    as PyTorch shifts by the max. Subtracting ``logsumexp(x)`` directly would lose
    the log of the sum at the ends of the float range: for three logits of
    ``-1e300`` it is ``-1e300 + log 3``, which rounds to ``-1e300``. The shifted
    logits are small, so their own log-sum keeps every digit. ``logsumexp(x)``
    also refuses a ``+inf`` or all ``-inf`` logits with a clear error.
    """
    lse = engine_logsumexp(xs)
    return [v - lse for v in xs]


def softmax(logits: Sequence[Value]) -> list[Value]:
    """Probabilities ``exp(x_i) / sum_j exp(x_j)``, computed as ``exp(d_i - logsumexp(d))``.

    ``d`` are the logits shifted by their log-sum (see :func:`log_softmax`), so
    every exponent is at most 0 and nothing overflows or loses its digits, from
    logits of ``1e-308`` to ``1e308``; the probabilities are Values, ready to
    plot or backpropagate.

    >>> [round(p.data, 4) for p in softmax([Value(1.0), Value(1.0)])]
    [0.5, 0.5]
    >>> [round(p.data, 4) for p in softmax([Value(-1e300)] * 3)]
    [0.3333, 0.3333, 0.3333]
    """
    d = _shifted(_as_value_list(logits, "softmax"))
    lse = engine_logsumexp(d)
    return [(v - lse).exp() for v in d]


def log_softmax(logits: Sequence[Value]) -> list[Value]:
    """``x_i - logsumexp(x)``: log-probabilities, exact for huge and tiny logits alike.

    Computed as ``d_i - logsumexp(d)`` with ``d = x - logsumexp(x)`` (the shift
    cancels; the second log-sum recovers the digits the first one rounded away).

    >>> [round(p.data, 4) for p in log_softmax([Value(0.0), Value(1000.0)])]
    [-1000.0, 0.0]
    >>> [round(p.data, 4) for p in log_softmax([Value(1e300), Value(1e300)])]
    [-0.6931, -0.6931]
    """
    d = _shifted(_as_value_list(logits, "log_softmax"))
    lse = engine_logsumexp(d)
    return [v - lse for v in d]


# --- losses ------------------------------------------------------------------------


def _reduce(losses: list[Value], reduction: Reduction, who: str) -> Value | list[Value]:
    if reduction == "mean":
        return sum_of(losses) / len(losses)
    if reduction == "sum":
        return sum_of(losses)
    if reduction == "none":
        return losses
    raise ValueError(f"{who}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _pairs(predictions: Any, targets: Any, who: str) -> tuple[list[Any], list[Any], bool]:
    """(predictions list, targets list, single?) with matching lengths."""
    if isinstance(predictions, (Value, numbers.Real)):
        return [predictions], [targets], True
    preds = list(predictions)
    if isinstance(targets, (Value, numbers.Real)):
        raise ValueError(f"{who}: got {len(preds)} predictions but a single target")
    tgts = list(targets)
    if len(preds) != len(tgts):
        raise ValueError(f"{who}: got {len(preds)} predictions but {len(tgts)} targets")
    if not preds:
        raise ValueError(f"{who}: got an empty batch")
    return preds, tgts, False


def _finish(
    losses: list[Value], single: bool, reduction: Reduction, who: str
) -> Value | list[Value]:
    if single and reduction != "none":
        _reduce(losses, reduction, who)  # validates the name
        return losses[0]
    return _reduce(losses, reduction, who)


@overload
def mse_loss(
    predictions: Value | Sequence[Value],
    targets: Number | Value | Sequence[Number | Value],
    reduction: Literal["mean", "sum"] = "mean",
) -> Value: ...
@overload
def mse_loss(
    predictions: Value | Sequence[Value],
    targets: Number | Value | Sequence[Number | Value],
    reduction: Reduction = "mean",
) -> Value | list[Value]: ...


def mse_loss(
    predictions: Value | Sequence[Value],
    targets: Number | Value | Sequence[Number | Value],
    reduction: Reduction = "mean",
) -> Value | list[Value]:
    """Mean squared error ``mean((p - t)**2)``.

    >>> mse_loss([Value(1.0), Value(3.0)], [0.0, 1.0]).data
    2.5
    """
    preds, tgts, single = _pairs(predictions, targets, "mse_loss")
    losses = [(p - t) ** 2 for p, t in zip(preds, tgts)]
    return _finish(losses, single, reduction, "mse_loss")


_LOG_FLOOR = -100.0  # as PyTorch: log(p) is clamped so p = 0 gives a large, finite loss


def _clamped_log(p: Value) -> Value:
    if p.data <= math.exp(_LOG_FLOOR):
        return Value(_LOG_FLOOR)  # a constant: the clamp's derivative is 0
    return p.log()


@overload
def binary_cross_entropy(
    probabilities: Value | Sequence[Value],
    targets: Number | Sequence[Number],
    reduction: Literal["mean", "sum"] = "mean",
) -> Value: ...
@overload
def binary_cross_entropy(
    probabilities: Value | Sequence[Value],
    targets: Number | Sequence[Number],
    reduction: Reduction = "mean",
) -> Value | list[Value]: ...


def binary_cross_entropy(
    probabilities: Value | Sequence[Value],
    targets: Number | Sequence[Number],
    reduction: Reduction = "mean",
) -> Value | list[Value]:
    """``-(t log p + (1 - t) log(1 - p))`` for probabilities ``p`` in [0, 1], targets in [0, 1].

    ``log`` is clamped at -100 as in PyTorch. For a network's raw scores
    prefer :func:`binary_cross_entropy_with_logits` (no sigmoid saturation);
    inside ``chaingrad.jit`` it is the one to use (this function's checks
    read the numbers, so tracing it raises ``TracingError``).

    >>> round(binary_cross_entropy(Value(0.8), 1).data, 6)
    0.223144
    """
    if is_tracing():
        # Its checks and its clamp read the probabilities' numbers, which a compiled
        # replay would not repeat (torch's autocast refuses this loss for a like reason).
        raise TracingError(
            "binary_cross_entropy cannot be compiled by chaingrad.jit: its range check "
            "and its log clamp read the probabilities, and a replay would not repeat them. "
            "Use binary_cross_entropy_with_logits(logits, targets) on the scores before the "
            "sigmoid: it needs no clamp and is more stable."
        )
    preds, tgts, single = _pairs(probabilities, targets, "binary_cross_entropy")
    losses = []
    for p, t in zip(preds, tgts):
        p = p if isinstance(p, Value) else Value(p)
        t = float(t)
        if not 0.0 <= p.data <= 1.0:
            raise ValueError(f"binary_cross_entropy: probability must be in [0, 1], got {p.data!r}")
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"binary_cross_entropy: target must be in [0, 1], got {t!r}")
        # Skip a term whose weight is 0: fewer nodes, and no log(0) for a confident right answer.
        terms = []
        if t != 0.0:
            terms.append(_clamped_log(p) * t)
        if t != 1.0:
            terms.append(_clamped_log(1.0 - p) * (1.0 - t))
        losses.append(-sum_of(terms) if len(terms) > 1 else -terms[0])
    return _finish(losses, single, reduction, "binary_cross_entropy")


@overload
def binary_cross_entropy_with_logits(
    logits: Value | Sequence[Value],
    targets: Number | Sequence[Number],
    reduction: Literal["mean", "sum"] = "mean",
) -> Value: ...
@overload
def binary_cross_entropy_with_logits(
    logits: Value | Sequence[Value],
    targets: Number | Sequence[Number],
    reduction: Reduction = "mean",
) -> Value | list[Value]: ...


def binary_cross_entropy_with_logits(
    logits: Value | Sequence[Value],
    targets: Number | Sequence[Number],
    reduction: Reduction = "mean",
) -> Value | list[Value]:
    """Binary cross-entropy of ``sigmoid(z)``, computed stably as ``softplus(-z) + (1 - t) z``.

    A target may be a Value (``chaingrad.jit`` passes labels that way); it is
    then an input of the graph and not checked.

    >>> round(binary_cross_entropy_with_logits(Value(50.0), 0).data, 6)
    50.0
    """
    preds, tgts, single = _pairs(logits, targets, "binary_cross_entropy_with_logits")
    losses = []
    for z, t in zip(preds, tgts):
        z = z if isinstance(z, Value) else Value(z)
        if isinstance(t, Value):  # a graph input (chaingrad.jit's labels): no branch on it
            losses.append((-z).softplus() + z * (1.0 - t))
            continue
        t = float(t)
        loss = (-z).softplus()
        if t != 1.0:
            loss = loss + z * (1.0 - t)
        losses.append(loss)
    return _finish(losses, single, reduction, "binary_cross_entropy_with_logits")


@overload
def cross_entropy(
    logits: Sequence[Value] | Sequence[Sequence[Value]],
    target_index: int | Value | Sequence[int | Value],
    reduction: Literal["mean", "sum"] = "mean",
    ignore_index: int | None = None,
) -> Value: ...
@overload
def cross_entropy(
    logits: Sequence[Value] | Sequence[Sequence[Value]],
    target_index: int | Value | Sequence[int | Value],
    reduction: Reduction = "mean",
    ignore_index: int | None = None,
) -> Value | list[Value]: ...


def cross_entropy(
    logits: Sequence[Value] | Sequence[Sequence[Value]],
    target_index: int | Value | Sequence[int | Value],
    reduction: Reduction = "mean",
    ignore_index: int | None = None,
) -> Value | list[Value]:
    """``-log softmax(logits)[target]``, i.e. ``logsumexp(logits) - logits[target]``.

    Computed on the shifted logits of :func:`log_softmax`, so it is exact at the
    ends of the float range too (``cross_entropy([1.7e308, 1.7e308, -1.7e308], 1)``
    is ``log 2``).

    One sample: ``logits`` is a list of Values and ``target_index`` an int.
    A batch: a list of such lists and a list of ints (averaged by default).
    A target may also be a Value holding the index (``chaingrad.jit`` passes
    labels that way): it is read by a ``take`` node, so a replayed graph picks
    up the new label.

    ``ignore_index`` (as in PyTorch): samples whose target is this number add
    nothing, and the mean is over the others. Pad sequences of different
    lengths to one length with it, and a compiled step replays one program
    for all of them (the ignored positions weigh 0 in the loss and its
    gradients; a traced target picks its weight with a ``take``).

    >>> round(cross_entropy([Value(0.0), Value(0.0)], 1).data, 6)
    0.693147
    >>> rows = [[Value(0.0), Value(0.0)], [Value(5.0), Value(0.0)]]
    >>> round(cross_entropy(rows, [1, -1], ignore_index=-1).data, 6)   # the second row ignored
    0.693147
    """
    if len(logits) == 0:  # not `not logits`: a NumPy array has no truth value
        raise ValueError("cross_entropy: got no logits")
    single = isinstance(logits[0], (Value, numbers.Real))
    batch: list[Any] = [logits] if single else list(logits)
    targets: list[Any] = [target_index] if single else list(target_index)  # type: ignore[arg-type]
    if len(batch) != len(targets):
        raise ValueError(f"cross_entropy: got {len(batch)} samples but {len(targets)} targets")
    if ignore_index is not None:
        return _cross_entropy_ignoring(batch, targets, single, reduction, ignore_index)
    losses = []
    for row, target in zip(batch, targets):
        xs = _as_value_list(row, "cross_entropy")
        # Eager's check, and a compiled step's at every call, before its replay.
        check_input(target, _class_of(len(xs)), _allowed_targets(len(xs), None))
        if isinstance(target, Value):
            d = _shifted(xs)
            losses.append(engine_logsumexp(d) - take(d, target))
            continue
        index = int(target)
        d = _shifted(xs)
        losses.append(engine_logsumexp(d) - d[index])
    return _finish(losses, single, reduction, "cross_entropy")


def _class_index(target: Any) -> None:
    if isinstance(target, bool) or not isinstance(target, numbers.Integral):
        raise TypeError(
            f"cross_entropy: target must be a class index (int), got {type(target).__name__}"
        )


def _cross_entropy_ignoring(
    batch: list[Any], targets: list[Any], single: bool, reduction: Reduction, ignore: Any
) -> Value | list[Value]:
    """cross_entropy with ``ignore_index``: an ignored sample's loss is 0 and not counted.

    A plain int target is skipped in Python. A Value target (a compiled step's
    argument) cannot be looked at, so each sample reads its weight (0 or 1)
    and its picked logit from two tables with one ``take`` each, indexed by
    ``target + shift`` (the shift makes a negative ``ignore_index`` a valid
    index); the mean divides by the sum of the weights. A replay checks every
    target is a class or ``ignore_index`` first, as eager does.
    """
    _class_index(ignore)
    ignore = int(ignore)
    losses: list[Value] = []
    weights: list[Any] = []
    for row, target in zip(batch, targets):
        xs = _as_value_list(row, "cross_entropy")
        n = len(xs)
        check_input(target, _class_or_ignored(n, ignore), _allowed_targets(n, ignore))
        if not isinstance(target, Value):
            if int(target) == ignore:
                losses.append(Value(0.0))
                weights.append(0)
                continue
            d = _shifted(xs)
            losses.append(engine_logsumexp(d) - d[int(target)])
            weights.append(1)
            continue
        shift = max(0, -ignore)
        size = max(n, ignore + 1) + shift
        d = _shifted(xs)
        picks: list[Any] = [0.0] * size
        ones: list[Any] = [0.0] * size
        for j in range(n):
            if j != ignore:
                picks[j + shift] = d[j]
                ones[j + shift] = 1.0
        index = target + shift if shift else target
        weight = take(ones, index)
        losses.append(weight * engine_logsumexp(d) - take(picks, index))
        weights.append(weight)
    if single and reduction != "none":
        _reduce(losses, reduction, "cross_entropy")  # validates the name
        return losses[0]
    if reduction == "mean":
        count = sum_of(weights) if any(isinstance(w, Value) for w in weights) else sum(weights)
        if isinstance(count, int) and count == 0:
            raise ValueError(
                f"cross_entropy: every target is ignore_index ({ignore}); "
                "there is no loss to average"
            )
        return sum_of(losses) / count
    return _reduce(losses, reduction, "cross_entropy")


_TARGET_CHECKS: dict[tuple[int, int | None], Callable[[Any], None]] = {}


def _class_of(n: int) -> Callable[[Any], None]:
    """The check of one target of ``n`` classes (one function per n: a replay checks the
    targets sharing it in one pass)."""
    check = _TARGET_CHECKS.get((n, None))
    if check is None:

        def check(target: Any) -> None:
            _class_index(target)
            if not 0 <= target < n:
                raise ValueError(
                    f"cross_entropy: target index {target} is out of range for {n} classes"
                )

        _TARGET_CHECKS[(n, None)] = check
    return check


def _class_or_ignored(n: int, ignore: int) -> Callable[[Any], None]:
    """The check of one target (one function per (classes, ignore_index): the replay checks
    the targets sharing it in one pass)."""
    check = _TARGET_CHECKS.get((n, ignore))
    if check is None:

        def check(target: Any) -> None:
            _class_index(target)
            if target != ignore and not 0 <= target < n:
                raise ValueError(
                    f"cross_entropy: target index {target} is out of range for {n} classes "
                    f"(and is not ignore_index={ignore})"
                )

        _TARGET_CHECKS[(n, ignore)] = check
    return check


@functools.lru_cache(maxsize=256)  # one set per (classes, ignore_index), not one per call
def _allowed_targets(n: int, ignore: int | None) -> frozenset[int]:
    return frozenset(range(n)) if ignore is None else frozenset(range(n)) | {ignore}


_HINGE_TARGETS = frozenset({-1, 1})


def _hinge_target(t: Any) -> None:
    if t not in _HINGE_TARGETS:
        raise ValueError(f"hinge_loss: targets must be -1 or +1, got {t!r}")


@overload
def hinge_loss(
    scores: Value | Sequence[Value],
    targets: Number | Sequence[Number],
    margin: float = 1.0,
    reduction: Literal["mean", "sum"] = "mean",
) -> Value: ...
@overload
def hinge_loss(
    scores: Value | Sequence[Value],
    targets: Number | Sequence[Number],
    margin: float = 1.0,
    reduction: Reduction = "mean",
) -> Value | list[Value]: ...


def hinge_loss(
    scores: Value | Sequence[Value],
    targets: Number | Sequence[Number],
    margin: float = 1.0,
    reduction: Reduction = "mean",
) -> Value | list[Value]:
    """Max-margin (SVM) loss ``relu(margin - t * s)`` for targets ``t`` in {-1, +1}.

    A target may be a Value (``chaingrad.jit`` passes labels that way); it is
    then an input of the graph, checked by the compiled step at every call.

    micrograd's demo loss: ``(1 + -yi * scorei).relu()`` averaged over the batch.

    >>> hinge_loss([Value(2.0), Value(0.5)], [1, 1]).data
    0.25
    """
    preds, tgts, single = _pairs(scores, targets, "hinge_loss")
    losses = []
    for s, t in zip(preds, tgts):
        s = s if isinstance(s, Value) else Value(s)
        # A compiled step checks its arguments at every call (check_input), eagerly here.
        check_input(t, _hinge_target, _HINGE_TARGETS)
        if isinstance(t, Value):
            losses.append((margin - s * t).relu())
            continue
        losses.append((margin - s * float(t)).relu())
    return _finish(losses, single, reduction, "hinge_loss")


# --- penalties ---------------------------------------------------------------------


def _params(params: Any, who: str) -> list[Value]:
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()
    out = list(params)
    for i, p in enumerate(out):
        if not isinstance(p, Value):
            raise TypeError(f"{who}: params[{i}] must be a Value, got {type(p).__name__}")
    return out


def l2_penalty(params: Iterable[Value] | Any) -> Value:
    """``sum(p**2)`` over parameters (a Module or a list of Values) as one ``dot`` node.

    >>> l2_penalty([Value(3.0), Value(4.0)]).data
    25.0
    """
    ps = _params(params, "l2_penalty")
    # dot(p, p) has each p as two parents, so backward gives 2p: the derivative of p**2.
    return dot(ps, ps)


def l1_penalty(params: Iterable[Value] | Any) -> Value:
    """``sum(|p|)`` over parameters (a Module or a list of Values).

    >>> l1_penalty([Value(3.0), Value(-4.0)]).data
    7.0
    """
    ps = _params(params, "l1_penalty")
    return sum_of([p.abs() for p in ps])
