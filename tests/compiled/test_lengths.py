"""One compiled program for sequences of many lengths: pad, and ignore the padded targets."""

from __future__ import annotations

import random

import pytest

from chaingrad import jit
from chaingrad.nn import GPT, GRU, LSTM, RNN, Linear
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


# --- recurrent layers with length=: packed-sequence semantics, one program ------------------

RECURRENT = {
    "rnn": lambda: RNN(2, 3, num_layers=2, bidirectional=True, seed=5),
    "lstm": lambda: LSTM(2, 3, bidirectional=True, seed=6),
    "gru": lambda: GRU(2, 3, num_layers=2, seed=7),
}


def _final_hidden(result):
    _, finals = result
    return finals[0] if isinstance(finals, tuple) else finals  # LSTM: (h_n, c_n)


def _flat(vectors):
    return [v.data if hasattr(v, "data") else v for vector in vectors for v in vector]


@pytest.mark.parametrize("kind", sorted(RECURRENT))
@pytest.mark.parametrize("as_value", [False, True])
def test_length_gives_the_unpadded_sequences_numbers_and_zero_outputs_after_it(kind, as_value):
    from chaingrad import Value

    layer = RECURRENT[kind]()
    rng = random.Random(8)
    xs = [[rng.gauss(0, 1), rng.gauss(0, 1)] for _ in range(7)]
    for n in (1, 4, 7):
        padded = xs[:n] + [[0.0, 0.0]] * (7 - n)
        got = layer(padded, None, Value(n) if as_value else n)
        want = layer(xs[:n])
        assert len(got[0]) == 7
        for a, b in zip(_flat(got[0][:n]), _flat(want[0])):
            assert close(a, b, 1e-12)
        assert all(v == 0.0 for v in _flat(got[0][n:]))
        for a, b in zip(_flat(_final_hidden(got)), _flat(_final_hidden(want))):
            assert close(a, b, 1e-12)


def test_length_is_refused_outside_the_sequence():
    layer = GRU(2, 3, seed=0)
    xs = [[0.0, 1.0]] * 4
    with pytest.raises(ValueError, match=r"length must be in \[1, 4\]"):
        layer(xs, None, 0)
    with pytest.raises(ValueError, match=r"length must be in \[1, 4\]"):
        layer(xs, None, 5)
    with pytest.raises(TypeError, match="length must be an int"):
        layer(xs, None, 2.0)


@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_a_sequence_classifier_on_padded_sequences_replays_one_program_equal_to_eager(kind):
    """The final state after the real steps (both directions), as torch's packed sequences."""
    fused_layer, eager_layer = RECURRENT[kind](), RECURRENT[kind]()
    width = len(_final_hidden(fused_layer([[0.0, 0.0]]))[0])
    f_head, e_head = Linear(width, 3, seed=9), Linear(width, 3, seed=9)
    fused_params = [*fused_layer.parameters(), *f_head.parameters()]
    eager_params = [*eager_layer.parameters(), *e_head.parameters()]

    def loss_of(layer, head, xs, label, length=None):
        h_n = _final_hidden(layer(xs, None, length))
        return F.cross_entropy(head(h_n[-1]), label)

    step = jit(lambda xs, n, y: loss_of(fused_layer, f_head, xs, y, n), params=fused_params)
    rng = random.Random(10)
    for n in (3, 8, 1, 5, 8, 2):
        xs = [[rng.gauss(0, 1), rng.gauss(0, 1)] for _ in range(n)]
        label = rng.randrange(3)
        for p in fused_params + eager_params:
            p.grad = 0.0
        got = step(xs + [[0.0, 0.0]] * (8 - n), n, label)
        want = loss_of(eager_layer, e_head, xs, label)
        want.backward()
        assert close(got, want.data)
        for p, q in zip(fused_params, eager_params):
            assert close(p.grad, q.grad)
    assert len(step.programs) == 1
    with pytest.raises(ValueError, match=r"length must be in \[1, 8\]"):
        step([[0.0, 0.0]] * 8, 9, 0)


def test_length_gradients_match_finite_differences_and_torch_packed_sequences():
    from chaingrad import Value, gradcheck

    layer = LSTM(2, 2, bidirectional=True, seed=11)
    params = layer.parameters()
    rng = random.Random(12)
    xs = [[rng.gauss(0, 1), rng.gauss(0, 1)] for _ in range(3)] + [[0.0, 0.0]] * 2
    start = [p.data for p in params]

    def loss(*numbers):
        for p, x in zip(params, numbers):
            p.data = x
        outputs, (h_n, _) = layer(xs, None, Value(3))
        return sum(v for vector in outputs for v in vector) * 0.5 + sum(h_n[1])

    # gradcheck perturbs the inputs it is given: here every parameter's number.
    def on_values(*vs):
        outputs, (h_n, _) = _with_params(layer, vs)(xs, None, Value(3))
        return sum(v for vector in outputs for v in vector) * 0.5 + sum(h_n[1])

    assert gradcheck(on_values, start)

    torch = pytest.importorskip("torch")
    twin = layer.to_torch()
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        torch.tensor([xs], dtype=torch.float64), torch.tensor([3]), batch_first=True
    )
    out, (h_n, _) = twin(packed)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=5)
    total = out.sum() * 0.5 + h_n[1, 0].sum()
    total.backward()
    for p in params:
        p.grad = 0.0
    ours = loss(*start)
    ours.backward()
    assert close(ours.data, total.item(), 1e-12)
    theirs = [g for _, t in twin.named_parameters() for g in t.grad.reshape(-1).tolist()]
    assert all(close(p.grad, g, 1e-10) for p, g in zip(params, theirs))


def _with_params(layer, values):
    """The layer with its parameters replaced by ``values`` (Values gradcheck perturbs)."""
    import copy

    twin = copy.deepcopy(layer)
    for name, value in zip([n for n, _ in twin.named_parameters()], values):
        *path, last = name.split(".")
        owner = twin
        for part in path:
            owner = owner[int(part)] if part.isdigit() else getattr(owner, part)
        if last.isdigit():
            owner[int(last)] = value
        else:
            setattr(owner, last, value)
    return twin


def test_a_step_that_keeps_retracing_says_once_how_to_pad():
    from chaingrad import Value
    from chaingrad.compiled import RetraceWarning
    from chaingrad.compiled.step import RETRACE_HINT

    w = Value(0.5)
    step = jit(lambda xs: sum(w * x for x in xs), params=[w])
    with pytest.warns(RetraceWarning, match="ignore_index=-1") as caught:
        for n in range(1, RETRACE_HINT + 3):
            step([1.0] * n)
    assert len(caught) == 1 and len(step.programs) == RETRACE_HINT + 2
    assert "test_lengths.py" in caught[0].filename  # it points at the caller's line
