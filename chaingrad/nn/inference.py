"""A model's outputs on many rows, through one compiled forward pass for all of them.

:func:`outputs` is what :func:`~chaingrad.nn.evaluate` and
:func:`~chaingrad.nn.predict` run: ``[model(x) for x in X]`` with the same
numbers, but rows of one structure (the same nesting, lengths and number
types) go through a forward-only ``chaingrad.jit`` step's
:meth:`~chaingrad.compiled.step.Step.map`: the model is traced on one row, and
the program runs on all the rows at once, each layer one array operation over
the whole batch. The compiled pass is kept for the model (until it is
garbage) and traced again only when its structure changes (a layer added, a
parameter replaced, a mode switched). Rows of a structure seen fewer than
``MIN_ROWS`` times, and every row of a model that cannot be traced (a Python
branch on a number, outputs that are not Values), run eagerly, with the same
results. The last row always runs eagerly, so what a forward pass leaves in a
module (``attention_weights``) is what the eager loop leaves.

>>> from chaingrad.nn import MLP
>>> model = MLP(2, [4, 3], seed=0)
>>> X = [[0.1 * i, -0.2 * i] for i in range(100)]
>>> compiled = outputs(model, X)                   # 99 rows in one compiled call, 1 eager
>>> eager = [model(x) for x in X]
>>> max(abs(a.data - b.data) for o, e in zip(compiled, eager) for a, b in zip(o, e)) < 1e-12
True
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import Any

from chaingrad.engine import Value, enable_grad, no_grad, sum_of

from .module import Module

MIN_ROWS = 8  # rows of one structure worth a trace (one row's eager pass and a compile)

_steps: weakref.WeakKeyDictionary[Module, dict[Any, Any]] = weakref.WeakKeyDictionary()
_steps_lock = threading.Lock()


def outputs(model: Any, X: Sequence[Any]) -> list[Any]:
    """``[model(x) for x in X]`` (with grad mode off), compiled for all rows where it pays.

    The caller sets the model's mode (eval); outputs are Values (leaves, no graph).
    """
    rows = list(X)
    _, found = rows_through(model, rows)
    result: list[Any] = [None] * len(rows)
    with no_grad():
        for i, x in enumerate(rows):
            result[i] = _as_values(found[i]) if i in found else model(x)
    return result


def rows_through(
    model: Any, X: Sequence[Any], targets: Sequence[Any] | None = None, loss: Any = None
) -> tuple[dict[int, float], dict[int, Any]]:
    """The rows a compiled forward pass serves: ({row: its loss}, {row: outputs as floats}).

    With ``targets`` and a built-in ``loss`` (see :func:`~chaingrad.nn.train.data_loss`;
    targets as :func:`~chaingrad.nn.train.loss_targets` gives them), each row's loss
    on its own (``data_loss([model(x)], [target], loss)``) is computed in the same
    program. Rows left out (a structure seen fewer than ``MIN_ROWS`` times, the
    last row when a module keeps state from its call, everything of a model that
    cannot be traced) are the caller's to run eagerly. Nothing is kept if anything
    goes wrong: the eager loop then raises what eager code raises.
    """
    rows = list(X)
    if not isinstance(model, Module) or len(rows) < MIN_ROWS:
        return {}, {}
    try:
        import numpy  # noqa: F401  (the row backend is numpy's)

        from chaingrad.compiled.inputs import flatten
    except ImportError:
        return {}, {}
    losses: dict[int, float] = {}
    found: dict[int, Any] = {}
    try:
        step = forward_step(model, loss if targets is not None else None)
        with enable_grad():  # the trace records the forward pass's graph once
            for indices in _groups(rows):
                if len(indices) < MIN_ROWS:
                    continue
                batch = [[rows[i] for i in indices]]
                if targets is not None:
                    batch.append([targets[i] for i in indices])
                numbers, key = flatten(tuple(batch), {})
                mapped = step.map_numbers(numbers, key)
                if mapped is None:
                    continue
                for i, (row_loss, out) in zip(indices, mapped):
                    losses[i] = row_loss
                    found[i] = out
                if step.keeps_state():  # what the eager loop's last call leaves, it leaves
                    last = indices[-1] if indices[-1] == len(rows) - 1 else None
                    if last is not None:
                        del losses[last], found[last]
    except Exception:  # not traceable, or an error eager code will raise and name
        return {}, {}
    return losses, found


def forward_step(model: Module, loss: Any = None) -> Any:
    """The model's forward-only ``jit`` step (made once per model and loss, kept while the
    model lives): rows to outputs, or with a loss, (rows, targets) to (loss, outputs).

    The step holds the model through a weak reference only, so keeping it here
    never keeps a model alive.
    """
    with _steps_lock:
        steps = _steps.setdefault(model, {})
        step = steps.get(loss)
        if step is None:
            step = steps[loss] = _make_step(weakref.ref(model), loss)
    return step


def _make_step(model_ref: weakref.ref[Module], loss: Any) -> Any:
    from chaingrad.compiled import jit
    from chaingrad.compiled.inputs import template

    from .train import data_loss

    def forward(x: Any, target: Any = None) -> tuple[Value, Any]:
        model = model_ref()
        assert model is not None  # the step is only reached through its model
        out = model(x)
        found: list[Value] = []
        template(out, found)  # a TypeError if an output is not Values
        if loss is not None:
            return data_loss([out], [target], loss), out
        # The "loss" slot: nothing is derived from it; a node over every output lets
        # the program be listed from one root.
        return sum_of(found), out

    step = jit(forward, grad=False, backend="numpy")
    return step


def _groups(rows: list[Any]) -> list[list[int]]:
    """Row indices by input structure (rows that are not numbers are left out).

    All rows alike (the usual case: a dataset) is found with one look at the
    whole batch; only a mixed batch is looked at row by row.
    """
    from chaingrad.compiled.inputs import flatten

    if not rows:
        return []
    try:
        _, key = flatten((rows,), {})
    except (TypeError, ValueError):
        key = None
    if key is not None and not isinstance(key[0][0], str) and key[0][0][0] == "R":
        return [list(range(len(rows)))]
    groups: dict[Any, list[int]] = {}
    for i, x in enumerate(rows):
        try:
            _, row_key = flatten((x,), {})
        except (TypeError, ValueError):
            continue
        groups.setdefault(row_key, []).append(i)
    return list(groups.values())


def _as_values(numbers: Any) -> Any:
    """Floats in nested lists/tuples as Values (what the eager loop returns under no_grad)."""
    if isinstance(numbers, float):
        return Value(numbers)
    items = [_as_values(item) for item in numbers]  # the nesting of one output: shallow
    return tuple(items) if isinstance(numbers, tuple) else items
