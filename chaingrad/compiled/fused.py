"""The optimizer update fused into a compiled step: parameters in one array, updated in place.

``chaingrad.jit(fn, params=model, optimizer=opt)`` makes each call a whole
training step -- ``opt.zero_grad()``, forward, backward, ``opt.step()`` --
with the parameters, their gradients and the optimizer's state (momentum,
Adam's moments) held in numpy arrays, so no Python loop touches 1,000
parameter Values per step. The update is ``chaingrad.nn.optim``'s, written on
arrays in the same order of operations (so the same numbers), reading
``opt.lr`` and the other settings at every call (schedules keep working).

``sync=True`` (the default) keeps the Values current: every call reads each
``p.data`` first (so edits between calls count) and writes ``p.data``,
``p.grad`` (this step's gradient, as eager code leaves it), the optimizer's
state and ``opt.steps`` back afterwards. ``sync=False`` skips that per-call
traffic: the step then owns the parameters, and the Values are stale until
``step.sync()`` -- call it before reading, evaluating or saving the model.
After ``sync()`` the Values are in charge again: edit them as you like, the
next call reads them.

>>> from chaingrad import Value, jit
>>> from chaingrad.nn.optim import SGD
>>> w = Value(1.0)
>>> opt = SGD([w], lr=0.1)
>>> step = jit(lambda x: (w * x) ** 2, params=[w], optimizer=opt, backend="numpy")
>>> step(1.0), w.data, w.grad        # loss before the update; d/dw (w x)^2 = 2 w x^2
(1.0, 0.8, 2.0)
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from chaingrad.engine import Value

_get_data = operator.attrgetter("data")


def check_optimizer(optimizer: Any) -> None:
    """A TypeError unless ``optimizer`` is one the fused update reproduces exactly."""
    from chaingrad.nn.optim import SGD, Adam, AdamW

    if type(optimizer) not in (SGD, Adam, AdamW):
        raise TypeError(
            "chaingrad.jit(optimizer=...): the fused update reproduces chaingrad.nn.optim's "
            f"SGD, Adam and AdamW, got {type(optimizer).__name__}; leave optimizer out and "
            "call optimizer.step() after each step instead"
        )


class FusedUpdate:
    """The parameters of one optimizer as arrays, stepped in place after each backward pass."""

    def __init__(self, optimizer: Any, sync: bool) -> None:
        check_optimizer(optimizer)
        self.optimizer = optimizer
        self.sync_every_call = sync
        self.params: list[Value] = optimizer.params
        self.index = {p: i for i, p in enumerate(self.params)}
        self.data = np.array([p.data for p in self.params], dtype=float)
        self.grad = np.zeros(len(self.params))
        self.steps_seen = optimizer.steps
        self._load_state()
        self.stale = False  # Values behind the arrays (sync=False between calls)
        self.handed_back = False  # write_back() ran: the Values are the truth again

    # --- optimizer state, mirrored --------------------------------------------------------

    def _load_state(self) -> None:
        opt = self.optimizer
        if hasattr(opt, "velocity"):
            self.velocity = np.array(opt.velocity, dtype=float)
        else:
            self.m = np.array(opt.m, dtype=float)
            self.v = np.array(opt.v, dtype=float)

    def _store_state(self) -> None:
        opt = self.optimizer
        if hasattr(opt, "velocity"):
            opt.velocity = self.velocity.tolist()
        else:
            opt.m = self.m.tolist()
            opt.v = self.v.tolist()

    # --- a step -----------------------------------------------------------------------

    def positions(self, params: Sequence[Value]) -> np.ndarray:
        """For each program parameter, its index among the optimizer's (-1: not in it)."""
        return np.array([self.index.get(p, -1) for p in params], dtype=np.int64)

    def begin(self) -> None:
        """Before a step: take in edits made to the Values or the optimizer since the last.

        With ``sync=False`` the arrays own the parameters between calls, until
        :meth:`write_back` hands them to the Values: the next call then reads the
        Values again, so edits made in between (a callback clipping a weight, a
        ``load_state_dict``) are kept.
        """
        if self.sync_every_call or self.handed_back:
            self.data[:] = list(map(_get_data, self.params))
            self.handed_back = False
        if self.optimizer.steps != self.steps_seen:  # someone stepped it without us
            self._load_state()

    def update(self) -> None:
        """``optimizer.step()`` on the arrays, with ``self.grad`` as every ``p.grad``."""
        opt = self.optimizer
        opt.steps += 1
        self.steps_seen = opt.steps
        if hasattr(opt, "velocity"):
            self._sgd(opt)
        else:
            self._adam(opt)
        if self.sync_every_call:
            self.write_back()
        else:
            self.stale = True

    def write_back(self) -> None:
        """Make the Values (data and grad) and the optimizer's lists current."""
        for p, x, g in zip(self.params, self.data.tolist(), self.grad.tolist()):
            p.data = x
            p.grad = g
        self._store_state()
        self.stale = False
        self.handed_back = True

    def _sgd(self, opt: Any) -> None:
        lr, mu, wd = opt.lr, opt.momentum, opt.weight_decay
        data = self.data
        if mu == 0.0 and wd == 0.0:
            data -= lr * self.grad
            return
        g = self.grad + wd * data
        if mu != 0.0:
            v = g if opt.steps == 1 else mu * self.velocity + g
            self.velocity = v
            g = g + mu * v if opt.nesterov else v
        data -= lr * g

    def _adam(self, opt: Any) -> None:
        lr, eps, wd = opt.lr, opt.eps, opt.weight_decay
        beta1, beta2 = opt.betas
        t = opt.steps
        correction1 = 1.0 - beta1**t
        correction2_sqrt = math.sqrt(1.0 - beta2**t)
        step_size = lr / correction1
        g = self.grad
        data = self.data
        if wd != 0.0:
            if opt.decoupled:
                data *= 1.0 - lr * wd
            else:
                g = g + wd * data
        self.m = m = beta1 * self.m + (1.0 - beta1) * g
        self.v = v = beta2 * self.v + (1.0 - beta2) * g * g
        data -= step_size * m / (np.sqrt(v) / correction2_sqrt + eps)
