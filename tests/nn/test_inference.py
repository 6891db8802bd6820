"""evaluate and predict through a compiled forward pass: the numbers of the eager loop.

``chaingrad.nn.inference`` traces the model on one row and runs the program on
all alike rows at once (``Step.map``); these tests hold it to the eager
``[model(x) for x in X]`` (to 1e-12) on an MLP, notebook 06's CNN and a
recurrent model, in eval mode, check every built-in loss of ``evaluate``, that
the compiled pass is kept for a model (and traced again when the model
changes) without keeping the model alive, and that a model that cannot be
traced runs eagerly with the same results and errors.
"""

from __future__ import annotations

import math
import random

import pytest

from chaingrad import Value, no_grad
from chaingrad.nn import (
    GRU,
    LSTM,
    MLP,
    Conv2d,
    Dropout,
    Flatten,
    Layer,
    Linear,
    MaxPool2d,
    Module,
    MultiheadAttention,
    ReLU,
    Sequential,
    evaluate,
    inference,
    predict,
)

pytest.importorskip("numpy")  # the programs of these batches are big enough for numpy


def eager(model, X):
    was = [(m, m.training) for m in model.modules()]
    model.eval()
    with no_grad():
        outs = [model(x) for x in X]
    for m, mode in was:
        m.training = mode
    return outs


def numbers(out):
    if isinstance(out, Value):
        return [out.data]
    return [x for item in out for x in numbers(item)]


def assert_close(compiled, reference, tol=1e-12):
    assert len(compiled) == len(reference)
    for a, b in zip(compiled, reference):
        xs, ys = numbers(a), numbers(b)
        assert len(xs) == len(ys)
        for x, y in zip(xs, ys):
            assert abs(x - y) <= tol * max(1.0, abs(y)), (x, y)


def count_compiled(monkeypatch):
    """How many rows go through compiled calls (to prove the compiled path ran)."""
    calls = []
    original = inference.rows_through

    def spy(*args, **kwargs):
        losses, found = original(*args, **kwargs)
        calls.append(len(found))
        return losses, found

    monkeypatch.setattr(inference, "rows_through", spy)
    return calls


def rows(n, width, seed=0):
    rng = random.Random(seed)
    return [[rng.uniform(-2.0, 2.0) for _ in range(width)] for _ in range(n)]


def test_mlp_outputs_evaluate_and_predict_equal_eager(monkeypatch):
    model = MLP(5, [7, 3], seed=0)
    X = rows(37, 5)
    y = [i % 3 for i in range(37)]
    calls = count_compiled(monkeypatch)
    assert_close(inference.outputs(model, X), eager(model, X))
    assert calls == [37]  # every row in one compiled call (no module keeps state)
    with no_grad():
        reference = [model(x) for x in X]
    from chaingrad.nn.train import accuracy, data_loss

    with no_grad():
        want = float(data_loss(reference, y, "cross_entropy"))
    got = evaluate(model, X, y)
    assert abs(got["loss"] - want) <= 1e-12 * abs(want)
    assert got["accuracy"] == accuracy(reference, y, "cross_entropy")
    assert predict(model, X) == [max(range(3), key=lambda k: o[k].data) for o in reference]
    assert all(p.grad == 0.0 for p in model.parameters())  # no backward pass ran


def test_notebook_06s_cnn_equals_eager(monkeypatch):
    model = Sequential(
        Conv2d(1, 4, kernel_size=3, seed=0),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Layer(36, 10, nonlin=False, init="lecun_normal", seed=0),
    )
    rng = random.Random(1)
    X = [[[[rng.uniform(0.0, 16.0) for _ in range(8)] for _ in range(8)]] for _ in range(17)]
    calls = count_compiled(monkeypatch)
    assert_close(inference.outputs(model, X), eager(model, X))
    assert calls == [17]
    y = [rng.randrange(10) for _ in X]
    monkeypatch.setattr(inference, "MIN_ROWS", 10**6)  # eager all the way, for reference
    reference = evaluate(model, X, y)
    monkeypatch.undo()
    got = evaluate(model, X, y)
    assert abs(got["loss"] - reference["loss"]) <= 1e-12 * reference["loss"]
    assert got["accuracy"] == reference["accuracy"]


class SequenceClassifier(Module):
    """An LSTM (or GRU) over a sequence, then a Linear on its last output."""

    def __init__(self, kind, seed=0):
        self.rnn = kind(3, 5, num_layers=2, seed=seed)
        self.drop = Dropout(0.5, seed=seed)
        self.head = Linear(5, 4, seed=seed)

    def forward(self, xs):
        outputs, _ = self.rnn(xs)
        return self.head(self.drop(outputs[-1]))


@pytest.mark.parametrize("kind", [LSTM, GRU])
def test_a_recurrent_model_with_sequences_of_several_lengths_equals_eager(kind, monkeypatch):
    model = SequenceClassifier(kind)
    rng = random.Random(2)
    lengths = [2] * 18 + [5] * 17 + [3] * 3  # two lengths compiled, one too rare to pay
    rng.shuffle(lengths)
    X = [rows(t, 3, seed=rng.randrange(1000)) for t in lengths]
    model.train()  # evaluate and predict must switch Dropout off, and restore the mode
    calls = count_compiled(monkeypatch)
    got = inference.outputs(model.eval(), X)
    model.train()
    assert_close(got, eager(model, X))
    assert calls == [35]  # the 18 rows of length 2 and the 17 of length 5; 3 too few to pay
    y = [rng.randrange(4) for _ in X]
    first = evaluate(model, X, y)
    assert model.training and model.drop.training
    assert evaluate(model, X, y) == first  # no dropout drawn: the same numbers every time
    assert predict(model, X) == predict(model, X)


def test_a_model_that_cannot_be_traced_runs_eagerly_with_the_same_results(monkeypatch):
    class Branchy(Module):  # a Python branch on a number: jit refuses to trace it
        def __init__(self):
            self.layer = Layer(2, 3, nonlin=False, seed=0)

        def forward(self, x):
            out = self.layer(x)
            return out if out[0].data > 0 else [-v for v in out]

    model = Branchy()
    X = rows(30, 2)
    calls = count_compiled(monkeypatch)
    assert_close(inference.outputs(model, X), eager(model, X), tol=0.0)
    assert calls == [0]


def test_a_bad_row_raises_the_eager_error():
    model = MLP(3, [4, 2], seed=0)
    X = rows(40, 3)
    X[21] = [1.0, 2.0]  # one number short
    with pytest.raises(ValueError) as compiled_error:
        predict(model, X)
    with pytest.raises(ValueError) as eager_error, no_grad():
        [model(x) for x in X]
    assert str(compiled_error.value) == str(eager_error.value)


def test_attention_weights_are_those_of_the_last_row_as_after_the_eager_loop():
    class Attend(Module):
        def __init__(self):
            self.attn = MultiheadAttention(4, 2, seed=0)
            self.head = Linear(4, 3, seed=0)

        def forward(self, xs):
            return self.head(self.attn(xs)[-1])

    model = Attend()
    X = [rows(3, 4, seed=s) for s in range(25)]
    compiled = inference.outputs(model, X)
    weights = model.attn.attention_weights
    assert_close(compiled, eager(model, X))
    assert weights and weights == model.attn.attention_weights  # the last row's, eagerly


@pytest.mark.parametrize(
    "loss, nout, target",
    [
        ("cross_entropy", 3, lambda r: r.randrange(3)),
        ("hinge", 1, lambda r: r.choice([-1, 1])),
        ("bce", 1, lambda r: r.choice([0, 1])),
        ("mse", 2, lambda r: [r.uniform(-1, 1), r.uniform(-1, 1)]),
    ],
)
def test_evaluate_gives_eagers_loss_for_every_built_in_loss(loss, nout, target, monkeypatch):
    from chaingrad.nn.train import accuracy, data_loss

    model = MLP(4, [6, nout], seed=3)
    rng = random.Random(4)
    X = rows(29, 4, seed=5)
    y = [target(rng) for _ in X]
    calls = count_compiled(monkeypatch)
    got = evaluate(model, X, y, loss=loss)
    assert calls == [29]
    reference = eager(model, X)
    with no_grad():
        want = float(data_loss(reference, y, loss))
    assert abs(got["loss"] - want) <= 1e-12 * max(1.0, abs(want))
    want_accuracy = accuracy(reference, y, loss)
    if loss == "mse":  # no class labels: no accuracy
        assert math.isnan(got["accuracy"]) and math.isnan(want_accuracy)
    else:
        assert got["accuracy"] == want_accuracy


def test_a_custom_loss_sees_the_outputs_as_values():
    model = MLP(3, [4, 2], seed=0)
    X = rows(20, 3)
    y = [0] * 20

    def first_output(outputs, targets):
        assert all(isinstance(v, Value) for o in outputs for v in o)
        return sum(o[0] for o in outputs) / len(outputs)

    got = evaluate(model, X, y, loss=first_output)
    want = sum(o[0].data for o in eager(model, X)) / 20
    assert abs(got["loss"] - want) <= 1e-12


def test_the_compiled_pass_is_kept_and_traced_again_when_the_model_changes(monkeypatch):
    model = MLP(3, [4, 2], seed=0)
    X = rows(20, 3)
    y = [i % 2 for i in range(20)]
    evaluate(model, X, y)
    step = inference.forward_step(model, "cross_entropy")
    assert len(step._rows_cache) == 1
    traces = []
    original = step.trace_program

    def counting(*args):
        traces.append(1)
        return original(*args)

    monkeypatch.setattr(step, "trace_program", counting)
    evaluate(model, X, y)
    assert traces == []  # kept: the same structure and model, no new trace
    for p in model.parameters():  # new numbers are read at every call
        p.data *= 0.5
    assert abs(evaluate(model, X, y)["loss"] - _eager_loss(model, X, y)) <= 1e-12
    assert traces == []
    model.layers[0].neurons[0].w[0] = Value(3.0)  # a parameter replaced: traced again
    assert abs(evaluate(model, X, y)["loss"] - _eager_loss(model, X, y)) <= 1e-12
    assert traces == [1]


def _eager_loss(model, X, y):
    from chaingrad.nn.train import data_loss

    with no_grad():
        return float(data_loss(eager(model, X), y, "cross_entropy"))


def test_keeping_the_compiled_pass_never_keeps_a_model_alive():
    import gc
    import weakref

    model = MLP(3, [4, 2], seed=0)
    evaluate(model, rows(20, 3), [0] * 20)
    predict(model, rows(20, 3))
    assert inference.forward_step(model) is not None
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None
