"""Value construction, operators, conversions and clear errors for bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chaingrad import Constant, Value, dot, dots, logsumexp, max_of, no_grad, sum_of, take


def test_data_is_float_and_grad_starts_at_zero():
    v = Value(3)
    assert type(v.data) is float and v.data == 3.0
    assert type(v.grad) is float and v.grad == 0.0
    assert v.label == "" and v.is_leaf and v.op is None and v.parents == ()


@pytest.mark.parametrize(
    "number", [np.float64(1.5), np.float32(1.5), np.int64(2), np.int8(-3), True, 7]
)
def test_numpy_scalars_and_ints_become_floats(number):
    v = Value(number)
    assert type(v.data) is float and v.data == float(number)


@pytest.mark.parametrize("bad", ["1.0", None, [1.0], 1 + 2j, np.array([1.0, 2.0]), object()])
def test_non_real_input_is_a_type_error_naming_the_type(bad):
    with pytest.raises(TypeError, match=type(bad).__name__):
        Value(bad)


def test_operators_with_numbers_on_either_side():
    x = Value(3.0)
    cases = {
        "x + 2": (x + 2, 5.0),
        "2 + x": (2 + x, 5.0),
        "x - 2": (x - 2, 1.0),
        "2 - x": (2 - x, -1.0),
        "x * 2": (x * 2, 6.0),
        "2 * x": (2 * x, 6.0),
        "x / 2": (x / 2, 1.5),
        "2 / x": (2 / x, 2 / 3),
        "x ** 2": (x**2, 9.0),
        "2 ** x": (2**x, 8.0),
        "x ** x": (x**x, 27.0),
        "-x": (-x, -3.0),
        "+x": (+x, 3.0),
        "abs(-x)": (abs(-x), 3.0),
    }
    for name, (result, expected) in cases.items():
        assert isinstance(result, Value), name
        assert result.data == pytest.approx(expected, rel=1e-15), name


def test_numpy_scalar_on_the_left_gives_a_value():
    x = Value(3.0)
    for result in (np.float64(2.0) * x, np.float64(2.0) + x, np.int64(2) - x, np.float32(6) / x):
        assert isinstance(result, Value)
    assert (np.float64(2.0) * x).data == 6.0


def test_unsupported_operand_is_a_type_error():
    with pytest.raises(TypeError):
        Value(1.0) + "a"
    with pytest.raises(TypeError):
        "a" * Value(1.0)
    with pytest.raises(TypeError):
        Value(1.0) ** "2"


def test_parents_are_ordered_and_keep_duplicates():
    a, b = Value(2.0), Value(5.0)
    assert (a + a).parents == (a, a)
    assert (b - a).parents == (b, a)
    assert (1 - a).parents[1] is a and (1 - a).parents[0].data == 1.0
    c = a + a
    c.backward()
    assert a.grad == 2.0  # both edges count


def test_hash_and_equality_are_identity():
    a, b = Value(1.0), Value(1.0)
    assert a != b and a == a
    assert len({a, b}) == 2
    assert {a: 1}[a] == 1


def test_comparisons_look_at_data():
    a, b = Value(1.0), Value(2.0)
    assert a < b and b > a and a <= 1 and b >= 2.0 and 0 < a  # noqa: SIM300
    assert max([a, b]) is b
    with pytest.raises(TypeError, match="str"):
        a < "x"  # noqa: B015


def test_float_repr_and_label():
    v = Value(2.5, label="w")
    assert float(v) == 2.5
    assert repr(v) == "Value(data=2.5, grad=0.0, label='w')"
    assert repr(Value(-1.0)) == "Value(data=-1.0, grad=0.0)"


def test_detach_is_a_leaf_with_the_same_data():
    x = Value(2.0)
    y = (x * 3).detach()
    assert y.data == 6.0 and y.is_leaf
    z = y * x
    z.backward()
    assert x.grad == 6.0 and y.grad == 2.0


def test_micrograd_attribute_names():
    a, b = Value(2.0), Value(3.0)
    c = a * b
    assert c._prev == (a, b) and c._op == "*" and a._op == ""
    assert (a**2)._op == "**2" and a.relu()._op == "ReLU"


def test_backward_by_hand_with_underscore_backward():
    a, b = Value(2.0), Value(3.0)
    c = a * b
    c.grad = 1.0
    c._backward()
    assert (a.grad, b.grad) == (3.0, 2.0)


def test_sum_of_and_dot_are_single_nodes():
    xs = [Value(float(i)) for i in range(1, 6)]
    s = sum_of(xs)
    assert s.data == 15.0 and s.parents == tuple(xs) and s.op.name == "sum"
    ws = [Value(0.5 * i) for i in range(5)]
    d = dot(ws, xs)
    assert d.data == pytest.approx(sum(w.data * x.data for w, x in zip(ws, xs)))
    assert len(d.parents) == 10
    d.backward()
    assert [w.grad for w in ws] == [x.data for x in xs]
    assert [x.grad for x in xs] == [w.data for w in ws]
    assert sum_of([]).data == 0.0 and dot([], []).data == 0.0
    assert dot([Value(2.0)], [3]).data == 6.0  # numbers become constant leaves


def test_dot_length_mismatch_is_clear():
    with pytest.raises(ValueError, match="2 weights but 1 inputs"):
        dot([Value(1.0), Value(2.0)], [Value(1.0)])
    with pytest.raises(TypeError, match="str"):
        sum_of([Value(1.0), "x"])


@pytest.mark.parametrize(
    "make, op, operand",
    [
        (lambda: Value(0.0).log(), "log", "0.0"),
        (lambda: Value(-2.0).log(), "log", "-2.0"),
        (lambda: Value(-1.0).sqrt(), "sqrt", "-1.0"),
        (lambda: Value(0.0) ** -1, "pow", "0.0"),
        (lambda: Value(0.0) ** Value(-2.0), "pow", "0.0"),
        (lambda: Value(-8.0) ** (1 / 3), "pow", "-8.0"),
        (lambda: Value(-2.0) ** Value(0.5), "pow", "-2.0"),
        (lambda: Value(math.inf).sin(), "sin", "inf"),
        (lambda: Value(-math.inf).sin(), "sin", "-inf"),
        (lambda: Value(math.inf).cos(), "cos", "inf"),
    ],
)
def test_domain_errors_name_the_op_and_operand(make, op, operand):
    with pytest.raises(ValueError) as info:
        make()
    assert str(info.value).startswith(f"{op}:") and operand in str(info.value)


def test_division_by_zero_names_div():
    with pytest.raises(ZeroDivisionError, match="div"):
        Value(1.0) / 0


def test_negative_base_with_integer_exponent_is_fine():
    x = Value(-2.0)
    y = x**3
    y.backward()
    assert y.data == -8.0 and x.grad == 12.0


def test_exp_overflow_is_a_clear_error_naming_exp():
    with pytest.raises(OverflowError, match=r"^exp: exp\(1000\.0\)"):
        Value(1000.0).exp()


@pytest.mark.parametrize(
    "make",
    [lambda: Value(1e200) ** 2, lambda: Value(1e200) ** Value(2.0), lambda: 10 ** Value(400)],
)
def test_pow_overflow_is_a_clear_error_naming_pow(make):
    with pytest.raises(OverflowError, match=r"^pow: .* overflows a float"):
        make()


def test_a_slope_beyond_floats_is_infinite_where_the_value_is_not():
    x = Value(-1e-300)
    y = x**-1  # -1e300: a float; its slope -1 * x**-2 = -1e600 is not
    y.backward()
    assert y.data == pytest.approx(-1e300) and x.grad == -math.inf


@pytest.mark.parametrize("x", [1e6, -1e6, 1e308, -1e308, 800.0, -800.0])
def test_tanh_and_sigmoid_saturate_with_finite_gradients(x):
    for method, upper, lower in (("tanh", 1.0, -1.0), ("sigmoid", 1.0, 0.0)):
        v = Value(x)
        y = getattr(v, method)()
        y.backward()
        assert y.data == (upper if x > 0 else lower)
        assert math.isfinite(v.grad) and v.grad == 0.0


def test_sigmoid_is_accurate_for_large_negative_inputs():
    # 1/(1+exp(40)) computed naively loses nothing here, but exp(-x) for x=-800 would overflow.
    assert Value(-40.0).sigmoid().data == pytest.approx(math.exp(-40.0), rel=1e-12)


def test_sqrt_at_zero_has_an_infinite_slope():
    x = Value(0.0)
    y = x.sqrt()
    y.backward()
    assert y.data == 0.0 and x.grad == math.inf


def test_numbers_in_expressions_become_constant_leaves():
    x = Value(3.0)
    for expr in (x * 2, 2 * x, x + 1.5, 1 - x, x / 4, 2**x):
        constants = [p for p in expr.parents if p is not x]
        assert len(constants) == 1 and isinstance(constants[0], Constant)
        assert constants[0].is_leaf
    assert type(dot([x], [2.0]).parents[1]) is Constant
    assert type(x) is Value and type(x**2) is Value  # a power's exponent is not a node
    c = (x * 2).parents[1]
    y = c * x + x * c  # a Constant on either side still works and differentiates
    y.backward()
    assert x.grad == 4.0 and c.grad == 6.0


@pytest.mark.parametrize(
    "make",
    [
        lambda x: x.relu(),
        lambda x: x.leaky_relu(0.1),
        lambda x: x.abs(),
        lambda x: x.tanh(),
        lambda x: x.sigmoid(),
        lambda x: x.softplus(),
        lambda x: x.exp(),
        lambda x: x.sqrt(),
        lambda x: x.log(),
        lambda x: x**2,
        lambda x: logsumexp([x, Value(1.0)]),
    ],
)
def test_nan_propagates_through_every_op(make):
    # A nan turned into 0 would hide a diverged network; PyTorch gives nan too.
    x = Value(math.nan)
    y = make(x)
    assert math.isnan(y.data)
    y.backward()
    assert math.isnan(x.grad)


@pytest.mark.parametrize("first", [True, False])
def test_nan_wins_max_of_wherever_it_stands(first):
    x = Value(math.nan)
    others = [Value(1.0), Value(5.0)]
    m = max_of([x, *others] if first else [*others, x])
    m.backward()
    assert math.isnan(m.data) and x.grad == 1.0 and all(v.grad == 0.0 for v in others)


def test_max_of_picks_the_first_winner_and_routes_the_gradient_to_it():
    a, b, c = Value(1.0), Value(3.0), Value(3.0)
    m = max_of([a, b, c, 2])
    m.backward()
    assert m.data == 3.0 and (a.grad, b.grad, c.grad) == (0.0, 1.0, 0.0)
    assert len(m.parents) == 4
    with pytest.raises(ValueError, match="max_of"):
        max_of([])


def test_take_with_an_int_is_plain_indexing_and_with_a_value_is_a_node():
    xs = [Value(1.0), Value(2.0), 3.0]
    assert take(xs, 1) is xs[1]
    assert take(xs, 2).data == 3.0
    node = take(xs, Value(0.0))
    assert node.data == 1.0 and len(node.parents) == 4
    for bad in (Value(3.0), Value(-1.0), Value(0.5), Value(math.nan)):
        with pytest.raises(ValueError, match="take: the index must be a whole number in"):
            take(xs, bad)
    with pytest.raises(ValueError, match="out of range"):
        take(xs, 3)
    with pytest.raises(TypeError, match="take: index"):
        take(xs, 1.0)


def test_logsumexp_is_stable_and_takes_masked_scores():
    big = logsumexp([Value(1000.0), Value(1000.0)])
    assert big.data == pytest.approx(1000.0 + math.log(2.0))
    masked = [Value(0.0), Value(-math.inf)]
    out = logsumexp(masked)
    out.backward()
    assert out.data == 0.0 and [v.grad for v in masked] == [1.0, 0.0]
    for bad in ([Value(math.inf)], [Value(-math.inf)] * 2, []):
        with pytest.raises(ValueError, match="logsumexp"):
            logsumexp(bad)


def test_softplus_is_stable_at_both_ends():
    assert Value(1000.0).softplus().data == 1000.0
    assert Value(-1000.0).softplus().data == 0.0
    assert Value(0.0).softplus().data == pytest.approx(math.log(2.0))


def test_backward_seed_must_be_a_real_number():
    x = Value(2.0)
    (x * 3).backward(grad=2)
    assert x.grad == 6.0 and type(x.grad) is float
    for bad in ("1", [1.0], None):
        with pytest.raises(TypeError, match=r"backward\(grad=\.\.\.\)"):
            (x * 3).backward(grad=bad)
    with pytest.raises(TypeError, match="ndarray"):
        (x * 3).backward(grad=np.ones(2))
    assert type(x.grad) is float


def test_long_sums_do_not_keep_memory_after_their_graph_is_gone():
    import gc
    import tracemalloc

    tracemalloc.start()
    for n in range(300, 320):
        sum_of([1.0] * n * 50)  # graphs dropped at once
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert held < 1_000_000, held


# --- pickling and copying: graphs of any depth, identity kept ------------------------------


def _graph():
    a, b = Value(1.5, label="a"), Value(-0.5, label="b")
    loss = ((a * b).tanh() ** 2 + a.leaky_relu(0.3) * 2 + (a + a)).sigmoid()
    loss.label = "loss"
    loss.backward()
    return a, b, loss


def _same_graph(x, y):
    from chaingrad import toposort

    xs, ys = toposort(x), toposort(y)
    assert len(xs) == len(ys)
    index = {id(n): i for i, n in enumerate(ys)}
    for m, n in zip(xs, ys):
        assert type(m) is type(n)
        assert (m.data, m.grad, m.label, m.local_grads) == (n.data, n.grad, n.label, n.local_grads)
        assert m.op is n.op or (m.op.name, m.op.param) == (n.op.name, n.op.param)
        # Same wiring: the parents of the i-th node are at the same positions in both.
        assert [xs.index(p) for p in m.parents] == [index[id(p)] for p in n.parents]


@pytest.mark.parametrize("protocol", range(6))
def test_pickle_round_trip_keeps_the_graph(protocol):
    import pickle

    a, b, loss = _graph()
    a2, b2, loss2 = pickle.loads(pickle.dumps((a, b, loss), protocol=protocol))
    _same_graph(loss, loss2)
    assert isinstance(loss2.parents[0].parents[0].parents[1].parents[1], Constant)  # `* 2`
    # The leaves are the loaded a and b themselves, so backward reaches them.
    a2.grad = b2.grad = 0.0
    loss2.backward()
    assert (a2.grad, b2.grad) == (a.grad, b.grad)


def test_deepcopy_and_copy_keep_the_graph():
    import copy

    a, _, loss = _graph()
    a2, loss2 = copy.deepcopy([a, loss])
    _same_graph(loss, loss2)
    assert a2 is not a and a2.label == "a"
    a2.grad = 0.0
    loss2.backward()
    assert a2.grad == a.grad and a.grad != 0.0
    shallow = copy.copy(loss)
    assert shallow is not loss and shallow.parents is loss.parents and shallow.data == loss.data


def _chain(n):
    x = Value(1.0, label="x")
    y = x
    for _ in range(n):
        y = y * 1.0001
    return x, y


def test_a_deep_graph_pickles_and_deep_copies_without_recursion():
    import copy
    import pickle
    import sys

    x, y = _chain(20_000)  # 20x deeper than the recursion limit
    assert sys.getrecursionlimit() < 20_000
    x2, y2 = pickle.loads(pickle.dumps((x, y)))
    assert y2.data == y.data and y2.backward() is None and x2.grad == pytest.approx(1.0001**20_000)
    x3, y3 = copy.deepcopy((x, y))
    y3.backward()
    assert x3.grad == x2.grad and x.grad == 0.0
    # Two interleaved chains: depth everywhere, and no node on a regular stride.
    a, b = Value(1.0), Value(2.0)
    for _ in range(5_000):
        a, b = a + b * 0.5, b * 0.9 + a * 0.1
    a2, b2 = pickle.loads(pickle.dumps([a, b]))
    assert (a2.data, b2.data) == (a.data, b.data)


def test_pickling_every_state_of_a_recurrence_is_linear():
    import pickle

    h = Value(0.0)
    states = []
    for t in range(3_000):
        h = (h * 0.5 + t).tanh()
        states.append(h)
    alone = len(pickle.dumps(states[-1]))
    together = len(pickle.dumps(states))  # oldest first: each shares the previous history
    assert together < 3 * alone, (together, alone)
    loaded = pickle.loads(pickle.dumps(states))
    assert loaded[-1].parents[0].parents[0].parents[0] is loaded[-2]
    # Pickling again, or a part alone, after that is still right (nothing stale is trusted).
    for part in (states[1500], states[::-1], states):
        again = pickle.loads(pickle.dumps(part))
        again = again if isinstance(again, list) else [again]
        assert [v.data for v in again] == [
            v.data for v in (part if isinstance(part, list) else [part])
        ]


def test_graphs_pickle_in_threads_at_once():
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    chains = [_chain(3_000)[1] * k for k in range(1, 9)]
    with ThreadPoolExecutor(4) as pool:
        loaded = list(pool.map(lambda v: pickle.loads(pickle.dumps(v)), chains))
    assert [v.data for v in loaded] == [v.data for v in chains]


def test_pickle_names_an_op_outside_the_rule_table():
    import pickle

    from chaingrad import op

    @op("cube", graph_grads=lambda out, a: (3 * a * a,), symbol="**3")
    def cube(a):
        return a**3, (3 * a * a,)

    x = Value(2.0)
    y = cube(x)
    with pytest.raises(pickle.PicklingError, match="op 'cube'"):
        pickle.dumps(y)
    good = pickle.dumps(x.tanh(), protocol=0)  # text: the op name can be edited in place
    with pytest.raises(pickle.UnpicklingError, match="op 'tanh_v2'"):
        pickle.loads(good.replace(b"Vtanh\n", b"Vtanh_v2\n"))


def test_dots_makes_exactly_the_nodes_of_dot():
    rows = [[Value(0.5), Value(-2.0), 3], [Value(1.5), 0.25, Value(-1.0)]]
    x = [Value(0.1), 2.0, Value(-0.3)]
    ys = dots(rows, x)
    expected = [dot(row, x) for row in rows]
    for y, e in zip(ys, expected):
        assert y.data == e.data and y.op is e.op and y.local_grads == e.local_grads
        assert [type(p) for p in y.parents] == [type(p) for p in e.parents]
        assert y.parents[3] is x[0] and y.parents[5] is x[2]  # the inputs' own Values
    # The numbers in x become one Constant shared by every row.
    assert ys[0].parents[4] is ys[1].parents[4]
    sum_of(ys).backward()
    assert x[0].grad == 0.5 + 1.5 and rows[0][0].grad == 0.1
    assert dots([], x) == [] and [y.data for y in dots([[], []], [])] == [0.0, 0.0]
    with pytest.raises(ValueError, match="dots: got a row of 2 weights for 3 inputs"):
        dots([[1.0, 2.0]], x)
    # Rows may be any iterables (generators too); a non-number in any row is named.
    lazy = dots((iter(row) for row in rows), x)
    assert [y.data for y in lazy] == [e.data for e in expected]
    with pytest.raises(TypeError, match="dots"):
        dots([[1.0, 2.0, 3.0], [1.0, "2", 3.0]], x)
    with no_grad():
        assert all(y.is_leaf for y in dots(rows, x))
