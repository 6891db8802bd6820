"""A key and value cache for a GPT: one new token costs one position, not the whole prefix.

In a causal GPT the hidden state of position t, at every layer, depends on
ids ``0..t`` only, and attention at position t reads the keys and values of
positions ``0..t``. So :class:`KVCache` keeps, for every block, the key and
value vectors of the positions read so far, and :meth:`KVCache.feed` runs
one new position through the blocks.

It works on floats, not Values: the weights' numbers are read once, when the
cache is made, and no graph is built (generation needs none). Each step is the
operation the forward pass records for that position, in the same order, on
the same numbers -- ``+ - * /`` on floats, ``sum(map(mul, w, x))`` as the
engine's ``dot``, the op table's own forwards for ``max``, ``abs``, powers,
``logsumexp`` and the activations -- so the logits are bit for bit those of
``model(ids)[-1]``. The code mirrors ``TransformerBlock``, ``MultiheadAttention``,
``LayerNorm``, ``RMSNorm``, ``Linear`` and ``functional.softmax``; the tests
hold it to them token for token.

It is what :meth:`chaingrad.nn.GPT.generate` uses; :func:`supports` says
whether a model is built from exactly those modules (a subclass that changes
one is generated the full way).

>>> from chaingrad.nn import GPT
>>> model = GPT(5, 4, 4, 1, 1, seed=0)
>>> cache = KVCache(model)
>>> for i in [0, 3, 1]:
...     last = cache.feed(i)
>>> last == [v.data for v in model([0, 3, 1])[-1]]
True
"""

from __future__ import annotations

import math
import operator
import sys
from typing import Any

from chaingrad.engine import ops

from .activations import MLP_ACTIVATIONS
from .attention import MultiheadAttention
from .embedding import Embedding
from .layers import Sequential
from .linear import Linear
from .norm import LayerNorm, RMSNorm
from .transformer import TransformerBlock

Floats = list[float]
_mul = operator.mul
_max, _abs = ops.MAX.forward, ops.ABS.forward
_div, _pow_const, _logsumexp = ops.DIV.forward, ops.POW_CONST.forward, ops.LOGSUMEXP.forward
_ACTIVATIONS: dict[type, Any] = {
    cls: getattr(ops, cls.__name__.upper()).forward for cls in MLP_ACTIVATIONS.values()
}


def supports(model: Any) -> bool:
    """Can :class:`KVCache` reproduce this GPT's forward pass one position at a time?

    True for a :class:`~chaingrad.nn.GPT` made of the library's own modules
    (causal TransformerBlocks, their attention, norms, Linears and activations),
    none of them subclassed and ``_hidden`` not overridden.
    """
    from .gpt import GPT

    if not isinstance(model, GPT) or type(model)._hidden is not GPT._hidden:
        return False
    if type(model.wte) is not Embedding or type(model.wpe) is not Embedding:
        return False
    if not (_is_norm(model.ln_f) and type(model.lm_head) is Linear):
        return False
    return all(_is_block(block) for block in model.blocks)


def _is_norm(norm: Any) -> bool:
    return type(norm) in (LayerNorm, RMSNorm)


def _is_block(block: Any) -> bool:
    if type(block) is not TransformerBlock or not (_is_norm(block.ln_1) and _is_norm(block.ln_2)):
        return False
    attn, mlp = block.attn, block.mlp
    if type(attn) is not MultiheadAttention or not attn.causal or type(attn.out_proj) is not Linear:
        return False
    if type(mlp) is not Sequential or len(mlp.steps) != 3:
        return False
    first, act, second = mlp.steps
    return type(first) is Linear and type(act) in _ACTIVATIONS and type(second) is Linear


class KVCache:
    """The keys and values of the positions a GPT has read, per block, as floats.

    ``feed(token_id)`` reads the next position (``len(cache)``, at most
    ``block_size - 1``) and returns its logits, ``vocab_size`` floats equal to
    the last row of ``model(ids)`` for the ids fed so far.
    ``feed(token_id, logits=False)`` skips the final norm and ``lm_head`` (for
    prompt positions whose logits nobody reads) and returns None. The weights
    are read when the cache is made: make a new cache after changing them.
    """

    def __init__(self, model: Any) -> None:
        if not supports(model):
            raise TypeError(
                f"KVCache: {type(model).__name__} is not a GPT of the library's own modules"
            )
        self.block_size = model.block_size
        self.wte = _rows(model.wte.weight)
        self.wpe = _rows(model.wpe.weight)
        self.blocks = [_Block(block) for block in model.blocks]
        self.ln_f = _Norm(model.ln_f)
        self.lm_head = _Linear(model.lm_head)
        self.length = 0  # positions read

    def __len__(self) -> int:
        return self.length

    def clear(self) -> None:
        """Forget every position (the weights stay read)."""
        for block in self.blocks:
            block.keys.clear()
            block.values.clear()
        self.length = 0

    def feed(self, token_id: int, logits: bool = True) -> Floats | None:
        t = self.length
        if t >= self.block_size:
            raise ValueError(f"KVCache: the cache holds block_size={self.block_size} positions")
        x = [a + b for a, b in zip(self.wte[token_id], self.wpe[t])]  # as GPT._hidden
        for block in self.blocks:
            x = block(x)
        self.length = t + 1
        return self.lm_head(self.ln_f(x)) if logits else None


def _rows(weight: Any) -> list[Floats]:
    return [[w.data for w in row] for row in weight]


class _Linear:
    """``Linear`` (and ``linear.affine``): ``dots(weight, x)``, then ``+ bias``."""

    def __init__(self, layer: Linear) -> None:
        self.weight = _rows(layer.weight)
        self.bias = None if layer.bias is None else [b.data for b in layer.bias]

    def __call__(self, x: Floats) -> Floats:
        return _affine(self.weight, self.bias, x)


def _affine(weight: list[Floats], bias: Floats | None, x: Floats) -> Floats:
    out = [sum(map(_mul, w, x)) for w in weight]  # the engine's dot_forward
    return out if bias is None else [y + b for y, b in zip(out, bias)]


class _Norm:
    """``LayerNorm`` and ``RMSNorm``'s forward (see their code, step by step)."""

    def __init__(self, norm: LayerNorm | RMSNorm) -> None:
        self.center = type(norm) is LayerNorm
        self.n = norm.dim
        self.eps = sys.float_info.epsilon if norm.eps is None else norm.eps
        self.weight = [w.data for w in norm.weight]
        bias = getattr(norm, "bias", None)
        self.bias = None if bias is None else [b.data for b in bias]

    def __call__(self, x: Floats) -> Floats:
        n, eps = self.n, self.eps
        if self.center:  # LayerNorm: shifted by x_0, then the mean taken out
            shifted = [xi - x[0] for xi in x]
            mean = sum(map(_mul, shifted, [1.0 / n] * n))
            x = [d - mean for d in shifted]
        r = _div(1.0, _max(*[_abs(xi)[0] for xi in x], math.sqrt(eps))[0])[0]  # _inverse_scale
        u = [xi * r for xi in x]
        total = sum(map(_mul, u, u)) / n + eps * r * r
        inverse = _pow_const(total, exponent=-0.5)[0]  # _times_inverse_sqrt
        normalized = [ui * inverse for ui in u]
        if self.bias is None:
            return [v * w for v, w in zip(normalized, self.weight)]
        return [v * w + b for v, w, b in zip(normalized, self.weight, self.bias)]


class _Block:
    """``TransformerBlock.forward`` for the newest position, keeping its attention's keys
    and values."""

    def __init__(self, block: TransformerBlock) -> None:
        attn = block.attn
        E, d = attn.embed_dim, attn.head_dim
        self.E, self.H, self.d = E, attn.num_heads, d
        self.scale = 1.0 / math.sqrt(d)
        W = _rows(attn.in_proj_weight)
        b = None if attn.in_proj_bias is None else [v.data for v in attn.in_proj_bias]
        self.W_q, self.W_k, self.W_v = W[:E], W[E : 2 * E], W[2 * E :]
        self.b_q: Floats | None = None if b is None else b[:E]
        self.b_k: Floats | None = None if b is None else b[E : 2 * E]
        self.b_v: Floats | None = None if b is None else b[2 * E :]
        self.out_proj = _Linear(attn.out_proj)
        self.ln_1, self.ln_2 = _Norm(block.ln_1), _Norm(block.ln_2)
        first, act, second = block.mlp.steps  # checked by supports(): Linear, act, Linear
        assert isinstance(first, Linear) and isinstance(second, Linear)
        self.fc, self.act, self.proj = _Linear(first), _ACTIVATIONS[type(act)], _Linear(second)
        self.keys: list[Floats] = []  # keys[s]: position s's key vector
        self.values: list[Floats] = []

    def __call__(self, x: Floats) -> Floats:
        attended = self.attend(self.ln_1(x))
        x = [xi + ai for xi, ai in zip(x, attended)]
        act = self.act
        hidden = [act(h)[0] for h in self.fc(self.ln_2(x))]
        return [xi + mi for xi, mi in zip(x, self.proj(hidden))]

    def attend(self, x_t: Floats) -> Floats:
        """``MultiheadAttention.forward`` (causal) for the newest position: its output row."""
        scale, d = self.scale, self.d
        q = [qi * scale for qi in _affine(self.W_q, self.b_q, x_t)]  # q / sqrt(d)
        keys, values = self.keys, self.values
        keys.append(_affine(self.W_k, self.b_k, x_t))
        values.append(_affine(self.W_v, self.b_v, x_t))
        heads: Floats = []  # [o^1_t; ...; o^H_t]
        for h in range(self.H):
            part = slice(h * d, (h + 1) * d)
            q_h = q[part]
            a = _softmax([sum(map(_mul, q_h, k[part])) for k in keys])  # positions 0..t
            for j in range(h * d, (h + 1) * d):
                heads.append(sum(map(_mul, a, [v[j] for v in values])))
        return self.out_proj(heads)


def _softmax(scores: Floats) -> Floats:
    """``functional.softmax``: ``exp(d_i - logsumexp(d))`` with ``d = x - logsumexp(x)``."""
    lse = _logsumexp(*scores)[0]
    shifted = [s - lse for s in scores]
    lse = _logsumexp(*shifted)[0]
    return [math.exp(s - lse) for s in shifted]
