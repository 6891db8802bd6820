"""``TransformerBlock``: a pre-norm Transformer block (GPT-2's layout) on a sequence of vectors.

``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``: a causal
:class:`~chaingrad.nn.MultiheadAttention` and an MLP of two
:class:`~chaingrad.nn.Linear` around an activation, each behind a norm. Its
``to_torch()`` twin is ``TorchTransformerBlock`` (``torch_twins.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from chaingrad.engine import Value

from ._checks import Vector, as_sequence, check_int
from ._memory import check_parameters
from .activations import MLP_ACTIVATIONS
from .attention import MultiheadAttention, attention_parameters
from .init import Seed, make_rng
from .layers import Sequential
from .linear import Linear, linear_parameters
from .module import Module
from .norm import check_norm, make_norm, norm_parameters
from .torch_export import prefixed
from .torch_twins import torch_classes


def check_activation(activation: Any, who: str) -> type[Module]:
    """The module class of an MLP activation name, else a ValueError naming ``who``."""
    if activation not in MLP_ACTIVATIONS:
        raise ValueError(
            f"{who}: activation must be one of {sorted(MLP_ACTIVATIONS)}, got {activation!r}"
        )
    return MLP_ACTIVATIONS[activation]


def block_parameters(n_embd: int, norm: str, bias: bool) -> int:
    """How many parameters ``TransformerBlock(n_embd, ..., norm=norm, bias=bias)`` has."""
    E = n_embd
    norms = 2 * norm_parameters(norm, E, bias)
    return (
        norms
        + attention_parameters(E, bias)
        + linear_parameters(E, 4 * E, bias)
        + linear_parameters(4 * E, E, bias)
    )


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
        act = check_activation(activation, "TransformerBlock")
        check_norm(norm, "TransformerBlock")
        check_parameters("TransformerBlock", block_parameters(n_embd, norm, bias))
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
        x = as_sequence(x, self.n_embd, "TransformerBlock")
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
