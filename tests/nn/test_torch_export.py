"""to_torch (torch_export.py) and the torch twins (torch_twins.py): clear errors, old names."""

from __future__ import annotations

import sys

import pytest

from chaingrad import Value
from chaingrad.nn import Linear, Module
from chaingrad.nn.torch_export import prefixed, to_torch


def test_without_torch_the_export_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails
    with pytest.raises(ImportError) as info:
        Linear(2, 3).to_torch()
    assert str(info.value) == (
        "Linear.to_torch() needs PyTorch: pip install torch (the CPU build is enough)"
    )


class _Scale(Module):
    """A module whose export is written wrong on purpose."""

    def __init__(self, names: list[str], weight: list[list[Value]]) -> None:
        self.weight = weight
        self._names = names

    def _torch_module(self, torch):
        return torch.nn.Linear(2, 2, bias=False)

    def torch_parameters(self):
        for name in self._names:
            yield name, self.weight


def test_an_export_that_does_not_match_its_twin_is_a_clear_error():
    pytest.importorskip("torch")
    square = [[Value(1.0), Value(2.0)], [Value(3.0), Value(4.0)]]
    with pytest.raises(RuntimeError, match=r"torch parameters \['weight'\] but chaingrad gives"):
        _Scale(["kernel"], square).to_torch()
    with pytest.raises(RuntimeError, match=r"weight has shape \(1, 2\), torch expects \(2, 2\)"):
        _Scale(["weight"], square[:1]).to_torch()
    twin = to_torch(_Scale(["weight"], square))
    assert twin.weight.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_prefixed_renames_a_submodules_parameters():
    assert list(prefixed("blocks.0", [("attn.in_proj_weight", 1)])) == [
        ("blocks.0.attn.in_proj_weight", 1)
    ]


def test_the_twins_keep_their_older_address_for_models_pickled_before():
    pytest.importorskip("torch")
    from chaingrad.nn import attention, torch_twins

    assert attention.TorchGPT is torch_twins.TorchGPT
    assert attention.TorchTransformerBlock is torch_twins.TorchTransformerBlock
    assert torch_twins.TorchGPT.__module__ == "chaingrad.nn.torch_twins"
    with pytest.raises(AttributeError):
        attention.TorchNothing  # noqa: B018
