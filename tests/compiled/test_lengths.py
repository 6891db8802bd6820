"""One compiled program for sequences of many lengths: pad, and ignore the padded targets."""

from __future__ import annotations

import random

import pytest

from chaingrad import jit
from chaingrad.nn import GPT, GRU, LSTM, Linear
from chaingrad.nn import functional as F
from chaingrad.nn.optim import Adam

from .helpers import close

pytest.importorskip("numpy")

BLOCK = 12


def _pad(xs, length, value):
    return list(xs) + [value] * (length - len(xs))


def _sequences(count, seed=0, vocab=9):
    rng = random.Random(seed)
    lengths = [rng.randrange(2, BLOCK + 2) for _ in range(count)]
    return [[rng.randrange(1, vocab) for _ in range(n)] for n in lengths]


def _same(fused_model, eager_model, tol=1e-10):
    for p, q in zip(fused_model.parameters(), eager_model.parameters()):
        assert close(p.data, q.data, tol) and close(p.grad, q.grad, tol)


def test_a_gpt_trained_on_padded_sequences_replays_one_program_equal_to_eager():
    fused, eager = (GPT(9, BLOCK, 8, 2, 1, seed=0) for _ in range(2))
    fused_opt, eager_opt = Adam(fused, lr=0.01), Adam(eager, lr=0.01)

    @jit(params=fused, optimizer=fused_opt)
    def step(inputs, targets):
        return F.cross_entropy(fused(inputs), targets, ignore_index=-1)

    lengths = set()
    for ids in _sequences(12):
        lengths.add(len(ids))
        loss = step(_pad(ids[:-1], BLOCK, 0), _pad(ids[1:], BLOCK, -1))
        eager_opt.zero_grad()
        want = F.cross_entropy(eager(ids[:-1]), ids[1:])  # unpadded, as eager code writes it
        want.backward()
        eager_opt.step()
        assert close(loss, want.data)
    assert len(lengths) >= 5 and len(step.programs) == 1
    _same(fused, eager)


@pytest.mark.parametrize("cell", [LSTM, GRU])
def test_a_recurrent_tagger_on_padded_sequences_replays_one_program_equal_to_eager(cell):
    """Per-position outputs of a one-way recurrent layer never see the padding after them."""

    def make():
        return cell(3, 5, seed=1), Linear(5, 4, seed=2)

    (f_rnn, f_head), (e_rnn, e_head) = make(), make()
    fused_params = [*f_rnn.parameters(), *f_head.parameters()]
    eager_params = [*e_rnn.parameters(), *e_head.parameters()]

    def loss_of(rnn, head, xs, ys, **kw):
        outputs, _ = rnn(xs)
        return F.cross_entropy([head(h) for h in outputs], ys, **kw)

    step = jit(lambda xs, ys: loss_of(f_rnn, f_head, xs, ys, ignore_index=-1), params=fused_params)
    rng = random.Random(4)
    for n in (3, 7, 5, 9, 2):
        xs = [[rng.gauss(0, 1) for _ in range(3)] for _ in range(n)]
        ys = [rng.randrange(4) for _ in range(n)]
        for p in fused_params + eager_params:
            p.grad = 0.0
        got = step(_pad(xs, 9, [0.0, 0.0, 0.0]), _pad(ys, 9, -1))
        want = loss_of(e_rnn, e_head, xs, ys)
        want.backward()
        assert close(got, want.data)
        for p, q in zip(fused_params, eager_params):
            assert close(p.grad, q.grad)
    assert len(step.programs) == 1
