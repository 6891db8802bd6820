"""An op defined from outside the package with ``chaingrad.op`` works everywhere.

softsign is written exactly as a learner would write it in a notebook; the
tests check it eagerly (finite differences to second order, PyTorch float64),
in both compiled backends against eager, in a drawing and in a caption.
"""

from __future__ import annotations

import gc
import math
import pickle
import random

import pytest

from chaingrad import Value, grad, gradcheck, jit, no_grad, op, sum_of
from chaingrad.engine import Op


@op("softsign", graph_grads=lambda out, x: (1 / (1 + abs(x)) ** 2,))
def softsign(x):  # forward on floats: the result and its local gradient
    d = 1.0 + abs(x)
    return x / d, (1.0 / (d * d),)


@op("scaled_tanh", graph_grads=lambda out, x, *, k: (k * (1 - (out / k) ** 2),), symbol="{k}·tanh")
def scaled_tanh(x, *, k=2.0):  # a constant of the op: one Op per k
    t = math.tanh(x)
    return k * t, (k * (1.0 - t * t),)


@op("hypot", graph_grads=lambda out, x, y: (x / out, y / out))
def hypot(x, y):
    h = math.hypot(x, y)
    return h, (x / h, y / h)


@op("mean", graph_grads="constant")
def mean(*xs):  # any number of inputs
    n = len(xs)
    return sum(xs) / n, (1.0 / n,) * n


POINTS = [-3.0, -1.2, -0.5, -0.01, 0.3, 0.5, 2.0, 7.5]


def exact_softsign(x: float) -> float:
    return x / (1.0 + abs(x))


def central(f, x: float, eps: float = 1e-5) -> float:
    return (f(x + eps) - f(x - eps)) / (2.0 * eps)


def test_the_decorated_name_makes_a_value_with_the_op_recorded():
    x = Value(0.5)
    y = softsign(x)
    assert isinstance(y, Value) and isinstance(softsign, Op)
    assert y.op is softsign and y.parents == (x,)
    assert y.data == pytest.approx(1 / 3, abs=1e-15)
    assert y.local_grads == pytest.approx((4 / 9,), abs=1e-15)
    assert softsign.arity == 1 and softsign.symbol == "softsign"
    assert softsign.forward(0.5) == (0.5 / 1.5, (1.0 / 2.25,))
    # numbers are accepted as inputs, as for any op
    assert softsign(0.5).data == y.data


@pytest.mark.parametrize("x", POINTS)
def test_first_and_second_derivatives_against_finite_differences(x):
    v = Value(x)
    y = softsign(v)
    y.backward()
    assert v.grad == pytest.approx(central(exact_softsign, x), rel=1e-8, abs=1e-9)
    # second order: grad of the gradient graph, against differences of the first derivative
    dy = grad(softsign(v), v, create_graph=True)
    d2 = grad(dy, v)
    assert d2 == pytest.approx(central(_first, x), rel=1e-6, abs=1e-7)
    assert gradcheck(lambda a: softsign(a * a - 0.3), [x])


def _first(t: float) -> float:
    leaf = Value(t)
    return grad(softsign(leaf), leaf)


def test_against_torch_float64_to_second_order():
    torch = pytest.importorskip("torch")
    for x in POINTS:
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        out = torch.nn.functional.softsign(t)
        (d1,) = torch.autograd.grad(out, t, create_graph=True)
        (d2,) = torch.autograd.grad(d1, t)
        v = Value(x)
        y = softsign(v)
        g1 = grad(y, v, create_graph=True)
        assert y.data == pytest.approx(out.item(), abs=1e-15)
        assert g1.data == pytest.approx(d1.item(), rel=1e-12, abs=1e-15)
        assert grad(g1, v) == pytest.approx(d2.item(), rel=1e-10, abs=1e-12)


def test_two_input_and_parametric_user_ops():
    assert gradcheck(lambda a, b: hypot(a * 2, b - 1), [0.7, -1.3])
    a, b = Value(3.0), Value(4.0)
    h = hypot(a, b)
    assert h.data == 5.0 and grad(h, [a, b]) == pytest.approx((0.6, 0.8))
    hessian_row = grad(grad(h, a, create_graph=True), [a, b])
    assert hessian_row == pytest.approx((16 / 125, -12 / 125))  # y^2/r^3, -xy/r^3
    y = scaled_tanh(Value(0.4), k=3.0)
    assert y.op is scaled_tanh.bind(k=3.0) and y.op.family is scaled_tanh
    assert y.op.param == 3.0 and y.op.symbol == "3·tanh"
    assert scaled_tanh(Value(0.4)).op.param == 2.0  # the forward's default
    assert gradcheck(lambda x: scaled_tanh(x, k=0.5) * x, [0.8])
    x = Value(0.8)
    d = grad(scaled_tanh(x, k=0.5), x, create_graph=True)
    assert grad(d, x) == pytest.approx(central(lambda t: 0.5 * (1 - math.tanh(t) ** 2), 0.8))


def test_mistakes_in_a_user_op_are_named():
    with pytest.raises(TypeError, match=r"softsign\(\) takes 1 input, got 2"):
        softsign(Value(1.0), Value(2.0))

    @op("broken")
    def broken(x):
        return x, ()  # no local derivative

    with pytest.raises(ValueError, match=r"op 'broken'.*0 local derivatives for 1 inputs"):
        broken(Value(1.0))

    @op("bare")
    def bare(x):
        return 2 * x  # forgot the local derivatives

    with pytest.raises(TypeError, match=r"op 'bare': the forward must return"):
        bare(Value(1.0))
    with pytest.raises(ValueError, match="identifier"):
        op("soft sign")
    with pytest.raises(TypeError, match="graph_grads"):
        op("softsign", graph_grads=3)


def test_without_graph_grads_first_order_works_and_second_order_says_what_is_missing():
    @op("cube")
    def cube(x):
        return x**3, (3 * x * x,)

    x = Value(2.0)
    y = cube(x)
    y.backward()
    assert x.grad == 12.0
    with pytest.raises(TypeError, match=r"op 'cube' has no graph_grads.*chaingrad.op"):
        grad(cube(x), x, create_graph=True)


def test_no_grad_and_no_reference_cycles():
    with no_grad():
        y = softsign(Value(0.5))
    assert y.is_leaf
    gc.collect()
    gc.disable()
    try:
        z = softsign(softsign(Value(0.5)) * hypot(Value(1.0), 2.0))
        z.backward()
        del z
        assert gc.collect() == 0  # freed by reference counting alone: no cycle per node
    finally:
        gc.enable()


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_compiled_backends_equal_eager(backend):
    if backend == "numpy":
        pytest.importorskip("numpy")
    rng = random.Random(5)
    ws = [Value(rng.uniform(-1, 1), label=f"w{k}") for k in range(3)]

    def loss(xs):
        # softsign, the two-input op and the parametric one, mixed with built-ins
        terms = [softsign(w * x + 0.1) for w, x in zip(ws, xs)]
        tail = hypot(ws[0], ws[1]) + scaled_tanh(ws[2] * xs[0], k=1.5) ** 2
        return sum_of(terms) + tail * mean(ws[0], xs[1], ws[2] * ws[1])

    step = jit(loss, params=ws, backend=backend)
    for _ in range(4):
        xs = [rng.uniform(-2, 2) for _ in range(3)]
        for w in ws:
            w.grad = 0.0
        compiled = step(xs)
        compiled_grads = [w.grad for w in ws]
        for w in ws:
            w.grad = 0.0
        eager = loss(xs)
        eager.backward()
        assert compiled == pytest.approx(eager.data, abs=1e-10, rel=1e-10)
        for g, w in zip(compiled_grads, ws):
            assert g == pytest.approx(w.grad, abs=1e-10, rel=1e-10)
    assert "softsign" in str(step.program)


def test_compiled_batch_of_samples_with_a_user_op():
    # many samples running the same code: the python backend's loop template, numpy's groups
    pytest.importorskip("numpy")
    w, b = Value(0.7), Value(-0.2)

    def loss(xs):
        return sum_of([softsign(w * x + b) ** 2 for x in xs])

    for backend in ("python", "numpy"):
        step = jit(loss, params=[w, b], backend=backend)
        xs = [0.1 * k - 1.0 for k in range(20)]
        w.grad = b.grad = 0.0
        value = step(xs)
        got = (w.grad, b.grad)
        w.grad = b.grad = 0.0
        eager = loss(xs)
        eager.backward()
        assert value == pytest.approx(eager.data, abs=1e-10)
        assert got == pytest.approx((w.grad, b.grad), abs=1e-10)


def test_drawing_shows_the_symbol_and_the_caption_is_derived_from_graph_grads():
    pytest.importorskip("graphviz")
    from chaingrad.viz import backprop_steps, draw_dot

    x = Value(0.5, label="x")
    y = softsign(x)
    y.label = "y"
    assert 'label="softsign"' in draw_dot(y).source
    (step,) = backprop_steps(y)
    assert step.rule == "d softsign(x)/dx = 1/(1 + |x|)² = 1/(1 + |0.5|)² = 0.4444"
    # the rule's number is the engine's local derivative
    assert float(step.rule.rsplit("= ", 1)[1]) == pytest.approx(4 / 9, abs=1e-4)


def test_caption_templates_and_a_fallback_for_what_cannot_be_written():
    from chaingrad.viz import backprop_steps

    @op("cube", graph_grads=lambda out, x: (3 * x * x,), caption="3·{x}²")
    def cube(x):
        return x**3, (3 * x * x,)

    @op("step_fn", graph_grads=lambda out, x: (1.0 if x.data > 0 else 0.0,))
    def step_fn(x):
        return max(x, 0.0), (1.0 if x > 0 else 0.0,)

    x = Value(-0.5, label="x")
    rule = "d cube(x)/dx = 3·x² = 3·(\N{MINUS SIGN}0.5)² = 0.75"
    assert backprop_steps(cube(x))[0].rule == rule
    assert backprop_steps(step_fn(x))[0].rule == "d step_fn(x)/dx = 0"


def test_pickling_a_user_op_is_refused_clearly():
    with pytest.raises(pickle.PicklingError, match="op 'softsign'"):
        pickle.dumps(softsign(Value(0.5)))


def test_the_engines_own_ops_are_made_the_same_way():
    from chaingrad.engine import OPS, PARAMETRIC_OPS

    for built_in in [*OPS.values(), *PARAMETRIC_OPS.values()]:
        assert type(built_in) is Op and callable(built_in.__wrapped__)
        assert built_in.graph_grads == "constant" or callable(built_in.graph_grads)
    assert OPS["tanh"](Value(0.5)).data == Value(0.5).tanh().data


def test_backends_find_faster_rules_by_op_and_the_generic_rule_for_any_other():
    pytest.importorskip("numpy")
    from chaingrad.compiled import numpy_backend, python_backend
    from chaingrad.engine import OPS, PARAMETRIC_OPS

    for backend in (python_backend, numpy_backend):
        assert backend.rule_for(softsign) is backend.GENERIC
        assert backend.rule_for(OPS["tanh"]) is backend.RULES[OPS["tanh"]]
        # a family's rule serves each of its constants
        square = PARAMETRIC_OPS["pow_const"].bind(2.0)
        assert backend.rule_for(square) is not backend.GENERIC

    # an op named like a built-in is not taken for it: rules are keyed by op, not by name
    @op("tanh")
    def my_tanh(x):
        t = math.tanh(x)
        return t, (1 - t * t,)

    assert python_backend.rule_for(my_tanh) is python_backend.GENERIC
