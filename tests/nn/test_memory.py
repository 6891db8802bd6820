"""Every module counts its parameters before it makes one, and refuses what cannot fit.

A size that would need gigabytes is one clear ``MemoryError`` saying how much
it would need, raised at once: each case runs in a child process under a
memory cap and a time limit (tests/limits.py), so a module that allocated
first would be killed or time out instead.
"""

from __future__ import annotations

import pytest

from chaingrad.nn import (
    GPT,
    GRU,
    LSTM,
    RNN,
    Conv1d,
    Conv2d,
    Embedding,
    GRUCell,
    LayerNorm,
    Linear,
    LSTMCell,
    MultiheadAttention,
    RMSNorm,
    RNNCell,
    TransformerBlock,
    _memory,
)
from tests.limits import memory_error_of

SMALL = {
    "Linear": lambda: Linear(3, 4),
    "Linear-no-bias": lambda: Linear(3, 4, bias=False),
    "Conv2d": lambda: Conv2d(2, 3, (3, 2)),
    "Conv1d-no-bias": lambda: Conv1d(2, 3, 4, bias=False),
    "RNNCell": lambda: RNNCell(3, 4),
    "LSTMCell": lambda: LSTMCell(3, 4),
    "GRUCell-no-bias": lambda: GRUCell(3, 4, bias=False),
    "RNN": lambda: RNN(3, 4, num_layers=2),
    "LSTM-bidirectional": lambda: LSTM(3, 4, num_layers=3, bidirectional=True),
    "GRU-no-bias": lambda: GRU(3, 4, num_layers=2, bias=False, bidirectional=True),
    "Embedding": lambda: Embedding(5, 3),
    "LayerNorm": lambda: LayerNorm(6),
    "LayerNorm-no-bias": lambda: LayerNorm(6, bias=False),
    "RMSNorm": lambda: RMSNorm(6),
    "MultiheadAttention": lambda: MultiheadAttention(8, 2),
    "MultiheadAttention-no-bias": lambda: MultiheadAttention(8, 2, bias=False),
    "TransformerBlock": lambda: TransformerBlock(8, 2),
    "TransformerBlock-layernorm": lambda: TransformerBlock(8, 2, norm="layernorm", bias=True),
    "GPT": lambda: GPT(7, 5, 8, 2, 2),
    "GPT-layernorm": lambda: GPT(7, 5, 8, 2, 1, norm="layernorm", bias=True),
}


@pytest.mark.parametrize("name", SMALL)
def test_the_count_checked_first_is_the_number_of_parameters_made(name, monkeypatch):
    asked: list[tuple[str, int]] = []

    def record(who, nbytes, what):
        asked.append((who, nbytes // _memory.BYTES_PER_VALUE))

    monkeypatch.setattr(_memory, "check_memory", record)
    module = SMALL[name]()
    who, count = asked[0]  # the module itself asks first, before its parts
    assert who == type(module).__name__
    assert count == module.num_parameters()


HUGE = [
    ("from chaingrad.nn import Neuron; Neuron(10**9)", "Neuron: 1,000,000,001 parameters"),
    ("from chaingrad.nn import Layer; Layer(100_000, 100_000)", "Layer: 10,000,100,000"),
    ("from chaingrad.nn import MLP; MLP(2, [30_000, 30_000, 1])", "MLP: 900,"),
    ("from chaingrad.nn import Linear; Linear(100_000, 100_000)", "Linear: 10,000,100,000"),
    ("from chaingrad.nn import Conv2d; Conv2d(10_000, 10_000, 30)", "Conv2d: 90,000,010,000"),
    ("from chaingrad.nn import Conv1d; Conv1d(100_000, 1000, 1000)", "Conv1d: 100,000,001,000"),
    ("from chaingrad.nn import RNNCell; RNNCell(10**6, 10**5)", "RNNCell: 110,000,200,000"),
    ("from chaingrad.nn import LSTMCell; LSTMCell(10**5, 10**5)", "LSTMCell: 80,000,800,000"),
    ("from chaingrad.nn import GRUCell; GRUCell(10**5, 10**5)", "GRUCell: 60,000,600,000"),
    ("from chaingrad.nn import RNN; RNN(10, 10**5, num_layers=3)", "RNN: 50,001,600,000"),
    ("from chaingrad.nn import LSTM; LSTM(10**5, 10**5)", "LSTM: 80,000,800,000"),
    ("from chaingrad.nn import GRU; GRU(10, 10**5, bidirectional=True)", "GRU: 60,007,200,000"),
    ("from chaingrad.nn import Embedding; Embedding(10**6, 10**5)", "Embedding: 100,000,000,000"),
    ("from chaingrad.nn import LayerNorm; LayerNorm(10**10)", "LayerNorm: 20,000,000,000"),
    ("from chaingrad.nn import RMSNorm; RMSNorm(10**10)", "RMSNorm: 10,000,000,000"),
    ("from chaingrad.nn import MultiheadAttention; MultiheadAttention(10**5, 4)", "Multihead"),
    ("from chaingrad.nn import TransformerBlock; TransformerBlock(10**5, 4)", "TransformerBlock"),
    ("from chaingrad.nn import GPT; GPT(27, 10**12, 16, 4, 1)", "GPT: 16,000,000,003,984"),
    ("from chaingrad.nn import GPT; GPT(27, 16, 16, 4, 10**9)", "GPT: 3,104,000,001,136"),
]


@pytest.mark.parametrize(("code", "message"), HUGE, ids=[m.split(":")[0] for _, m in HUGE])
def test_sizes_that_need_gigabytes_are_refused_before_allocating(code, message):
    printed = memory_error_of(code)
    assert message in printed and "would need about" in printed, printed
