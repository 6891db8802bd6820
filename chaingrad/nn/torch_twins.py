"""The torch twins with no standard ``torch.nn`` class: ``TorchTransformerBlock`` and ``TorchGPT``.

Most modules export to a standard ``torch.nn`` module (``nn.Linear``,
``nn.LSTM``, ...). A Transformer block and a GPT have none, so they export to
these: plain ``torch.nn.Module`` classes built from the standard modules, with
the chaingrad module's attribute names, in float64 once ``to_torch()`` has
converted them. They are made on first use (torch is imported only then) and
reused; they are also reachable as ``chaingrad.nn.torch_twins.TorchGPT``
(and the older ``chaingrad.nn.attention.TorchGPT``), so ``torch.save`` of a
whole model and ``torch.load`` find them.
"""

from __future__ import annotations

import functools
from typing import Any

from .activations import MLP_ACTIVATIONS
from .torch_export import import_torch


@functools.cache
def torch_classes() -> dict[str, Any]:
    """The twin classes by the name of the module they export (see the file's docstring)."""
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
            act = MLP_ACTIVATIONS[activation]._torch_name
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
