"""Optimizers (SGD, Adam, AdamW) and learning-rate schedules.

An optimizer holds the parameters and their per-parameter state (momentum,
Adam's moment estimates); ``step()`` moves every ``p.data`` using ``p.grad``,
``zero_grad()`` clears the gradients. The updates follow ``torch.optim``
exactly (the tests compare them in float64), so results carry over.

A schedule sets ``optimizer.lr`` from a step counter: call ``schedule.step()``
after each ``optimizer.step()``.

>>> from chaingrad import Value
>>> from chaingrad.nn.optim import SGD
>>> w = Value(1.0)
>>> opt = SGD([w], lr=0.1)
>>> (w * w).backward()              # d(w^2)/dw = 2
>>> opt.step()
>>> w.data
0.8
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

from chaingrad.engine import Value

from ._checks import check_int, check_number


def _check_number(who: str, name: str, x: Any, low: float = 0.0, high: float = math.inf) -> float:
    return check_number(x, f"{who}: {name}", low, high)


def check_lr(who: str, lr: Any) -> float:
    """A learning rate: a finite number >= 0 (0 freezes the parameters)."""
    return _check_number(who, "lr", lr)


class Optimizer:
    """Base class: keeps ``params`` (a list of Values) and ``lr``; subclasses write ``rule``.

    The update is written once, as ``rule()``: a function of one parameter's
    number ``p``, its gradient ``g`` and its state (one number per name in
    ``state_names``, such as Adam's ``m`` and ``v``), returning the new ``p``
    and state (the new ``p`` alone for a rule without state). It uses
    arithmetic and the ``sqrt`` it is given only, so the same function updates
    a float (``step()`` runs it for each parameter) or a whole numpy array at
    once (``chaingrad.jit``'s fused update runs it on arrays of all
    parameters), with the same numbers. The state lives in lists, one per
    name, indexed like ``params``.
    """

    #: Per-parameter state the rule reads and returns, one list attribute each.
    state_names: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Value] | Any, lr: float) -> None:
        who = type(self).__name__
        if hasattr(params, "parameters") and callable(params.parameters):
            params = params.parameters()  # a Module is accepted as well
        self.params: list[Value] = list(params)
        if not self.params:
            raise ValueError(f"{who}: got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Value):
                raise TypeError(f"{who}: params[{i}] must be a Value, got {type(p).__name__}")
        if len(set(self.params)) != len(self.params):
            raise ValueError(f"{who}: a parameter is listed twice; it would be updated twice")
        self.lr = lr
        self.steps = 0  # how many times step() ran

    @property
    def lr(self) -> float:
        """The learning rate of the next step; setting it checks it (finite, >= 0)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = check_lr(type(self).__name__, value)

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Update every parameter from its ``.grad``."""
        self.steps += 1
        self._update()

    def rule(self, sqrt: Callable[[Any], Any] = math.sqrt) -> Callable[..., Any]:
        """This step's update (``steps`` counts it already): ``(p, g, *state) -> (p, *state)``,
        or ``(p, g) -> p`` when ``state_names`` is empty."""
        raise NotImplementedError(f"{type(self).__name__} must define rule()")

    def _update(self) -> None:
        update = self.rule()
        states = [getattr(self, name) for name in self.state_names]
        # One loop per number of states: Python calls the rule inline, at little cost.
        if not states:
            for p in self.params:
                p.data = update(p.data, p.grad)
        elif len(states) == 1:
            (s,) = states
            for i, p in enumerate(self.params):
                p.data, s[i] = update(p.data, p.grad, s[i])
        elif len(states) == 2:
            s, t = states
            for i, p in enumerate(self.params):
                p.data, s[i], t[i] = update(p.data, p.grad, s[i], t[i])
        else:
            for i, p in enumerate(self.params):
                p.data, *new = update(p.data, p.grad, *[state[i] for state in states])
                for state, x in zip(states, new):
                    state[i] = x

    @property
    def fusable(self) -> bool:
        """True when ``step()`` is ``rule()`` run on each parameter (so it can run on arrays)."""
        return type(self)._update is Optimizer._update and type(self).step is Optimizer.step

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov, and L2 weight decay.

    With ``weight_decay`` the gradient gets ``+ weight_decay * p`` first (L2
    regularisation); with ``momentum`` a velocity ``v = momentum * v + g`` is
    followed instead of ``g`` (PyTorch's convention).

    >>> w = Value(1.0)
    >>> opt = SGD([w], lr=0.5, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad(); (w * w).backward(); opt.step()
    >>> round(w.data, 6)
    -0.9
    """

    def __init__(
        self,
        params: Iterable[Value] | Any,
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = _check_number("SGD", "momentum", momentum, 0.0, 1.0)
        self.weight_decay = _check_number("SGD", "weight_decay", weight_decay)
        if nesterov and self.momentum == 0.0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")
        self.nesterov = bool(nesterov)
        self.velocity = [0.0] * len(self.params)

    @property
    def state_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("velocity",) if self.momentum != 0.0 else ()

    def rule(self, sqrt: Callable[[Any], Any] = math.sqrt) -> Callable[..., Any]:
        lr, mu, wd, nesterov = self.lr, self.momentum, self.weight_decay, self.nesterov
        first = self.steps == 1
        if mu == 0.0 and wd == 0.0:

            def plain(p: Any, g: Any) -> Any:
                return p - lr * g  # micrograd's p.data -= lr * p.grad

            return plain
        if mu == 0.0:

            def decayed(p: Any, g: Any) -> Any:
                return p - lr * (g + wd * p)

            return decayed

        # PyTorch starts the velocity at the first gradient (no damping).
        if first:

            def first_step(p: Any, g: Any, v: Any) -> tuple[Any, ...]:
                g = g + wd * p
                return p - lr * (g + mu * g if nesterov else g), g

            return first_step
        if nesterov:

            def nesterov_step(p: Any, g: Any, v: Any) -> tuple[Any, ...]:
                g = g + wd * p
                v = mu * v + g
                return p - lr * (g + mu * v), v

            return nesterov_step

        def momentum(p: Any, g: Any, v: Any) -> tuple[Any, ...]:
            v = mu * v + (g + wd * p)
            return p - lr * v, v

        return momentum


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction; ``decoupled=True`` gives AdamW.

    ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2, as
    ``torch.optim.Adam``); with ``decoupled=True`` it instead shrinks ``p`` by
    ``lr * weight_decay * p`` directly (Loshchilov & Hutter's AdamW, as
    ``torch.optim.AdamW``).

    >>> w = Value(1.0)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).backward(); opt.step()
    >>> round(w.data, 6)          # Adam's first step moves by about lr
    0.9
    """

    def __init__(
        self,
        params: Iterable[Value] | Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
    ) -> None:
        super().__init__(params, lr)
        who = type(self).__name__
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{who}: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (
            _check_number(who, "betas[0]", betas[0], 0.0, 1.0),
            _check_number(who, "betas[1]", betas[1], 0.0, 1.0),
        )
        if self.betas[0] == 1.0 or self.betas[1] == 1.0:
            raise ValueError(f"{who}: betas must be < 1, got {betas!r}")
        self.eps = _check_number(who, "eps", eps)
        self.weight_decay = _check_number(who, "weight_decay", weight_decay)
        self.decoupled = bool(decoupled)
        self.m = [0.0] * len(self.params)  # first moment (mean of gradients)
        self.v = [0.0] * len(self.params)  # second moment (mean of squared gradients)

    state_names = ("m", "v")

    def rule(self, sqrt: Callable[[Any], Any] = math.sqrt) -> Callable[..., Any]:
        lr, eps, wd = self.lr, self.eps, self.weight_decay
        beta1, beta2 = self.betas
        t = self.steps
        # Bias correction: m and v start at 0, so early averages are too small.
        correction1 = 1.0 - beta1**t
        correction2_sqrt = math.sqrt(1.0 - beta2**t)
        step_size = lr / correction1
        keep1, keep2 = 1.0 - beta1, 1.0 - beta2  # the new gradient's share in each average
        shrink = 1.0 - lr * wd  # AdamW: shrink the weights, apart from the gradient
        decoupled = wd != 0.0 and self.decoupled
        coupled = wd != 0.0 and not self.decoupled  # Adam's L2: decay enters the gradient

        if decoupled:

            def adamw(p: Any, g: Any, m: Any, v: Any) -> tuple[Any, ...]:
                p = p * shrink
                m = beta1 * m + keep1 * g
                v = beta2 * v + keep2 * g * g
                return p - step_size * m / (sqrt(v) / correction2_sqrt + eps), m, v

            return adamw
        if coupled:

            def adam_l2(p: Any, g: Any, m: Any, v: Any) -> tuple[Any, ...]:
                g = g + wd * p
                m = beta1 * m + keep1 * g
                v = beta2 * v + keep2 * g * g
                return p - step_size * m / (sqrt(v) / correction2_sqrt + eps), m, v

            return adam_l2

        def adam(p: Any, g: Any, m: Any, v: Any) -> tuple[Any, ...]:
            m = beta1 * m + keep1 * g
            v = beta2 * v + keep2 * g * g
            return p - step_size * m / (sqrt(v) / correction2_sqrt + eps), m, v

        return adam


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.01), as ``torch.optim.AdamW``.

    >>> w = Value(1.0)
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = 0.0; opt.step()
    >>> w.data                     # only the decay acted: 1 - 0.1 * 0.5
    0.95
    """

    def __init__(
        self,
        params: Iterable[Value] | Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, decoupled=True)


# --- learning-rate schedules ----------------------------------------------------------


class LRSchedule:
    """Sets ``optimizer.lr = base_lr * factor(k)`` where ``k`` counts ``step()`` calls.

    Subclasses define ``factor``. ``lr_at(k)`` gives the rate for any step
    without changing anything (handy for plotting a schedule).
    """

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: needs an Optimizer, got {optimizer!r}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.k = 0
        optimizer.lr = self._checked_lr(0)

    def _checked_lr(self, k: int) -> float:
        """``lr_at(k)``, or a ValueError naming the schedule and the step if it is not a rate."""
        try:
            lr = self.lr_at(k)
            return check_lr(type(self).__name__, lr)
        except (TypeError, ValueError, OverflowError, ArithmeticError) as error:
            raise ValueError(
                f"{type(self).__name__}: the learning rate for step {k} is not a finite "
                f"number >= 0 ({error})"
            ) from None

    def factor(self, k: int) -> float:
        raise NotImplementedError

    def lr_at(self, k: int) -> float:
        """The learning rate used for step ``k`` (0-based)."""
        return self.base_lr * self.factor(k)

    def step(self) -> float:
        """Advance one step and set the optimizer's lr for the next; returns it."""
        self.optimizer.lr = self._checked_lr(self.k + 1)
        self.k += 1
        return self.optimizer.lr


class LambdaLR(LRSchedule):
    """``lr = base_lr * fn(k)``.

    >>> opt = SGD([Value(0.0)], lr=1.0)
    >>> LambdaLR(opt, lambda k: 0.5**k).lr_at(3)
    0.125
    """

    def __init__(self, optimizer: Optimizer, fn: Callable[[int], float]) -> None:
        if not callable(fn):
            raise TypeError(f"LambdaLR: fn must be a function of the step, got {fn!r}")
        self.fn = fn
        super().__init__(optimizer)

    def factor(self, k: int) -> float:
        factor = self.fn(k)
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
            raise TypeError(f"fn({k}) returned {type(factor).__name__} {factor!r}, not a number")
        return float(factor)


class LinearLR(LRSchedule):
    """Factor moving linearly from ``start_factor`` to ``end_factor`` over ``total_steps``.

    micrograd's demo, ``lr = 1.0 - 0.9 * k / 100``, is
    ``LinearLR(SGD(params, lr=1.0), start_factor=1.0, end_factor=0.1, total_steps=100)``.

    >>> sched = LinearLR(SGD([Value(0.0)], lr=1.0), 1.0, 0.1, 100)
    >>> round(sched.lr_at(50), 6)
    0.55
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0,
        end_factor: float = 0.0,
        total_steps: int = 100,
    ) -> None:
        check_int(total_steps, "LinearLR: total_steps")
        self.start_factor = _check_number("LinearLR", "start_factor", start_factor)
        self.end_factor = _check_number("LinearLR", "end_factor", end_factor)
        self.total_steps = total_steps
        super().__init__(optimizer)

    def factor(self, k: int) -> float:
        k = min(k, self.total_steps)
        return self.start_factor + (self.end_factor - self.start_factor) * k / self.total_steps


class StepLR(LRSchedule):
    """Multiply the rate by ``gamma`` every ``step_size`` steps.

    >>> StepLR(SGD([Value(0.0)], lr=1.0), step_size=10, gamma=0.5).lr_at(25)
    0.25
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        check_int(step_size, "StepLR: step_size")
        self.step_size = step_size
        self.gamma = _check_number("StepLR", "gamma", gamma)
        super().__init__(optimizer)

    def factor(self, k: int) -> float:
        return self.gamma ** (k // self.step_size)


class CosineLR(LRSchedule):
    """Cosine decay from ``base_lr`` to ``min_lr`` over ``total_steps``, then flat.

    >>> round(CosineLR(SGD([Value(0.0)], lr=1.0), total_steps=100).lr_at(50), 6)
    0.5
    """

    def __init__(self, optimizer: Optimizer, total_steps: int, min_lr: float = 0.0) -> None:
        check_int(total_steps, "CosineLR: total_steps")
        self.total_steps = total_steps
        self.min_lr = _check_number("CosineLR", "min_lr", min_lr)
        super().__init__(optimizer)

    def lr_at(self, k: int) -> float:
        k = min(k, self.total_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * k / self.total_steps))
        return self.min_lr + (self.base_lr - self.min_lr) * cosine

    def factor(self, k: int) -> float:
        return self.lr_at(k) / self.base_lr if self.base_lr else 0.0
