"""``Embedding``: a lookup table from token ids to vectors, as ``torch.nn.Embedding``."""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sequence
from typing import Any

from chaingrad.engine import Value, take

from ._checks import Vector, check_int, is_token_id
from ._memory import check_parameters
from .init import Seed, make_rng
from .module import Module


class Embedding(Module):
    """A lookup table: token id ``i`` -> row ``weight[i]``, a vector of ``embedding_dim`` Values.

    ``emb(3)`` returns row 3 (its own parameter Values: no node is made, and the
    gradient of whatever uses it lands on the row); ``emb([3, 1])`` returns a
    list of rows. A token id may also be a Value holding the integer (this is
    how ``chaingrad.jit`` passes inputs): then each entry is one ``take`` node
    reading column ``j`` at that id, so a replayed graph reads the new id.
    ``weight`` starts N(0, 1), as ``torch.nn.Embedding``.

    >>> emb = Embedding(5, 2, seed=0)
    >>> emb(3) == emb.weight[3], len(emb([3, 1, 4]))
    (True, 3)
    >>> [v.data for v in emb(Value(3))] == [v.data for v in emb.weight[3]]
    True
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, *, seed: Seed = None) -> None:
        self.num_embeddings = check_int(num_embeddings, "Embedding: num_embeddings")
        self.embedding_dim = check_int(embedding_dim, "Embedding: embedding_dim")
        check_parameters("Embedding", num_embeddings * embedding_dim)
        rng = make_rng(seed)
        self.weight = [
            [Value(rng.gauss(0.0, 1.0)) for _ in range(embedding_dim)]
            for _ in range(num_embeddings)
        ]

    def forward(self, ids: int | Value | Sequence[int | Value]) -> Vector | list[Vector]:
        if isinstance(ids, (Value, numbers.Integral)) and not isinstance(ids, bool):
            return self._row(ids)
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
            raise ValueError(
                f"{self._name()} expects a token id or a list of token ids, got {ids!r}"
            )
        return [self._row(i) for i in ids]

    def _row(self, i: Any) -> Vector:
        if isinstance(i, Value):
            columns = zip(*self.weight)  # column j: entry j of every row
            try:
                return [take(column, i) for column in columns]
            except ValueError:  # take checked the id's range at forward time
                raise self._bad_id(i.data) from None
        if not is_token_id(i, self.num_embeddings):
            raise self._bad_id(i)
        return list(self.weight[int(i)])

    def _bad_id(self, i: Any) -> ValueError:
        return ValueError(
            f"{self._name()}: token ids must be ints in [0, {self.num_embeddings}), got {i!r}"
        )

    def _name(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"

    def _torch_module(self, torch: Any) -> Any:
        return torch.nn.Embedding(self.num_embeddings, self.embedding_dim)

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        yield "weight", self.weight
