"""Gradient checking by central finite differences, for users' own functions too."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .autodiff import grad
from .mode import no_grad
from .value import Value, _to_float


class GradcheckError(AssertionError):
    """Analytical and numerical gradients disagree."""


def numerical_grad(
    f: Callable[..., Value], point: Sequence[float], eps: float = 1e-6
) -> list[float]:
    """Central differences ``(f(x + eps) - f(x - eps)) / (2 eps)`` for each input."""
    point = [float(x) for x in point]
    result = []
    with no_grad():
        for i in range(len(point)):
            up = list(point)
            down = list(point)
            up[i] += eps
            down[i] -= eps
            f_up = float(f(*(Value(x) for x in up)))
            f_down = float(f(*(Value(x) for x in down)))
            result.append((f_up - f_down) / (2.0 * eps))
    return result


def gradcheck(
    f: Callable[..., Value],
    inputs: Sequence[Value | float],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    raise_exception: bool = True,
) -> bool:
    """Check ``f``'s backward against central finite differences at ``inputs``.

    ``f`` takes one Value per input and returns a Value. Returns True when every
    gradient matches to ``atol + rtol * |numerical|``; otherwise raises
    :class:`GradcheckError` naming the input, the numerical and the analytical
    value (or returns False with ``raise_exception=False``).

    >>> from chaingrad import gradcheck
    >>> gradcheck(lambda x, y: (x * y).tanh(), [0.3, -1.2])
    True
    """
    names = [getattr(v, "label", "") or f"inputs[{i}]" for i, v in enumerate(inputs)]
    point = [v.data if isinstance(v, Value) else _to_float(v, "gradcheck") for v in inputs]
    leaves = [Value(x) for x in point]
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}")
    analytical = grad(out, leaves) if leaves else ()
    numerical = numerical_grad(f, point, eps)
    for name, x, a, n in zip(names, point, analytical, numerical):
        if not abs(a - n) <= atol + rtol * abs(n):
            if not raise_exception:
                return False
            raise GradcheckError(
                f"gradcheck failed for {name} = {x!r}: numerical gradient {n!r}, "
                f"analytical gradient {a!r} (difference {a - n:.3g}, "
                f"tolerance {atol + rtol * abs(n):.3g})"
            )
    return True
