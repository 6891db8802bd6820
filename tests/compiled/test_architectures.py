"""The architectures of the material, compiled: loss and every gradient equal eager's.

An MLP (test_step.py), a CNN with max pooling, recurrent networks (LSTM, GRU) and
the GPT.

Fresh inputs each call (new labels, new token ids, sequences of other lengths),
parameters moving between calls, each backend, to 1e-10.
"""

from __future__ import annotations

import random

import pytest

from chaingrad.nn import GPT, LSTM, Conv2d, Flatten, Layer, MaxPool2d, ReLU, Sequential
from chaingrad.nn import functional as F

from .helpers import assert_compiled_matches_eager


@pytest.fixture(params=["python", "numpy"])
def backend(request):
    if request.param == "numpy":
        pytest.importorskip("numpy")
    return request.param


def test_gpt_on_sequences_of_different_lengths(backend):
    rng = random.Random(0)
    model = GPT(7, block_size=8, n_embd=8, n_head=2, n_layer=1, seed=0)

    def loss_fn(ids):
        return F.cross_entropy(model(ids[:-1]), ids[1:])

    # Lengths 4, 6, 4 (a replay), 5, 6 (a replay): one trace per length, fresh ids each time.
    batches = [([rng.randrange(7) for _ in range(n)],) for n in (4, 6, 4, 5, 6)]
    step = assert_compiled_matches_eager(
        loss_fn, model.parameters(), batches, backend, module=model
    )
    assert len(step.programs) == 3
    assert model.blocks[0].attn.attention_weights  # the eager calls still record them


@pytest.mark.parametrize("padding", [0, 1])
def test_cnn_with_max_pooling_and_labels_changing(backend, padding):
    rng = random.Random(1)
    side = 8 if padding == 0 else 6
    pooled = ((side + 2 * padding - 2) // 2) ** 2 * 4
    model = Sequential(
        Conv2d(1, 4, 3, padding=padding, seed=0),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Layer(pooled, 10, nonlin=False, seed=0),
    )

    def loss_fn(images, labels):
        return F.cross_entropy([model(x) for x in images], labels)

    batches = [
        (
            [[[[rng.gauss(0, 1) for _ in range(side)] for _ in range(side)]] for _ in range(3)],
            [rng.randrange(10) for _ in range(3)],
        )
        for _ in range(4)
    ]
    step = assert_compiled_matches_eager(
        loss_fn, model.parameters(), batches, backend, module=model
    )
    assert step.program.num_params == model.num_parameters()  # the padding zero is no parameter
    if backend == "numpy":
        assert "np.matmul" in step.source  # the convolution ran as one matrix product (im2col)


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_recurrent_classifier_on_fresh_sequences(backend, cell):
    import chaingrad.nn as nn

    rng = random.Random(2)
    rnn = getattr(nn, cell)(3, 5, seed=0)
    head = Layer(5, 4, nonlin=False, seed=1)
    params = rnn.parameters() + head.parameters()

    def loss_fn(sequences, labels):
        logits = []
        for sequence in sequences:
            outputs, _ = rnn(sequence)  # one hidden vector per step, and the final state
            logits.append(head(outputs[-1]))
        return F.cross_entropy(logits, labels)

    batches = [
        (
            [[[rng.gauss(0, 1) for _ in range(3)] for _ in range(6)] for _ in range(4)],
            [rng.randrange(4) for _ in range(4)],
        )
        for _ in range(4)
    ]
    assert_compiled_matches_eager(loss_fn, params, batches, backend)


def test_lstm_on_sequences_of_different_lengths(backend):
    rng = random.Random(3)
    lstm = LSTM(2, 4, num_layers=2, seed=0)
    head = Layer(4, 1, nonlin=False, seed=1)
    params = lstm.parameters() + head.parameters()

    def loss_fn(sequence, target):
        outputs, _ = lstm(sequence)
        return F.mse_loss(head(outputs[-1]), target)

    batches = [
        ([[rng.gauss(0, 1), rng.gauss(0, 1)] for _ in range(n)], rng.gauss(0, 1))
        for n in (3, 7, 3, 5)
    ]
    step = assert_compiled_matches_eager(loss_fn, params, batches, backend)
    assert len(step.programs) == 3
