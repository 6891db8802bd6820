"""The architectures of the material, compiled: loss and every gradient equal eager's.

Fresh inputs each call (new labels, new token ids, sequences of other lengths),
parameters moving between calls, each backend, to 1e-10.
"""

from __future__ import annotations

import random

import pytest

from chaingrad.nn import GPT
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
