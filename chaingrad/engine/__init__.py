"""The autodiff engine: Value, ops and the rule table, backward, grad mode, checking.

>>> from chaingrad.engine import Value, OPS
>>> y = (Value(2.0) * 3).relu()
>>> y.op is OPS["relu"], y.data
(True, 6.0)
"""

from .autodiff import backward, grad, toposort
from .check import GradcheckError, gradcheck, numerical_grad
from .mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .op import Op, op
from .ops import OPS, PARAMETRIC_OPS
from .value import Constant, Value, dot, dots, logsumexp, max_of, sum_of, take

__all__ = [
    "OPS",
    "PARAMETRIC_OPS",
    "Constant",
    "GradcheckError",
    "Op",
    "Value",
    "backward",
    "dot",
    "dots",
    "enable_grad",
    "grad",
    "gradcheck",
    "is_grad_enabled",
    "logsumexp",
    "max_of",
    "no_grad",
    "numerical_grad",
    "op",
    "set_grad_enabled",
    "sum_of",
    "take",
    "toposort",
]
