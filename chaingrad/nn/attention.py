"""Multi-head self-attention over a sequence of vectors, as ``torch.nn.MultiheadAttention``.

For a sequence of T vectors ``x[t][i]``: ``softmax(q k^T / sqrt(d)) v`` per
head, the heads concatenated and mixed by ``out_proj``; ``causal=True`` lets
position t see positions ``s <= t`` only. The Transformer block built on it
is in ``transformer.py``.

>>> from chaingrad.nn import MultiheadAttention
>>> attn = MultiheadAttention(embed_dim=4, num_heads=2, causal=True, seed=0)
>>> x = [[3.0, 0.0, 1.5, -3.0], [0.0, 4.0, -1.5, 2.0], [2.0, 2.0, 2.0, 2.0]]
>>> y = attn(x)                          # one output vector per position
>>> len(y), len(y[0])
(3, 4)
>>> for row in attn.attention_weights[0]:    # head 0: row t attends to positions 0..t
...     print([round(w, 3) for w in row])
[1.0, 0.0, 0.0]
[0.569, 0.431, 0.0]
[0.11, 0.322, 0.568]
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

from chaingrad.engine import Value, dot
from chaingrad.engine.trace_hook import is_tracing

from . import functional as F
from ._checks import Vector, as_sequence, check_int
from ._memory import check_parameters
from .init import Seed, make_rng, xavier_uniform
from .linear import Linear, affine, linear_parameters
from .module import Module
from .torch_export import prefixed


class MultiheadAttention(Module):
    """Multi-head self-attention over a sequence of T vectors, as ``torch.nn.MultiheadAttention``.

    For input ``x[t]`` (``t = 0 .. T-1``, each of ``embed_dim`` E numbers) and
    ``num_heads`` H heads of ``d = E / H`` dimensions each:

    .. math::
        q_t = W_q x_t + b_q, \\quad k_t = W_k x_t + b_k, \\quad v_t = W_v x_t + b_v

        a^h_{ts} = \\operatorname{softmax}_s\\Big(\\frac{q^h_t \\cdot k^h_s}{\\sqrt d}\\Big),
        \\qquad o^h_t = \\sum_s a^h_{ts} \\, v^h_s

        y_t = W_o [o^1_t; \\dots; o^H_t] + b_o

    where ``q^h`` is the h-th slice of d entries of ``q``. With
    ``causal=True`` position t attends to positions ``s <= t`` only (a
    language model must not see the future): the masked scores are simply
    never built, which is what torch's ``-inf`` mask amounts to.

    Parameters, with torch's names, layout and initialisation:
    ``in_proj_weight[3E][E]`` (rows ``W_q``, then ``W_k``, then ``W_v``;
    Xavier uniform), ``in_proj_bias[3E]`` (zeros), ``out_proj`` a
    :class:`Linear` (torch's default init, bias zeroed). ``bias=False``
    drops both biases.

    Each projection output is one ``dot`` node, each score one ``dot`` node
    (``q`` is scaled by ``1/sqrt(d)`` first, as torch does), each weighted
    sum of values one ``dot`` node, and the softmax is
    :func:`chaingrad.nn.functional.softmax` (on the ``logsumexp`` node).

    After each call, ``attention_weights[h][t][s]`` holds the weights
    :math:`a^h_{ts}` as floats (a T x T matrix per head, 0.0 where causal
    masking hides ``s > t``; each row sums to 1), ready for a heatmap:
    ``plt.imshow(attn.attention_weights[0])``. (A step compiled with
    ``chaingrad.jit`` leaves it empty: run the module eagerly to look.)

    In torch (``x`` a float64 tensor of shape (B, T, E), or (T, E)):
    ``y, w = attn.to_torch()(x, x, x, attn_mask=mask, average_attn_weights=False)``
    with ``mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)``
    when causal, ``None`` otherwise; ``w`` is ``attention_weights``.

    >>> attn = MultiheadAttention(4, 2, seed=0)
    >>> attn
    MultiheadAttention(embed_dim=4, num_heads=2, causal=False, bias=True,
      (out_proj): Linear(in_features=4, out_features=4, bias=True)
    )
    >>> y = attn([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]])
    >>> [round(sum(row), 12) for row in attn.attention_weights[1]]
    [1.0, 1.0]
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        causal: bool = False,
        bias: bool = True,
        *,
        seed: Seed = None,
    ) -> None:
        self.embed_dim = check_int(embed_dim, "MultiheadAttention: embed_dim")
        self.num_heads = check_int(num_heads, "MultiheadAttention: num_heads")
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by "
                f"num_heads ({num_heads})"
            )
        self.head_dim = embed_dim // num_heads
        check_parameters("MultiheadAttention", attention_parameters(embed_dim, bias))
        self.causal = bool(causal)
        rng = make_rng(seed)
        E = embed_dim
        # torch: xavier_uniform_ on the (3E, E) matrix, so fan_in = E and fan_out = 3E.
        self.in_proj_weight = [
            [Value(xavier_uniform(rng, E, 3 * E)) for _ in range(E)] for _ in range(3 * E)
        ]
        self.in_proj_bias = [Value(0.0) for _ in range(3 * E)] if bias else None
        self.out_proj = Linear(E, E, bias=bias, seed=rng)
        if self.out_proj.bias is not None:
            for b in self.out_proj.bias:
                b.data = 0.0  # torch zeroes out_proj.bias after Linear's own init
        self.attention_weights: list[list[list[float]]] = []

    def forward(self, x: Sequence[Sequence[Value | float]]) -> list[Vector]:
        E, H, d = self.embed_dim, self.num_heads, self.head_dim
        x = as_sequence(x, E, "MultiheadAttention")
        T = len(x)
        # 1. Project every position: q_t, k_t, v_t (rows 0..E-1, E..2E-1, 2E..3E-1).
        W, b = self.in_proj_weight, self.in_proj_bias
        W_q, W_k, W_v = W[:E], W[E : 2 * E], W[2 * E :]
        b_q, b_k, b_v = (None, None, None) if b is None else (b[:E], b[E : 2 * E], b[2 * E :])
        scale = 1.0 / math.sqrt(d)
        q = [[qi * scale for qi in affine(W_q, b_q, x_t)] for x_t in x]  # q / sqrt(d)
        k = [affine(W_k, b_k, x_t) for x_t in x]
        v = [affine(W_v, b_v, x_t) for x_t in x]

        # 2. Each head attends with its own slice of d entries of q, k and v.
        heads: list[Vector] = [[] for _ in range(T)]  # o_t = [o^1_t; ...; o^H_t]
        self.attention_weights = []
        # Under chaingrad.jit the weights' numbers do not exist yet (reading them would be
        # refused), so a compiled step leaves attention_weights empty.
        keep_weights = not is_tracing()
        for h in range(H):
            part = slice(h * d, (h + 1) * d)
            weights_h = []
            for t in range(T):
                visible = range(t + 1) if self.causal else range(T)  # the keys t may see
                scores = [dot(q[t][part], k[s][part]) for s in visible]
                a = F.softmax(scores)  # a[s] = attention of position t to position s
                for j in range(h * d, (h + 1) * d):
                    heads[t].append(dot(a, [v[s][j] for s in visible]))
                if keep_weights:
                    weights_h.append([w.data for w in a] + [0.0] * (T - len(a)))
            if keep_weights:
                self.attention_weights.append(weights_h)

        # 3. Mix the heads: y_t = W_o o_t + b_o.
        return [self.out_proj(o_t) for o_t in heads]

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, causal={self.causal}, "
            f"bias={self.in_proj_bias is not None}"
        )

    def _torch_module(self, torch: Any) -> Any:
        return torch.nn.MultiheadAttention(
            self.embed_dim, self.num_heads, bias=self.in_proj_bias is not None, batch_first=True
        )

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        yield "in_proj_weight", self.in_proj_weight
        if self.in_proj_bias is not None:
            yield "in_proj_bias", self.in_proj_bias
        yield from prefixed("out_proj", self.out_proj.torch_parameters())


def attention_parameters(embed_dim: int, bias: bool) -> int:
    """How many parameters ``MultiheadAttention(embed_dim, ..., bias=bias)`` has."""
    E = embed_dim
    return 3 * E * E + (3 * E if bias else 0) + linear_parameters(E, E, bias)


def __getattr__(name: str) -> Any:
    # PEP 562: models exported before the torch twins moved to torch_twins.py were
    # pickled (torch.save of a whole model) under this module's name; they still load.
    if name in ("TorchTransformerBlock", "TorchGPT"):
        from .torch_twins import torch_classes

        return torch_classes()[name[len("Torch") :]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
