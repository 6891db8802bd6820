"""chaingrad.jit's contract: inputs stay inputs, gradients land in .grad, structures are cached."""

from __future__ import annotations

import math
import random

import pytest

from chaingrad import Value, dot, jit, sum_of
from chaingrad.nn import MLP, Dropout, Layer, Sequential
from chaingrad.nn import functional as F

from .helpers import assert_compiled_matches_eager, close


@pytest.fixture(params=["python", "numpy"])
def backend(request):
    if request.param == "numpy":
        pytest.importorskip("numpy")
    return request.param


def _batches(rng, n, size, dims, classes):
    return [
        (
            [[rng.gauss(0, 1) for _ in range(dims)] for _ in range(size)],
            [rng.randrange(classes) for _ in range(size)],
        )
        for _ in range(n)
    ]


def test_mlp_cross_entropy_with_labels_changing_every_batch(backend):
    rng = random.Random(1)
    model = MLP(6, [8, 4], seed=0)

    def loss_fn(X, y):
        return F.cross_entropy([model(x) for x in X], y) + 1e-3 * F.l2_penalty(model)

    batches = _batches(rng, 5, 7, 6, 4)
    assert_compiled_matches_eager(loss_fn, model.parameters(), batches, backend, module=model)


def test_moons_hinge_step_matches_eager(backend):
    rng = random.Random(2)
    model = MLP(2, [16, 16, 1], seed=1337)

    def loss_fn(X, y):
        return F.hinge_loss([model(x) for x in X], y) + 1e-4 * F.l2_penalty(model)

    batches = [
        ([[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(10)], rng.choices([-1, 1], k=10))
        for _ in range(4)
    ]
    assert_compiled_matches_eager(loss_fn, model.parameters(), batches, backend, module=model)


def test_bce_with_logits_and_mse_take_value_targets(backend):
    rng = random.Random(3)
    model = MLP(3, [5, 1], seed=2)

    def loss_fn(X, y):
        scores = [model(x) for x in X]
        return F.binary_cross_entropy_with_logits(scores, y) + F.mse_loss(scores, y)

    batches = [
        ([[rng.gauss(0, 1) for _ in range(3)] for _ in range(6)], rng.choices([0, 1], k=6))
        for _ in range(4)
    ]
    assert_compiled_matches_eager(loss_fn, model.parameters(), batches, backend, module=model)


def test_hand_built_convolution_and_max_pool(backend):
    """A 3x3 convolution (dot per position), ReLU, 2x2 max pooling, a dense layer."""
    rng = random.Random(4)
    kernels = [[Value(rng.uniform(-0.5, 0.5)) for _ in range(9)] for _ in range(2)]
    biases = [Value(0.0), Value(0.1)]
    dense = Layer(2 * 2 * 2, 3, nonlin=False, seed=3)
    params = [v for row in kernels for v in row] + biases + dense.parameters()
    from chaingrad import dot, max_of

    def forward(image):
        maps = []
        for kernel, bias in zip(kernels, biases):
            conv = [
                [
                    (
                        dot(kernel, [image[r + i][c + j] for i in range(3) for j in range(3)])
                        + bias
                    ).relu()
                    for c in range(4)
                ]
                for r in range(4)
            ]
            pooled = [
                max_of([conv[2 * r + i][2 * c + j] for i in range(2) for j in range(2)])
                for r in range(2)
                for c in range(2)
            ]
            maps.extend(pooled)
        return dense(maps)

    def loss_fn(images, labels):
        return F.cross_entropy([forward(img) for img in images], labels)

    batches = [
        (
            [[[rng.gauss(0, 1) for _ in range(6)] for _ in range(6)] for _ in range(3)],
            [rng.randrange(3) for _ in range(3)],
        )
        for _ in range(4)
    ]
    assert_compiled_matches_eager(loss_fn, params, batches, backend)


def test_gradients_are_added_to_existing_grads_like_backward(backend):
    w = Value(1.5)
    step = jit(lambda x: (w * x).tanh(), params=[w], backend=backend)
    w.grad = 10.0
    step(0.5)
    expected = 10.0 + 0.5 * (1 - math.tanh(0.75) ** 2)
    assert close(w.grad, expected)


def test_one_trace_per_structure_and_replays_otherwise(backend):
    w = Value(0.3)
    calls = []

    def loss_fn(xs):
        calls.append(len(xs))
        return sum_of([(w * x).tanh() for x in xs])

    step = jit(loss_fn, params=[w], backend=backend)
    for xs in ([1.0, 2.0], [3.0, 4.0], [1.0, 2.0, 3.0], [5.0, 6.0], [1, 2]):
        assert close(step(xs), sum(math.tanh(0.3 * x) for x in xs))
    # [1, 2] holds ints: another structure (ints are labels/token ids), so a third trace.
    assert calls == [2, 3, 2]
    assert len(step.programs) == 3


def test_captured_values_not_in_params_are_read_at_every_call(backend):
    w = Value(2.0)
    scale = Value(3.0)  # used by the step, not declared
    step = jit(lambda x: w * x * scale, params=[w], backend=backend)
    assert step(1.0) == 6.0
    scale.data = 5.0
    assert step(1.0) == 10.0
    assert scale.grad == 2.0 + 2.0  # its gradient is added too, as backward would
    assert w.grad == 3.0 + 5.0


def test_params_may_be_omitted(backend):
    w = Value(2.0)
    step = jit(lambda x: (w * x) ** 2, backend=backend)
    assert step(3.0) == 36.0
    assert w.grad == 2 * 6.0 * 3.0


def test_decorator_forms(backend):
    w = Value(1.0)

    @jit(params=[w], backend=backend)
    def step(x):
        return w * x

    assert step(4.0) == 4.0 and w.grad == 4.0
    assert step.__name__ == "step"

    bare = jit(lambda x: w + x)
    assert bare(1.0) == 2.0


def test_extra_outputs_come_back_as_floats(backend):
    model = MLP(2, [3, 2], seed=0)

    def loss_fn(X, y):
        outputs = [model(x) for x in X]
        return F.cross_entropy(outputs, y), outputs

    step = jit(loss_fn, params=model, backend=backend)
    X, y = [[0.5, -1.0], [1.0, 2.0]], [0, 1]
    loss, outputs = step(X, y)
    eager_outputs = [model(x) for x in X]
    assert close(loss, F.cross_entropy(eager_outputs, y).data)
    assert isinstance(outputs, list) and isinstance(outputs[0], list)
    for row, eager_row in zip(outputs, eager_outputs):
        assert all(close(a, b.data) for a, b in zip(row, eager_row))


def test_label_out_of_range_at_replay_is_a_clear_error(backend):
    model = MLP(2, [3], seed=0)

    def loss_fn(X, y):
        return F.cross_entropy([model(x) for x in X], y)

    step = jit(loss_fn, params=model, backend=backend)
    step([[0.0, 1.0], [1.0, 0.0]], [0, 2])
    for bad in ([0, 3], [-1, 0]):  # the replay raises eager's own error, before running
        with pytest.raises(ValueError) as eager:
            loss_fn([[0.0, 1.0], [1.0, 0.0]], bad)
        with pytest.raises(ValueError) as info:
            step([[0.0, 1.0], [1.0, 0.0]], bad)
        assert str(info.value) == str(eager.value)
        assert f"target index {min(bad) if min(bad) < 0 else max(bad)} is out of range" in str(
            info.value
        )


@pytest.mark.parametrize(
    ("arg", "match"),
    [
        (True, "bool"),
        (Value(1.0), "a Value"),
        ("text", "str"),
        (None, "NoneType"),
        ([1.0, "x"], "str"),
    ],
)
def test_arguments_must_be_numbers(arg, match):
    w = Value(1.0)
    step = jit(lambda x: w * 2.0, params=[w])
    with pytest.raises(TypeError, match=match) as info:
        step(arg)
    assert "argument x" in str(info.value)


def test_function_must_return_a_value():
    with pytest.raises(TypeError, match="must return the loss as a Value"):
        jit(lambda x: [x])(1.0)
    with pytest.raises(TypeError, match="must return the loss as a Value"):
        jit(lambda x: 3.0)(1.0)


def test_bad_settings():
    with pytest.raises(ValueError, match="backend must be one of"):
        jit(lambda x: x, backend="gpu")
    with pytest.raises(TypeError, match="params\\[1\\] must be a Value"):
        jit(lambda x: x, params=[Value(1.0), 2.0])
    with pytest.raises(ValueError, match="listed twice"):
        w = Value(1.0)
        jit(lambda x: x, params=[w, w])
    with pytest.raises(TypeError, match="must be callable"):
        jit(3)


def test_numpy_arrays_and_keyword_arguments(backend):
    np = pytest.importorskip("numpy")
    w = Value(0.5)
    step = jit(lambda x, *, k: sum_of([w * v for v in x]) * k, params=[w], backend=backend)
    assert step(np.array([1.0, 2.0]), k=2.0) == 3.0
    assert step([1.0, 2.0], k=4.0) == 6.0
    assert len(step.programs) == 1  # the array is read as its numbers


def test_dropout_masks_are_redrawn_like_eager_and_eval_retraces(backend):
    def make():
        return Sequential(Layer(3, 6, seed=0), Dropout(0.4, seed=7), Layer(6, 2, seed=1))

    compiled_model, eager_model = make(), make()
    step = jit(
        lambda X, y: F.cross_entropy([compiled_model(x) for x in X], y),
        params=compiled_model,
        backend=backend,
    )
    X, y = [[0.1, -0.2, 0.3], [1.0, 0.5, -0.5]], [0, 1]
    for _ in range(4):  # the same seed draws the same masks, call after call
        compiled_loss = step(X, y)
        eager = F.cross_entropy([eager_model(x) for x in X], y)
        eager.backward()
        assert close(compiled_loss, eager.data)
        for a, b in zip(compiled_model.parameters(), eager_model.parameters()):
            assert close(a.grad, b.grad)
    assert len(step.programs) == 1
    compiled_model.eval()
    eager_model.eval()
    assert close(step(X, y), F.cross_entropy([eager_model(x) for x in X], y).data)
    assert len(step.programs) == 2  # eval mode: no masks, a second trace


def test_floating_point_errors_are_the_engines(backend):
    w = Value(1.0)
    step = jit(lambda x: (w * x).log() + (w * x).exp(), params=[w], backend=backend)
    assert close(step(2.0), math.log(2.0) + math.exp(2.0))
    with pytest.raises(ValueError, match="log: the operand must be > 0"):
        step(-1.0)
    with pytest.raises(OverflowError, match="exp"):
        step(1000.0)
    assert close(step(3.0), math.log(3.0) + math.exp(3.0))  # and it keeps working


def test_nan_inputs_propagate_as_in_eager(backend):
    w = Value(1.0)
    step = jit(lambda x: (w * x).relu() + w, params=[w], backend=backend)
    step(1.0)
    assert math.isnan(step(math.nan))
    assert math.isnan(w.grad)


def test_program_and_source_are_readable(backend):
    w = Value(0.5, label="w")
    step = jit(lambda x, y: ((w * x - y) ** 2).tanh(), params=[w], backend=backend)
    with pytest.raises(RuntimeError, match="call the step once"):
        step.program  # noqa: B018
    step(2.0, 0.0)
    listing = str(step.program)
    assert listing.splitlines()[0] == "program(x: float, y: float) -> v3"
    assert "v0 = mul(w, x)" in listing and "v3 = tanh(v2)" in listing
    assert step.source.startswith("def run(P, X, R")
    assert "1 traced" in repr(step)


def test_a_dead_unit_fed_an_infinity_gives_eagers_nan_gradient(backend):
    # Skipping a zero gradient's chain-rule terms is exact only for finite operands:
    # here a weight meets inf behind a dead ReLU, and eager's 0 * inf is nan.
    ws = [Value(-1.0), Value(0.5), Value(0.5), Value(0.5)]
    bias = Value(0.25)

    def loss_fn(xs):
        return dot(ws, xs).relu() + bias * 2.0

    step = jit(loss_fn, params=[*ws, bias], backend=backend)
    step([1.0, 1.0, 1.0, 1.0])
    for p in (*ws, bias):
        p.grad = 0.0
    assert step([math.inf, 1.0, 1.0, 1.0]) == 0.5
    compiled = [p.grad for p in ws]
    for p in (*ws, bias):
        p.grad = 0.0
    loss_fn([math.inf, 1.0, 1.0, 1.0]).backward()
    assert [math.isnan(g) for g in compiled] == [math.isnan(p.grad) for p in ws]
    assert math.isnan(compiled[0]) and bias.grad == 2.0
