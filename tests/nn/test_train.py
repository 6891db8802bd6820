"""Training: micrograd's demo loop on chaingrad, the digits acceptance check, fit and plots."""

from __future__ import annotations

import gc
import math
import random
import warnings

import pytest

from chaingrad.nn import MLP, Dropout, Sequential, evaluate, fit, predict
from chaingrad.nn import functional as F
from chaingrad.nn.data import load_digits, make_moons, standardize, train_test_split
from chaingrad.nn.optim import SGD, Adam, CosineLR, LinearLR


def test_micrograd_demo_loop_verbatim_reaches_100_percent():
    """micrograd's demo.ipynb, cell by cell, with only the imports changed."""
    np = pytest.importorskip("numpy")
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    make_moons_sk = sklearn_datasets.make_moons

    from chaingrad import Value
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


@pytest.mark.parametrize(("labels", "outputs"), [((-1, 1), 1), ((0, 1), 1), ((0, 1, 2), 3)])
def test_decision_regions_have_their_points_colour_and_a_legend(labels, outputs):
    pytest.importorskip("matplotlib")
    from matplotlib.colors import to_rgb

    from chaingrad.nn import plot_decision_boundary

    X = [[-1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.5, -1.0]]
    y = [labels[i % len(labels)] for i in range(len(X))]
    fig = plot_decision_boundary(MLP(2, [4, outputs], seed=0), X, y, resolution=8)
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [f"class {c}" for c in labels]
    region_colours = {to_rgb(c) for c in ax.collections[0].get_facecolor()}
    points = [c for c in ax.collections if c.get_offsets().shape[0] and c.get_label() in legend]
    point_colours = {to_rgb(c.get_facecolor()[0]) for c in points}
    assert len(point_colours) == len(labels)
    assert point_colours <= region_colours  # every class's points have its region's colour
