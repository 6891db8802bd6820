"""Compiled mode: ``chaingrad.jit`` traces a training step once and replays it fast.

See :func:`~chaingrad.compiled.step.jit`. Importing this package loads the
standard library only; the numpy backend imports numpy when it is used.

>>> from chaingrad import Value
>>> from chaingrad.compiled import jit
>>> w = Value(1.5)
>>> step = jit(lambda x, y: (w * x - y) ** 2, params=[w])
>>> step(2.0, 1.0), step(1.0, 1.0), w.grad
(4.0, 0.25, 9.0)
"""

from .program import Program
from .step import RetraceWarning, Step, jit
from .tracing import TracingError, guard, is_tracing, random_leaves

__all__ = [
    "Program",
    "RetraceWarning",
    "Step",
    "TracingError",
    "guard",
    "is_tracing",
    "jit",
    "random_leaves",
]
