"""A tiny GPT from Values: a language model that reads token ids and predicts the next one.

.. math::
    x_t = \\mathrm{wte}[\\mathrm{id}_t] + \\mathrm{wpe}[t], \\qquad
    x \\leftarrow \\mathrm{block}_l(x) \\ \\ (l = 1 .. n_{layer}), \\qquad
    \\mathrm{logits}_t = \\mathrm{lm\\_head}(\\mathrm{ln\\_f}(x_t))

Each block is a causal :class:`~chaingrad.nn.TransformerBlock`, so the logits
at position t depend on ids ``0..t`` only: one call on a name's ids trains
every next-character prediction at once. The defaults are those of microgpt,
Andrej Karpathy's GPT on a scalar autograd (RMSNorm, no biases, ReLU); at its
size ``GPT(27, 16, 16, 4, 1)`` has 4,240 parameters.

>>> from chaingrad.nn import GPT, functional as F
>>> from chaingrad.nn.data import CharTokenizer
>>> tok = CharTokenizer("abc")
>>> model = GPT(tok.vocab_size, block_size=8, n_embd=8, n_head=2, n_layer=1, seed=0)
>>> ids = tok.encode("abca", boundary=True)        # [0, 1, 2, 3, 1, 0]
>>> logits = model(ids[:-1])                       # one vector of 4 logits per position
>>> len(logits), len(logits[0])
(5, 4)
>>> loss = F.cross_entropy(logits, ids[1:])        # predict each next id
>>> loss.backward()
>>> sample = model.generate([tok.boundary_id], max_new_tokens=8, seed=0, stop=tok.boundary_id)
>>> sample[0], len(sample) <= 9
(0, True)
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Iterator, Sequence
from typing import Any

from chaingrad.engine import Value, no_grad

from . import kv_cache
from ._checks import Vector, check_int, is_token_id
from ._memory import check_parameters
from .embedding import Embedding
from .init import Seed, make_rng
from .linear import Linear
from .module import Module
from .norm import check_norm, make_norm, norm_parameters
from .torch_export import prefixed
from .torch_twins import torch_classes
from .transformer import TransformerBlock, block_parameters, check_activation


class GPT(Module):
    """A decoder-only Transformer language model on one sequence of token ids.

    ``GPT(vocab_size, block_size, n_embd, n_head, n_layer)``: ids in
    ``[0, vocab_size)``, at most ``block_size`` of them per call, embeddings
    of ``n_embd`` dimensions, ``n_head`` attention heads and ``n_layer``
    blocks. ``model(ids)`` returns ``T`` logits vectors (lists of
    ``vocab_size`` Values), one per position; feed them with the next ids to
    :func:`chaingrad.nn.functional.cross_entropy`. A token id may be a Value
    holding the integer (``chaingrad.jit`` passes them so).

    Parts, in order (GPT-2's layout and names): ``wte`` token and ``wpe``
    position :class:`~chaingrad.nn.Embedding`, ``blocks`` (each a causal
    :class:`~chaingrad.nn.TransformerBlock`), the final norm ``ln_f`` and
    ``lm_head``, a :class:`~chaingrad.nn.Linear` without bias. ``norm``,
    ``bias`` and ``activation`` go to every block (defaults as microgpt:
    ``"rmsnorm"``, ``False``, ``"relu"``). microgpt normalises the embeddings
    before the first block and has no ``ln_f``; here the norm sits before
    ``lm_head`` as in GPT-2. Every weight starts from its torch module's
    default initialisation.

    ``to_torch()`` returns a ``torch.nn.Module`` (``chaingrad.nn.torch_twins.TorchGPT``)
    built from ``nn.Embedding``, ``nn.RMSNorm``/``nn.LayerNorm``,
    ``nn.MultiheadAttention(batch_first=True)`` and ``nn.Linear``, with the
    same parameter names, that maps a (B, T) LongTensor of ids to (B, T,
    vocab_size) float64 logits.

    >>> GPT(27, 16, 16, 4, 1).num_parameters()       # microgpt's size
    4240
    """

    def __init__(
        self,
        vocab_size: int,
        block_size: int,
        n_embd: int,
        n_head: int,
        n_layer: int,
        *,
        norm: str = "rmsnorm",
        bias: bool = False,
        activation: str = "relu",
        seed: Seed = None,
    ) -> None:
        self.vocab_size = check_int(vocab_size, "GPT: vocab_size")
        self.block_size = check_int(block_size, "GPT: block_size")
        self.n_embd = check_int(n_embd, "GPT: n_embd")
        self.n_head = check_int(n_head, "GPT: n_head")
        if n_embd % n_head:
            raise ValueError(f"GPT: n_embd ({n_embd}) must be divisible by n_head ({n_head})")
        n_layer = check_int(n_layer, "GPT: n_layer", minimum=0)
        check_activation(activation, "GPT")
        check_norm(norm, "GPT")
        embeddings = (vocab_size + block_size) * n_embd  # wte and wpe
        head = norm_parameters(norm, n_embd, bias) + n_embd * vocab_size  # ln_f and lm_head
        blocks = n_layer * block_parameters(n_embd, norm, bias)
        check_parameters("GPT", embeddings + blocks + head)  # a huge block_size stops here
        self.norm, self.bias, self.activation = norm, bool(bias), activation
        rng = make_rng(seed)
        self.wte = Embedding(vocab_size, n_embd, seed=rng)
        self.wpe = Embedding(block_size, n_embd, seed=rng)
        self.blocks = [
            TransformerBlock(
                n_embd, n_head, causal=True, norm=norm, bias=bias, activation=activation, seed=rng
            )
            for _ in range(n_layer)
        ]
        self.ln_f = make_norm(norm, n_embd, bias, "GPT")
        self.lm_head = Linear(n_embd, vocab_size, bias=False, seed=rng)

    def forward(self, ids: Sequence[int | Value]) -> list[Vector]:
        """Logits for the next token at every position: ``T`` lists of ``vocab_size`` Values."""
        return [self.lm_head(self.ln_f(x_t)) for x_t in self._hidden(ids)]

    def _hidden(self, ids: Sequence[int | Value]) -> list[Vector]:
        ids = self._check_ids(ids)
        tokens = self.wte(ids)  # what each token is
        positions = self.wpe(range(len(ids)))  # where it is
        x = [[a + b for a, b in zip(tok, pos)] for tok, pos in zip(tokens, positions)]
        for block in self.blocks:
            x = block(x)
        return x

    def _check_ids(self, ids: Any) -> list[int | Value]:
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
            raise ValueError(f"GPT expects a list of token ids, got {ids!r}")
        if not 1 <= len(ids) <= self.block_size:
            raise ValueError(
                f"GPT expects 1 to block_size={self.block_size} token ids, got {len(ids)}"
                + (f"; keep the last {self.block_size} (ids[-{self.block_size}:])" if ids else "")
            )
        for i in ids:
            if isinstance(i, Value):
                continue  # range-checked by the take node that reads it
            if not is_token_id(i, self.vocab_size):
                raise ValueError(
                    f"GPT: token ids must be ints in [0, {self.vocab_size}), got {i!r}"
                )
        return list(ids)

    def generate(
        self,
        prompt_ids: Sequence[int],
        max_new_tokens: int,
        temperature: float = 1.0,
        seed: Seed = None,
        stop: int | None = None,
    ) -> list[int]:
        """The prompt followed by up to ``max_new_tokens`` sampled ids.

        Each new id is drawn from ``softmax(logits / temperature)`` of the last
        position (``temperature`` 0 takes the most likely id; below 1 is more
        conservative, above 1 more adventurous), with a ``random.Random`` made
        from ``seed`` (so the same seed gives the same text). The model sees
        the last ``block_size`` ids. Generation ends early after the id
        ``stop`` (e.g. the tokenizer's boundary), which is included. Runs in
        :func:`chaingrad.no_grad`: no graph is kept. Each layer keeps the keys
        and values of earlier positions, as floats
        (:class:`~chaingrad.nn.kv_cache.KVCache`), so a new id costs one
        position, with exactly the numbers of the full forward pass; once the
        ids outgrow ``block_size`` the window slides and its positions are read
        again (their position embeddings changed).

        >>> model = GPT(5, 4, 4, 1, 1, seed=0)
        >>> model.generate([0, 1], 3, seed=1) == model.generate([0, 1], 3, seed=1)
        True
        """
        max_new_tokens = check_int(max_new_tokens, "GPT.generate: max_new_tokens", minimum=0)
        if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
            raise ValueError(f"GPT.generate: temperature must be a number, got {temperature!r}")
        if not temperature >= 0.0 or math.isinf(temperature):
            raise ValueError(f"GPT.generate: temperature must be >= 0, got {temperature!r}")
        if stop is not None and not is_token_id(stop, self.vocab_size):
            raise ValueError(
                f"GPT.generate: stop must be None or a token id in [0, {self.vocab_size}), "
                f"got {stop!r}"
            )
        if isinstance(prompt_ids, (str, bytes)) or not isinstance(prompt_ids, Sequence):
            raise ValueError(f"GPT.generate: prompt_ids must be a list of ints, got {prompt_ids!r}")
        if not prompt_ids:
            raise ValueError("GPT.generate: needs at least one prompt id (e.g. the boundary)")
        for i in prompt_ids:
            if not is_token_id(i, self.vocab_size):
                raise ValueError(
                    f"GPT.generate: prompt ids must be ints in [0, {self.vocab_size}), got {i!r}"
                )
        ids = [int(i) for i in prompt_ids]
        rng = make_rng(seed)
        with no_grad():
            for logits in _next_logits(self, ids, max_new_tokens):
                if not all(map(math.isfinite, logits)):  # nan in, nan everywhere
                    raise ValueError(
                        f"GPT.generate: the model's logits are not finite "
                        f"({_first_bad(logits)}) at position {len(ids)}: its weights have "
                        "diverged (nan or inf); retrain with a lower learning rate or load "
                        "a saved model"
                    )
                ids.append(_sample(logits, float(temperature), rng))
                if ids[-1] == stop:
                    break
        return ids

    def extra_repr(self) -> str:
        return (
            f"vocab_size={self.vocab_size}, block_size={self.block_size}, "
            f"n_embd={self.n_embd}, n_head={self.n_head}, n_layer={len(self.blocks)}, "
            f"{self.num_parameters()} parameters"
        )

    def _torch_module(self, torch: Any) -> Any:
        return torch_classes()["GPT"](
            self.vocab_size,
            self.block_size,
            self.n_embd,
            self.n_head,
            len(self.blocks),
            norm=self.norm,
            bias=self.bias,
            activation=self.activation,
        )

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        yield from prefixed("wte", self.wte.torch_parameters())
        yield from prefixed("wpe", self.wpe.torch_parameters())
        for i, block in enumerate(self.blocks):
            yield from prefixed(f"blocks.{i}", block.torch_parameters())
        yield from prefixed("ln_f", self.ln_f.torch_parameters())
        yield from prefixed("lm_head", self.lm_head.torch_parameters())


def _next_logits(model: GPT, ids: list[int], count: int) -> Iterator[list[float]]:
    """The last position's logits for ``ids`` (a list the caller appends to), ``count`` times.

    Equal to ``model(ids[-block_size:])[-1]``: through a key and value cache while
    the ids fit in the block (one new position per id), read again from the
    window's start once it slides; the full forward pass for a model the cache
    cannot reproduce (``kv_cache.supports``).
    """
    block_size = model.block_size
    if not kv_cache.supports(model):
        for _ in range(count):
            last = model._hidden(ids[-block_size:])[-1]
            yield [v.data for v in model.lm_head(model.ln_f(last))]
        return
    cache = kv_cache.KVCache(model)  # reads the weights' numbers once
    for _ in range(count):
        if len(ids) > block_size:  # the window slid: every position moved, read them again
            cache.clear()
        window = ids[-block_size:]  # the cache holds its first len(cache) positions
        for i in window[len(cache) : -1]:
            cache.feed(i, logits=False)
        logits = cache.feed(window[-1])
        assert logits is not None
        yield logits


def _first_bad(logits: list[float]) -> str:
    k = next(i for i, z in enumerate(logits) if not math.isfinite(z))
    return f"logit {k} is {logits[k]}"


def _sample(logits: list[float], temperature: float, rng: random.Random) -> int:
    """An id drawn with probability ``softmax(logits / temperature)`` (argmax at 0)."""
    if temperature == 0.0:
        return max(range(len(logits)), key=logits.__getitem__)
    top = max(logits)
    weights = [math.exp((z - top) / temperature) for z in logits]  # no overflow: z - top <= 0
    return rng.choices(range(len(logits)), weights=weights)[0]
