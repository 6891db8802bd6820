"""Random expression DAGs with reused nodes: chaingrad vs finite differences and PyTorch."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaingrad import Value, grad, gradcheck

# Each step combines earlier nodes (by index, so nodes are reused) with a safe op.
UNARY = ["tanh", "sigmoid", "sin", "cos", "exp_small", "log_safe", "sqrt_safe", "square", "neg"]
BINARY = ["add", "sub", "mul", "div_safe", "pow_safe", "dot3", "sum3"]

step = st.one_of(
    st.tuples(st.just("u"), st.sampled_from(UNARY), st.integers(0, 10**6)),
    st.tuples(st.just("b"), st.sampled_from(BINARY), st.integers(0, 10**6), st.integers(0, 10**6)),
)
program = st.tuples(
    st.lists(st.floats(-2.0, 2.0), min_size=1, max_size=4),
    st.lists(step, min_size=1, max_size=12),
)


def run(program, leaves, lib):
    """Evaluate the program on chaingrad Values or torch tensors."""
    _, steps = program
    nodes = list(leaves)
    if lib == "torch":
        import torch

        tanh, sig, sin, cos, exp, log, sqrt = (
            torch.tanh,
            torch.sigmoid,
            torch.sin,
            torch.cos,
            torch.exp,
            torch.log,
            torch.sqrt,
        )

        def dot3(a, b, c):
            return torch.dot(torch.stack([a, b, c]), torch.stack([c, a, b]))

        def sum3(a, b, c):
            return torch.stack([a, b, c]).sum()
    else:
        from chaingrad import dot, sum_of

        tanh, sig, sin, cos, exp, log, sqrt = (
            Value.tanh,
            Value.sigmoid,
            Value.sin,
            Value.cos,
            Value.exp,
            Value.log,
            Value.sqrt,
        )

        def dot3(a, b, c):
            return dot([a, b, c], [c, a, b])

        def sum3(a, b, c):
            return sum_of([a, b, c])

    for s in steps:
        if s[0] == "u":
            _, name, i = s
            x = nodes[i % len(nodes)]
            y = {
                "tanh": lambda: tanh(x),
                "sigmoid": lambda: sig(x),
                "sin": lambda: sin(x),
                "cos": lambda: cos(x),
                "exp_small": lambda: exp(tanh(x)),
                "log_safe": lambda: log(x * x + 0.5),
                "sqrt_safe": lambda: sqrt(x * x + 0.25),
                "square": lambda: x**2,
                "neg": lambda: -x,
            }[name]()
        else:
            _, name, i, j = s
            a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
            y = {
                "add": lambda: a + b,
                "sub": lambda: a - b,
                "mul": lambda: a * b,
                "div_safe": lambda: a / (b * b + 1.0),
                "pow_safe": lambda: (a * a + 0.5) ** tanh(b),
                "dot3": lambda: dot3(a, b, a),
                "sum3": lambda: sum3(a, b, b),
            }[name]()
        nodes.append(y)
    # combine the last two nodes so reuse reaches the output
    return nodes[-1] * 0.5 + nodes[len(nodes) // 2]


def finite(x: float) -> bool:
    return math.isfinite(x) and abs(x) < 1e6


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program)
def test_random_dags_match_finite_differences(prog):
    xs, _ = prog
    out = run(prog, [Value(x) for x in xs], "chaingrad")
    if not finite(out.data):
        return
    assert gradcheck(lambda *vs: run(prog, vs, "chaingrad"), xs, eps=1e-6, atol=1e-4, rtol=1e-4)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program)
def test_random_dags_match_torch_float64(prog):
    torch = pytest.importorskip("torch")
    xs, _ = prog
    leaves = [Value(x) for x in xs]
    out = run(prog, leaves, "chaingrad")
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    t_out = run(prog, ts, "torch")
    assert out.data == pytest.approx(t_out.item(), rel=1e-9, abs=1e-12)
    t_grads = torch.autograd.grad(t_out, ts, allow_unused=True)
    out.backward()
    for leaf, tg in zip(leaves, t_grads):
        expected = 0.0 if tg is None else tg.item()
        assert leaf.grad == pytest.approx(expected, rel=1e-9, abs=1e-9)
    # grad() without touching .grad agrees with backward()
    assert list(grad(out, leaves)) == pytest.approx([leaf.grad for leaf in leaves], rel=1e-12)
