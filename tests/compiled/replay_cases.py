"""Step functions from the classes that once replayed wrong numbers, and the check of a replay.

Each class makes, from a seed, a step function, its parameters and a few
calls (with edits between them). :func:`run_case` calls the compiled step
and the eager function on the same inputs, call after call, on one backend,
and returns None when the compiled step did what it must -- the same loss
and every gradient to 1e-10, or ``TracingError`` where the case reads an
argument in Python (``expect="refuse"``), or eager's own error where eager
raises -- else a sentence saying what went wrong.

Only the public API is used, so the same cases run against older versions
(``python tests/compiled/replay_cases.py`` counts failures per class).
"""

from __future__ import annotations

import copy
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chaingrad import TracingError, Value, jit, nn, take
from chaingrad.nn import functional as F

TOL = 1e-10


@dataclass
class Case:
    name: str
    fn: Callable[..., Any]  # the step: returns the loss Value
    params: list[Value]
    calls: list[tuple[Any, ...]]
    expect: str = "equal"  # or "refuse": the trace must raise TracingError
    edits: list[Callable[[], None] | None] = field(default_factory=list)  # before each call
    jit_params: Any = None  # what jit gets as params= (default: the list)
    optimizer: Callable[[list[Value]], Any] | None = None  # fused optimizer factory
    twin: Callable[[], Case] | None = None  # the same case on fresh Values (optimizer cases)


def _close(a: float, b: float) -> bool:
    if a != a or b != b:
        return a != a and b != b
    return abs(a - b) <= TOL * max(1.0, abs(a), abs(b))


# --- branches on arguments -----------------------------------------------------------

_BRANCHES: dict[str, tuple[str, Callable[[Any, Value, Value], Value]]] = {
    "==": ("refuse", lambda y, a, b: a if y == 1 else b),
    "!=": ("refuse", lambda y, a, b: a if y != 0 else b),
    "in tuple": ("refuse", lambda y, a, b: a if y in (1, 2) else b),
    "in set": ("refuse", lambda y, a, b: a if y in {1, 2} else b),
    "dict key": ("refuse", lambda y, a, b: {0: b, 1: a, 2: a * 2.0}[y]),
    "dict get": ("refuse", lambda y, a, b: {1: a}.get(y, b)),
    "isinstance": ("equal", lambda y, a, b: a if isinstance(y, int) else b),
    "%": ("refuse", lambda y, a, b: a * (y % 2)),
    "//": ("refuse", lambda y, a, b: a * (y // 2)),
    "bool": ("refuse", lambda y, a, b: a if y else b),
    "<": ("refuse", lambda y, a, b: a if y < 1 else b),
    "list index": ("refuse", lambda y, a, b: [b, a, a * 3.0][y]),
    "int()": ("refuse", lambda y, a, b: a * int(y)),
    "take": ("equal", lambda y, a, b: take([b, a, a * 3.0], y)),
    "arithmetic": ("equal", lambda y, a, b: a * y + b * (1 - y)),
}


def branch_case(seed: int) -> Case:
    rng = random.Random(seed)
    kind = rng.choice(sorted(_BRANCHES))
    expect, choose = _BRANCHES[kind]
    w, v = Value(rng.uniform(-1, 1), label="w"), Value(rng.uniform(-1, 1), label="v")
    as_float = kind == "isinstance" and rng.random() < 0.5

    def step(x: Any, y: Any) -> Value:
        return (choose(y, (w * x).tanh(), v * x) + w * v) ** 2

    calls = []
    for _ in range(4):
        y = rng.choice([0, 1, 2])
        calls.append((rng.uniform(-2, 2), float(y) if as_float else y))
    return Case(f"branch {kind}", step, [w, v], calls, expect)


# --- module state edited between calls -----------------------------------------------


class _Gate(nn.Module):
    """A custom module that branches on its training flag."""

    def __init__(self, rng: random.Random) -> None:
        self.scale = Value(rng.uniform(0.5, 1.5))
        self.factor = 2.0

    def forward(self, xs: list[Value]) -> list[Value]:
        if self.training:
            return [x * self.scale for x in xs]
        return [x * self.scale * self.factor for x in xs]


class _Stack(nn.Module):
    def __init__(self, rng: random.Random) -> None:
        self.gate = _Gate(rng)
        self.layers = [nn.Linear(2, 2), nn.Linear(2, 1)]
        for p in self.layers[0].parameters() + self.layers[1].parameters():
            p.data = rng.uniform(-1, 1)

    def forward(self, x: list[Any]) -> Value:
        h = self.gate(list(x))
        for layer in self.layers:
            h = [t.tanh() for t in layer(h)]
        return h[0]


def module_case(seed: int) -> Case:
    rng = random.Random(seed)
    model = _Stack(rng)

    def step(x: Any) -> Value:
        return (model(x) - 0.5) ** 2

    def edit() -> None:
        what = rng.choice(["eval", "train", "replace", "append", "factor", "none"])
        if what == "eval":
            model.eval()
        elif what == "train":
            model.train()
        elif what == "replace":
            model.gate.scale = Value(rng.uniform(0.5, 1.5))
        elif what == "append":
            extra = nn.Linear(1, 1)
            for p in extra.parameters():
                p.data = rng.uniform(-1, 1)
            model.layers.append(extra)
        elif what == "factor":
            model.gate.factor = rng.choice([0.5, 3.0])

    calls = [([rng.uniform(-1, 1), rng.uniform(-1, 1)],) for _ in range(5)]
    edits: list[Callable[[], None] | None] = [None] + [edit] * 4

    def params() -> list[Value]:
        return model.parameters()

    case = Case("module edits", step, [], calls, "equal", edits, jit_params=model)
    case.params = params  # type: ignore[assignment]  # read at each call: edits add some
    return case


# --- numbers of other dtypes -------------------------------------------------------------


def dtype_case(seed: int) -> Case:
    import numpy as np

    rng = random.Random(seed)
    kind = rng.choice(["float16", "float32", "float64", "int64", "array32"])
    w, v = Value(rng.uniform(-1, 1)), Value(rng.uniform(-1, 1))

    def step(x: Any, y: Any) -> Value:
        xs = [x[0], x[1]] if kind == "array32" else [x]
        return sum(((w * xi + v * y).tanh() for xi in xs), Value(0.0)) * (w + 0.3)

    calls = []
    for _ in range(3):
        a, b = rng.uniform(-2, 2), rng.uniform(-2, 2)
        if kind == "array32":
            calls.append((np.array([a, b], dtype=np.float32), np.float32(b)))
        elif kind == "int64":
            calls.append((np.float64(a), np.int64(rng.choice([1, 2, 3]))))
        else:
            calls.append((getattr(np, kind)(a), getattr(np, kind)(b)))
    return Case(f"dtype {kind}", step, [w, v], calls)


# --- random generators read inside the step ------------------------------------------------


def generator_case(seed: int) -> Case:
    import numpy as np

    rng = random.Random(seed)
    kind = rng.choice(["Random", "Generator", "RandomState", "outside"])
    w = Value(rng.uniform(-1, 1))
    source: Any = {
        "Random": random.Random(seed),
        "Generator": np.random.default_rng(seed),
        "RandomState": np.random.RandomState(seed),
        "outside": None,
    }[kind]

    def noise() -> float:
        if kind == "Random":
            return source.gauss(0.0, 1.0)
        if kind == "Generator":
            return float(source.normal())
        return float(source.randn())

    if kind == "outside":

        def step(x: Any, jitter: Any) -> Value:
            return (w * (x + jitter)).tanh()

        calls = [(rng.uniform(-1, 1), rng.gauss(0, 1)) for _ in range(3)]
        return Case("generator passed in", step, [w], calls)

    def step(x: Any) -> Value:  # type: ignore[misc]
        return (w * (x + noise())).tanh()

    return Case(f"generator {kind}", step, [w], [(rng.uniform(-1, 1),) for _ in range(3)], "refuse")


# --- labels that eager mode checks -----------------------------------------------------------


def label_case(seed: int) -> Case:
    rng = random.Random(seed)
    kind = rng.choice(["hinge", "cross_entropy"])
    w = [Value(rng.uniform(-1, 1)) for _ in range(3)]

    if kind == "hinge":

        def step(x: Any, y: Any) -> Value:
            return F.hinge_loss([w[0] * x + w[1]], [y])

        labels = [-1, 1, 0, 2, -1, 1]
    else:

        def step(x: Any, y: Any) -> Value:  # type: ignore[misc]
            return F.cross_entropy([w[0] * x, w[1] * x, w[2]], y)

        labels = [0, 1, 2, 1.0, 2.0, 3]
    calls = [(rng.uniform(-2, 2), rng.choice(labels)) for _ in range(4)]
    return Case(f"labels {kind}", step, w, calls)


# --- optimizer state edited between calls -------------------------------------------------------


def optimizer_case(seed: int) -> Case:
    from chaingrad.nn.optim import SGD, Adam

    def make() -> Case:
        rng = random.Random(seed)
        kind = rng.choice(["Adam", "SGD"])
        w, v = Value(rng.uniform(-1, 1)), Value(rng.uniform(-1, 1))

        def step(x: Any, y: Any) -> Value:
            return (w * x + v - y) ** 2

        holder: dict[str, Any] = {}

        def optimizer(params: list[Value]) -> Any:
            opt = Adam(params, lr=0.1) if kind == "Adam" else SGD(params, lr=0.1, momentum=0.9)
            holder["opt"] = opt
            return opt

        def edit() -> None:
            opt = holder["opt"]
            what = rng.choice(["reset", "reset in place", "lr", "none"])
            names = ("m", "v") if kind == "Adam" else ("velocity",)
            if what == "reset":
                for name in names:
                    setattr(opt, name, [0.0] * len(opt.params))
            elif what == "reset in place":
                for name in names:
                    getattr(opt, name)[0] = 0.0
            elif what == "lr":
                opt.lr = 0.05

        calls = [(rng.uniform(-1, 1), rng.uniform(-1, 1)) for _ in range(5)]
        edits: list[Callable[[], None] | None] = [None] + [edit] * 4
        return Case(f"optimizer {kind}", step, [w, v], calls, "equal", edits, optimizer=optimizer)

    case = make()
    case.twin = make
    return case


CLASSES: dict[str, Callable[[int], Case]] = {
    "branches on arguments": branch_case,
    "module edits between calls": module_case,
    "dtypes": dtype_case,
    "generators": generator_case,
    "label checks": label_case,
    "optimizer state edits": optimizer_case,
}


# --- running a case ----------------------------------------------------------------------------


def _params(case: Case) -> list[Value]:
    params = case.params
    return params() if callable(params) else list(params)  # type: ignore[operator]


def _eager(case: Case, args: tuple[Any, ...]) -> tuple[BaseException | None, float, list[float]]:
    for p in _params(case):
        p.grad = 0.0
    try:
        loss = case.fn(*args)
        loss.backward()
    except TracingError:
        raise
    except Exception as error:
        return error, 0.0, []
    return None, loss.data, [p.grad for p in _params(case)]


def run_case(case: Case, backend: str) -> str | None:
    """None if the compiled step matched eager (or refused as it must), else what went wrong."""
    if case.optimizer is not None:
        return _run_optimizer_case(case, backend)
    step = jit(case.fn, params=case.jit_params or list(case.params), backend=backend)  # type: ignore[arg-type]
    move = random.Random(len(case.calls))
    for k, args in enumerate(case.calls):
        edit = case.edits[k] if k < len(case.edits) else None
        if edit is not None:
            edit()
        params = _params(case)
        for p in params:
            p.grad = 0.0
        try:
            compiled = step(*copy.deepcopy(args))
            error: BaseException | None = None
        except Exception as caught:
            error = caught
        grads = [p.grad for p in params]
        if case.expect == "refuse":
            if isinstance(error, TracingError):
                return None
            got = repr(error) if error is not None else f"a loss of {compiled!r}"
            return f"call {k}: expected TracingError, got {got}"
        eager_error, loss, eager_grads = _eager(case, args)
        if eager_error is not None:
            if type(error) is not type(eager_error):
                return f"call {k}: eager raised {eager_error!r}, compiled {error!r}"
            continue
        if error is not None:
            return f"call {k}: eager gave {loss}, compiled raised {error!r}"
        if not isinstance(compiled, float) or not _close(compiled, loss):
            return f"call {k}: loss {compiled!r} ({type(compiled).__name__}) vs eager {loss!r}"
        for i, (g, e) in enumerate(zip(grads, eager_grads)):
            if type(g) is not float or not _close(g, e):
                return f"call {k}: grad {i} {g!r} ({type(g).__name__}) vs eager {e!r}"
        for p in params:
            p.data += 0.05 * move.uniform(-1, 1)
    return None


def _run_optimizer_case(case: Case, backend: str) -> str | None:
    assert case.twin is not None and case.optimizer is not None
    twin = case.twin()
    assert twin.optimizer is not None
    opt = case.optimizer(list(case.params))
    eager_opt = twin.optimizer(list(twin.params))
    step = jit(case.fn, params=list(case.params), optimizer=opt, backend=backend)
    for k, args in enumerate(case.calls):
        for c in (case, twin):
            edit = c.edits[k] if k < len(c.edits) else None
            if edit is not None:
                edit()
        compiled = step(*args)
        eager_opt.zero_grad()
        loss = twin.fn(*args)
        loss.backward()
        eager_opt.step()
        if not _close(compiled, loss.data):
            return f"call {k}: loss {compiled!r} vs eager {loss.data!r}"
        for i, (p, q) in enumerate(zip(case.params, twin.params)):
            if not (_close(p.data, q.data) and _close(p.grad, q.grad)):
                return f"call {k}: param {i} {p.data!r}/{p.grad!r} vs eager {q.data!r}/{q.grad!r}"
    return None


def main(count: int) -> None:
    """Run ``count`` seeds of every class on both backends; print cases and failures per class."""
    total_failed = 0
    for name, make in CLASSES.items():
        failed = 0
        examples = []
        for seed in range(count):
            for backend in ("python", "numpy"):
                try:
                    problem = run_case(make(seed), backend)
                except Exception as error:
                    problem = f"crashed: {error!r}"
                if problem is not None:
                    failed += 1
                    if len(examples) < 2:
                        examples.append(f"{make(seed).name} [{backend}]: {problem[:150]}")
        total_failed += failed
        print(f"{name}: {2 * count} cases, {failed} failed")
        for example in examples:
            print(f"    e.g. {example}")
    print(f"total failed: {total_failed}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
