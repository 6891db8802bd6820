"""GPT.generate with a key and value cache: token for token what the full prefix gives.

The reference recomputes the whole window (``ids[-block_size:]``) for every new
token, as generate did before the cache; the cached path must give the same ids
and the same logits, bit for bit, including after the window slides.
"""

from __future__ import annotations

import random

import pytest

from chaingrad import no_grad
from chaingrad.nn import GPT
from chaingrad.nn import gpt as gpt_module
from chaingrad.nn.init import make_rng
from chaingrad.nn.kv_cache import KVCache, supports

from .helpers import randomize


def full_prefix_generate(model, prompt, max_new_tokens, temperature=1.0, seed=None, stop=None):
    """generate as it was: the whole window through the model for every token."""
    ids = list(prompt)
    rng = make_rng(seed)
    with no_grad():
        for _ in range(max_new_tokens):
            last = model._hidden(ids[-model.block_size :])[-1]
            logits = [v.data for v in model.lm_head(model.ln_f(last))]
            ids.append(gpt_module._sample(logits, float(temperature), rng))
            if ids[-1] == stop:
                break
    return ids


MODELS = {
    "microgpt": dict(vocab_size=7, block_size=6, n_embd=8, n_head=2, n_layer=1),
    "two layers, layernorm, bias, tanh": dict(
        vocab_size=5,
        block_size=4,
        n_embd=6,
        n_head=3,
        n_layer=2,
        norm="layernorm",
        bias=True,
        activation="tanh",
    ),
    "sigmoid, one head": dict(
        vocab_size=6, block_size=5, n_embd=4, n_head=1, n_layer=1, activation="sigmoid"
    ),
    "no blocks": dict(vocab_size=4, block_size=3, n_embd=4, n_head=1, n_layer=0),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_generate_matches_the_full_prefix_token_for_token(name):
    model = GPT(**MODELS[name], seed=1)
    randomize(model, scale=1.5, seed=2)  # weights away from the init: sharper distributions
    assert supports(model)
    rng = random.Random(0)
    for seed in range(12):
        for temperature in (0.0, 0.3, 1.0, 2.5):
            # prompts shorter than, equal to and longer than block_size
            length = rng.choice([1, 2, model.block_size, model.block_size + 3])
            prompt = [rng.randrange(model.vocab_size) for _ in range(length)]
            n = rng.choice([0, 1, 5, 3 * model.block_size])
            stop = rng.choice([None, 0])
            got = model.generate(prompt, n, temperature=temperature, seed=seed, stop=stop)
            want = full_prefix_generate(model, prompt, n, temperature, seed, stop)
            assert got == want, (seed, temperature, prompt)


def test_each_fed_position_gives_the_full_forward_passs_logits_exactly():
    model = GPT(**MODELS["two layers, layernorm, bias, tanh"], seed=3)
    randomize(model, scale=1.0, seed=4)
    ids = [3, 0, 4, 4]
    cache = KVCache(model)
    fed = [cache.feed(i) for i in ids]
    with no_grad():
        full = [[v.data for v in row] for row in model(ids)]
    assert fed == full  # exact: the same operations in the same order
    assert len(cache) == model.block_size
    with pytest.raises(ValueError, match="holds block_size=4 positions"):
        cache.feed(1)
    cache.clear()
    assert cache.feed(ids[0]) == full[0]


def test_a_model_the_cache_cannot_reproduce_runs_the_full_way():
    class Peeking(GPT):
        def _hidden(self, ids):  # a changed forward pass: the cache must not guess it
            return [[2.0 * v for v in row] for row in super()._hidden(ids)]

    model = Peeking(**MODELS["microgpt"], seed=5)
    assert not supports(model)
    for seed in range(4):
        got = model.generate([1, 2], 9, temperature=0.7, seed=seed)
        assert got == full_prefix_generate(model, [1, 2], 9, 0.7, seed)
    from chaingrad.nn import RMSNorm

    class MyNorm(RMSNorm):  # a changed module anywhere: the cache cannot mirror it
        pass

    renormed = GPT(**MODELS["microgpt"], seed=5)
    renormed.ln_f = MyNorm(renormed.n_embd)
    assert not supports(renormed)
    with pytest.raises(TypeError, match="not a GPT of the library's own modules"):
        KVCache(renormed)
    assert renormed.generate([4], 8, seed=2) == full_prefix_generate(renormed, [4], 8, 1.0, 2)
    bidirectional = GPT(**MODELS["microgpt"], seed=5)
    bidirectional.blocks[0].attn.causal = False  # position t would see later ones
    assert not supports(bidirectional)
    assert bidirectional.generate([1, 2, 3], 7, seed=1) == full_prefix_generate(
        bidirectional, [1, 2, 3], 7, 1.0, 1
    )
