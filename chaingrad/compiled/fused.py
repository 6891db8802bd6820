"""The optimizer update fused into a compiled step: parameters in one array, updated in place.

``chaingrad.jit(fn, params=model, optimizer=opt)`` makes each call a whole
training step -- ``opt.zero_grad()``, forward, backward, ``opt.step()`` --
with the parameters, their gradients and the optimizer's state (momentum,
Adam's moments) held in numpy arrays, so no Python loop touches 1,000
parameter Values per step. The update is the optimizer's, run on
arrays: the optimizer's own ``rule()``, the function its ``step()`` runs on
each parameter, here run once on the arrays of all of them (same operations,
so the same numbers), made at every call (``opt.lr`` and the other settings
are read then: schedules keep working).

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

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from chaingrad.engine import Value

_get_data = operator.attrgetter("data")


def check_optimizer(optimizer: Any) -> None:
    """A TypeError unless ``optimizer`` exposes its update as a rule the arrays can run."""
    if getattr(optimizer, "fusable", False) is not True:
        raise TypeError(
            "chaingrad.jit(optimizer=...): the fused update runs an optimizer's rule() on "
            f"arrays (as chaingrad.nn.optim's SGD, Adam and AdamW define it); "
            f"{type(optimizer).__name__} has none; leave optimizer out and call "
            "optimizer.step() after each step instead"
        )


class FusedUpdate:
    """The parameters of one optimizer as arrays, stepped in place after each backward pass."""

    def __init__(self, optimizer: Any, sync: bool) -> None:
        check_optimizer(optimizer)
        self.optimizer = optimizer
        self.sync_every_call = sync
        self._take_params()
        self.stale = False  # Values behind the arrays (sync=False between calls)
        self.handed_back = False  # write_back() ran: the Values are the truth again

    def _take_params(self) -> None:
        """(Re)build the arrays for the optimizer's parameter list as it is now."""
        opt = self.optimizer
        self.params: list[Value] = opt.params
        self.params_seen = list(opt.params)  # to notice a parameter added or replaced
        self.layout = object()  # a new token: program positions must be recomputed
        self.index = {p: i for i, p in enumerate(self.params)}
        self.data = np.array([p.data for p in self.params], dtype=float)
        self.grad = np.zeros(len(self.params))
        self._load_state()

    # --- optimizer state, mirrored --------------------------------------------------------

    def _load_state(self) -> None:
        opt = self.optimizer
        self.names = tuple(opt.state_names)
        self.state = [np.array(getattr(opt, name), dtype=float) for name in self.names]
        self.steps_seen = opt.steps
        self._handed: list[tuple[Any, list[Any]]] = [
            (lst, list(lst)) for lst in (getattr(opt, name) for name in self.names)
        ]

    def _store_state(self) -> None:
        opt = self.optimizer
        handed = []
        for name, array in zip(self.names, self.state):
            lst = array.tolist()
            setattr(opt, name, lst)
            handed.append((lst, list(lst)))
        self._handed = handed

    def _state_edited(self) -> bool:
        """Has anyone replaced or edited the optimizer's state lists since we handed them?"""
        opt = self.optimizer
        if tuple(opt.state_names) != self.names:
            return True
        for name, (lst, copy) in zip(self.names, self._handed):
            current = getattr(opt, name)
            if current is not lst:
                return True
            # (identical floats compare by identity: fast)
            if (self.sync_every_call or self.handed_back) and current != copy:
                return True
        return False

    # --- a step -----------------------------------------------------------------------

    def positions(self, params: Sequence[Value]) -> np.ndarray:
        """For each program parameter, its index among the optimizer's (-1: not in it)."""
        return np.array([self.index.get(p, -1) for p in params], dtype=np.int64)

    def begin(self) -> None:
        """Before a step: take in edits made to the Values or the optimizer since the last.

        With ``sync=False`` the arrays own the parameters between calls, until
        :meth:`write_back` hands them to the Values: the next call then reads the
        Values again, so edits made in between (a callback clipping a weight, a
        ``load_state_dict``, resetting Adam's moments) are kept.
        """
        opt = self.optimizer
        if opt.params is not self.params or opt.params != self.params_seen:
            if self.stale:
                self.write_back()
            self._take_params()
            self.handed_back = False
            return
        if self.sync_every_call or self.handed_back:
            self.data[:] = list(map(_get_data, self.params))
        if opt.steps != self.steps_seen or self._state_edited():
            self._load_state()  # someone stepped it without us, or edited its state
        self.handed_back = False

    def update(self) -> None:
        """``optimizer.step()`` on the arrays, with ``self.grad`` as every ``p.grad``."""
        opt = self.optimizer
        opt.steps += 1
        self.steps_seen = opt.steps
        new = opt.rule(np.sqrt)(self.data, self.grad, *self.state)
        if not self.names:  # a rule without state returns the new numbers alone
            new = (new,)
        self.data[:] = new[0]
        self.state = [np.asarray(x, dtype=float) for x in new[1:]]
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
