"""chaingrad: a scalar reverse-mode autodiff engine for learning how neural networks train.

>>> from chaingrad import Value
>>> x = Value(2.0)
>>> y = (x * x + 1).tanh()
>>> y.backward()
>>> round(x.grad, 6)
0.000726

Importing chaingrad loads the standard library only; ``chaingrad.nn`` and
``chaingrad.viz`` import their optional dependencies when used.
"""

from .compiled import TracingError, jit
from .engine import (
    Constant,
    GradcheckError,
    Value,
    dot,
    dots,
    enable_grad,
    grad,
    gradcheck,
    is_grad_enabled,
    logsumexp,
    max_of,
    no_grad,
    op,
    set_grad_enabled,
    sum_of,
    take,
    toposort,
)

__version__ = "0.1.0"

__all__ = [
    "Constant",
    "GradcheckError",
    "TracingError",
    "Value",
    "__version__",
    "dot",
    "dots",
    "enable_grad",
    "grad",
    "gradcheck",
    "is_grad_enabled",
    "jit",
    "logsumexp",
    "max_of",
    "no_grad",
    "op",
    "set_grad_enabled",
    "sum_of",
    "take",
    "toposort",
]
