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

The Values stay current without a write-back per call. After a step the
parameters are *lent* to the arrays: each parameter Value (and the optimizer)
is switched to a subclass whose ``data`` and ``grad`` (and the optimizer's
state lists) are properties, and the first read or write of any of them --
``p.data``, ``p.grad``, ``state_dict``, ``save``, an eager forward pass, a
drawing, a callback -- writes every number back and switches them all to
their own class again. A run that reads nothing between steps pays nothing;
one that reads after every step pays what a write-back per call costs. The
next call reads the Values again after such a hand-back, so edits made in
between (a weight clipped, a ``load_state_dict``, Adam's moments reset) are
kept. ``opt.steps`` and the settings (``opt.lr``, which schedules change) are
plain attributes at all times.

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
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chaingrad.engine import Value

_get_data = operator.attrgetter("data")
# The slots themselves (the engine's aliases): a hand-back writes through them, so it also
# works while a trace is running (which refuses writes through the public names).
_raw_data = Value.__dict__["_data"]
_raw_grad = Value.__dict__["_grad"]


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

    def __init__(self, optimizer: Any, sync: bool = True) -> None:
        check_optimizer(optimizer)
        self.optimizer = optimizer
        self.sync_every_call = sync  # kept for older callers; lending makes both the same
        # One step at a time, and a hand-back from another thread waits for the step to end.
        self.lock = threading.RLock()
        self._lent_classes: dict[type, type] = {}  # a parameter's class -> its lent subclass
        self._plain_of: dict[type, type] = {}  # and back
        self._lent_optimizer: tuple[type, type, tuple[str, ...]] | None = None
        self.lent = False  # the Values and the optimizer's lists are behind the arrays
        self._take_params()
        self.stale = False  # the arrays hold numbers the Values do not have yet
        self.handed_back = False  # write_back() ran: the Values are the truth again

    def _take_params(self) -> None:
        """(Re)build the arrays for the optimizer's parameter list as it is now."""
        opt = self.optimizer
        self.params: list[Value] = opt.params
        self.params_seen = list(opt.params)  # to notice a parameter added or replaced
        self.layout = object()  # a new token: program positions must be recomputed
        self.index = {p: i for i, p in enumerate(self.params_seen)}
        self.data = np.array([p.data for p in self.params_seen], dtype=float)
        self.grad = np.zeros(len(self.params_seen))
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
        if self.lent:  # nobody could reach the lists without a hand-back first
            return False
        for name, (lst, copy) in zip(self.names, self._handed):
            current = getattr(opt, name)
            if current is not lst:
                return True
            # (identical floats compare by identity: fast)
            if self.handed_back and current != copy:
                return True
        return False

    # --- a step -----------------------------------------------------------------------

    def positions(self, params: Sequence[Value]) -> np.ndarray:
        """For each program parameter, its index among the optimizer's (-1: not in it)."""
        return np.array([self.index.get(p, -1) for p in params], dtype=np.int64)

    def begin(self) -> None:
        """Before a step: take in edits made to the Values or the optimizer since the last.

        While the parameters are lent nobody can have changed them (any access
        hands them back first); after a hand-back the Values are read again,
        so edits made in between (a callback clipping a weight, a
        ``load_state_dict``, resetting Adam's moments) are kept.
        """
        opt = self.optimizer
        if opt.params is not self.params or opt.params != self.params_seen:
            self.write_back()
            self._take_params()
            self.handed_back = False
            return
        if self.handed_back or not self.lent:
            self.data[:] = list(map(_get_data, self.params_seen))
        if opt.steps != self.steps_seen or self._state_edited():
            self.write_back()
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
        self.stale = True
        if not self._lend():
            self.write_back()  # a parameter that cannot be lent: hand back at once

    def write_back(self) -> None:
        """Make the Values (data and grad) and the optimizer's lists current."""
        with self.lock:
            if not self.stale:
                return
            self._unlend()
            set_data, set_grad = _raw_data.__set__, _raw_grad.__set__
            for p, x, g in zip(self.params_seen, self.data.tolist(), self.grad.tolist()):
                set_data(p, x)
                set_grad(p, g)
            self._store_state()
            self.stale = False
            self.handed_back = True

    # --- lending ----------------------------------------------------------------------

    def _lend(self) -> bool:
        """Switch the parameters and the optimizer to their lent classes (False: cannot)."""
        if self.lent:
            return True
        params = self.params_seen
        classes = self._lent_classes
        plain_of = self._plain_of
        for p in params:
            cls = type(p)
            if cls not in classes and (cls in plain_of or _is_lent(cls)):
                return False  # lent elsewhere already (cannot be: a read hands it back)
        lent_optimizer = self._optimizer_class()
        if lent_optimizer is None:
            return False
        for p in params:
            cls = type(p)
            lent = classes.get(cls)
            if lent is None:
                lent = classes[cls] = _lent_value_class(cls, self)
                plain_of[lent] = cls
            p.__class__ = lent
        self.optimizer.__class__ = lent_optimizer
        self.lent = True
        return True

    def _unlend(self) -> None:
        if not self.lent:
            return
        plain_of = self._plain_of
        for p in self.params_seen:
            plain = plain_of.get(type(p))
            if plain is not None:
                p.__class__ = plain
        opt = self.optimizer
        if self._lent_optimizer is not None and type(opt) is self._lent_optimizer[1]:
            opt.__class__ = self._lent_optimizer[0]
        self.lent = False

    def _optimizer_class(self) -> type | None:
        opt = self.optimizer
        cls = type(opt)
        if self._lent_optimizer is not None:
            plain, lent, names = self._lent_optimizer
            if plain is cls and names == self.names:
                return lent
        if _is_lent(cls):
            return None
        lent = _lent_optimizer_class(cls, self.names, self)
        self._lent_optimizer = (cls, lent, self.names)
        return lent


def _is_lent(cls: type) -> bool:
    return cls.__dict__.get("_lent_to") is not None


def _lent_value_class(plain: type, owner: FusedUpdate) -> type:
    """A subclass of ``plain`` (Value) whose numbers are read from ``owner``'s arrays on
    first access: the access hands every parameter back, then reads its own slot."""

    def hand_back(v: Any) -> None:
        owner.write_back()
        if type(v) is lent:  # not among the owner's parameters any more: become plain
            v.__class__ = plain

    def get_data(v: Any) -> float:
        hand_back(v)
        x: float = v.data
        return x

    def set_data(v: Any, x: float) -> None:
        hand_back(v)
        v.data = x

    def get_grad(v: Any) -> float:
        hand_back(v)
        g: float = v.grad
        return g

    def set_grad(v: Any, g: float) -> None:
        hand_back(v)
        v.grad = g

    def get_raw(v: Any) -> float:
        hand_back(v)
        x: float = v._data
        return x

    def get_raw_grad(v: Any) -> float:
        hand_back(v)
        g: float = v._grad
        return g

    def handing_back(name: str) -> Callable[..., Any]:
        def method(v: Any, *args: Any) -> Any:
            hand_back(v)
            return getattr(v, name)(*args)

        return method

    namespace = {
        "__slots__": (),
        "_lent_to": owner,
        "data": property(get_data, set_data),
        "grad": property(get_grad, set_grad),
        "_data": property(get_raw, set_data),
        "_grad": property(get_raw_grad, set_grad),
        # pickle, copy and deepcopy record type(v): hand back first, so they see the class
        "__reduce_ex__": handing_back("__reduce_ex__"),
        "__deepcopy__": handing_back("__deepcopy__"),
        "__copy__": handing_back("__copy__"),
    }
    lent = type(plain.__name__, (plain,), namespace)
    lent.__qualname__ = plain.__qualname__
    lent.__module__ = plain.__module__
    return lent


def _lent_optimizer_class(plain: type, names: tuple[str, ...], owner: FusedUpdate) -> type:
    """A subclass of the optimizer's class whose state lists (``m``, ``v``, ``velocity``)
    are properties that hand the numbers back first (``steps`` and ``lr`` stay plain)."""

    def state(name: str) -> property:
        def get(opt: Any) -> Any:
            _hand_back_optimizer(owner, opt)
            return getattr(opt, name)

        def set_(opt: Any, value: Any) -> None:
            _hand_back_optimizer(owner, opt)
            setattr(opt, name, value)

        return property(get, set_)

    namespace: dict[str, Any] = {name: state(name) for name in names}
    namespace["_lent_to"] = owner
    namespace["__reduce_ex__"] = _handing_back_method(owner, "__reduce_ex__")
    namespace["__slots__"] = ()
    lent = type(plain.__name__, (plain,), namespace)
    lent.__qualname__ = plain.__qualname__
    lent.__module__ = plain.__module__
    return lent


def _handing_back_method(owner: FusedUpdate, name: str) -> Callable[..., Any]:
    def method(obj: Any, *args: Any) -> Any:
        _hand_back_optimizer(owner, obj)
        return getattr(obj, name)(*args)

    return method


def _hand_back_optimizer(owner: FusedUpdate, opt: Any) -> None:
    owner.write_back()
    if _is_lent(type(opt)):  # (cannot be after a write-back; never loop if it were)
        opt.__class__ = type(opt).__mro__[1]
