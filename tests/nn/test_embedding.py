"""Embedding against torch.nn.Embedding: rows, take nodes for Value ids, initialisation, bad ids."""

from __future__ import annotations

import random
import statistics

import pytest

from chaingrad import Value
from chaingrad.nn import (
    Embedding,
)

from .helpers import randn


def test_embedding_int_returns_the_rows_own_values():
    emb = Embedding(5, 3, seed=0)
    row = emb(2)
    assert all(a is b for a, b in zip(row, emb.weight[2]))
    row.append(Value(0.0))  # a new list each call: the parameter row is untouched
    assert len(emb.weight[2]) == 3
    rows = emb([4, 0, 4])
    assert [[v is w for v, w in zip(r, emb.weight[i])] for r, i in zip(rows, [4, 0, 4])] == [
        [True] * 3
    ] * 3


def test_embedding_value_id_is_a_take_node_reading_the_id_at_build_time():
    emb = Embedding(5, 3, seed=0)
    token = Value(3.0)
    out = emb(token)
    assert [v.op.name for v in out] == ["take"] * 3
    assert [v.data for v in out] == [w.data for w in emb.weight[3]]
    sum(out[j] * (j + 1) for j in range(3)).backward()
    assert [w.grad for w in emb.weight[3]] == [1.0, 2.0, 3.0]
    assert all(w.grad == 0.0 for i in (0, 1, 2, 4) for w in emb.weight[i])
    token.data = 1.0  # the same graph code, another id
    assert [v.data for v in emb(token)] == [w.data for w in emb.weight[1]]


def test_embedding_matches_torch_on_integer_ids():
    torch = pytest.importorskip("torch")
    emb = Embedding(7, 4, seed=3)
    ids = [3, 0, 6, 3]
    rows = emb(ids)
    twin = emb.to_torch()
    t_rows = twin(torch.tensor(ids))
    rng = random.Random(0)
    weights = randn(rng, len(ids), 4)
    loss = sum(w * v for wr, r in zip(weights, rows) for w, v in zip(wr, r))
    loss.backward()
    (t_rows * torch.tensor(weights, dtype=torch.float64)).sum().backward()
    ours = torch.tensor([[v.data for v in r] for r in rows], dtype=torch.float64)
    assert torch.equal(t_rows.detach(), ours)
    grads = torch.tensor([[w.grad for w in row] for row in emb.weight], dtype=torch.float64)
    assert torch.allclose(grads, twin.weight.grad, rtol=0, atol=1e-12)


def test_embedding_init_is_standard_normal():
    values = [v.data for v in Embedding(200, 50, seed=0).parameters()]
    assert abs(statistics.fmean(values)) < 0.03
    assert abs(statistics.pstdev(values) - 1.0) < 0.03


@pytest.mark.parametrize("bad", [5, -1, 2.0, True, "a", None, [1, 9]])
def test_embedding_rejects_bad_ids_naming_the_module_and_range(bad):
    with pytest.raises(ValueError, match=r"Embedding\(5, 3\)"):
        Embedding(5, 3)(bad)


@pytest.mark.parametrize("bad", [5.0, -1.0, 1.5])
def test_embedding_rejects_a_bad_value_id(bad):
    with pytest.raises(ValueError, match=r"Embedding\(5, 3\): token ids must be ints in \[0, 5\)"):
        Embedding(5, 3)(Value(bad))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Embedding(5, 0), "Embedding: embedding_dim must be a positive int"),
    ],
)
def test_bad_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()
