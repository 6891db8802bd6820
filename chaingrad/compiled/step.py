"""``chaingrad.jit``: trace a training step once, replay it with new numbers.

>>> from chaingrad import Value, jit
>>> w, b = Value(0.5), Value(0.0)
>>> @jit(params=[w, b])
... def step(x, y):
...     return ((w * x + b - y) ** 2).tanh()
>>> round(step(2.0, 0.0), 6)           # first call: traces, compiles, runs
0.761594
>>> round(step(1.0, 3.0), 6)           # same structure: replays
0.999993
>>> round(w.grad, 6), round(b.grad, 6)   # added up over both calls, as backward() would
(1.679823, 0.839874)
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import operator
import threading
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from chaingrad.engine import Value

from . import inputs as _inputs
from .program import Program, build, parameter_names
from .state import Watch
from .tracing import check_numpy_generators, tracing

BACKENDS = ("auto", "numpy", "python")
AUTO_NUMPY_EDGES = 1500  # "auto" runs programs with at least this many edges on numpy
STATES_KEPT = 8  # programs kept per input structure, one per Python state (train/eval, ...)
RETRACE_HINT = 6  # structures traced before the step says how to need one program
_get_data = operator.attrgetter("data")


def _numpy_available() -> bool:
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


class _Compiled:
    """One traced structure: its program, its backend, and the guards it was traced under."""

    def __init__(
        self,
        program: Program,
        backend: Any,
        watch: Watch,
        samples: list[int | None] | None,
        count: int,
    ) -> None:
        self.program = program
        self.backend = backend
        self.samples = samples
        self._exact: Any = None
        self.holds = watch.holds  # the Python state the program was traced under is unchanged
        self.checks = watch.checks  # eager's checks of the arguments, for every call
        self.params = program.params
        # numpy arrays among the arguments reach the numpy backend as one float64 array
        # (inputs.Chunked); the standard-library backend reads Python numbers.
        self.takes_arrays = backend.name == "numpy"
        self.pick = _picker(program.input_slots, count)
        self.fused_positions: Any = None  # program param -> optimizer index (fused steps)
        self.fused_layout: Any = None  # the optimizer's parameter list those indices are for
        self.first_randoms: list[float] | None = None

    def randoms(self) -> list[float]:
        if self.first_randoms is not None:  # the traced call's draws, used once
            drawn, self.first_randoms = self.first_randoms, None
            return drawn
        values: list[float] = []
        for draw, ids, _ in self.program.random_blocks:
            values.extend(draw(len(ids)))
        return values

    def run(self, numbers: list[Any]) -> tuple[float, tuple[float, ...]]:
        """Forward and backward; the gradients are added into each ``p.grad``."""
        params = self.params
        loss, grads, aux = self.execute(
            list(map(_get_data, params)), self.pick(numbers), self.randoms()
        )
        if not isinstance(grads, list):
            grads = grads.tolist()
        for p, g in zip(params, grads):
            p.grad += g
        return loss, aux

    def forward(self, numbers: list[Any]) -> tuple[float, tuple[float, ...]]:
        """Forward only (a program built with ``grad=False``): no ``p.grad`` is touched."""
        loss, _, aux = self.execute(
            list(map(_get_data, self.params)), self.pick(numbers), self.randoms()
        )
        return loss, aux

    def run_fused(self, numbers: list[Any], fused: Any) -> tuple[float, tuple[float, ...]]:
        """A whole step: forward, backward and the optimizer's update on its arrays."""
        with fused.lock:  # a read from another thread waits for the step (and its update)
            return self._run_fused(numbers, fused)

    def _run_fused(self, numbers: list[Any], fused: Any) -> tuple[float, tuple[float, ...]]:
        import numpy as np

        fused.begin()
        positions = self.fused_positions
        if positions is None or self.fused_layout is not fused.layout:
            positions = self.fused_positions = fused.positions(self.params)
            self.fused_layout = fused.layout
            self.all_in_optimizer = bool((positions >= 0).all())
        values = fused.data[positions]
        if not self.all_in_optimizer:  # captured Values the optimizer does not update
            outside = np.flatnonzero(positions < 0)
            values[outside] = [self.params[k].data for k in outside.tolist()]
        loss, grads, aux = self.execute(values, self.pick(numbers), self.randoms())
        grads = np.asarray(grads, dtype=float)
        fused.grad[:] = 0.0
        if self.all_in_optimizer:
            fused.grad[positions] = grads
        else:
            inside = positions >= 0
            fused.grad[positions[inside]] = grads[inside]
            for k in np.flatnonzero(~inside).tolist():
                self.params[k].grad += float(grads[k])
        fused.update()
        return loss, aux

    def execute(
        self, params: Any, inputs: list[Any], randoms: list[float]
    ) -> tuple[float, Any, tuple[float, ...]]:
        """Run the backend; a floating-point event reruns the call on the exact backend."""
        result: tuple[float, Any, tuple[float, ...]]
        try:
            result = self.backend.run(params, inputs, randoms)
        except FloatingPointError:
            if not isinstance(params, list):
                params = params.tolist()
            if not isinstance(inputs, list):  # an array: ints back to Python ints
                inputs = _inputs.with_ints(inputs.tolist(), self.program.input_is_int)
            result = self.exact().run(params, inputs, randoms)
        return result

    def exact(self) -> Any:
        """The standard-library backend for this program (made on first need)."""
        if self.backend.name == "python":
            return self.backend
        if self._exact is None:
            from .python_backend import PythonBackend

            self._exact = PythonBackend(self.program, self.samples)
        return self._exact


class Step:
    """A compiled training step: call it with a batch, get the loss, find gradients in ``.grad``.

    Made by :func:`jit`. The first call with a new input structure traces
    ``fn`` and compiles the program; later calls with that structure replay it.
    ``program`` is the most recently used :class:`~chaingrad.compiled.program.Program`,
    ``source`` the code its backend runs, ``programs`` every structure seen so far.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        params: Iterable[Value] | Any = None,
        backend: str = "auto",
        optimizer: Any = None,
        sync: bool = True,
        grad: bool = True,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"chaingrad.jit: fn must be callable, got {type(fn).__name__}")
        if backend not in BACKENDS:
            raise ValueError(f"chaingrad.jit: backend must be one of {BACKENDS}, got {backend!r}")
        if backend == "numpy" and not _numpy_available():
            raise ImportError("chaingrad.jit(backend='numpy') needs numpy: pip install numpy")
        self.fn = fn
        self.backend = backend
        self._declared = params
        self._params, self._names = _declared_params(params)
        self._arg_names = _argument_names(fn)
        self._cache: dict[Any, list[_Compiled]] = {}
        self._rows_cache: dict[Any, list[Any]] = {}  # map(): row programs per row structure
        self._last_rows: Any = None
        self._last: _Compiled | None = None
        self._lock = threading.Lock()
        self.optimizer = optimizer
        self.sync_every_call = bool(sync)
        if not isinstance(grad, bool):
            raise TypeError(f"chaingrad.jit: grad must be True or False, got {grad!r}")
        self.grad = grad
        if not grad and optimizer is not None:
            raise ValueError(
                "chaingrad.jit: grad=False compiles the forward pass only; it cannot train "
                "(leave optimizer out, or keep grad=True)"
            )
        self._fused: Any = None
        if optimizer is not None:
            if not all(callable(getattr(optimizer, name, None)) for name in ("step", "zero_grad")):
                raise TypeError(
                    "chaingrad.jit: optimizer must be an optimizer (with step() and "
                    f"zero_grad(), as chaingrad.nn.optim's), got {type(optimizer).__name__}"
                )
            if backend != "python" and fusable(optimizer):
                from .fused import FusedUpdate

                self._fused = FusedUpdate(optimizer, self.sync_every_call)
        functools.update_wrapper(self, fn, updated=())

    # --- calling --------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        numbers, key = _inputs.flatten(args, kwargs, self._arg_names)
        compiled = self._lookup(key)
        checked = False  # a trace of this call runs eager's checks itself
        if compiled is None:
            with self._lock:  # one trace per structure, even when threads race to it
                compiled = self._lookup(key)
                if compiled is None:
                    compiled, checked = self._trace(_inputs.as_numbers(numbers), key), True
        if type(numbers) is not list:  # numpy arrays among the arguments
            numbers = numbers.array() if compiled.takes_arrays else numbers.numbers()
        if compiled.checks and not checked:
            compiled.checks(numbers)
        self._last = compiled
        if not self.grad:
            loss, aux = compiled.forward(numbers)
        elif self._fused is not None:
            loss, aux = compiled.run_fused(numbers, self._fused)
        elif self.optimizer is not None:  # the same step, unfused: exactly eager's sequence
            self.optimizer.zero_grad()
            loss, aux = compiled.run(numbers)
            self.optimizer.step()
        else:
            loss, aux = compiled.run(numbers)
        if compiled.program.aux_structure is None:
            return loss
        return loss, _inputs.fill(compiled.program.aux_structure, list(aux))

    def map(self, *batches: Any) -> list[Any]:
        """``[self(*row) for row in zip(*batches)]``, computed for every row at once.

        For a forward-only step (``grad=False``): each argument is a batch (a list
        or array of alike rows), row ``r`` is item ``r`` of each. The function is
        traced on the first row only, and the program runs on all rows in one
        call (numpy), each slot holding a column of rows, so a model's outputs on
        hundreds of inputs cost one trace and a few array operations per layer
        (:mod:`~chaingrad.compiled.rows`). Returns what calls row by row return,
        with the same numbers. Rows that are not alike, or a program the row
        backend cannot run, go row by row.

        >>> from chaingrad import Value, jit
        >>> w = Value(2.0)
        >>> double = jit(lambda x: w * x, params=[w], grad=False)
        >>> double.map([1.0, 2.5, -3.0])
        [2.0, 5.0, -6.0]
        """
        if self.grad:
            raise ValueError("chaingrad.jit: map() runs forward-only steps (jit(..., grad=False))")
        numbers, key = _inputs.flatten(batches, {}, self._arg_names)
        mapped = self.map_numbers(numbers, key)
        return [self(*row) for row in zip(*batches)] if mapped is None else mapped

    def map_numbers(self, numbers: Any, key: Any) -> list[Any] | None:
        """:meth:`map` on a batch already flattened (``inputs.flatten`` of the batches);
        None where the rows must go one by one (not alike, or no row program)."""
        from . import rows as _rows

        shape = _rows.row_structure(key) if _numpy_available() else None
        if shape is None:
            return None
        row_key, count, widths = shape
        if count == 0:
            return []
        flat = numbers if type(numbers) is list else numbers.array()
        matrix = _rows.row_matrix(flat, count, widths)
        mapped = self._lookup_rows(row_key)
        if mapped is None:
            with self._lock:
                mapped = self._lookup_rows(row_key) or self._trace_rows(matrix[0], row_key)
        if mapped is None:  # the row backend cannot run this program
            return None
        self._last_rows = mapped
        if mapped.checks:
            mapped.checks(matrix)  # every row's labels at once
        try:
            losses, aux = mapped.run(matrix)
        except FloatingPointError:  # the engine decides: row by row, exactly
            return None
        structure = mapped.program.aux_structure
        if structure is None:
            result: list[Any] = losses.tolist()
            return result
        columns = [list(column) for column in zip(*(a.tolist() for a in aux))] if aux else None
        if columns is None:
            columns = [[] for _ in range(count)]
        return [
            (loss, _inputs.fill(structure, column))
            for loss, column in zip(losses.tolist(), columns)
        ]

    def keeps_state(self) -> bool:
        """Did the latest row program's trace leave state in a module (attention weights)?"""
        return self._last_rows is not None and bool(self._last_rows.assigned)

    def _lookup_rows(self, key: Any) -> Any:
        for candidate in self._rows_cache.get(key, ()):
            if candidate.holds():
                return candidate
        return None

    def _trace_rows(self, row: Any, key: Any) -> Any:
        from . import rows as _rows

        numbers = _inputs.with_ints(row.tolist(), [kind == "i" for kind in _inputs.kinds(key)])
        program, watch, traced = self.trace_program(numbers, key)
        try:
            mapped = _rows._Mapped(program, watch)
        except (ValueError, NotImplementedError):
            return None
        loss, _ = mapped.run(row[None, :])
        if not _agree(float(loss[0]), traced):
            raise RuntimeError(
                f"chaingrad.jit internal error: the row program gives {float(loss[0])!r} where "
                f"the traced step gave {traced!r} ({program!r}); please report it."
            )
        entries = self._rows_cache.setdefault(key, [])
        entries.append(mapped)
        if len(entries) > STATES_KEPT:
            del entries[0]
        return mapped

    def _lookup(self, key: Any) -> _Compiled | None:
        """The compiled program for this structure whose guards hold, if traced already."""
        for candidate in self._cache.get(key, ()):
            if candidate.holds():
                return candidate
        return None

    # --- tracing --------------------------------------------------------------------

    def _trace(self, numbers: list[Any], key: Any) -> _Compiled:
        program, watch, traced = self.trace_program(numbers, key)
        samples = _inputs.samples(key)
        backend = self._make_backend(program, samples)
        compiled = _Compiled(program, backend, watch, samples, len(numbers))
        compiled.first_randoms = [
            program.values[i] for _, ids, _ in program.random_blocks for i in ids
        ]
        _check_replay(compiled, numbers, traced)
        if key not in self._cache and len(self._cache) + 1 == RETRACE_HINT:
            _hint_padding(self, program)
        entries = self._cache.setdefault(key, [])
        entries.append(compiled)
        if len(entries) > STATES_KEPT:  # Python state that keeps changing: keep the latest
            del entries[0]
        return compiled

    def trace_program(self, numbers: list[Any], key: Any) -> tuple[Program, Watch, float]:
        """Run ``fn`` once on Values for these numbers: (its Program, the state it depends on,
        the traced loss). No backend is made (a backend compiles the program after)."""
        self.sync()  # the trace runs eagerly on the Values: they must be current
        if _is_module(self._declared):  # its parameters now (a layer may have been added)
            self._params, self._names = _declared_params(self._declared)
        is_int = [_is_int(x) for x in numbers]
        with tracing(self.fn) as trace:
            leaves = [trace.argument(x) for x in numbers]
            args, kwargs = _inputs.rebuild(key, lambda position, kind: leaves[position])
            result = self.fn(*args, **kwargs)
        check_numpy_generators(trace.generators)  # type: ignore[attr-defined]
        loss, aux_values, aux_structure = _split_result(result)
        params = self._params if self._params is not None else []
        names = self._names if self._names is not None else parameter_names(params, None)
        program = build(
            [loss, *aux_values],
            trace,
            params,
            names,
            {leaf: k for k, leaf in enumerate(leaves)},
            _inputs.leaf_names(key, list(self._arg_names)),
            is_int,
            _inputs.describe(key, list(self._arg_names)),
        )
        program.aux_structure = aux_structure
        program.grad = self.grad
        slots = {id(leaf): k for k, leaf in enumerate(leaves)}
        watch = Watch(trace, self._declared if _is_module(self._declared) else None, slots)
        return program, watch, loss.data

    def _make_backend(self, program: Program, samples: list[int | None] | None) -> Any:
        choice = self.backend
        if choice == "auto":
            # Measured: a numpy call costs microseconds whatever its size, a line of
            # Python some nanoseconds per edge; numpy wins from about 1,500 edges up.
            big = program.num_edges >= AUTO_NUMPY_EDGES
            choice = "numpy" if big and _numpy_available() else "python"
        try:
            if choice == "numpy":
                from .numpy_backend import NumpyBackend

                return NumpyBackend(program)
            from .python_backend import PythonBackend

            return PythonBackend(program, samples)
        except MemoryError:
            raise MemoryError(
                f"chaingrad.jit: not enough memory to compile the step's program of "
                f"{program.num_ops:,} ops and {program.num_edges:,} edges for the {choice} "
                "backend; compile a smaller step (fewer samples per batch, a shorter "
                "sequence) or run it eagerly"
            ) from None

    # --- inspecting -----------------------------------------------------------------

    @property
    def program(self) -> Program:
        """The program of the most recent call (trace it by calling the step first)."""
        if self._last is None:
            raise RuntimeError("chaingrad.jit: nothing traced yet; call the step once first")
        return self._last.program

    @property
    def source(self) -> str:
        """The generated code the backend runs for the most recent call."""
        if self._last is None:
            raise RuntimeError("chaingrad.jit: nothing traced yet; call the step once first")
        source: str = self._last.backend.source
        return source

    @property
    def programs(self) -> list[Program]:
        """Every traced program, one per input structure (and guard state) seen."""
        return [c.program for entries in self._cache.values() for c in entries]

    def sync(self) -> None:
        """Write the parameters (and gradients, optimizer state) back into the Values now.

        Never needed for correct numbers: the first read of a lent parameter (or of
        the optimizer's state) does it. Afterwards the Values are in charge: changes
        made to them before the next call are read by it.
        """
        if self._fused is not None and self._fused.stale:
            self._fused.write_back()

    def clear(self) -> None:
        """Forget every trace; the next call traces again (after replacing parameter Values)."""
        with self._lock:
            self._cache.clear()
            self._rows_cache.clear()
            self._last = None

    def __repr__(self) -> str:
        name = getattr(self.fn, "__name__", "fn")
        return f"<chaingrad.jit {name}: {len(self.programs)} traced, backend={self.backend!r}>"


def _hint_padding(step: Step, program: Program) -> None:
    """Say once, when a step has traced ``RETRACE_HINT`` structures, how to need one."""
    name = getattr(step.fn, "__name__", "the step")
    warnings.warn(
        f"chaingrad.jit: {name} has now traced {RETRACE_HINT} programs, one per structure of "
        f"its arguments (the latest: {program.signature}); arguments of different lengths "
        "each trace their own. Pad them to one length and mark the padding with numbers "
        "the program reads -- targets -1 with cross_entropy(..., ignore_index=-1), or "
        "length=n for RNN/LSTM/GRU -- and one program serves every length.",
        RetraceWarning,
        stacklevel=4,
    )


class RetraceWarning(UserWarning):
    """A compiled step keeps tracing new programs (arguments of many lengths)."""


def fusable(optimizer: Any) -> bool:
    """Can ``jit(..., optimizer=optimizer)`` fuse its update (numpy installed, and the
    optimizer's ``step()`` is its ``rule`` applied to every parameter: ``fusable`` says so)?"""
    return _numpy_available() and getattr(optimizer, "fusable", False) is True


def _picker(slots: list[int], count: int) -> Callable[[Any], Any]:
    """The program's inputs from a call's numbers (a list, or one float64 array)."""
    if slots == list(range(count)):  # every number used, in order: no gather
        return lambda numbers: numbers
    if not slots:
        return lambda numbers: []
    getter = operator.itemgetter(*slots)
    index: list[Any] = []  # the slots as an index array, made on the first array

    def pick(numbers: Any) -> Any:
        if type(numbers) is list:
            picked = getter(numbers)
            return [picked] if len(slots) == 1 else list(picked)
        if not index:
            import numpy as np

            index.append(np.array(slots, dtype=np.intp))
        return numbers[index[0]]

    return pick


def _check_replay(compiled: _Compiled, numbers: list[Any], traced: float) -> None:
    """The compiled program must give the traced loss on the traced numbers (a self-test)."""
    program = compiled.program
    loss, _ = _peek(compiled, numbers)
    if not _agree(loss, traced):
        raise RuntimeError(
            f"chaingrad.jit internal error: the compiled program gives {loss!r} where the "
            f"traced step gave {traced!r} ({compiled.backend.name} backend, {program!r}); "
            "please report it. Run the step without jit meanwhile."
        )


def _peek(compiled: _Compiled, numbers: list[Any]) -> tuple[float, tuple[float, ...]]:
    randoms = list(compiled.first_randoms or [])
    loss, _, aux = compiled.execute(
        list(map(_get_data, compiled.params)), compiled.pick(numbers), randoms
    )
    return loss, aux


def _agree(a: float, b: float) -> bool:
    if a != a or b != b:
        return a != a and b != b
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _is_int(x: Any) -> bool:
    return type(x) is int or (isinstance(x, numbers.Integral) and not isinstance(x, bool))


def _is_module(obj: Any) -> bool:
    return hasattr(obj, "named_parameters") and hasattr(obj, "parameters")


def _declared_params(params: Any) -> tuple[list[Value] | None, list[str] | None]:
    if params is None:
        return None, None
    if _is_module(params):
        pairs = list(params.named_parameters())
        values = [p for _, p in pairs]
        return values, parameter_names(values, {p: name for name, p in pairs})
    if isinstance(params, Value):
        params = [params]
    values = list(params)
    for i, p in enumerate(values):
        if not isinstance(p, Value):
            raise TypeError(f"chaingrad.jit: params[{i}] must be a Value, got {type(p).__name__}")
    if len(set(values)) != len(values):
        raise ValueError("chaingrad.jit: a parameter is listed twice in params")
    return values, parameter_names(values, None)


def _argument_names(fn: Callable[..., Any]) -> tuple[str, ...]:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return ()
    names = []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            names.append(parameter.name)
    return tuple(names)


def _split_result(result: Any) -> tuple[Value, list[Value], Any]:
    """(loss, aux Values, aux structure or None) from what the traced function returned."""
    if isinstance(result, Value):
        return result, [], None
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], Value):
        aux_values: list[Value] = []
        structure = _inputs.template(result[1], aux_values)
        return result[0], aux_values, structure
    raise TypeError(
        "chaingrad.jit: the function must return the loss as a Value (or a pair "
        f"(loss, extra outputs)), got {type(result).__name__}"
    )


def jit(
    fn: Callable[..., Any] | None = None,
    *,
    params: Iterable[Value] | Any = None,
    backend: str = "auto",
    optimizer: Any = None,
    sync: bool = True,
    grad: bool = True,
) -> Any:
    """Compile a training step: trace ``fn`` once, then replay it on new inputs.

    ``fn`` takes the step's inputs -- numbers, nested lists of numbers (or numpy
    arrays), ints such as class labels or token ids -- and returns the loss as a
    Value built from ``params`` and those inputs (or a pair ``(loss, outputs)``,
    where ``outputs`` is nested lists of Values returned as floats). Every number
    of the arguments is an input of the program, never a constant frozen into it.
    A numpy array of floats or ints is keyed as the nested lists it holds (a batch
    given as an array or as lists replays one program) and goes into the numpy
    backend as it is: one copy into the program's buffer, no Python numbers.

    Calling the result runs the program forward and backward, returns the loss
    as a float, and adds the gradients into ``p.grad`` of every parameter exactly
    as ``loss.backward()`` would, so any optimizer works unchanged. Values the
    function uses that are not in ``params`` are read at every call too.

    ``params`` is a Module or a list of Values (it names them in the listing);
    ``backend`` is ``"python"`` (generated straight-line code, standard library),
    ``"numpy"`` (nodes grouped into array operations and matrix products) or
    ``"auto"`` (numpy when installed and the program has 1,500 edges or more; below
    that, straight-line Python is measured faster).

    ``optimizer`` (an SGD, Adam or AdamW of ``chaingrad.nn.optim``) makes each call
    a whole training step -- ``zero_grad``, forward, backward, ``optimizer.step()``
    -- with the update fused into the compiled program's arrays (numpy backend).
    Between calls the parameters are lent to those arrays: nothing is written
    back until something reads or writes them (``p.data``, ``p.grad``,
    ``state_dict``, an eager forward pass, the optimizer's ``m``), and that
    first access writes them all back (see :mod:`chaingrad.compiled.fused`).
    ``sync`` is kept for older code: ``sync=False`` is the same now.

    ``grad=False`` compiles the forward pass only, for inference: a call returns
    the same ``loss`` (or ``(loss, outputs)``) with no backward pass run and no
    ``p.grad`` touched (no optimizer then). Call it with grad mode on (not inside
    ``no_grad()``): the first call traces the function eagerly.

    Works as ``jit(fn, params=...)`` and as a decorator ``@jit(params=...)``.
    A Python branch on a Value's number inside ``fn`` -- or on an argument
    (``y == 1``, ``table[y]``, ``y % 2``), or a draw from a random generator --
    raises :class:`~chaingrad.compiled.tracing.TracingError` naming the line.
    The Python state a trace depends on (each module's ``training`` flag and
    settings, the parameter Values its modules hold) is checked at every call:
    a change traces again. Labels are checked at every call as eager code checks
    them (``hinge_loss`` targets in {-1, +1}).

    >>> from chaingrad import Value, jit
    >>> w = Value(2.0)
    >>> step = jit(lambda x: (w * x).tanh(), params=[w])
    >>> round(step(0.5), 6), round(w.grad, 6)
    (0.761594, 0.209987)
    """
    if fn is None:
        return lambda f: Step(f, params, backend, optimizer, sync, grad)
    return Step(fn, params, backend, optimizer, sync, grad)
