"""The way out to PyTorch: a module as the standard ``torch.nn`` module, with the same weights.

:func:`to_torch` is what :meth:`Module.to_torch` runs. Each module says how
it maps: ``_torch_module(torch)`` builds the torch module of the same
architecture, and ``torch_parameters()`` pairs each torch parameter name
with the Values that fill it, nested as torch's tensor is shaped
(:func:`prefixed` renames a submodule's pairs as seen from its parent). torch
is imported by :func:`import_torch`, only when an export is asked for.

>>> from chaingrad.nn import MultiheadAttention
>>> [name for name, _ in MultiheadAttention(4, 2, seed=0).torch_parameters()]
['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .state_dict import to_data

if TYPE_CHECKING:
    from .module import Module


def to_torch(module: Module) -> Any:
    """``module`` as its ``torch.nn`` twin in float64, every weight copied; see Module.to_torch."""
    who = type(module).__name__
    torch = import_torch(f"{who}.to_torch()")
    twin = module._torch_module(torch).to(torch.float64)
    modes = {sub.training for sub in module.modules()}
    if len(modes) == 1:  # train() or eval() as the model is (a mixed model: each Dropout's own)
        twin.train(modes.pop())
    targets = dict(twin.named_parameters())
    sources = dict(module.torch_parameters())
    if set(targets) != set(sources):
        raise RuntimeError(  # a bug in a module's export, not the user's doing
            f"{who}.to_torch(): torch parameters {sorted(targets)} "
            f"but chaingrad gives {sorted(sources)}"
        )
    with torch.no_grad():
        for name, tree in sources.items():
            values = torch.tensor(to_data(tree), dtype=torch.float64)
            if values.shape != targets[name].shape:
                raise RuntimeError(
                    f"{who}.to_torch(): {name} has shape "
                    f"{tuple(values.shape)}, torch expects {tuple(targets[name].shape)}"
                )
            targets[name].copy_(values)
    return twin


def import_torch(who: str) -> Any:
    """The torch module, or an ImportError saying what needed it and how to install it."""
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"{who} needs PyTorch: pip install torch (the CPU build is enough)"
        ) from None
    return torch


def prefixed(prefix: str, pairs: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    """``torch_parameters()`` pairs of a submodule, renamed as seen from its parent."""
    for name, tree in pairs:
        yield f"{prefix}.{name}", tree
