"""Shared checks: a compiled step against eager backward on fresh batches, parameters moving."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from chaingrad import Value, jit
from tests.helpers import close as shared_close

TOL = 1e-10


def close(a: float, b: float, tol: float = TOL) -> bool:
    return shared_close(a, b, tol)


def assert_compiled_matches_eager(
    loss_fn: Callable[..., Value],
    params: Sequence[Value],
    batches: Sequence[tuple[Any, ...]],
    backend: str,
    *,
    step_size: float = 0.05,
    seed: int = 0,
    module: Any = None,
    tol: float = TOL,
) -> Any:
    """Compiled loss and every parameter gradient equal eager's on each batch.

    Between batches every parameter moves (a random step), so a program that
    froze a parameter's number, a label, or a branch would fail here.
    """
    rng = random.Random(seed)
    step = jit(loss_fn, params=module if module is not None else list(params), backend=backend)
    for k, batch in enumerate(batches):
        for p in params:
            p.grad = 0.0
        compiled = step(*batch)
        compiled_grads = [p.grad for p in params]
        for p in params:
            p.grad = 0.0
        eager = loss_fn(*batch)
        eager.backward()
        assert close(compiled, eager.data, tol), f"batch {k}: loss {compiled} vs eager {eager.data}"
        for i, (p, g) in enumerate(zip(params, compiled_grads)):
            assert close(g, p.grad, tol), f"batch {k}: grad of param {i}: {g} vs eager {p.grad}"
        for p in params:
            p.data += step_size * rng.uniform(-1.0, 1.0)
    return step
