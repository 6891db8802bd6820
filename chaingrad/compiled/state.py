"""The Python state a replay depends on, and eager's checks of the arguments, per call.

A traced program is right for the Python state it was traced under: each
module's ``training`` flag and settings (``Dropout.p``), the parameter Values
the modules hold (their identity and number: a layer appended, a ``Value``
replaced), attributes library code declared with ``guard``. A :class:`Watch`
records that state after the trace; ``holds()`` tells, at every call, whether
it is unchanged (if not, the step traces again for the new state). It also
runs, at every call, the checks eager code makes on arguments (a label that
must be -1 or +1), declared with :func:`~chaingrad.engine.trace_hook.check_input`.

Which modules: those the step called (seen through the engine's module-call
hook) and, when ``params`` is a Module, all of its modules. Which of their
attributes: all of them (one dict comparison per module), except those the
traced call itself assigned (forward's own outputs, such as attention
weights, are not inputs of the program): for such a module, ``training`` and
its other public attributes. Containers holding Values or modules are
compared item by item, so an in-place edit (``w[0] = Value(...)``) counts too.

>>> from chaingrad import Value, jit, nn
>>> layer = nn.Linear(1, 1)
>>> step = jit(lambda x: layer([x])[0] ** 2, params=layer)
>>> _ = step(1.0)
>>> layer.weight[0][0] = Value(2.0)    # a parameter replaced: the step traces again
>>> _ = step(1.0); len(step.programs)
2
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from chaingrad.engine import Value

from .tracing import Trace

_GONE = object()
_MAX_CONTAINERS = 100_000  # containers walked per module (a guard against cycles and giants)


def _containers(obj: Any, out: list[Any]) -> None:
    """Lists, dicts and sets inside ``obj`` that hold Values or modules (appended to ``out``)."""
    stack = [obj]
    seen: set[int] = set()
    while stack and len(seen) < _MAX_CONTAINERS:
        item = stack.pop()
        if id(item) in seen or not isinstance(item, (list, tuple, dict, set)):
            continue
        seen.add(id(item))
        values = list(item.values()) if isinstance(item, dict) else list(item)
        if not isinstance(item, tuple) and any(
            isinstance(v, (Value, list, tuple, dict, set)) or hasattr(v, "named_parameters")
            for v in values
        ):
            out.append(item)
        stack.extend(v for v in values if isinstance(v, (list, tuple, dict, set)))


_call: Callable[[Callable[[Any], Any], Any], Any] = operator.call  # type: ignore[attr-defined]


def _copy(container: Any) -> Any:
    return dict(container) if isinstance(container, dict) else type(container)(container)


class Watch:
    """The state one traced program depends on; ``holds()`` and ``checks(numbers)`` per call."""

    def __init__(self, trace: Trace, model: Any, slots: dict[int, int]) -> None:
        modules: dict[int, Any] = dict(getattr(trace, "modules", {}))
        before: dict[int, dict[str, Any]] = getattr(trace, "module_state", {})
        if model is not None:
            for module in model.modules():
                modules.setdefault(id(module), module)
        getters: list[Callable[[Any], Any]] = []
        objects: list[Any] = []
        expected: list[Any] = []
        dicts: list[dict[str, Any]] = []
        containers: list[Any] = []
        for key, module in modules.items():
            state = vars(module) if hasattr(module, "__dict__") else {}
            old = before.get(key, state)
            kept = [name for name, value in state.items() if old.get(name, _GONE) is value]
            if len(kept) == len(state) == len(old):
                dicts.append(state)  # the call assigned nothing: compare the whole dict
            else:
                names = [n for n in kept if not n.startswith("_") and n != "training"]
                getter = operator.attrgetter("training", *names)
                getters.append(getter)
                objects.append(module)
                expected.append(getter(module))
            for name in kept:
                _containers(state[name], containers)
        self._dicts = dicts
        self._dict_snapshots = [dict(d) for d in dicts]
        self._getters = getters
        self._objects = objects
        # Modules whose call assigned attributes (forward's own outputs, such as attention
        # weights): what a replay does not leave in them, an eager call would.
        self.assigned = len(objects)
        self._expected = expected
        self._containers = containers
        self._snapshots = [_copy(c) for c in containers]
        self._guards = [(obj, attr, getattr(obj, attr)) for obj, attr in trace.guards]
        self.checks = _Checks(trace, slots) if trace.checks else None

    def holds(self) -> bool:
        """Is the state the program was traced under unchanged?"""
        try:
            return (
                self._dicts == self._dict_snapshots
                and list(map(_call, self._getters, self._objects)) == self._expected
                and self._containers == self._snapshots
                and all(getattr(obj, attr) == value for obj, attr, value in self._guards)
            )
        except Exception:  # a comparison that cannot say (numpy arrays): trace again
            return False


class _Checks:
    """Eager's checks of the arguments, run on each call's numbers before the replay."""

    def __init__(self, trace: Trace, slots: dict[int, int]) -> None:
        groups: dict[tuple[Any, Any, bool], list[int]] = {}
        for leaf, allowed, check in trace.checks:
            if allowed is not None:
                is_int = type(trace.inputs.get(id(leaf))) is int  # as eager code got it
                groups.setdefault((allowed, check, is_int), []).append(slots[id(leaf)])
        self.groups = [
            (allowed, check, is_int, positions, operator.itemgetter(*positions))
            for (allowed, check, is_int), positions in groups.items()
        ]
        self._arrays: list[tuple[Any, Any]] | None = None  # (positions, sorted allowed)

    def __bool__(self) -> bool:
        return bool(self.groups)

    def __call__(self, numbers: Any) -> None:
        """Raise eager's error for the first bad number of a call (a list of numbers, one
        float64 array of them, or a matrix with one call per row)."""
        if type(numbers) is not list:
            self._check_array(numbers)
            return
        for allowed, check, is_int, positions, pick in self.groups:
            picked = pick(numbers)
            if len(positions) == 1:
                picked = (picked,)
            if not allowed.issuperset(picked):
                for number in picked:  # raises eager's error for the first bad one
                    check(_as_kind(number, is_int))

    def _check_array(self, numbers: Any) -> None:
        import numpy as np

        if self._arrays is None:
            self._arrays = [
                (np.array(positions, dtype=np.intp), np.array(sorted(allowed), dtype=float))
                for allowed, _, _, positions, _ in self.groups
            ]
        for index, allowed in self._arrays:
            picked = numbers[..., index]
            found = np.searchsorted(allowed, picked)
            np.minimum(found, len(allowed) - 1, out=found)
            if not (allowed[found] == picked).all():  # (NaN is never allowed)
                rows = numbers.tolist() if numbers.ndim > 1 else [numbers.tolist()]
                for row in rows:  # in eager's order: call by call, group by group
                    self(row)
                return


def _as_kind(number: Any, is_int: bool) -> Any:
    """An int-kind number that went through float64 (an array) as the int eager code got."""
    if is_int and type(number) is float and number.is_integer():
        return int(number)
    return number
