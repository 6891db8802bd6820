"""fit(..., compiled=True) and `chaingrad demo --compiled`: the same history as eager, sooner."""

from __future__ import annotations

import pytest

from chaingrad.cli import main
from chaingrad.nn import MLP, Dropout, Layer, Sequential, fit
from chaingrad.nn import functional as F
from chaingrad.nn.data import make_blobs, make_moons
from chaingrad.nn.optim import SGD, Adam, LinearLR

from .helpers import close


def _same_history(a, b):
    assert len(a.loss) == len(b.loss)
    assert all(close(x, y) for x, y in zip(a.loss, b.loss))
    assert a.accuracy == b.accuracy
    assert a.lr == b.lr


def _same_weights(a, b):
    assert all(close(p.data, q.data) for p, q in zip(a.parameters(), b.parameters()))


def test_micrograds_demo_with_schedule_and_l2():
    X, labels = make_moons(60, noise=0.1, seed=3)
    y = [1 if t == 1 else -1 for t in labels]
    runs = []
    for compiled in (False, True):
        model = MLP(2, [8, 8, 1], seed=1)
        opt = SGD(model, lr=1.0)
        decay = LinearLR(opt, start_factor=1.0, end_factor=0.1, total_steps=20)
        history = fit(
            model,
            X,
            y,
            loss="hinge",
            optimizer=opt,
            schedule=decay,
            steps=20,
            l2=1e-4,
            compiled=compiled,
        )
        runs.append((model, history))
    _same_history(runs[0][1], runs[1][1])
    _same_weights(runs[0][0], runs[1][0])


@pytest.mark.parametrize("loss", ["cross_entropy", "bce", "mse"])
def test_minibatches_with_a_short_last_batch_and_validation(loss):
    X, labels = make_blobs(45, [[-1.0, -1.0], [1.0, 1.0], [1.0, -1.0]], 0.6, seed=2)
    if loss != "cross_entropy":
        labels = [int(t == 0) for t in labels]
    outputs = 3 if loss == "cross_entropy" else 1
    runs = []
    for compiled in (False, True):
        model = MLP(2, [6, outputs], seed=4)
        history = fit(
            model,
            X,
            labels,
            loss=loss,
            optimizer=Adam(model, lr=0.05),
            batch_size=16,
            epochs=3,
            l1=1e-3,
            validation=(X, labels),
            seed=5,
            compiled=compiled,
        )
        runs.append((model, history))
    _same_history(runs[0][1], runs[1][1])
    assert all(close(a, b) for a, b in zip(runs[0][1].val_loss, runs[1][1].val_loss))
    _same_weights(runs[0][0], runs[1][0])


def test_dropout_custom_loss_and_an_optimizer_that_cannot_be_fused():
    class Halved(SGD):  # a subclass: the step stays unfused, optimizer.step() runs as is
        def _update(self):
            self.lr /= 2
            super()._update()
            self.lr *= 2

    X, labels = make_moons(30, noise=0.2, seed=6)
    runs = []
    for compiled in (False, True):
        model = Sequential(
            Layer(2, 8, seed=0), Dropout(0.3, seed=9), Layer(8, 2, nonlin=False, seed=1)
        )
        history = fit(
            model,
            X,
            labels,
            loss=lambda out, t: F.cross_entropy(out, t),
            optimizer=Halved(model, lr=0.3),
            steps=8,
            compiled=compiled,
        )
        runs.append((model, history))
    assert all(close(x, y) for x, y in zip(runs[0][1].loss, runs[1][1].loss))
    _same_weights(runs[0][0], runs[1][0])


def test_demo_compiled_prints_the_same_run(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    args = ["demo", "--steps", "12", "--samples", "30", "--no-progress"]
    assert main([*args, "-o", str(tmp_path / "eager")]) == 0
    eager = capsys.readouterr().out
    assert main([*args, "--compiled", "-o", str(tmp_path / "compiled")]) == 0
    compiled = capsys.readouterr().out
    assert "compiled (chaingrad.jit)" in compiled.splitlines()[0]
    keep = lambda text: [l for l in text.splitlines()[1:] if l.startswith("step")]  # noqa: E731
    assert keep(eager) == keep(compiled) and len(keep(eager)) > 5


def test_a_callback_sees_current_weights_and_its_edits_are_kept():
    X, labels = make_moons(40, noise=0.1, seed=8)

    def clip(model):
        def callback(step, history):
            for p in model.parameters():  # the callback reads and edits the weights
                p.data = max(-0.5, min(0.5, p.data))

        return callback

    runs = []
    for compiled in (False, True):
        model = MLP(2, [6, 2], seed=3)
        history = fit(
            model,
            X,
            labels,
            optimizer=Adam(model, lr=0.05),
            steps=6,
            batch_size=10,
            seed=1,
            callback=clip(model),
            compiled=compiled,
        )
        runs.append((model, history))
    _same_history(runs[0][1], runs[1][1])
    _same_weights(runs[0][0], runs[1][0])
