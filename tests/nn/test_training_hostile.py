"""Training and data under hostile and careless use.

fit's arguments, learning rates and penalties, an optimizer made for another
model, labels, NumPy input everywhere a list is accepted, the data helpers and
the demo's output folder. Every case ends with the right result or one clear
error naming what was wrong, with the model untouched. Cases that would need
gigabytes run in a child process under a memory cap (tests/limits.py).
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaingrad import Value
from chaingrad.nn import MLP, Layer, Neuron, Sequential, evaluate, fit, predict
from chaingrad.nn import functional as F
from chaingrad.nn.data import (
    batches,
    make_blobs,
    make_moons,
    standardize,
    train_test_split,
)
from chaingrad.nn.optim import SGD, Adam, AdamW, CosineLR, LambdaLR, LinearLR, StepLR
from tests.helpers import one_line, snapshot
from tests.limits import run_limited

X4 = [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [-1.0, 0.3]]
Y4 = [0, 1, 1, 0]


# --- fit with bad arguments -------------------------------------------------------------------


class Make:
    """An argument built fresh for each run (an optimizer, a schedule)."""

    def __init__(self, build):
        self.build = build


def _other_model_optimizer():
    return SGD(MLP(2, [2], seed=9), lr=0.1)


BAD_FIT_ARGUMENTS = [
    ({"X": [], "y": []}, ValueError, "fit: X and y are empty"),
    ({"X": np.zeros((0, 2)), "y": np.zeros(0)}, ValueError, "fit: X and y are empty"),
    ({"y": [0, 1]}, ValueError, "fit: X has 4 rows but y has 2"),
    ({"X": (r for r in X4)}, TypeError, "fit: X must be a list of samples or a NumPy array"),
    ({"y": "0110"}, TypeError, "fit: y must be a list of samples"),
    ({"batch_size": -1}, ValueError, "fit: batch_size must be a positive int, got -1"),
    ({"batch_size": 0}, ValueError, "fit: batch_size must be a positive int, got 0"),
    ({"batch_size": "8"}, ValueError, "fit: batch_size must be a positive int, got '8'"),
    ({"batch_size": 2.5}, ValueError, "fit: batch_size must be a positive int, got 2.5"),
    ({"batch_size": True}, ValueError, "fit: batch_size must be a positive int, got True"),
    ({"steps": 0}, ValueError, "fit: steps must be a positive int, got 0"),
    ({"steps": "3"}, ValueError, "fit: steps must be a positive int, got '3'"),
    ({"epochs": -2, "steps": None}, ValueError, "fit: epochs must be a positive int, got -2"),
    ({"steps": 2, "epochs": 2}, ValueError, "fit: give steps or epochs, not both"),
    ({"optimizer": "adam"}, TypeError, "fit: optimizer must be an optimizer from chaingrad"),
    ({"optimizer": MLP(2, [2])}, TypeError, "fit: optimizer must be an optimizer"),
    (
        {"optimizer": Make(_other_model_optimizer)},
        ValueError,
        "fit: the optimizer updates none of the model's 12 parameters; it was made for another",
    ),
    ({"schedule": 0.5}, TypeError, "fit: schedule must be an LRSchedule or a function"),
    (
        {"schedule": Make(lambda: StepLR(_other_model_optimizer(), 5))},
        ValueError,
        "fit: the optimizer updates none of the model's",  # the schedule's optimizer is used
    ),
    ({"l2": math.nan}, ValueError, "fit: l2 must be a finite number >= 0, got nan"),
    ({"l2": math.inf}, ValueError, "fit: l2 must be a finite number >= 0, got inf"),
    ({"l1": -1e-4}, ValueError, "fit: l1 must be a finite number >= 0, got -0.0001"),
    ({"l1": "0.1"}, ValueError, "fit: l1 must be a finite number >= 0, got '0.1'"),
    ({"validation": [X4]}, TypeError, "fit: validation must be a pair (X, y)"),
    ({"validation": (X4, Y4[:3])}, ValueError, "fit: validation: X has 4 rows but y has 3"),
    ({"callback": "print"}, TypeError, "fit: callback must be a function"),
    ({"progress": "yes"}, TypeError, "fit: progress must be True, False or None"),
    ({"seed": "abc"}, TypeError, "seed must be None, an int or a random.Random"),
    ({"loss": "svm"}, ValueError, "fit: unknown loss 'svm'"),
    ({"model": [Neuron(2)]}, TypeError, "fit: model must be a chaingrad.nn.Module, got list"),
    ({"model": Sequential()}, ValueError, "fit: the model has no parameters to train"),
]


@pytest.mark.parametrize(("overrides", "kind", "message"), BAD_FIT_ARGUMENTS)
def test_bad_fit_arguments_are_one_clear_error_and_train_nothing(overrides, kind, message):
    model = MLP(2, [2, 2], seed=0)
    arguments = {"model": model, "X": X4, "y": Y4, "steps": 3, "progress": False}
    for key, value in overrides.items():
        arguments[key] = value.build() if isinstance(value, Make) else value
    before = snapshot(model)
    with pytest.raises(kind) as info:
        fit(**arguments)
    assert message in one_line(info.value)
    assert snapshot(model) == before


def test_the_schedules_optimizer_is_used_when_none_is_given():
    model = MLP(2, [2, 2], seed=0)
    opt = SGD(model, lr=0.5)
    history = fit(model, X4, Y4, schedule=StepLR(opt, 1, gamma=0.5), steps=3, progress=False)
    assert history.lr == [0.5, 0.25, 0.125]


def test_a_schedule_on_another_optimizer_than_fits_is_refused():
    model = MLP(2, [2, 2], seed=0)
    opt = SGD(model, lr=0.5)
    other = SGD(model, lr=0.5)
    with pytest.raises(ValueError, match="schedule drives another optimizer"):
        fit(model, X4, Y4, optimizer=opt, schedule=StepLR(other, 1), steps=2, progress=False)


def test_an_optimizer_of_part_of_the_model_is_fine():
    model = MLP(2, [2, 2], seed=0)
    head = model.layers[-1]
    frozen = snapshot(model.layers[0])
    fit(model, X4, Y4, optimizer=SGD(head, lr=0.5), steps=3, progress=False)
    assert snapshot(model.layers[0]) == frozen and snapshot(head) != frozen


# --- learning rates and penalties -------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: SGD(p, lr=math.inf), "SGD: lr must be a finite number >= 0, got inf"),
        (lambda p: SGD(p, lr=math.nan), "SGD: lr must be a finite number >= 0, got nan"),
        (lambda p: SGD(p, lr=-0.1), "SGD: lr must be a finite number >= 0, got -0.1"),
        (lambda p: SGD(p, lr=0.1, weight_decay=math.inf), "weight_decay must be a finite"),
        (lambda p: SGD(p, lr=0.1, momentum=math.nan), "momentum must be a number in [0, 1]"),
        (lambda p: Adam(p, lr=math.inf), "Adam: lr must be a finite number >= 0, got inf"),
        (lambda p: Adam(p, eps=math.inf), "Adam: eps must be a finite number"),
        (lambda p: Adam(p, betas=(math.nan, 0.9)), "betas[0] must be a number in [0, 1]"),
        (lambda p: AdamW(p, weight_decay=-1.0), "AdamW: weight_decay must be a finite"),
        (lambda p: LinearLR(SGD(p, lr=1.0), end_factor=-0.5), "LinearLR: end_factor must be"),
        (lambda p: LinearLR(SGD(p, lr=1.0), start_factor=math.nan), "start_factor must be a"),
        (lambda p: StepLR(SGD(p, lr=1.0), 2, gamma=math.inf), "StepLR: gamma must be a finite"),
        (lambda p: CosineLR(SGD(p, lr=1.0), 10, min_lr=-1.0), "CosineLR: min_lr must be"),
        (lambda p: LambdaLR(SGD(p, lr=1.0), 0.5), "LambdaLR: fn must be a function"),
        (lambda p: LambdaLR(SGD(p, lr=1.0), lambda k: -1.0), "LambdaLR: the learning rate for"),
    ],
)
def test_constructors_refuse_rates_and_settings_that_are_not_finite_or_negative(make, message):
    with pytest.raises((ValueError, TypeError)) as info:
        make([Value(1.0)])
    assert message in one_line(info.value)


@pytest.mark.parametrize("bad", [-0.5, math.nan, math.inf, -math.inf, "0.1", None])
def test_a_schedule_that_goes_bad_stops_at_that_step_and_names_it(bad):
    w = Value(1.0)
    opt = SGD([w], lr=1.0)
    schedule = LambdaLR(opt, lambda k: 0.5 if k < 3 else bad)
    for _ in range(2):
        schedule.step()
    with pytest.raises((ValueError, TypeError), match="LambdaLR: the learning rate for step 3"):
        schedule.step()
    assert opt.lr == 0.5 and schedule.k == 2  # nothing changed


@pytest.mark.parametrize("bad", [-0.5, math.nan, math.inf, "fast"])
def test_fit_with_a_schedule_function_that_goes_bad(bad):
    model = MLP(2, [2, 2], seed=0)
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"fit: schedule\(0\) must give a learning rate"):
        fit(model, X4, Y4, schedule=lambda k: bad, steps=3, progress=False)
    assert snapshot(model) == before  # refused before the first update
    history = []
    with pytest.raises(ValueError, match=r"fit: schedule\(2\) must give a learning rate"):
        fit(
            model,
            X4,
            Y4,
            schedule=lambda k: 0.1 if k < 2 else bad,
            steps=5,
            progress=False,
            callback=lambda step, h: history.append(step),
        )
    assert history == [1, 2]


def test_setting_lr_by_hand_is_checked_too():
    opt = Adam([Value(1.0)], lr=0.1)
    for bad in (math.inf, -1.0, math.nan):
        with pytest.raises(ValueError, match="Adam: lr must be a finite number >= 0"):
            opt.lr = bad
    assert opt.lr == 0.1
    opt.lr = 0  # zero freezes the parameters: allowed
    assert opt.lr == 0.0


# --- labels -----------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["hinge", "bce"])
@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([2, 3, 2, 3], "needs two classes labelled 0/1 or -1/+1, got the label 2"),
        ([-1, 0, 1, 1], "got the labels [-1, 0, 1] (three classes)"),
        ([0, 1, math.nan, 1], "got the label nan"),
        ([0, 1, 0.5, 1], "got the label 0.5"),
        ([0, 1, "1", 0], "got the label '1'"),
    ],
)
def test_binary_labels_must_be_two_classes(loss, labels, message):
    model = MLP(2, [4, 1], seed=0)
    before = snapshot(model)
    with pytest.raises(ValueError) as info:
        fit(model, X4, labels, loss=loss, steps=2, progress=False)
    text = one_line(info.value)
    assert text.startswith(f"fit: loss {loss!r} needs two classes labelled 0/1 or -1/+1, ")
    assert message in text
    assert snapshot(model) == before
    with pytest.raises(ValueError, match="needs two classes"):
        evaluate(model, X4, labels, loss=loss)


@pytest.mark.parametrize("loss", ["hinge", "bce"])
def test_binary_label_conventions_train_identically(loss):
    runs = []
    for labels in ([0, 1, 1, 0], [-1, 1, 1, -1], [False, True, True, False], [0.0, 1.0, 1.0, 0.0]):
        model = MLP(2, [4, 1], seed=0)
        history = fit(model, X4, labels, loss=loss, optimizer=SGD(model, lr=0.3), steps=4)
        runs.append((history.loss, history.accuracy, snapshot(model)))
    assert all(run == runs[0] for run in runs)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([0, 1, 1.5, 0], "needs class indices 0, 1, 2, ..., got the label 1.5"),
        ([0, 1, -1, 0], "got the label -1"),
        ([0, 1, True, 0], "got the label True"),
        ([0, 1, "1", 0], "got the label '1'"),
        ([0, 1, math.inf, 0], "got the label inf"),
    ],
)
def test_class_labels_must_be_whole_numbers(labels, message):
    with pytest.raises(ValueError) as info:
        fit(MLP(2, [3], seed=0), X4, labels, steps=1, progress=False)
    assert message in one_line(info.value)


def test_class_labels_as_whole_floats_work_and_out_of_range_is_named():
    a, b = MLP(2, [3], seed=0), MLP(2, [3], seed=0)
    fit(a, X4, [0, 1, 2, 0], steps=3, progress=False)
    fit(b, X4, [0.0, 1.0, 2.0, 0.0], steps=3, progress=False)
    assert snapshot(a) == snapshot(b)
    with pytest.raises(ValueError, match="target index 3 is out of range for 3 classes"):
        fit(MLP(2, [3], seed=0), X4, [0, 1, 3, 0], steps=1, progress=False)


def test_cross_entropy_needs_a_score_per_class():
    with pytest.raises(ValueError, match=r"one score per class .* got one Value; for one output"):
        fit(MLP(2, [1], seed=0), X4, Y4, loss="cross_entropy", steps=1, progress=False)


@pytest.mark.parametrize(
    ("nouts", "targets", "message"),
    [
        ([2], [[1.0, 2.0, 3.0]] * 4, "sample 0: the model gave 2 output(s) but the target has 3"),
        ([3], [[1.0, 2.0]] * 4, "sample 0: the model gave 3 output(s) but the target has 2"),
        ([1], [[1.0, 2.0]] * 4, "the model gave 1 output(s) but the target has 2"),
        ([2], [1.0] * 4, "the model gave 2 output(s) but the target has 1"),
        ([1], [1.0, "a", 1.0, 1.0], "needs numbers (or lists of numbers) as targets"),
        ([1], [[], 1.0, 1.0, 1.0], "needs numbers (or lists of numbers) as targets"),
    ],
)
def test_mse_targets_must_have_the_outputs_shape(nouts, targets, message):
    model = MLP(2, nouts, seed=0)
    before = snapshot(model)
    with pytest.raises(ValueError) as info:
        fit(model, X4, targets, loss="mse", steps=1, progress=False)
    assert message in one_line(info.value)
    assert snapshot(model) == before


# --- NumPy arrays wherever a list is accepted -------------------------------------------------


def test_numpy_input_gives_the_same_results_as_lists_everywhere():
    X, y = make_moons(40, noise=0.1, seed=0)
    Xn, yn = np.array(X), np.array(y)
    model = MLP(2, [6, 2], seed=0)
    # Calls: one sample as an array (float32, int64), a 0-d array for one input.
    assert model(Xn[0]).__len__() == 2
    assert [v.data for v in model(Xn[0].astype(np.float32))] == [
        v.data for v in model([float(np.float32(v)) for v in X[0]])
    ]
    assert [v.data for v in model(np.array([1, 2]))] == [v.data for v in model([1.0, 2.0])]
    assert MLP(1, [1], seed=0)(np.array(3.0)).data == MLP(1, [1], seed=0)(3.0).data
    assert Neuron(2, seed=0)(np.array([1.0, 2.0])).data == Neuron(2, seed=0)([1.0, 2.0]).data
    assert [v.data for v in Layer(2, 3, seed=0)(Xn[1])] == [
        v.data for v in Layer(2, 3, seed=0)(X[1])
    ]
    net = Sequential(Layer(2, 3, seed=0), Layer(3, 1, seed=1))
    assert net(Xn[2]).data == net(X[2]).data
    # fit, evaluate, predict, with int and float label arrays.
    runs = []
    for data_X, data_y in ((X, y), (Xn, yn), (Xn, yn.astype(float))):
        m = MLP(2, [6, 2], seed=0)
        h = fit(m, data_X, data_y, optimizer=Adam(m, lr=0.05), steps=5, batch_size=8, seed=0)
        runs.append((h.loss, evaluate(m, data_X, data_y), predict(m, data_X)))
    assert runs[0] == runs[1] == runs[2]
    # Data helpers.
    split = train_test_split(Xn, yn, 0.25, seed=0)
    assert split == train_test_split(X, y, 0.25, seed=0)
    assert standardize(Xn, Xn[:3]) == standardize(X, X[:3])
    assert list(batches(Xn, yn, 16, seed=0)) == list(batches(X, y, 16, seed=0))
    assert make_blobs(10, centers=np.array([[0.0, 0.0], [5.0, 5.0]]), seed=0) == make_blobs(
        10, centers=[[0.0, 0.0], [5.0, 5.0]], seed=0
    )
    # Losses with array targets.
    outs = [Value(0.5), Value(-0.2)]
    assert F.mse_loss(outs, np.array([1.0, 0.0])).data == F.mse_loss(outs, [1.0, 0.0]).data
    assert F.hinge_loss(outs, np.array([1, -1])).data == F.hinge_loss(outs, [1, -1]).data
    logits = [[Value(1.0), Value(2.0)], [Value(0.5), Value(0.1)]]
    assert F.cross_entropy(logits, np.array([1, 0])).data == F.cross_entropy(logits, [1, 0]).data
    scores = np.array([[1.0, 2.0], [0.5, 0.1]])
    assert F.cross_entropy(scores, np.array([1, 0])).data == F.cross_entropy(logits, [1, 0]).data
    assert F.cross_entropy(scores[0], np.int64(1)).data == F.cross_entropy(logits[0], 1).data
    # Activation modules, whatever the nesting.
    from chaingrad.nn import LeakyReLU, ReLU

    assert [[v.data for v in row] for row in ReLU()(np.array([[1.0, -2.0], [0.0, 3.0]]))] == [
        [1.0, 0.0],
        [0.0, 3.0],
    ]
    assert [v.data for v in LeakyReLU(0.5)(np.array([-2.0, 2.0]))] == [-1.0, 2.0]


def test_numpy_input_to_plot_decision_boundary():
    pytest.importorskip("matplotlib")
    X, y = make_moons(30, seed=0)
    model = MLP(2, [4, 1], seed=0)
    from chaingrad.nn import plot_decision_boundary, plot_loss_curve

    fig = plot_decision_boundary(model, np.array(X), np.array(y), resolution=8)
    axes = fig.axes[0]
    assert len(axes.collections) >= 2  # the filled regions and the points
    plot_loss_curve(np.array([3.0, 2.0, 1.0]))


def test_wrong_inputs_to_a_layer_name_the_layer():
    model = MLP(2, [3, 1], seed=0)
    for bad, message in (
        (np.zeros(3), "Layer expects 2 inputs, got 3"),
        (np.zeros((2, 2)), "Layer expects x[i] to hold numbers or Values, got list"),
        ("ab", "Layer expects a list of 2 inputs (or a NumPy array), got str 'ab'"),
        (None, "Layer expects a list of 2 inputs (or a NumPy array), got NoneType None"),
        ([1.0, "2"], "Layer expects x[i] to hold numbers or Values, got str '2'"),
    ):
        with pytest.raises(ValueError) as info:
            model(bad)
        assert message in one_line(info.value)
    with pytest.raises(ValueError, match="Neuron expects 2 inputs, got 3"):
        Neuron(2)([1.0, 2.0, 3.0])


# --- data helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ([[1.0, 2.0], [3.0]],),
            "standardize: row 1 of train has 1 numbers, but train's rows have 2",
        ),
        (([[1.0, 2.0]], [[1.0]]), "row 0 of others[0] has 1 numbers, but train's rows have 2"),
        (([[1.0, "x"]],), "standardize: row 0 of train is not a list of numbers"),
        (([1.0, 2.0],), "standardize: row 0 of train is not a list of numbers: 1.0"),
        (([],), "standardize: train is empty"),
        ((np.zeros((0, 3)),), "standardize: train is empty"),
    ],
)
def test_standardize_refuses_ragged_and_non_numeric_rows(args, message):
    with pytest.raises(ValueError) as info:
        standardize(*args)
    assert message in one_line(info.value)


def test_standardize_matches_numpy():
    rng = np.random.default_rng(0)
    train, test = rng.normal(3.0, 2.0, (50, 4)), rng.normal(0.0, 1.0, (7, 4))
    ours_train, ours_test = standardize(train, test)
    mean, std = train.mean(axis=0), train.std(axis=0)
    np.testing.assert_allclose(ours_train, (train - mean) / std, rtol=1e-12)
    np.testing.assert_allclose(ours_test, (test - mean) / std, rtol=1e-12)


def test_plot_decision_boundary_refuses_an_absurd_resolution_at_once():
    pytest.importorskip("matplotlib")
    from chaingrad.nn import plot_decision_boundary

    X, y = make_moons(20, seed=0)
    for bad in (10**5, 1001, 1, "60", 2.5):
        with pytest.raises(ValueError, match="resolution must be"):
            plot_decision_boundary(MLP(2, [1]), X, y, resolution=bad)
    for kwargs, message in (
        ({"margin": math.inf}, "margin must be a finite number >= 0"),
        ({"margin": -1.0}, "margin must be a finite number >= 0"),
        ({"y": y[:5]}, "X has 20 rows but y has 5"),
        ({"X": [[math.nan, 0.0], *X[1:]]}, "X holds nan or infinite values"),
        ({"y": ["a"] * 20}, "y must hold numeric class labels"),
    ):
        call = {"X": X, "y": y, **kwargs}
        with pytest.raises(ValueError, match=message):
            plot_decision_boundary(MLP(2, [1]), call.pop("X"), call.pop("y"), **call)


# --- sizes that would need gigabytes fail fast, under a memory cap ----------------------------


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "from chaingrad.nn.data import make_moons; make_moons(10**9)",
            "make_moons: 1,000,000,000",
        ),
        (
            "from chaingrad.nn.data import make_blobs; make_blobs(10**8, 3, n_features=50)",
            "make_blobs",
        ),
        (
            "from chaingrad.nn import Layer; Layer(100_000, 100_000)",
            "Layer: 10,000,100,000 parameters",
        ),
        ("from chaingrad.nn import MLP; MLP(2, [30_000, 30_000, 1])", "MLP: 900,"),
        ("from chaingrad.nn import Neuron; Neuron(10**9)", "Neuron: 1,000,000,001 parameters"),
    ],
)
def test_sizes_that_need_gigabytes_are_refused_before_allocating(code, message):
    result = run_limited(
        f"""
        try:
            {code}
        except MemoryError as error:
            print(error)
        """,
        memory_mb=512,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert message in result.stdout and "would need about" in result.stdout
    assert result.stdout.count("\n") == 1


# --- fuzzing labels and fit's arguments -------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

label_values = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([0.0, 1.0, -1.0, 0.5, 2.0, math.nan, math.inf, True, False]),
    st.sampled_from(["1", None, [1]]),
)


def _binary_ok(labels):
    if not all(isinstance(t, (int, float)) and t in (-1, 0, 1) for t in labels):
        return False
    seen = {int(t) for t in labels}
    return seen <= {0, 1} or seen <= {-1, 1}


def _classes_ok(labels, n_classes):
    return all(
        isinstance(t, (int, float))
        and not isinstance(t, bool)
        and math.isfinite(t)
        and t == int(t)
        and 0 <= t < n_classes
        for t in labels
    )


@FUZZ
@given(
    loss=st.sampled_from(["hinge", "bce", "cross_entropy"]),
    labels=st.lists(label_values, min_size=4, max_size=4),
)
def test_fuzz_labels(loss, labels):
    nout = 1 if loss in ("hinge", "bce") else 3
    model = MLP(2, [3, nout], seed=0)
    before = snapshot(model)
    expected_ok = _binary_ok(labels) if nout == 1 else _classes_ok(labels, 3)
    try:
        history = fit(model, X4, labels, loss=loss, steps=2, progress=False)
    except (ValueError, TypeError) as error:
        assert not expected_ok, (labels, error)
        one_line(error)
        assert snapshot(model) == before
        return
    assert expected_ok, labels
    assert len(history) == 2 and all(0.0 <= a <= 1.0 for a in history.accuracy)


argument_values = st.one_of(
    st.none(),
    st.integers(-3, 6),
    st.sampled_from([True, False, 0.0, 2.5, -1.0, math.nan, math.inf, "2", [2], 1e-3]),
)


@FUZZ
@given(
    steps=argument_values,
    epochs=argument_values,
    batch_size=argument_values,
    l1=argument_values,
    l2=argument_values,
)
def test_fuzz_fit_arguments(steps, epochs, batch_size, l1, l2):
    def good_count(v):
        return v is None or (type(v) is int and v >= 1)

    def good_penalty(v):
        return type(v) in (int, float) and math.isfinite(v) and v >= 0

    expected_ok = (
        good_count(steps)
        and good_count(epochs)
        and good_count(batch_size)
        and not (steps is not None and epochs is not None)
        and good_penalty(l1)
        and good_penalty(l2)
    )
    model = MLP(2, [3, 2], seed=0)
    before = snapshot(model)
    try:
        history = fit(
            model,
            X4,
            Y4,
            steps=steps,
            epochs=epochs,
            batch_size=batch_size,
            l1=l1,
            l2=l2,
            progress=False,
            seed=random.Random(0),
        )
    except (ValueError, TypeError) as error:
        assert not expected_ok, error
        assert one_line(error).startswith("fit: ")
        assert snapshot(model) == before
        return
    assert expected_ok
    per_epoch = math.ceil(4 / (batch_size or 4))
    assert len(history) == (steps if steps is not None else per_epoch * (epochs or 1))


# --- the demo's output folder -----------------------------------------------------------------


def test_demo_into_an_unwritable_folder_fails_before_training(tmp_path, capsys):
    from chaingrad.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("x")
    targets = [blocker / "sub"]  # a folder below a file can never be made
    if not (tmp_path / "ro").exists():
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o500)
        import os

        if os.geteuid() != 0:  # root writes anywhere
            targets.append(tmp_path / "ro" / "out")
    for target in targets:
        assert main(["demo", "-o", str(target), "--steps", "100000", "--samples", "10000"]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""  # nothing trained: no progress, no step lines
        assert captured.err.count("\n") == 1
        assert f"chaingrad demo: error: cannot write to --output {str(target)!r}" in captured.err
    (tmp_path / "ro").chmod(0o700)


def test_demo_reports_a_failed_write_after_training_in_one_line(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    import errno

    from chaingrad.cli import main
    from chaingrad.nn import demo

    def disk_full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(demo, "write_atomically", disk_full)
    assert main(["demo", "-o", str(tmp_path / "out"), "--steps", "2", "--samples", "8"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "Traceback" not in err
    assert "decision_boundary.png" in err


def test_demo_interrupted_is_one_line(tmp_path, capsys, monkeypatch):
    from chaingrad.cli import main
    from chaingrad.nn import train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "fit", interrupted)
    assert main(["demo", "-o", str(tmp_path / "out"), "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err
