"""Training: micrograd's demo loop on chaingrad, the digits acceptance check, fit and plots."""

from __future__ import annotations

import gc
import math
import random
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaingrad import Value
from chaingrad.nn import MLP, Dropout, Neuron, Sequential, evaluate, fit, predict
from chaingrad.nn import functional as F
from chaingrad.nn.data import (
    load_digits,
    make_moons,
    standardize,
    train_test_split,
)
from chaingrad.nn.optim import SGD, Adam, CosineLR, LinearLR, StepLR
from tests.helpers import one_line, snapshot


def test_micrograd_demo_loop_verbatim_reaches_100_percent():
    """micrograd's demo.ipynb, cell by cell, with only the imports changed."""
    np = pytest.importorskip("numpy")
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    make_moons_sk = sklearn_datasets.make_moons

    from chaingrad.nn import MLP

    np.random.seed(1337)
    random.seed(1337)

    # make up a dataset
    X, y = make_moons_sk(n_samples=100, noise=0.1)
    y = y * 2 - 1  # make y be -1 or 1

    # initialize a model
    model = MLP(2, [16, 16, 1])  # 2-layer neural network

    # loss function
    def loss(batch_size=None):
        # inline DataLoader :)
        if batch_size is None:
            Xb, yb = X, y
        else:
            ri = np.random.permutation(X.shape[0])[:batch_size]
            Xb, yb = X[ri], y[ri]
        inputs = [list(map(Value, xrow)) for xrow in Xb]

        # forward the model to get scores
        scores = list(map(model, inputs))

        # svm "max-margin" loss
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(yb, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        # L2 regularization
        alpha = 1e-4
        reg_loss = alpha * sum((p * p for p in model.parameters()))  # noqa: UP034 (verbatim)
        total_loss = data_loss + reg_loss

        # also get accuracy
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(yb, scores)]
        return total_loss, sum(accuracy) / len(accuracy)

    total_loss, acc = loss()
    assert total_loss.data > 0.0 and 0.0 <= acc <= 1.0

    # optimization
    accuracies = []
    for k in range(100):
        # forward
        total_loss, acc = loss()

        # backward
        model.zero_grad()
        total_loss.backward()

        # update (sgd)
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad

        accuracies.append(acc)

    assert accuracies[0] < 0.9
    assert accuracies[-1] == 1.0  # 100% training accuracy within 100 steps
    assert total_loss.data < 0.05


def test_fit_reproduces_the_demo_with_history():
    X, labels = make_moons(100, noise=0.1, seed=1337)
    y = [2 * t - 1 for t in labels]
    model = MLP(2, [16, 16, 1], seed=1337)
    opt = SGD(model, lr=1.0)
    history = fit(
        model,
        X,
        y,
        loss="hinge",
        optimizer=opt,
        steps=100,
        l2=1e-4,
        schedule=LinearLR(opt, 1.0, 0.1, 100),
        progress=False,
    )
    assert len(history) == len(history.accuracy) == len(history["lr"]) == 100
    assert history.lr[:2] == [1.0, 1.0 - 0.9 / 100]
    assert history.accuracy[-1] == 1.0
    assert history.loss[-1] < history.loss[0] / 10
    assert evaluate(model, X, y, loss="hinge")["accuracy"] == 1.0
    assert predict(model, X[:5], loss="hinge") == labels[:5]


def test_fit_minibatches_validation_and_callback():
    X, y = make_moons(120, noise=0.1, seed=0)
    X_train, X_val, y_train, y_val = train_test_split(X, y, 0.25, seed=0)
    model = MLP(2, [8, 2], init="he", seed=0)
    calls = []
    history = fit(
        model,
        X_train,
        y_train,
        loss="cross_entropy",
        optimizer=Adam(model, lr=0.05),
        epochs=4,
        batch_size=30,
        validation=(X_val, y_val),
        seed=1,
        progress=False,
        callback=lambda step, h: calls.append(step),
    )
    assert len(history) == 12 and calls == list(range(1, 13))  # 90 rows / 30 = 3 per epoch
    assert history.val_step == [3, 6, 9, 12]
    assert len(history.val_accuracy) == 4 and all(0 <= a <= 1 for a in history.val_accuracy)


def test_fit_with_bce_dropout_and_penalties_learns():
    X, y = make_moons(80, noise=0.05, seed=2)
    model = Sequential(
        MLP(2, [16, 16], activation="tanh", init="xavier", seed=0),
        Dropout(0.1, seed=0),
        MLP(16, [1], seed=1),
    )
    history = fit(
        model,
        X,
        y,
        loss="bce",
        optimizer=Adam(model, lr=0.05),
        steps=60,
        l1=1e-5,
        l2=1e-4,
        progress=False,
    )
    assert history.loss[-1] < history.loss[0]
    assert evaluate(model, X, y, loss="bce")["accuracy"] > 0.85
    assert all(m.training for m in model.modules())  # evaluate restored train mode


def test_fit_custom_loss_and_mse():
    X = [[x / 10] for x in range(-10, 11)]
    y = [2 * row[0] + 1 for row in X]
    model = MLP(1, [1], seed=0)
    history = fit(model, X, y, loss="mse", optimizer=SGD(model, lr=0.3), steps=80, progress=False)
    assert history.loss[-1] < 1e-6
    assert all(math.isnan(a) for a in history.accuracy)
    w, b = model.layers[0].neurons[0].w[0].data, model.layers[0].neurons[0].b.data
    assert (w, b) == pytest.approx((2.0, 1.0), abs=1e-3)
    custom = fit(model, X, y, loss=lambda out, t: F.mse_loss(out, t), steps=2, progress=False)
    assert len(custom) == 2


def test_fit_pauses_the_cycle_collector_during_each_step_only():
    """The step's graph dies before the collector resumes; the user's setting is kept."""
    X = [[x / 10] for x in range(-5, 6)]
    y = [row[0] for row in X]
    seen: list[bool] = []

    def loss(outputs, targets):
        seen.append(gc.isenabled())
        return F.mse_loss(outputs, targets)

    def callback(step, history):
        seen.append(gc.isenabled())

    assert gc.isenabled()
    fit(MLP(1, [1], seed=0), X, y, loss=loss, steps=2, callback=callback, progress=False)
    assert seen == [False, True, False, True] and gc.isenabled()

    def failing(outputs, targets):
        raise RuntimeError("a loss that fails")

    with pytest.raises(RuntimeError, match="a loss that fails"):
        fit(MLP(1, [1], seed=0), X, y, loss=failing, steps=1, progress=False)
    assert gc.isenabled()

    gc.disable()  # the user's own choice survives training
    try:
        fit(MLP(1, [1], seed=0), X, y, loss="mse", steps=2, progress=False)
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loss": "svm"}, "unknown loss 'svm'"),
        ({"steps": 2, "epochs": 2}, "give steps or epochs"),
        ({"steps": 0}, "steps must be a positive int"),
        ({"l2": -1.0}, "l2 must be a finite number >= 0"),
    ],
)
def test_fit_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit(MLP(2, [1]), [[0.0, 0.0]], [1], **kwargs)


def test_fit_progress_is_quiet_when_not_a_terminal(capsys):
    X, y = make_moons(20, seed=0)
    fit(MLP(2, [4, 2], seed=0), X, y, steps=3)  # progress=None: stderr is captured, not a TTY
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_fit_progress_bar_when_forced(capsys):
    pytest.importorskip("tqdm")
    X, y = make_moons(20, seed=0)
    fit(MLP(2, [4, 2], seed=0), X, y, steps=3, progress=True)
    assert "3/3" in capsys.readouterr().err


# --- the digits acceptance check ---------------------------------------------------------------


def _digits_check(epochs: int, split_seeds: tuple[int, ...]) -> list[tuple[float, float]]:
    pytest.importorskip("sklearn")
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y = load_digits()
    results = []
    for split_seed in split_seeds:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, 0.2, seed=split_seed, stratify=True
        )
        X_train, X_test = standardize(X_train, X_test)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            reference = MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
            reference.fit(X_train, y_train)
        sklearn_accuracy = reference.score(X_test, y_test)

        model = MLP(64, [16, 10], init="xavier", seed=0)
        opt = Adam(model, lr=0.01)
        steps = epochs * math.ceil(len(X_train) / 32)
        fit(
            model,
            X_train,
            y_train,
            loss="cross_entropy",
            optimizer=opt,
            epochs=epochs,
            batch_size=32,
            schedule=CosineLR(opt, steps),
            seed=0,
            progress=False,
        )
        ours = evaluate(model, X_test, y_test)["accuracy"]
        results.append((ours, sklearn_accuracy))
        assert ours >= sklearn_accuracy - 0.03, (split_seed, ours, sklearn_accuracy)
    return results


def test_digits_mlp_matches_sklearn_within_3_points():
    """64-16-10, cross-entropy, Adam, 80/20 split: test accuracy >= sklearn's MLP - 0.03."""
    ((ours, reference),) = _digits_check(epochs=5, split_seeds=(0,))
    assert ours > 0.9 and reference > 0.9


@pytest.mark.slow
def test_digits_on_several_splits_longer_training():
    results = _digits_check(epochs=15, split_seeds=(0, 1, 2, 3))
    assert all(ours > 0.93 for ours, _ in results)


# --- plots ----------------------------------------------------------------------------------------


def test_plots_return_figures(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from chaingrad.nn import plot_decision_boundary, plot_loss_curve

    X, y = make_moons(40, seed=0)
    model = MLP(2, [8, 1], seed=0)
    history = fit(
        model,
        X,
        [2 * t - 1 for t in y],
        loss="hinge",
        optimizer=SGD(model, lr=0.3),
        steps=20,
        progress=False,
    )
    curve = plot_loss_curve(history)
    boundary = plot_decision_boundary(model, X, y, resolution=20)
    multi = plot_decision_boundary(MLP(2, [4, 3], seed=0), X, y, resolution=10)
    for fig in (curve, boundary, multi, plot_loss_curve([3.0, 2.0, 1.0])):
        assert isinstance(fig, Figure)
    curve.savefig(tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="exactly 2 features"):
        plot_decision_boundary(MLP(3, [1]), [[1.0, 2.0, 3.0]], [0])


# --- fit with bad arguments: one clear error, nothing trained -----------------------------


X4 = [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [-1.0, 0.3]]
Y4 = [0, 1, 1, 0]


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


# --- labels -------------------------------------------------------------------------------


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


# --- NumPy arrays wherever a list is accepted ---------------------------------------------


def test_numpy_input_gives_the_same_results_as_lists():
    X, y = make_moons(40, noise=0.1, seed=0)
    Xn, yn = np.array(X), np.array(y)
    # fit, evaluate, predict, with int and float label arrays.
    runs = []
    for data_X, data_y in ((X, y), (Xn, yn), (Xn, yn.astype(float))):
        m = MLP(2, [6, 2], seed=0)
        h = fit(m, data_X, data_y, optimizer=Adam(m, lr=0.05), steps=5, batch_size=8, seed=0)
        runs.append((h.loss, evaluate(m, data_X, data_y), predict(m, data_X)))
    assert runs[0] == runs[1] == runs[2]


# --- fuzzing labels and fit's arguments ---------------------------------------------------


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
