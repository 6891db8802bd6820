"""A key and value cache for a GPT: one new token costs one position, not the whole prefix.

In a causal GPT the hidden state of position t, at every layer, depends on
ids ``0..t`` only, and attention at position t reads the keys and values of
positions ``0..t``. So :class:`KVCache` keeps, for every block, the key and
value vectors of the positions read so far; :meth:`KVCache.feed` runs one new
position through the blocks with exactly the operations the full forward pass
runs for that position (the same norms, projections, dots and softmax, in the
same order), and so gives exactly the same numbers.

It is what :meth:`chaingrad.nn.GPT.generate` uses; it serves a plain GPT
(every block a causal :class:`~chaingrad.nn.TransformerBlock`, methods not
overridden) and :func:`supports` says whether a model is one.

>>> from chaingrad import no_grad
>>> from chaingrad.nn import GPT
>>> model = GPT(5, 4, 4, 1, 1, seed=0)
>>> with no_grad():
...     cache = KVCache(model)
...     for i in [0, 3, 1]:
...         last = cache.feed(i)
...     full = model([0, 3, 1])[-1]
>>> [v.data for v in last] == [v.data for v in full]
True
"""

from __future__ import annotations

import math
from typing import Any

from chaingrad.engine import Value, dot

from . import functional as F
from ._checks import Vector
from .attention import MultiheadAttention
from .linear import affine
from .transformer import TransformerBlock


def supports(model: Any) -> bool:
    """Can :class:`KVCache` reproduce this GPT's forward pass one position at a time?

    True for a :class:`~chaingrad.nn.GPT` whose hidden states are computed by the
    library's own code and whose blocks are all causal TransformerBlocks with the
    library's attention; a subclass that overrides any of them is run the full way.
    """
    from .gpt import GPT

    if not isinstance(model, GPT) or type(model)._hidden is not GPT._hidden:
        return False
    return all(
        type(block) is TransformerBlock
        and type(block.attn) is MultiheadAttention
        and block.attn.causal
        for block in model.blocks
    )


class KVCache:
    """The keys and values of the positions a GPT has read, per block.

    ``feed(token_id)`` reads the next position (``len(cache)``, at most
    ``block_size - 1``) and returns its logits, a list of ``vocab_size``
    Values, equal to the last row of ``model(ids)`` for the ids fed so far.
    ``feed(token_id, logits=False)`` skips the final norm and ``lm_head`` (for
    prompt positions whose logits nobody reads) and returns None.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        # keys[l][s], values[l][s]: block l's key and value vectors of position s.
        self.keys: list[list[Vector]] = [[] for _ in model.blocks]
        self.values: list[list[Vector]] = [[] for _ in model.blocks]
        self.length = 0  # positions read

    def __len__(self) -> int:
        return self.length

    def feed(self, token_id: int, logits: bool = True) -> Vector | None:
        model = self.model
        t = len(self)
        if t >= model.block_size:
            raise ValueError(
                f"KVCache: the cache holds block_size={model.block_size} positions already"
            )
        token, position = model.wte(token_id), model.wpe(t)
        x = [a + b for a, b in zip(token, position)]  # as GPT._hidden adds them
        for block, keys, values in zip(model.blocks, self.keys, self.values):
            x = _block_step(block, x, keys, values)
        self.length = t + 1
        if not logits:
            return None
        out: Vector = model.lm_head(model.ln_f(x))
        return out


def _block_step(
    block: TransformerBlock, x: Vector, keys: list[Vector], values: list[Vector]
) -> Vector:
    """``TransformerBlock.forward`` for the newest position only (see its code)."""
    attended = _attend(block.attn, block.ln_1(x), keys, values)
    x = [xi + ai for xi, ai in zip(x, attended)]
    return [xi + mi for xi, mi in zip(x, block.mlp(block.ln_2(x)))]


def _attend(
    attn: MultiheadAttention, x_t: Vector, keys: list[Vector], values: list[Vector]
) -> Vector:
    """``MultiheadAttention.forward`` (causal) for the newest position: its row of the output."""
    E, H, d = attn.embed_dim, attn.num_heads, attn.head_dim
    W, b = attn.in_proj_weight, attn.in_proj_bias
    b_q, b_k, b_v = (None, None, None) if b is None else (b[:E], b[E : 2 * E], b[2 * E :])
    scale = 1.0 / math.sqrt(d)
    q = [qi * scale for qi in affine(W[:E], b_q, x_t)]  # q / sqrt(d)
    keys.append(affine(W[E : 2 * E], b_k, x_t))
    values.append(affine(W[2 * E :], b_v, x_t))
    heads: list[Value] = []  # [o^1_t; ...; o^H_t]
    for h in range(H):
        part = slice(h * d, (h + 1) * d)
        q_h = q[part]
        a = F.softmax([dot(q_h, k[part]) for k in keys])  # positions 0..t
        for j in range(h * d, (h + 1) * d):
            heads.append(dot(a, [v[j] for v in values]))
    out: Vector = attn.out_proj(heads)
    return out
