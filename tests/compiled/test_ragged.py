"""The numpy backend runs reductions of different lengths at one level as one padded group."""

from __future__ import annotations

import math
import random

import pytest

from chaingrad import Value, dot, jit, logsumexp, max_of, sum_of

from .helpers import assert_compiled_matches_eager

np = pytest.importorskip("numpy")


def _causal(T):
    """Attention-shaped: position t reduces t + 1 scores (sum, logsumexp, max and a dot)."""
    rng = random.Random(0)
    ws = [Value(rng.uniform(-1, 1)) for _ in range(T)]

    def loss(xs):
        scores = [w * x for w, x in zip(ws, xs)]
        total = []
        for t in range(T):
            seen = scores[: t + 1]
            total.append(logsumexp(seen) + 0.5 * sum_of(seen) - 0.25 * max_of(seen))
            total.append(dot(seen, ws[: t + 1]).tanh())
        return sum_of(total)

    return ws, loss


def test_a_causal_step_runs_in_few_groups_and_equals_eager():
    T = 12
    ws, loss = _causal(T)
    rng = random.Random(1)
    batches = [([rng.gauss(0, 1) for _ in range(T)],) for _ in range(4)]
    step = assert_compiled_matches_eager(loss, ws, batches, "numpy")
    backend = step._last.backend
    per_length = step.program.groups()
    assert len(backend.groups) < len(per_length) - 3 * (T - 2)  # 12 lengths of 4 ops merged
    names = [op.name for op, _ in backend.groups]
    assert names.count("logsumexp") == names.count("max") == names.count("dot") == 1


def test_ragged_groups_agree_with_the_python_backend_on_gradients_at_the_extremes():
    T = 6
    ws, loss = _causal(T)
    xs = [300.0, -300.0, 1e-3, 0.0, 250.0, -1.0]  # logsumexp far from 0, exp near overflow
    results = {}
    for backend in ("numpy", "python"):
        for w in ws:
            w.grad = 0.0
        value = jit(loss, params=ws, backend=backend)(xs)
        results[backend] = (value, [w.grad for w in ws])
    (a, ga), (b, gb) = results["numpy"], results["python"]
    assert math.isclose(a, b, rel_tol=1e-12)
    assert all(math.isclose(x, y, rel_tol=1e-10, abs_tol=1e-12) for x, y in zip(ga, gb))


def test_matrix_products_are_never_padded_into_a_ragged_group():
    rng = random.Random(2)
    W = [[Value(rng.uniform(-1, 1)) for _ in range(8)] for _ in range(8)]
    params = [w for row in W for w in row]

    def loss(X):
        # A dense layer over a batch (a grid of dots) next to dots of other lengths.
        layer = [dot(row, x) for x in X for row in W]
        short = [dot(W[0][: k + 1], X[0][: k + 1]) for k in range(7)]
        return sum_of(layer) + sum_of(short)

    batches = [([[rng.gauss(0, 1) for _ in range(8)] for _ in range(6)],) for _ in range(3)]
    step = assert_compiled_matches_eager(loss, params, batches, "numpy")
    assert "np.matmul" in step.source  # the layer is still one matrix product


def test_very_different_lengths_are_not_padded_to_the_longest():
    xs0 = [Value(float(k)) for k in range(400)]

    def loss(xs):
        long = sum_of([x * v for x, v in zip(xs, xs0)])
        shorts = [sum_of([xs[k] * xs0[k], xs[k + 1]]) for k in range(0, 40, 2)]
        return long + sum_of(shorts)

    step = jit(loss, params=xs0, backend="numpy")
    rng = random.Random(3)
    step([rng.gauss(0, 1) for _ in range(400)])
    sums = [nodes for op, nodes in step._last.backend.groups if op.name == "sum"]
    parents = step.program.parents
    widths = sorted({len(parents[i]) for nodes in sums for i in nodes})
    # The 400-long sum and the 2-long ones stay apart (padding them would be 10x the work).
    assert not any(
        len({len(parents[i]) for i in nodes}) > 1 and 400 in {len(parents[i]) for i in nodes}
        for nodes in sums
    )
    assert 400 in widths and 2 in widths


def _heads(T=6, H=3, d=2, seed=4):
    """Attention-shaped dots: per head, q_t . k_s for s <= t, then sum_s a_ts v_sj."""
    rng = random.Random(seed)
    W = [Value(rng.uniform(-1, 1)) for _ in range(3 * H * d)]

    def loss(xs):
        def project(which):
            base = which * H * d
            return [
                [[W[base + h * d + i] * xs[t] for i in range(d)] for t in range(T)]
                for h in range(H)
            ]

        q, k, v = project(0), project(1), project(2)
        out = []
        for h in range(H):
            for t in range(T):
                scores = [dot(q[h][t], k[h][s]) for s in range(t + 1)]
                weights = [(x - logsumexp(scores)).exp() for x in scores]
                out += [dot(weights, [v[h][s][j] for s in range(t + 1)]) for j in range(d)]
        return sum_of([o * o for o in out])

    return W, loss


def test_attention_heads_run_as_batched_matrix_products_equal_to_eager():
    T = 6
    W, loss = _heads(T)
    rng = random.Random(5)
    batches = [([rng.gauss(0, 1) for _ in range(T)],) for _ in range(3)]
    step = assert_compiled_matches_eager(loss, W, batches, "numpy")
    source = step.source
    assert (
        source.count(".transpose(0, 2, 1), out=") + source.count(".transpose(0, 2, 1)\n") >= 2
    )  # the scores and the weighted sums: one product per group for all heads
    assert "einsum" not in source


def test_a_padded_product_meeting_an_infinite_input_reruns_exactly():
    # The weighted sums read the last position's values padded with 0 weights: 0 * inf
    # would be nan, so the call must rerun exactly and give eager's number.
    T = 5
    ws = [Value(0.5 + 0.1 * k) for k in range(T)]

    def loss(xs):
        return sum_of([dot(ws[: t + 1], xs[: t + 1]) for t in range(T)])

    xs = [1.0, 2.0, 3.0, 4.0, math.inf]
    compiled = jit(loss, params=ws, backend="numpy")
    compiled([1.0, 2.0, 3.0, 4.0, 5.0])
    eager = loss([Value(x) for x in xs]).data
    assert compiled(xs) == eager == math.inf
