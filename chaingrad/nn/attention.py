"""Attention from Values: embeddings, normalisation, multi-head self-attention, a Transformer block.

Every module here works on one example, as the rest of :mod:`chaingrad.nn`
does (no batch dimension): a *vector* is a list of Values ``x[i]``, a
*sequence* is a list of T vectors ``x[t][i]``. Numbers are accepted and
become Values once per call. Parameters are nested lists of Values laid out
as PyTorch lays out its tensors (``weight[out][in]``) and start from
PyTorch's default initialisations, so ``to_torch()`` copies them one to one
and the tests compare every gradient with ``torch.nn``.

* ``Linear(n_in, n_out)``: ``y = W x + b``, each ``y_o`` one dot node (``nn.Linear``);
* ``Embedding(n, dim)``: row ``id`` of ``weight`` (``nn.Embedding``);
* ``LayerNorm(dim)``: ``(x - mean) / sqrt(var + eps) * w + b`` (``nn.LayerNorm``);
* ``RMSNorm(dim)``: ``x / sqrt(mean(x^2) + eps) * w`` (``nn.RMSNorm``);
* ``MultiheadAttention``: ``softmax(q k^T / sqrt(d)) v`` per head
  (``nn.MultiheadAttention``);
* ``TransformerBlock``: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))`` (a torch
  module built from the ones above).

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

import functools
import math
import numbers
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from chaingrad.engine import Value, dot, dots, sum_of, take
from chaingrad.engine.trace_hook import is_tracing

from . import functional as F
from ._checks import as_value_array, check_int
from .activations import ReLU, Sigmoid, Tanh
from .init import Seed, make_rng, xavier_uniform
from .layers import Sequential
from .module import Module, import_torch, prefixed

Vector = list[Value]

# Activation of a Transformer's MLP: name -> chaingrad module (its torch twin has the same name).
MLP_ACTIVATIONS: dict[str, type[Module]] = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}
NORMS = ("rmsnorm", "layernorm")


def _vector(x: Any, n: int, who: str) -> Vector:
    """``x`` as a list of ``n`` Values (numbers become Values); a ValueError names ``who``."""
    if type(x) is list and len(x) == n and all(type(v) is Value for v in x):
        return x  # already Values (the case inside a network): nothing to convert or copy
    return as_value_array(x, (n,), who, "x[i]")


def _sequence(x: Any, n: int, who: str) -> list[Vector]:
    """``x`` as a non-empty list of vectors of ``n`` Values each: ``x[t][i]``."""
    xs = as_value_array(x, (None, n), who, "x[t][i]")
    if not xs:
        raise ValueError(f"{who} expects x[t][i] with at least one position t, got none")
    return xs


def is_token_id(i: Any, n: int) -> bool:
    """True for an int in ``[0, n)`` (numpy ints too; not a bool, not a float like 3.0)."""
    return isinstance(i, numbers.Integral) and not isinstance(i, bool) and 0 <= int(i) < n


def _affine(weight: list[Vector], bias: Vector | None, x: Vector) -> Vector:
    """``W x + b``: output ``o`` is ``dot(weight[o], x) + bias[o]``, one dot node each."""
    outputs = dots(weight, x)
    if bias is None:
        return outputs
    return [y + b for y, b in zip(outputs, bias)]


def _uniform_matrix(rng: Any, rows: int, cols: int, bound: float) -> list[Vector]:
    return [[Value(rng.uniform(-bound, bound)) for _ in range(cols)] for _ in range(rows)]


class Linear(Module):
    """``y = W x + b`` on one vector: ``W`` is ``weight[out][in]``, as ``torch.nn.Linear``.

    Each output is a single ``dot`` node (plus one ``+`` for the bias).
    Initialisation as torch: ``W`` and ``b`` uniform in ``(-1/sqrt(in), 1/sqrt(in))``.

    >>> lin = Linear(3, 2, seed=0)
    >>> lin
    Linear(in_features=3, out_features=2, bias=True)
    >>> len(lin([1.0, 2.0, 3.0]))
    2
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, *, seed: Seed = None
    ) -> None:
        self.in_features = check_int(in_features, "Linear: in_features")
        self.out_features = check_int(out_features, "Linear: out_features")
        rng = make_rng(seed)
        bound = 1.0 / math.sqrt(in_features)
        self.weight = _uniform_matrix(rng, out_features, in_features, bound)
        self.bias = (
            [Value(rng.uniform(-bound, bound)) for _ in range(out_features)] if bias else None
        )

    def forward(self, x: Sequence[Value | float]) -> Vector:
        return _affine(self.weight, self.bias, _vector(x, self.in_features, "Linear"))

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )

    def _torch_module(self, torch: Any) -> Any:
        return torch.nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        yield "weight", self.weight
        if self.bias is not None:
            yield "bias", self.bias


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


class LayerNorm(Module):
    """Layer normalisation over one vector of ``dim`` Values, as ``torch.nn.LayerNorm(dim)``.

    .. math::  y_i = \\frac{x_i - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}} \\, w_i + b_i,
       \\quad \\mu = \\frac{1}{n}\\sum_i x_i,
       \\quad \\sigma^2 = \\frac{1}{n}\\sum_i (x_i - \\mu)^2

    (the biased variance, as torch). ``weight`` starts at 1 and ``bias`` at 0;
    ``bias=False`` leaves the bias out.

    >>> ln = LayerNorm(3)
    >>> [round(v.data, 4) for v in ln([1.0, 2.0, 3.0])]
    [-1.2247, 0.0, 1.2247]
    """

    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = True) -> None:
        self.dim = check_int(dim, "LayerNorm: dim")
        self.eps = _check_eps(eps, "LayerNorm")
        self.weight = [Value(1.0) for _ in range(dim)]
        self.bias = [Value(0.0) for _ in range(dim)] if bias else None

    def forward(self, x: Sequence[Value | float]) -> Vector:
        x = _vector(x, self.dim, "LayerNorm")
        n = self.dim
        mean = sum_of(x) / n
        centered = [xi - mean for xi in x]
        variance = dot(centered, centered) / n  # dot(c, c) = sum of squares, one node
        inv_std = (variance + self.eps) ** -0.5
        normalized = [c * inv_std for c in centered]
        if self.bias is None:
            return [u * w for u, w in zip(normalized, self.weight)]
        return [u * w + b for u, w, b in zip(normalized, self.weight, self.bias)]

    def extra_repr(self) -> str:
        return f"({self.dim},), eps={self.eps}, bias={self.bias is not None}"

    def _torch_module(self, torch: Any) -> Any:
        return torch.nn.LayerNorm(self.dim, eps=self.eps, bias=self.bias is not None)

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        yield "weight", self.weight
        if self.bias is not None:
            yield "bias", self.bias


class RMSNorm(Module):
    """Root-mean-square normalisation over one vector, as ``torch.nn.RMSNorm(dim)``.

    .. math::  y_i = \\frac{x_i}{\\sqrt{\\frac{1}{n}\\sum_j x_j^2 + \\epsilon}} \\, w_i

    No mean is subtracted and there is no bias (Zhang & Sennrich 2019; used by
    Llama and microgpt). ``weight`` starts at 1. ``eps=None`` means what torch
    means by it: the machine epsilon of the input's float type, here float64's
    ``2.22e-16`` (``sys.float_info.epsilon``).

    >>> rms = RMSNorm(2)
    >>> [round(v.data, 4) for v in rms([3.0, 4.0])]
    [0.8485, 1.1314]
    """

    def __init__(self, dim: int, eps: float | None = None) -> None:
        self.dim = check_int(dim, "RMSNorm: dim")
        self.eps = None if eps is None else _check_eps(eps, "RMSNorm")
        self.weight = [Value(1.0) for _ in range(dim)]

    def forward(self, x: Sequence[Value | float]) -> Vector:
        x = _vector(x, self.dim, "RMSNorm")
        eps = sys.float_info.epsilon if self.eps is None else self.eps
        mean_square = dot(x, x) / self.dim
        inv_rms = (mean_square + eps) ** -0.5
        return [xi * inv_rms * w for xi, w in zip(x, self.weight)]

    def extra_repr(self) -> str:
        return f"({self.dim},), eps={self.eps}"

    def _torch_module(self, torch: Any) -> Any:
        return torch.nn.RMSNorm(self.dim, eps=self.eps)

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        yield "weight", self.weight


def _check_eps(eps: Any, who: str) -> float:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not float(eps) >= 0.0:
        raise ValueError(f"{who}: eps must be a number >= 0, got {eps!r}")
    return float(eps)


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
        x = _sequence(x, E, "MultiheadAttention")
        T = len(x)
        # 1. Project every position: q_t, k_t, v_t (rows 0..E-1, E..2E-1, 2E..3E-1).
        W, b = self.in_proj_weight, self.in_proj_bias
        W_q, W_k, W_v = W[:E], W[E : 2 * E], W[2 * E :]
        b_q, b_k, b_v = (None, None, None) if b is None else (b[:E], b[E : 2 * E], b[2 * E :])
        scale = 1.0 / math.sqrt(d)
        q = [[qi * scale for qi in _affine(W_q, b_q, x_t)] for x_t in x]  # q / sqrt(d)
        k = [_affine(W_k, b_k, x_t) for x_t in x]
        v = [_affine(W_v, b_v, x_t) for x_t in x]

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


def make_norm(norm: str, dim: int, bias: bool, who: str) -> LayerNorm | RMSNorm:
    """``"layernorm"`` -> ``LayerNorm(dim, bias=bias)``, ``"rmsnorm"`` -> ``RMSNorm(dim)``."""
    if norm == "layernorm":
        return LayerNorm(dim, bias=bias)
    if norm == "rmsnorm":
        return RMSNorm(dim)
    raise ValueError(f"{who}: norm must be one of {NORMS}, got {norm!r}")


def _check_activation(activation: Any, who: str) -> type[Module]:
    if activation not in MLP_ACTIVATIONS:
        raise ValueError(
            f"{who}: activation must be one of {sorted(MLP_ACTIVATIONS)}, got {activation!r}"
        )
    return MLP_ACTIVATIONS[activation]


class TransformerBlock(Module):
    """A pre-norm Transformer block (GPT-2's layout) on a sequence of T vectors of ``n_embd``.

    .. math::
        x \\leftarrow x + \\operatorname{attn}(\\operatorname{ln_1}(x)), \\qquad
        x \\leftarrow x + \\operatorname{mlp}(\\operatorname{ln_2}(x))

    ``attn`` is a :class:`MultiheadAttention` (``causal=True`` by default, as
    in a GPT); the norms and the MLP act on each position separately; ``mlp``
    is ``Sequential(Linear(n_embd, 4 n_embd), activation, Linear(4 n_embd, n_embd))``.
    The defaults follow microgpt (Karpathy's scalar-autograd GPT): ``norm="rmsnorm"``,
    ``bias=False``, ``activation="relu"``; GPT-2 is ``norm="layernorm", bias=True``
    (with GELU). ``bias`` applies to every Linear, the attention and a LayerNorm.

    ``to_torch()`` gives a ``torch.nn.Module`` built from ``nn.RMSNorm`` or
    ``nn.LayerNorm``, ``nn.MultiheadAttention(batch_first=True)`` and
    ``nn.Sequential(nn.Linear, nn.ReLU, nn.Linear)``, with the same attribute
    names; it takes a (B, T, E) or (T, E) float64 tensor and applies the
    causal mask itself.

    >>> block = TransformerBlock(8, 2, seed=0)
    >>> y = block([[0.1 * i for i in range(8)], [1.0] * 8])
    >>> len(y), len(y[0]), block.num_parameters()
    (2, 8, 784)
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        causal: bool = True,
        *,
        norm: str = "rmsnorm",
        bias: bool = False,
        activation: str = "relu",
        seed: Seed = None,
    ) -> None:
        self.n_embd = check_int(n_embd, "TransformerBlock: n_embd")
        act = _check_activation(activation, "TransformerBlock")
        self.norm = norm
        self.activation = activation
        rng = make_rng(seed)
        self.ln_1 = make_norm(norm, n_embd, bias, "TransformerBlock")
        self.attn = MultiheadAttention(n_embd, n_head, causal=causal, bias=bias, seed=rng)
        self.ln_2 = make_norm(norm, n_embd, bias, "TransformerBlock")
        self.mlp = Sequential(
            Linear(n_embd, 4 * n_embd, bias=bias, seed=rng),
            act(),
            Linear(4 * n_embd, n_embd, bias=bias, seed=rng),
        )

    def forward(self, x: Sequence[Sequence[Value | float]]) -> list[Vector]:
        x = _sequence(x, self.n_embd, "TransformerBlock")
        # 1. Attention: every position reads the (normalised) earlier ones.
        attended = self.attn([self.ln_1(x_t) for x_t in x])
        x = [[xi + ai for xi, ai in zip(x_t, a_t)] for x_t, a_t in zip(x, attended)]
        # 2. MLP: every position on its own.
        return [[xi + mi for xi, mi in zip(x_t, self.mlp(self.ln_2(x_t)))] for x_t in x]

    def extra_repr(self) -> str:
        return (
            f"n_embd={self.n_embd}, n_head={self.attn.num_heads}, causal={self.attn.causal}, "
            f"norm={self.norm!r}, bias={self.attn.in_proj_bias is not None}, "
            f"activation={self.activation!r}"
        )

    def _torch_module(self, torch: Any) -> Any:
        return torch_classes()["TransformerBlock"](
            self.n_embd,
            self.attn.num_heads,
            causal=self.attn.causal,
            norm=self.norm,
            bias=self.attn.in_proj_bias is not None,
            activation=self.activation,
        )

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        for name in ("ln_1", "attn", "ln_2", "mlp"):
            yield from prefixed(name, getattr(self, name).torch_parameters())


@functools.cache
def torch_classes() -> dict[str, Any]:
    """The torch twins of :class:`TransformerBlock` and :class:`~chaingrad.nn.GPT`.

    Made on first use (torch is imported only here) and then reused. They are
    also reachable as ``chaingrad.nn.attention.TorchTransformerBlock`` and
    ``chaingrad.nn.attention.TorchGPT`` (so ``torch.save(model)`` and
    ``torch.load`` find them): plain ``torch.nn.Module`` classes built from
    the standard modules, in float64 once ``to_torch()`` has converted them.
    """
    torch = import_torch("to_torch()")
    nn = torch.nn
    base: Any = nn.Module

    def norm_module(norm: str, dim: int, bias: bool) -> Any:
        return nn.LayerNorm(dim, bias=bias) if norm == "layernorm" else nn.RMSNorm(dim)

    class TorchTransformerBlock(base):
        """Pre-norm block: ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))`` on (B, T, E)."""

        def __init__(
            self,
            n_embd: int,
            n_head: int,
            causal: bool = True,
            norm: str = "rmsnorm",
            bias: bool = False,
            activation: str = "relu",
        ) -> None:
            super().__init__()
            self.causal = causal
            self.ln_1 = norm_module(norm, n_embd, bias)
            self.attn = nn.MultiheadAttention(n_embd, n_head, bias=bias, batch_first=True)
            self.ln_2 = norm_module(norm, n_embd, bias)
            act = MLP_ACTIVATIONS[activation]._torch_name  # type: ignore[attr-defined]
            self.mlp = nn.Sequential(
                nn.Linear(n_embd, 4 * n_embd, bias=bias),
                getattr(nn, act)(),
                nn.Linear(4 * n_embd, n_embd, bias=bias),
            )

        def forward(self, x: Any) -> Any:
            T = x.shape[-2]
            mask = None
            if self.causal:  # True above the diagonal: position t may not see s > t
                mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
            h = self.ln_1(x)
            x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
            return x + self.mlp(self.ln_2(x))

    class TorchGPT(base):
        """Token + position embeddings, blocks, final norm, lm_head: (B, T) ids -> (B, T, V)."""

        def __init__(
            self,
            vocab_size: int,
            block_size: int,
            n_embd: int,
            n_head: int,
            n_layer: int,
            norm: str = "rmsnorm",
            bias: bool = False,
            activation: str = "relu",
        ) -> None:
            super().__init__()
            self.block_size = block_size
            self.wte = nn.Embedding(vocab_size, n_embd)
            self.wpe = nn.Embedding(block_size, n_embd)
            self.blocks = nn.ModuleList(
                TorchTransformerBlock(n_embd, n_head, True, norm, bias, activation)
                for _ in range(n_layer)
            )
            self.ln_f = norm_module(norm, n_embd, bias)
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)

        def forward(self, ids: Any) -> Any:
            length = ids.shape[-1]
            if length > self.block_size:
                raise ValueError(f"GPT expects at most {self.block_size} token ids, got {length}")
            positions = torch.arange(length, device=ids.device)
            x = self.wte(ids) + self.wpe(positions)
            for block in self.blocks:
                x = block(x)
            return self.lm_head(self.ln_f(x))

    classes = {"TransformerBlock": TorchTransformerBlock, "GPT": TorchGPT}
    for name, cls in classes.items():
        cls.__qualname__ = cls.__name__ = f"Torch{name}"
        cls.__module__ = __name__
    return classes


def __getattr__(name: str) -> Any:
    # PEP 562: the torch classes exist only once torch is imported; this lets
    # pickle (torch.save of a whole exported model) find them by name.
    if name in ("TorchTransformerBlock", "TorchGPT"):
        return torch_classes()[name[len("Torch") :]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
