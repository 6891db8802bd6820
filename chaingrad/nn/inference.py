"""A model's outputs on many rows, a batch at a time through a compiled forward pass.

:func:`outputs` is what :func:`~chaingrad.nn.evaluate` and
:func:`~chaingrad.nn.predict` run: ``[model(x) for x in X]`` with the same
numbers, but rows of one structure (the same nesting, lengths and number
types) go through ``chaingrad.jit(..., grad=False)`` ``BATCH`` at a time: the
forward pass is traced once and replayed as a program without a backward
pass. It pays where there are rows enough to replay it (``MIN_BATCHES``
batches of one structure); other rows, the remainder of each batch, and every row of a model
that cannot be traced (a Python branch on a number, outputs that are not
Values) run eagerly, with the same results. The last row always runs eagerly,
so what a forward pass leaves in a module (``attention_weights``) is what
the eager loop leaves.

>>> from chaingrad.nn import MLP
>>> model = MLP(2, [4, 3], seed=0)
>>> X = [[0.1 * i, -0.2 * i] for i in range(100)]
>>> compiled = outputs(model, X)                   # 24 batches compiled, 4 rows eager
>>> eager = [model(x) for x in X]
>>> max(abs(a.data - b.data) for o, e in zip(compiled, eager) for a, b in zip(o, e)) < 1e-12
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chaingrad.engine import Value, enable_grad, no_grad, sum_of

from .module import Module

# Rows per compiled call. Tracing a batch costs a few eager passes over it (most of
# an evaluate on a fresh model), a replay a fraction of one, so small batches win:
# notebook 06's CNN on 360 digits was quickest at 2-4 rows per call, the digits MLP
# on 1,797 at 4-8 (a loaded machine, noisy).
BATCH = 4
MIN_BATCHES = 4  # a structure with fewer rows than this many batches runs eagerly


def outputs(model: Any, X: Sequence[Any]) -> list[Any]:
    """``[model(x) for x in X]`` (with grad mode off), compiled a batch at a time where it pays.

    The caller sets the model's mode (eval); outputs are Values (leaves, no graph).
    """
    rows = list(X)
    result: list[Any] = [None] * len(rows)
    done = _compiled(model, rows, result) if isinstance(model, Module) else []
    with no_grad():
        for i in sorted(set(range(len(rows))) - set(done)):
            result[i] = model(rows[i])
    return result


def _compiled(model: Module, rows: list[Any], result: list[Any]) -> list[int]:
    """Fill ``result`` for the rows a compiled forward pass serves; return their indices.

    Nothing is kept if anything goes wrong (the eager loop then does every row and
    raises what eager code raises).
    """
    groups = _groups(rows[:-1])  # the last row runs eagerly, see the module's docstring
    if not any(len(indices) >= MIN_BATCHES * BATCH for indices in groups.values()):
        return []
    try:
        from chaingrad.compiled import jit
        from chaingrad.compiled.inputs import template

        def forward(batch: list[Any]) -> tuple[Value, list[Any]]:
            outs = [model(x) for x in batch]
            found: list[Value] = []
            template(outs, found)  # a TypeError if an output is not Values
            # The "loss" slot: nothing is derived from it; a node over every output lets
            # the program be listed from one root.
            return sum_of(found), outs

        step = jit(forward, params=model, grad=False)
        done: list[int] = []
        found_numbers: dict[int, Any] = {}
        with enable_grad():  # the trace records the forward pass's graph once
            for indices in groups.values():
                if len(indices) < MIN_BATCHES * BATCH:
                    continue
                for start in range(0, len(indices) - BATCH + 1, BATCH):
                    batch = indices[start : start + BATCH]
                    _, outs = step([rows[i] for i in batch])
                    for i, out in zip(batch, outs):
                        found_numbers[i] = out
                    done.extend(batch)
    except Exception:  # not traceable, or an error eager code will raise and name
        return []
    for i, numbers in found_numbers.items():
        result[i] = _as_values(numbers)
    return done


def _groups(rows: list[Any]) -> dict[Any, list[int]]:
    """Row indices by input structure (rows that are not numbers are left out)."""
    from chaingrad.compiled.inputs import flatten

    groups: dict[Any, list[int]] = {}
    for i, x in enumerate(rows):
        try:
            _, key = flatten((x,), {})
        except (TypeError, ValueError):
            continue
        groups.setdefault(key, []).append(i)
    return groups


def _as_values(numbers: Any) -> Any:
    """Floats in nested lists/tuples as Values (what the eager loop returns under no_grad)."""
    if isinstance(numbers, float):
        return Value(numbers)
    items = [_as_values(item) for item in numbers]  # the nesting of one output: shallow
    return tuple(items) if isinstance(numbers, tuple) else items
