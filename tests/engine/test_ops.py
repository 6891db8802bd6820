"""Walk the rule table and check every op's derivatives three ways.

1. ``forward``'s local gradients against central finite differences.
2. ``graph_grads`` (the derivative as Value operations) against ``forward``'s.
3. Values and first and second derivatives against PyTorch float64, to 1e-9.
"""

from __future__ import annotations

import random

import pytest

from chaingrad import Value, grad
from chaingrad.engine import OPS, PARAMETRIC_OPS, Op, numerical_grad
from chaingrad.engine.value import _record
from tests.helpers import close as shared_close

# For each op: a function drawing a valid input point (away from kinks and poles).
SAMPLERS = {
    "add": lambda r: [r.uniform(-3, 3), r.uniform(-3, 3)],
    "sub": lambda r: [r.uniform(-3, 3), r.uniform(-3, 3)],
    "mul": lambda r: [r.uniform(-3, 3), r.uniform(-3, 3)],
    "div": lambda r: [r.uniform(-3, 3), r.choice([-1, 1]) * r.uniform(0.5, 3)],
    "neg": lambda r: [r.uniform(-3, 3)],
    "pow": lambda r: [r.uniform(0.3, 3), r.uniform(-2.5, 2.5)],
    "exp": lambda r: [r.uniform(-3, 3)],
    "log": lambda r: [r.uniform(0.2, 5)],
    "sqrt": lambda r: [r.uniform(0.2, 5)],
    "tanh": lambda r: [r.uniform(-2, 2)],
    "sigmoid": lambda r: [r.uniform(-4, 4)],
    "relu": lambda r: [r.choice([-1, 1]) * r.uniform(0.1, 3)],
    "abs": lambda r: [r.choice([-1, 1]) * r.uniform(0.1, 3)],
    "sin": lambda r: [r.uniform(-3, 3)],
    "cos": lambda r: [r.uniform(-3, 3)],
    "sum": lambda r: [r.uniform(-3, 3) for _ in range(4)],
    "dot": lambda r: [r.uniform(-3, 3) for _ in range(6)],
    "softplus": lambda r: [r.uniform(-15, 15)],  # torch is linear above 20
    # max: distinct values, so no tie sits within a finite-difference step.
    "max": lambda r: r.sample([k + r.uniform(0.0, 0.5) for k in range(-2, 3)], 5),
    "logsumexp": lambda r: [r.uniform(-3, 3) for _ in range(4)],
    # take: an index, then the values it picks from.
    "take": lambda r: [float(r.randrange(4))] + [r.uniform(-3, 3) for _ in range(4)],
    "pow_const": lambda r: [r.uniform(0.3, 3)],
    "leaky_relu": lambda r: [r.choice([-1, 1]) * r.uniform(0.1, 3)],
}

# Constants each parametric op family is checked with.
PARAMS = {
    "pow_const": [2.0, 3.0, -1.0, 0.5, -2.5, 0.0, 1.0],
    "leaky_relu": [0.01, 0.2],
}


# Inputs that are indices, not numbers to differentiate: their derivative is 0.
INDEX_INPUTS = {"take": {0}}


def all_ops() -> list[Op]:
    ops = list(OPS.values())
    for name, factory in PARAMETRIC_OPS.items():
        ops.extend(factory(c) for c in PARAMS[name])
    return ops


OP_IDS = [f"{op.name}[{op.symbol}]" for op in all_ops()]


def apply(op: Op, values: list[Value]) -> Value:
    data, local_grads = op.forward(*[v.data for v in values])
    return _record(data, tuple(values), local_grads, op)


def test_every_op_has_a_sampler():
    names = set(OPS) | set(PARAMETRIC_OPS)
    assert names <= set(SAMPLERS), f"ops without test points: {names - set(SAMPLERS)}"
    assert set(PARAMETRIC_OPS) <= set(PARAMS)


@pytest.mark.parametrize("op", all_ops(), ids=OP_IDS)
def test_local_grads_match_finite_differences(op: Op):
    rng = random.Random(op.symbol)
    for _ in range(20):
        point = SAMPLERS[op.name](rng)
        _, local_grads = op.forward(*point)
        assert len(local_grads) == len(point)
        fixed = INDEX_INPUTS.get(op.name, set())
        free = [i for i in range(len(point)) if i not in fixed]

        def f(*vs, point=point, free=free):
            values = [Value(x) for x in point]
            for i, v in zip(free, vs):
                values[i] = v
            return apply(op, values)

        numerical = numerical_grad(f, [point[i] for i in free], eps=1e-6)
        for i, n in zip(free, numerical):
            assert local_grads[i] == pytest.approx(n, rel=1e-6, abs=1e-6), (op, point, i)
        assert all(local_grads[i] == 0.0 for i in fixed), (op, point)


@pytest.mark.parametrize("op", all_ops(), ids=OP_IDS)
def test_graph_grads_match_forward_grads(op: Op):
    rng = random.Random(op.symbol + "graph")
    for _ in range(10):
        point = SAMPLERS[op.name](rng)
        xs = [Value(x) for x in point]
        out = apply(op, xs)
        symbolic = op.graph_grads(out, *xs)
        for i, (g, expected) in enumerate(zip(symbolic, out.local_grads)):
            assert float(g) == pytest.approx(expected, rel=1e-12, abs=1e-12), (op, point, i)


def torch_fn(op: Op, torch):
    F = torch.nn.functional
    table = {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b,
        "neg": lambda a: -a,
        "pow": lambda a, b: a**b,
        "exp": torch.exp,
        "log": torch.log,
        "sqrt": torch.sqrt,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "relu": torch.relu,
        "abs": torch.abs,
        "sin": torch.sin,
        "cos": torch.cos,
        "sum": lambda *xs: torch.stack(xs).sum(),
        "dot": lambda *xs: torch.dot(
            torch.stack(xs[: len(xs) // 2]), torch.stack(xs[len(xs) // 2 :])
        ),
        "softplus": F.softplus,
        "max": lambda *xs: torch.stack(xs).max(),
        "logsumexp": lambda *xs: torch.logsumexp(torch.stack(xs), 0),
        "take": lambda i, *xs: torch.stack(xs)[int(i.item())],
        "pow_const": lambda a: a**op.param,
        "leaky_relu": lambda a: F.leaky_relu(a, op.param),
    }
    return table[op.name]


def close(a: float, b: float) -> bool:
    return shared_close(a, b, 1e-9, floor=1e-3)  # relative, down to 1e-12 absolute


@pytest.mark.parametrize("op", all_ops(), ids=OP_IDS)
def test_op_matches_torch_to_second_order(op: Op):
    torch = pytest.importorskip("torch")
    f = torch_fn(op, torch)
    rng = random.Random(op.symbol + "torch")
    for _ in range(10):
        point = SAMPLERS[op.name](rng)
        ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in point]
        t_out = f(*ts)
        t_grads = torch.autograd.grad(t_out, ts, create_graph=True, allow_unused=True)

        xs = [Value(x) for x in point]
        out = apply(op, xs)
        assert close(out.data, t_out.item()), (op, point)
        grads = grad(out, xs, create_graph=True)
        for i, (g, tg) in enumerate(zip(grads, t_grads)):
            assert close(g.data, 0.0 if tg is None else tg.item()), (op, point, i)
            # second derivatives: d/dx_j of d out/dx_i, one row of the Hessian
            if tg is None or not tg.requires_grad:
                t_row = [0.0] * len(ts)
            else:
                t_row = [
                    0.0 if h is None else h.item()
                    for h in torch.autograd.grad(tg, ts, retain_graph=True, allow_unused=True)
                ]
            row = grad(g, xs)
            for j, (h, th) in enumerate(zip(row, t_row)):
                assert close(h, th), (op, point, i, j, h, th)
