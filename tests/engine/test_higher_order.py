"""chaingrad.grad: gradients as floats or as differentiable Values."""

from __future__ import annotations

import math

import pytest

from chaingrad import Value, grad


def test_grad_leaves_dot_grad_untouched():
    x, y = Value(2.0), Value(3.0)
    z = x * y + x
    gx, gy = grad(z, [x, y])
    assert (gx, gy) == (4.0, 2.0)
    assert x.grad == 0.0 and y.grad == 0.0


def test_single_input_gives_single_result_and_unused_input_gets_zero():
    x, unused = Value(2.0), Value(7.0)
    z = x * x
    assert grad(z, x) == 4.0
    assert grad(z, [unused]) == (0.0,)
    assert grad(z, unused, create_graph=True).data == 0.0


def test_bad_arguments_are_type_errors():
    with pytest.raises(TypeError, match="inputs\\[1\\]"):
        grad(Value(1.0), [Value(1.0), 2.0])
    with pytest.raises(TypeError, match="output"):
        grad(3.0, [Value(1.0)])


def test_second_derivative_of_a_cubic():
    x = Value(2.0)
    y = x**3 - 2 * x
    (dy,) = grad(y, [x], create_graph=True)
    assert dy.data == 10.0
    (d2y,) = grad(dy, [x], create_graph=True)
    assert d2y.data == 12.0
    (d3y,) = grad(d2y, [x])
    assert d3y == 6.0


def test_newtons_method_with_second_derivatives():
    # minimise f(x) = x**4 - 3x**2 + x, starting right of the local max
    x = Value(2.0)
    for _ in range(20):
        xv = Value(x.data)
        f = xv**4 - 3 * xv**2 + xv
        (g,) = grad(f, [xv], create_graph=True)
        (h,) = grad(g, [xv])
        x = Value(xv.data - g.data / h)
    assert 4 * x.data**3 - 6 * x.data + 1 == pytest.approx(0.0, abs=1e-12)


def test_hessian_vector_product():
    x, y = Value(0.5), Value(-1.5)
    f = (x * y).sin() + x**2 * y
    gx, gy = grad(f, [x, y], create_graph=True)
    v = (1.0, 2.0)
    hv = grad(gx * v[0] + gy * v[1], [x, y])
    # exact Hessian of sin(xy) + x^2 y
    s, c = math.sin(x.data * y.data), math.cos(x.data * y.data)
    hxx = -(y.data**2) * s + 2 * y.data
    hxy = c - x.data * y.data * s + 2 * x.data
    hyy = -(x.data**2) * s
    assert hv[0] == pytest.approx(hxx * v[0] + hxy * v[1], rel=1e-12)
    assert hv[1] == pytest.approx(hxy * v[0] + hyy * v[1], rel=1e-12)


def test_mixed_partials_and_second_derivatives_match_torch():
    torch = pytest.importorskip("torch")
    point = [0.7, -1.3, 2.1]

    def f(a, b, c, lib):
        if lib == "torch":
            head = torch.tanh(a * b) * c.exp() + (a / c) ** 2
            return head - torch.log(c) * b.sigmoid() + a.abs() ** b.abs()
        return (a * b).tanh() * c.exp() + (a / c) ** 2 - c.log() * b.sigmoid() + a.abs() ** b.abs()

    ts = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in point]
    t_out = f(*ts, lib="torch")
    t_first = torch.autograd.grad(t_out, ts, create_graph=True)
    t_hessian = [[h.item() for h in torch.autograd.grad(g, ts, retain_graph=True)] for g in t_first]

    xs = [Value(p) for p in point]
    out = f(*xs, lib="chaingrad")
    first = grad(out, xs, create_graph=True)
    hessian = [list(grad(g, xs)) for g in first]

    assert out.data == pytest.approx(t_out.item(), rel=1e-12)
    for g, tg in zip(first, t_first):
        assert g.data == pytest.approx(tg.item(), rel=1e-9)
    for row, t_row in zip(hessian, t_hessian):
        for h, th in zip(row, t_row):
            assert h == pytest.approx(th, rel=1e-9, abs=1e-12)
    # mixed partials are symmetric
    for i in range(3):
        for j in range(3):
            assert hessian[i][j] == pytest.approx(hessian[j][i], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    "make", [lambda x: x.sqrt(), lambda x: x**0.5, lambda x: x ** Value(0.5)], ids=str
)
def test_create_graph_at_zero_gives_the_same_infinite_slope_as_first_order(make):
    # d sqrt(x)/dx at 0 is +inf (first order and torch agree); building it as a
    # graph must not divide by zero.
    x = Value(0.0)
    first = grad(make(x), x)
    as_graph = grad(make(x), x, create_graph=True)
    assert first == math.inf and as_graph.data == math.inf
