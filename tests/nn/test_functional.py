"""chaingrad.nn.functional against finite differences always and torch float64 when installed."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from chaingrad import Value, gradcheck
from chaingrad.nn import functional as F


def values(xs):
    return [Value(x) for x in xs]


def grads_of(fn, xs):
    vs = values(xs)
    out = fn(vs)
    out.backward()
    return out.data, [v.grad for v in vs]


LOGITS = [0.3, -1.2, 2.5, 0.0, 1.1]


# --- finite differences -------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda *xs: F.softmax(xs)[2],
        lambda *xs: F.log_softmax(xs)[1],
        lambda *xs: F.logsumexp(xs),
        lambda *xs: F.cross_entropy(xs, 3),
        lambda *xs: F.mse_loss(list(xs), [0.5, -1.0, 2.0, 0.0, 1.0]),
        lambda *xs: F.hinge_loss(list(xs), [1, -1, 1, -1, 1]),
        lambda *xs: F.binary_cross_entropy_with_logits(list(xs), [1, 0, 1, 0, 0.3]),
        lambda *xs: F.binary_cross_entropy(F.sigmoid(list(xs)), [1, 0, 1, 0, 0.3]),
        lambda *xs: F.l2_penalty(xs),
        lambda *xs: F.l1_penalty(xs),
        lambda *xs: F.softplus(xs[0]) + F.softplus(-xs[2]),
        lambda *xs: F.leaky_relu(xs[1], 0.2) + F.tanh(xs[0]) + F.relu(xs[2]),
    ],
)
def test_gradcheck(fn):
    assert gradcheck(fn, LOGITS)


# --- torch float64 -------------------------------------------------------------------------


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def t_grads(torch, fn, xs):
    t = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    out = fn(t)
    out.backward()
    return out.item(), t.grad.tolist()


def assert_same(ours, theirs):
    assert ours[0] == pytest.approx(theirs[0], abs=1e-12)
    assert ours[1] == pytest.approx(theirs[1], abs=1e-12)


def test_activations_match_torch(torch):
    tf = torch.nn.functional
    for fn, tfn in [
        (F.sigmoid, torch.sigmoid),
        (F.tanh, torch.tanh),
        (F.relu, torch.relu),
        (lambda v: F.leaky_relu(v, 0.1), lambda t: tf.leaky_relu(t, 0.1)),
        (F.softplus, tf.softplus),
    ]:
        xs = [-3.0, -0.5, 0.25, 4.0]
        assert_same(
            grads_of(lambda vs, fn=fn: sum(v * (i + 1) for i, v in enumerate(fn(vs))), xs),
            t_grads(
                torch,
                lambda t, tfn=tfn: (tfn(t) * torch.arange(1.0, 5.0, dtype=torch.float64)).sum(),
                xs,
            ),
        )


@pytest.mark.parametrize("index", [0, 2, 4])
def test_softmax_and_log_softmax_match_torch(torch, index):
    weights = [0.7, -1.0, 2.0, 0.1, 0.5]
    w = torch.tensor(weights, dtype=torch.float64)
    assert_same(
        grads_of(lambda vs: sum(p * c for p, c in zip(F.softmax(vs), weights)), LOGITS),
        t_grads(torch, lambda t: (torch.softmax(t, 0) * w).sum(), LOGITS),
    )
    assert_same(
        grads_of(lambda vs: F.log_softmax(vs)[index], LOGITS),
        t_grads(torch, lambda t: torch.log_softmax(t, 0)[index], LOGITS),
    )


def test_cross_entropy_single_and_batch_match_torch(torch):
    assert_same(
        grads_of(lambda vs: F.cross_entropy(vs, 2), LOGITS),
        t_grads(
            torch, lambda t: torch.nn.functional.cross_entropy(t[None], torch.tensor([2])), LOGITS
        ),
    )
    rng = random.Random(0)
    batch = [[rng.uniform(-3, 3) for _ in range(4)] for _ in range(6)]
    targets = [rng.randrange(4) for _ in range(6)]
    flat = [x for row in batch for x in row]

    def ours(vs):
        rows = [vs[i * 4 : (i + 1) * 4] for i in range(6)]
        return F.cross_entropy(rows, targets)

    def theirs(t):
        return torch.nn.functional.cross_entropy(t.view(6, 4), torch.tensor(targets))

    assert_same(grads_of(ours, flat), t_grads(torch, theirs, flat))

    def ours_sum(vs):
        rows = [vs[i * 4 : (i + 1) * 4] for i in range(6)]
        return F.cross_entropy(rows, targets, reduction="sum")

    def theirs_sum(t):
        return torch.nn.functional.cross_entropy(
            t.view(6, 4), torch.tensor(targets), reduction="sum"
        )

    assert_same(grads_of(ours_sum, flat), t_grads(torch, theirs_sum, flat))


def test_losses_match_torch(torch):
    tf = torch.nn.functional
    targets01 = [1.0, 0.0, 1.0, 0.0, 0.3]
    t01 = torch.tensor(targets01, dtype=torch.float64)
    assert_same(
        grads_of(lambda vs: F.mse_loss(vs, [0.5, -1.0, 2.0, 0.0, 1.0]), LOGITS),
        t_grads(
            torch,
            lambda t: tf.mse_loss(t, torch.tensor([0.5, -1.0, 2.0, 0.0, 1.0], dtype=torch.float64)),
            LOGITS,
        ),
    )
    assert_same(
        grads_of(lambda vs: F.binary_cross_entropy_with_logits(vs, targets01), LOGITS),
        t_grads(torch, lambda t: tf.binary_cross_entropy_with_logits(t, t01), LOGITS),
    )
    assert_same(
        grads_of(lambda vs: F.binary_cross_entropy(F.sigmoid(vs), targets01), LOGITS),
        t_grads(torch, lambda t: tf.binary_cross_entropy(torch.sigmoid(t), t01), LOGITS),
    )
    signs = [1, -1, 1, -1, 1]
    ts = torch.tensor(signs, dtype=torch.float64)
    assert_same(
        grads_of(lambda vs: F.hinge_loss(vs, signs), LOGITS),
        t_grads(torch, lambda t: torch.relu(1 - ts * t).mean(), LOGITS),
    )
    assert_same(
        grads_of(lambda vs: F.l2_penalty(vs) + F.l1_penalty(vs), LOGITS),
        t_grads(torch, lambda t: (t * t).sum() + t.abs().sum(), LOGITS),
    )


# --- stability and semantics ----------------------------------------------------------------


def test_huge_logits_are_stable():
    big = values([1000.0, -1000.0, 999.0])
    probs = F.softmax(big)
    assert [round(p.data, 6) for p in probs] == [0.731059, 0.0, 0.268941]
    assert F.log_softmax(big)[1].data == pytest.approx(-2000.313262, abs=1e-6)
    loss = F.cross_entropy(big, 1)
    loss.backward()
    assert loss.data == pytest.approx(2000.313262, abs=1e-6)
    assert big[1].grad == pytest.approx(-1.0)
    assert F.binary_cross_entropy_with_logits(Value(-800.0), 1).data == pytest.approx(800.0)
    assert F.softplus(Value(-800.0)).data == 0.0


def test_binary_cross_entropy_clamps_log_like_torch():
    p = Value(0.0)
    loss = F.binary_cross_entropy(p, 1)
    assert loss.data == 100.0
    assert F.binary_cross_entropy(Value(1.0), 1).data == 0.0  # no log(0) for a right answer


def test_hinge_is_micrograds_expression():
    s = Value(0.3)
    ours = F.hinge_loss(s, -1)
    assert ours.data == (1 + 1 * 0.3)  # (1 + -yi*scorei).relu() with yi = -1


def test_reductions():
    preds = values([1.0, 2.0])
    assert F.mse_loss(preds, [0.0, 0.0], reduction="sum").data == 5.0
    per_sample = F.mse_loss(preds, [0.0, 0.0], reduction="none")
    assert [v.data for v in per_sample] == [1.0, 4.0]
    with pytest.raises(ValueError, match="reduction must be"):
        F.mse_loss(preds, [0.0, 0.0], reduction="avg")


def test_l2_penalty_is_one_node_and_accepts_a_module():
    from chaingrad.nn import MLP

    model = MLP(2, [3, 1], seed=0)
    penalty = F.l2_penalty(model)
    assert penalty.op.name == "dot"
    assert penalty.data == pytest.approx(sum(p.data**2 for p in model.parameters()))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: F.cross_entropy(values([1.0, 2.0]), 2), ValueError, "out of range for 2 classes"),
        (lambda: F.cross_entropy(values([1.0, 2.0]), 1.0), TypeError, "class index"),
        (lambda: F.cross_entropy([values([1.0])] * 2, [0]), ValueError, "2 samples but 1 targets"),
        (lambda: F.cross_entropy([], 0), ValueError, "no logits"),
        (lambda: F.mse_loss(values([1.0, 2.0]), [1.0]), ValueError, "2 predictions but 1 targets"),
        (lambda: F.hinge_loss(Value(1.0), 0), ValueError, "targets must be -1 or \\+1"),
        (lambda: F.binary_cross_entropy(Value(1.5), 1), ValueError, "probability must be in"),
        (lambda: F.binary_cross_entropy(Value(0.5), 2), ValueError, "target must be in"),
        (lambda: F.softmax([]), ValueError, "at least one value"),
        (lambda: F.l2_penalty([1.0]), TypeError, "params\\[0\\] must be a Value"),
        (lambda: F.logsumexp(values([math.inf])), ValueError, "must be finite"),
    ],
)
def test_bad_input_is_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- NumPy targets and scores -------------------------------------------------------------


def test_losses_take_numpy_targets_and_scores():
    outs = [Value(0.5), Value(-0.2)]
    assert F.mse_loss(outs, np.array([1.0, 0.0])).data == F.mse_loss(outs, [1.0, 0.0]).data
    assert F.hinge_loss(outs, np.array([1, -1])).data == F.hinge_loss(outs, [1, -1]).data
    logits = [[Value(1.0), Value(2.0)], [Value(0.5), Value(0.1)]]
    assert F.cross_entropy(logits, np.array([1, 0])).data == F.cross_entropy(logits, [1, 0]).data
    scores = np.array([[1.0, 2.0], [0.5, 0.1]])
    assert F.cross_entropy(scores, np.array([1, 0])).data == F.cross_entropy(logits, [1, 0]).data
    assert F.cross_entropy(scores[0], np.int64(1)).data == F.cross_entropy(logits[0], 1).data


# --- the ends of the float range, against torch float64 ----------------------------------------

# Logit vectors from 1e-308 to 1e308: equal values, ties, both signs, a zero.
MAGNITUDES = [1e-308, 1e-300, 1e-100, 1e-10, 1.0, 1e10, 1e100, 1e300, 1.7e308]
PATTERNS = {
    "equal": lambda m: [m, m, m],
    "equal negative": lambda m: [-m, -m, -m],
    "tie at the top": lambda m: [m, m, -m],
    "tie at the bottom": lambda m: [m, -m, -m],
    "spread": lambda m: [m, m / 2, 0.0, -m / 4],
    "one": lambda m: [m],
}
EXTREME_LOGITS = [
    pytest.param(pattern(m), id=f"{name}-{m:g}")
    for name, pattern in PATTERNS.items()
    for m in MAGNITUDES
]


def assert_agree(ours, theirs, what):
    from tests.helpers import close

    assert len(ours) == len(theirs), what
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert close(a, b, 1e-12, floor=1e-300), f"{what}[{i}]: chaingrad {a!r}, torch {b!r}"


def against_torch(torch, ours, theirs, xs, seed=0):
    """Outputs and the gradient of a weighted sum of the finite outputs, both ways."""
    rng = random.Random(seed)
    vs = values(xs)
    out = ours(vs)
    out = out if isinstance(out, list) else [out]
    t = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    t_out = theirs(t).reshape(-1)
    assert_agree([o.data for o in out], t_out.tolist(), "output")
    weights = [rng.uniform(0.5, 1.5) for _ in out]
    finite = [i for i, o in enumerate(out) if math.isfinite(o.data)]
    if not finite:
        return
    from chaingrad import dot

    dot([weights[i] for i in finite], [out[i] for i in finite]).backward()
    sum(weights[i] * t_out[i] for i in finite).backward()
    assert_agree([v.grad for v in vs], t.grad.tolist(), "gradient")


def stable_logsumexp(torch, t):
    top = t.max().detach()
    return ((t - top).exp().sum().log() + top).reshape(1)


@pytest.mark.parametrize("xs", EXTREME_LOGITS)
def test_softmax_family_is_exact_at_the_ends_of_the_float_range(torch, xs):
    against_torch(torch, F.softmax, lambda t: torch.softmax(t, 0), xs)
    against_torch(torch, F.log_softmax, lambda t: torch.log_softmax(t, 0), xs)
    # torch.logsumexp's own backward is exp(x - out), which loses the log of the sum
    # for huge x (three equal logits of 1e100 each get 1, not 1/3): its derivative,
    # the softmax, is taken from the max-shifted form instead (same forward).
    against_torch(torch, F.logsumexp, lambda t: stable_logsumexp(torch, t), xs)
    for target in range(len(xs)):
        against_torch(
            torch,
            lambda vs, k=target: F.cross_entropy(vs, k),
            lambda t, k=target: torch.nn.functional.cross_entropy(t[None], torch.tensor([k])),
            xs,
        )


def test_the_cases_the_issue_names():
    assert [p.data for p in F.softmax(values([-1e300] * 3))] == [1 / 3] * 3
    assert F.cross_entropy(values([1.7e308, 1.7e308, -1.7e308]), 1).data == math.log(2)
    assert [p.data for p in F.log_softmax(values([1e300, 1e300]))] == [-math.log(2)] * 2
    xs = values([-1e300, -1e300, -1e300])
    F.logsumexp(xs).backward()
    assert [v.grad for v in xs] == [1 / 3] * 3


def test_an_infinite_or_all_minus_infinite_logit_is_still_a_clear_error():
    for xs in ([math.inf, 0.0], [-math.inf, -math.inf]):
        with pytest.raises(ValueError, match=r"logsumexp.* must be finite"):
            F.softmax(values(xs))
    # One -inf among finite logits is a masked score: probability 0.
    assert [p.data for p in F.softmax(values([0.0, -math.inf]))] == [1.0, 0.0]


ACTIVATIONS = {
    "relu": (F.relu, lambda torch, t: torch.relu(t)),
    "tanh": (F.tanh, lambda torch, t: torch.tanh(t)),
    "sigmoid": (F.sigmoid, lambda torch, t: torch.sigmoid(t)),
    "softplus": (F.softplus, lambda torch, t: torch.nn.functional.softplus(t)),
    "leaky_relu": (
        lambda v: F.leaky_relu(v, 0.2),
        lambda torch, t: torch.nn.functional.leaky_relu(t, 0.2),
    ),
}
EXTREME_INPUTS = [s * m for m in MAGNITUDES for s in (1.0, -1.0)] + [0.0]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_are_exact_at_the_ends_of_the_float_range(torch, name):
    ours, theirs = ACTIVATIONS[name]
    for x in EXTREME_INPUTS:
        against_torch(torch, lambda vs: [ours(vs[0])], lambda t: theirs(torch, t), [x])


# --- cross_entropy(ignore_index=...) ------------------------------------------------------

_ROWS, _CLASSES = 6, 4
_IGNORING = [2, -1, 0, 3, -1, 1]  # two rows ignored


def _rows_of(vs):
    return [vs[i * _CLASSES : (i + 1) * _CLASSES] for i in range(_ROWS)]


def _batch_logits(seed=0):
    rng = random.Random(seed)
    return [rng.uniform(-3, 3) for _ in range(_ROWS * _CLASSES)]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("traced_targets", [False, True])
def test_cross_entropy_ignore_index_passes_gradcheck(reduction, traced_targets):
    # Value targets take the path a compiled step takes (two takes per row).
    targets = [Value(t) for t in _IGNORING] if traced_targets else _IGNORING
    assert gradcheck(
        lambda *xs: F.cross_entropy(_rows_of(list(xs)), targets, reduction, ignore_index=-1),
        _batch_logits(),
    )


@pytest.mark.parametrize("ignore", [-1, -100, 0, 7])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("traced_targets", [False, True])
def test_cross_entropy_ignore_index_matches_torch(torch, ignore, reduction, traced_targets):
    labels = [ignore if t == -1 else t for t in _IGNORING]
    if ignore == 0:
        labels = [0, 0, 1, 3, 2, 0]
    targets = [Value(t) for t in labels] if traced_targets else labels

    def ours(vs):
        return F.cross_entropy(_rows_of(vs), targets, reduction, ignore_index=ignore)

    def theirs(t):
        return torch.nn.functional.cross_entropy(
            t.view(_ROWS, _CLASSES), torch.tensor(labels), reduction=reduction, ignore_index=ignore
        )

    assert_same(grads_of(ours, _batch_logits(1)), t_grads(torch, theirs, _batch_logits(1)))


def test_cross_entropy_ignore_index_none_gives_zero_for_ignored_rows():
    rows = _rows_of(values(_batch_logits()))
    losses = F.cross_entropy(rows, _IGNORING, reduction="none", ignore_index=-1)
    kept = F.cross_entropy(rows, [t if t >= 0 else 0 for t in _IGNORING], reduction="none")
    for loss, full, t in zip(losses, kept, _IGNORING):
        assert loss.data == (0.0 if t == -1 else full.data)


def test_cross_entropy_ignore_index_refuses_what_it_cannot_average_or_read():
    rows = _rows_of(values(_batch_logits()))
    with pytest.raises(ValueError, match="every target is ignore_index"):
        F.cross_entropy(rows[:2], [-1, -1], ignore_index=-1)
    with pytest.raises(ValueError, match="out of range for 4 classes"):
        F.cross_entropy(rows[:2], [-2, 1], ignore_index=-1)
    with pytest.raises(TypeError, match="class index"):
        F.cross_entropy(rows[:2], [1, 1], ignore_index=0.5)


def test_a_compiled_step_with_ignore_index_checks_each_replays_targets():
    from chaingrad import jit

    w = [Value(0.1 * k) for k in range(_CLASSES)]
    step = jit(
        lambda xs, ys: F.cross_entropy([[wi * x for wi in w] for x in xs], ys, ignore_index=-1),
        params=w,
    )
    step([0.5, 1.0], [1, -1])
    with pytest.raises(ValueError, match="target index -2 is out of range"):
        step([0.5, 1.0], [1, -2])
    with pytest.raises(ValueError, match="target index 4 is out of range"):
        step([0.5, 1.0], [4, -1])
    assert len(step.programs) == 1
