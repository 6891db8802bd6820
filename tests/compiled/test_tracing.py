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
    from chaingrad.engine import trace_hook

    before = {name: Value.__dict__.get(name) for name in trace_hook._GUARDED}
    assert type(before["data"]).__name__ == "member_descriptor"  # a plain slot: no hook
    jit(lambda x: w * x, params=[w])(1.0)
    with pytest.raises(TracingError):
        jit(branch_on_data, params=[w])(1.0)
    assert {name: Value.__dict__.get(name) for name in trace_hook._GUARDED} == before
    assert not hasattr(Value, "__index__") and not hasattr(Value, "__int__")
    assert (
        not hasattr(Value, "__mod__") and not hasattr(Value, "__eq__")
    ) or Value.__eq__ is object.__eq__
    assert not is_tracing()
    v = Value(-1.0)
    assert bool(v) and v < 0 and float(v) == -1.0  # eager behaviour unchanged
    with pytest.raises(TypeError):
        int(v)
    with pytest.raises(TypeError):
        v % 2


def test_the_engine_reads_through_private_aliases_of_the_same_slots():
    v = Value(2.5)
    assert Value._data is Value.__dict__["data"] and Value._grad is Value.__dict__["grad"]
    with tracing():
        assert v._data == 2.5  # the engine's own read is not guarded
        assert (v * 2)._data == 5.0
        with pytest.raises(TracingError, match=r"a read of Value\.data"):
            v.data  # noqa: B018


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


# --- arguments: what eager code would have as numbers -------------------------------


def _refusal(fn, *args):
    with pytest.raises(TracingError) as info:
        jit(fn, params=[w])(*args)
    return str(info.value)


def test_an_argument_compared_or_hashed_is_refused_naming_the_line():
    table = {0: 1.0, 1: 2.0}
    cases = [
        (lambda x, y: w * x if y == 1 else -w * x, "compared with =="),  # the offending line
        (lambda x, y: w * x if y != 1 else -w * x, "compared with !="),
        (lambda x, y: w * x if y in (0, 1) else -w * x, "compared with =="),
        (lambda x, y: w * x if y in {0, 1} else -w * x, "hashed"),
        (lambda x, y: w * x * table[y], "hashed"),
        (lambda x, y: w * x * table.get(y, 0.0), "hashed"),
    ]
    for fn, what in cases:
        message = _refusal(fn, 1.0, 1)
        assert what in message and "test_tracing.py:" in message, message
        assert "take(values, y)" in message  # what to write instead


def test_isinstance_of_an_argument_answers_as_for_the_number():
    step = jit(lambda x, y: w * x if isinstance(y, int) else -w * x, params=[w])
    assert step(1.0, 1) == 0.5  # an int label
    assert step(1.0, 1.0) == -0.5  # a float: another structure, traced again
    assert len(step.programs) == 2


def test_arithmetic_without_an_op_is_refused_not_a_bare_type_error():
    for fn, op in (
        (lambda x, y: w * (y % 2), "%"),
        (lambda x, y: w * (y // 2), "//"),
        (lambda x, y: w * divmod(y, 2)[0], "divmod()"),
        (lambda x, y: w * math.floor(y), "math.floor"),
    ):
        message = _refusal(fn, 1.0, 3)
        assert f"cannot trace {op}" in message and "test_tracing.py:" in message, message


def test_a_list_indexed_by_a_token_id_says_to_write_take_or_embedding():
    message = _refusal(lambda t: [w, w * 2.0, w * 3.0][t], 1)
    assert "take(table, token_id)" in message and "Embedding" in message


def test_copying_a_value_inside_a_step_is_refused_as_a_copy():
    import copy

    message = _refusal(lambda x: copy.copy(w * x), 1.0)
    assert "copy.copy(v)" in message and "gradient computation" not in message
    assert "reached from" in message and "copy.copy(w * x)" in message


def test_draws_from_generator_instances_are_refused():
    import random

    rng = random.Random(0)
    message = _refusal(lambda x: w * (x + rng.gauss(0.0, 1.0)), 1.0)
    assert "random.Random instance" in message and "rng.gauss(0.0, 1.0)" in message
    assert 0.0 <= rng.random() < 1.0  # usable again after the trace
    np = pytest.importorskip("numpy")
    for generator in (np.random.default_rng(0), np.random.RandomState(0)):
        message = _refusal(lambda x, g=generator: w * (x + float(g.uniform())), 1.0)
        assert "numpy random generator" in message and type(generator).__name__ in message


def test_inputs_are_float64_at_the_boundary():
    np = pytest.importorskip("numpy")
    step = jit(lambda x, y: (w * x + y) ** 2, params=[w], backend="python")
    w.grad = 0.0
    loss = step(np.float32(0.1), np.float16(0.5))
    assert type(loss) is float and type(w.grad) is float
    w.grad = 0.0
    eager = (w * float(np.float32(0.1)) + float(np.float16(0.5))) ** 2
    eager.backward()
    assert loss == eager.data


def test_labels_are_checked_by_every_replay_as_eager_mode_checks_them():
    scores = lambda x: [w * x, -w * x, w]  # noqa: E731
    hinge = jit(lambda x, y: F.hinge_loss([w * x], [y]), params=[w])
    assert hinge(1.0, 1) == 0.5
    with pytest.raises(ValueError, match="targets must be -1 or \\+1, got 0"):
        hinge(1.0, 0)  # a replay: eager raises the same
    with pytest.raises(ValueError, match="got 2"):
        jit(lambda x, y: F.hinge_loss([w * x, w], y), params=[w])(1.0, [1, 2])
    ce = jit(lambda x, y: F.cross_entropy(scores(x), y), params=[w])
    ce(1.0, 1)
    with pytest.raises(TypeError, match="class index \\(int\\), got float"):
        ce(1.0, 1.0)
    with pytest.raises(ValueError, match=r"out of range|must be a whole number"):
        ce(1.0, 3)
    derived = jit(lambda x, y: F.hinge_loss([w * x], [2 * y - 1]), params=[w])
    with pytest.raises(TracingError, match="computed inside the step"):
        derived(1.0, 1)


def test_module_state_is_part_of_what_a_replay_checks():
    from chaingrad import nn

    class Gate(nn.Module):
        def __init__(self):
            self.k = Value(2.0)
            self.layers = [nn.Linear(1, 1)]

        def forward(self, x):
            h = self.k * x if self.training else self.k * x * 10.0
            for layer in self.layers:
                h = layer([h])[0]
            return h

    model = Gate()
    step = jit(lambda x: model(x) ** 2, params=model)

    def eager(x):
        return (model(x) ** 2).data

    assert step(1.0) == eager(1.0)
    model.eval()  # the training flag
    assert step(1.0) == eager(1.0)
    model.k = Value(3.0)  # a parameter replaced
    assert step(1.0) == eager(1.0)
    model.layers.append(nn.Linear(1, 1))  # a layer appended
    assert step(1.0) == eager(1.0)
    model.layers[1].weight[0][0] = Value(-0.5)  # a Value replaced inside a list
    assert step(1.0) == eager(1.0)
    model.train()
    assert step(1.0) == eager(1.0)
    assert len(step.programs) == 6  # one program per state seen
