"""What a trace refuses (with the line that did it), and that Value is untouched outside traces."""

from __future__ import annotations

import math
import threading

import pytest

from chaingrad import TracingError, Value, grad, jit, max_of, no_grad
from chaingrad.compiled.tracing import is_tracing, tracing
from chaingrad.nn import functional as F

w = Value(0.5, label="w")


def _trace_error(fn, *args):
    with pytest.raises(TracingError) as info:
        jit(fn, params=[w])(*args)
    return str(info.value)


def branch_on_data(x):
    y = w * x
    if y.data > 0:  # the offending line
        return y
    return -y


def branch_on_bool(x):
    y = w * x
    return y if y else -y  # the offending line


def compare(x):
    y = w * x
    return y if y > 0 else -y  # the offending line


def python_max(x):
    return max(w * x, w)  # the offending line


def to_float(x):
    return w * math.exp(w * x)  # the offending line


def to_int(x):
    return w * int(w * x)  # the offending line


def to_round(x):
    return w * round(w * x)  # the offending line


def as_index(k):
    return [w, w * 2][k]  # the offending line


def detached(x):
    return (w * x).detach() * w  # the offending line (inside Value.detach)


def under_no_grad(x):
    with no_grad():
        y = w * x  # the offending line
    return y * w


def calls_backward(x):
    y = w * x
    y.backward()  # the offending line (inside the engine's backward)
    return y


def calls_grad(x):
    return w * grad(w * x, w)  # the offending line


def writes_data(x):
    w.data = 3.0  # the offending line
    return w * x


def reads_grad(x):
    return w * (x + w.grad)  # the offending line


REFUSED = [
    (branch_on_data, "a read of Value.data", "if y.data > 0"),
    (branch_on_bool, "bool(v)", "return y if y else -y"),
    (compare, "comparison of Values (>)", "return y if y > 0 else -y"),
    (python_max, "comparison of Values", "return max(w * x, w)"),
    (to_float, "float(v)", "math.exp(w * x)"),
    (to_int, "int(v)", "w * int(w * x)"),
    (to_round, "round(v)", "w * round(w * x)"),
    (detached, "v.detach()", "(w * x).detach() * w"),
    (under_no_grad, "under no_grad()", "y = w * x"),
    (calls_backward, "backward()", "y.backward()"),
    (calls_grad, "inside the step (backward, grad)", "w * grad(w * x, w)"),
    (writes_data, "a write to Value.data", "w.data = 3.0"),
    (reads_grad, "a read of Value.grad", "w * (x + w.grad)"),
]


@pytest.mark.parametrize(("fn", "what", "line"), REFUSED, ids=[r[0].__name__ for r in REFUSED])
def test_each_number_read_is_refused_naming_the_users_line(fn, what, line):
    message = _trace_error(fn, 1.0)
    assert what in message
    assert "test_tracing.py:" in message  # the user's file and line, even from inside chaingrad
    assert line in message
    assert w.data == 0.5 or fn is writes_data


def test_a_value_used_as_an_index_is_refused():
    message = _trace_error(as_index, 1)
    assert "index" in message and "[w, w * 2][k]" in message


def test_a_value_computed_before_the_trace_is_refused():
    before = w * 2.0
    with pytest.raises(TracingError, match="computed before the trace"):
        jit(lambda x: before * x, params=[w])(1.0)


def test_library_reads_are_named_with_the_library_line_and_the_users_call():
    def step(x, t):
        return F.binary_cross_entropy(F.sigmoid(w * x), t)  # the user's call

    with pytest.raises(TracingError) as info:
        jit(step, params=[w])(1.0, 1.0)
    assert "binary_cross_entropy_with_logits" in str(info.value)


def test_value_is_restored_after_a_trace_and_after_a_failed_one():
    slots = {name: Value.__dict__[name] for name in ("data", "grad", "_local_grads")}
    methods = {name: Value.__dict__.get(name) for name in ("__float__", "__lt__", "__bool__")}
    jit(lambda x: w * x, params=[w])(1.0)
    with pytest.raises(TracingError):
        jit(branch_on_data, params=[w])(1.0)
    assert {name: Value.__dict__[name] for name in slots} == slots
    assert {name: Value.__dict__.get(name) for name in methods} == methods
    assert not hasattr(Value, "__index__") and not hasattr(Value, "__int__")
    assert not is_tracing()
    v = Value(-1.0)
    assert bool(v) and v < 0 and float(v) == -1.0  # eager behaviour unchanged
    with pytest.raises(TypeError):
        int(v)


def test_other_threads_keep_eager_behaviour_while_a_trace_runs():
    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def other_thread():
        inside.wait(5)
        v = Value(2.0) * 3
        seen["data"] = v.data
        seen["compare"] = v > 1
        seen["bool"] = bool(v)
        seen["float"] = float(v)
        try:
            [0, 1][v]
        except TypeError as error:
            seen["index"] = type(error)
        release.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with tracing():
        inside.set()
        assert release.wait(5)
    thread.join()
    assert seen == {"data": 6.0, "compare": True, "bool": True, "float": 6.0, "index": TypeError}


def test_printing_and_max_of_are_fine_while_tracing(capsys):
    def step(x):
        y = max_of([w * x, w])  # max as an op: replayed correctly
        print(y)  # shows the traced numbers, once
        return y

    compiled = jit(step, params=[w])
    assert compiled(3.0) == 1.5
    assert compiled(-3.0) == 0.5
    assert capsys.readouterr().out.count("Value(") == 1


def test_drawing_from_global_random_generators_is_refused():
    import random

    def jitter(x):
        return w * (x + random.gauss(0.0, 0.1))  # the offending line

    message = _trace_error(jitter, 1.0)
    assert "random.gauss()" in message and "random.gauss(0.0, 0.1)" in message
    assert 0.0 <= random.random() < 1.0  # restored after the trace

    np = pytest.importorskip("numpy")

    def noise(x):
        return w * (x + float(np.random.uniform()))  # the offending line

    assert "numpy.random.uniform()" in _trace_error(noise, 1.0)
    assert np.random.uniform() < 1.0
