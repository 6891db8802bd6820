"""Architectures benchmark: chaingrad's models beside their to_torch() exports, and microgpt.

Part 1, one row per model of ``MODELS``: graph nodes per example (the Values
one example's loss is built from) and milliseconds per training step (build
the loss of the batch, backward, Adam step), for chaingrad eager and for the
same model exported with ``to_torch()`` (same weights, same batch, float64,
``torch.set_num_threads(1)``), in the same run. The first step's losses are
checked to agree, so both sides compute the same thing.

Part 2: the GPT training step at microgpt's size (vocab 27, block 16, 16
embedding dims, 4 heads, 1 layer; one name per step, Adam) beside a
microgpt-style engine written below: Karpathy's ``__slots__`` Value that
stores local gradients, ``sum()`` of products for each linear map, and a
recursive topological sort. Its model computes exactly the function of
``chaingrad.nn.GPT`` (RMSNorm with weights, no biases, ReLU, final norm) from
the same initial weights, and the losses are checked to agree at every step.
A third row runs microgpt's model code unchanged on ``chaingrad.Value``
instead of its own Value: what the engine alone gives code written for
microgpt, without chaingrad's ``dot`` nodes and ``nn`` layers.
Part 2 runs in a fresh interpreter that imports neither torch nor numpy (the
cycle collector's cost grows with every object alive in the process); the two
engines take turns in blocks of steps, so a change in machine load hits both.

    pip install -e '.[bench]' torch    # scikit-learn for the digits batch
    python benchmarks/architectures.py [--steps 30] [--gpt-steps 40]

To add a model, append a ``Model`` to ``MODELS``: a builder, a batch, the
chaingrad loss and the same loss on the torch twin.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import chaingrad
from chaingrad import Value, toposort
from chaingrad.nn import (
    GPT,
    LSTM,
    MLP,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    Module,
    ReLU,
    Sequential,
)
from chaingrad.nn import functional as F
from chaingrad.nn.data import CharTokenizer, load_names
from chaingrad.nn.module import prefixed
from chaingrad.nn.optim import Adam

BLOCK = 5  # steps per turn in part 2
# CPU time of this process: on a shared machine, other jobs stretch wall-clock times (and not
# equally for both sides); on an idle one the two agree.
clock = time.process_time


# --- part 1: the models ------------------------------------------------------------------


@dataclass
class Model:
    """One row of the table."""

    name: str
    build: Callable[[], Module]
    batch: Callable[[], tuple[list[Any], list[Any]]]  # (inputs, targets) of one step
    loss: Callable[[Module, list[Any], list[Any]], Value]  # chaingrad, mean over the batch
    torch_loss: Callable[[Any, Any, list[Any], list[Any]], Any]  # (torch, twin, inputs, targets)


def digits_batch(size: int = 32) -> tuple[list[Any], list[Any]]:
    from chaingrad.nn.data import load_digits

    X, y = load_digits()
    return X[:size], y[:size]


def names_batch() -> tuple[list[Any], list[Any]]:
    """One name (microgpt's step): inputs are its ids, targets the next ids."""
    tok = CharTokenizer.from_texts(load_names())
    ids = tok.encode("isabella", boundary=True)  # 9 positions; the mean name has 7
    return [ids[:-1]], [ids[1:]]


def classify(model: Module, X: list[Any], y: list[Any]) -> Value:
    return F.cross_entropy([model(x) for x in X], y)


def torch_classify(torch: Any, twin: Any, X: list[Any], y: list[Any]) -> Any:
    return torch.nn.functional.cross_entropy(
        twin(torch.tensor(X, dtype=torch.float64)), torch.tensor(y)
    )


def next_token(model: Module, inputs: list[Any], targets: list[Any]) -> Value:
    losses = [F.cross_entropy(model(ids), nxt) for ids, nxt in zip(inputs, targets)]
    return losses[0] if len(losses) == 1 else chaingrad.sum_of(losses) / len(losses)


def torch_next_token(torch: Any, twin: Any, inputs: list[Any], targets: list[Any]) -> Any:
    logits = twin(torch.tensor(inputs))  # (B, T, vocab)
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), torch.tensor(targets).reshape(-1)
    )


def images_batch(size: int = 16) -> tuple[list[Any], list[Any]]:
    """Digits as one-channel images x[1][8][8], as the CNN reads them."""
    X, y = digits_batch(size)
    return [[[row[8 * i : 8 * i + 8] for i in range(8)]] for row in X], y


def torch_classify_each(torch: Any, twin: Any, X: list[Any], y: list[Any]) -> Any:
    # The exported CNN takes one example, (C, H, W), as chaingrad's does: vmap batches it.
    logits = torch.vmap(twin)(torch.tensor(X, dtype=torch.float64))
    return torch.nn.functional.cross_entropy(logits, torch.tensor(y))


class LastStepClassifier(Module):
    """An LSTM read at its last step by a linear layer: a sequence classifier."""

    def __init__(self, input_size: int, hidden_size: int, classes: int) -> None:
        self.lstm = LSTM(input_size, hidden_size, seed=0)
        self.head = Linear(hidden_size, classes, seed=1)

    def forward(self, xs: list[list[float]]) -> list[Value]:
        outputs, _ = self.lstm(xs)
        return self.head(outputs[-1])

    def _torch_module(self, torch: Any) -> Any:
        lstm, head = self.lstm._torch_module(torch), self.head._torch_module(torch)

        class Twin(torch.nn.Module):  # type: ignore[name-defined,misc]
            def __init__(self) -> None:
                super().__init__()
                self.lstm, self.head = lstm, head

            def forward(self, x: Any) -> Any:
                outputs, _ = self.lstm(x)  # (B, T, hidden), batch_first
                return self.head(outputs[:, -1])

        return Twin()

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        yield from prefixed("lstm", self.lstm.torch_parameters())
        yield from prefixed("head", self.head.torch_parameters())


def sequences_batch(size: int = 8, length: int = 20) -> tuple[list[Any], list[Any]]:
    rng = random.Random(0)
    X = [[[rng.gauss(0.0, 1.0) for _ in range(8)] for _ in range(length)] for _ in range(size)]
    return X, [rng.randrange(4) for _ in range(size)]


MODELS = [
    Model(
        "MLP 64-32-10, digits, batch 32",
        lambda: MLP(64, [32, 10], seed=0),
        digits_batch,
        classify,
        torch_classify,
    ),
    Model(
        "GPT 27/16/16/4/1, one name",
        lambda: GPT(27, 16, 16, 4, 1, seed=0),
        names_batch,
        next_token,
        torch_next_token,
    ),
    Model(
        "CNN conv3x3x8-pool-72-10, batch 16",
        lambda: Sequential(
            Conv2d(1, 8, 3, seed=0), ReLU(), MaxPool2d(2), Flatten(), Linear(72, 10, seed=1)
        ),
        images_batch,
        classify,
        torch_classify_each,
    ),
    Model(
        "LSTM(8, 16) T=20 + linear, batch 8",
        lambda: LastStepClassifier(8, 16, 4),
        sequences_batch,
        classify,
        torch_classify,
    ),
]


def time_steps(step: Callable[[], float], steps: int) -> tuple[float, float]:
    """(median CPU ms per step, first loss)."""
    times, first = [], None
    for _ in range(steps):
        start = clock()
        loss = step()
        times.append((clock() - start) * 1e3)
        first = loss if first is None else first
    return statistics.median(times), first  # type: ignore[return-value]


def measure(entry: Model, steps: int, torch: Any) -> tuple[int, float, float]:
    """(nodes per example, chaingrad ms per step, torch ms per step) for one model."""
    inputs, targets = entry.batch()
    model = entry.build()
    twin = model.to_torch()  # same weights, before any step
    nodes = len(toposort(entry.loss(model, inputs[:1], targets[:1])))
    opt = Adam(model, lr=1e-3)
    t_opt = torch.optim.Adam(twin.parameters(), lr=1e-3)

    def chaingrad_step() -> float:
        loss = entry.loss(model, inputs, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.data

    def torch_step() -> float:
        loss = entry.torch_loss(torch, twin, inputs, targets)
        t_opt.zero_grad()
        loss.backward()
        t_opt.step()
        return loss.item()

    ours, first = time_steps(chaingrad_step, steps)
    theirs, t_first = time_steps(torch_step, steps)
    if not math.isclose(first, t_first, rel_tol=1e-9):
        raise SystemExit(f"{entry.name}: losses differ: chaingrad {first}, torch {t_first}")
    return nodes, ours, theirs


def run_table(steps: int) -> None:
    import torch

    torch.set_num_threads(1)
    print(f"chaingrad {chaingrad.__version__}, torch {torch.__version__} (float64, 1 thread)")
    print(f"median CPU time of {steps} training steps (loss of the batch, backward, Adam step)\n")
    header = f"{'model':34} {'nodes/example':>13} {'chaingrad ms':>13} {'torch ms':>9} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for entry in MODELS:
        nodes, ours, theirs = measure(entry, steps, torch)
        print(f"{entry.name:34} {nodes:13,} {ours:13.1f} {theirs:9.2f} {ours / theirs:5.0f}x")
    print("\nratio: chaingrad's time over torch's (torch batches each op over tensors)")


# --- part 2: a microgpt-style engine ---------------------------------------------------
# Karpathy's microgpt engine: __slots__, local gradients stored at forward time,
# recursive topological sort. Everything below is written the way microgpt writes it.


class MicroValue:
    __slots__ = ("data", "grad", "_children", "_local_grads")

    def __init__(self, data, children=(), local_grads=()):
        self.data = data
        self.grad = 0
        self._children = children
        self._local_grads = local_grads

    def __add__(self, other):
        other = other if isinstance(other, MicroValue) else MicroValue(other)
        return MicroValue(self.data + other.data, (self, other), (1, 1))

    def __mul__(self, other):
        other = other if isinstance(other, MicroValue) else MicroValue(other)
        return MicroValue(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, other):
        return MicroValue(self.data**other, (self,), (other * self.data ** (other - 1),))

    def log(self):
        return MicroValue(math.log(self.data), (self,), (1 / self.data,))

    def exp(self):
        return MicroValue(math.exp(self.data), (self,), (math.exp(self.data),))

    def relu(self):
        return MicroValue(max(0, self.data), (self,), (float(self.data > 0),))

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1

    def backward(self):
        topo = []
        visited = set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._children:
                    build_topo(child)
                topo.append(v)

        build_topo(self)
        self.grad = 1
        for v in reversed(topo):
            for child, local_grad in zip(v._children, v._local_grads):
                child.grad += local_grad * v.grad


class MicroGPT:
    """microgpt's gpt() and loss, in the layout of chaingrad.nn.GPT, on MicroValues."""

    def __init__(self, state: dict[str, Any], n_head: int, value: Any = None) -> None:
        value = value or MicroValue  # the scalar class: microgpt's own, or chaingrad's

        def matrix(rows):
            return [[value(x) for x in row] for row in rows]

        def vector(xs):
            return [value(x) for x in xs]

        E = len(state["wte.weight"][0])
        w_in = state["blocks.0.attn.in_proj_weight"]
        self.n_head, self.head_dim = n_head, E // n_head
        self.sd = {
            "wte": matrix(state["wte.weight"]),
            "wpe": matrix(state["wpe.weight"]),
            "ln_1": vector(state["blocks.0.ln_1.weight"]),
            "attn_wq": matrix(w_in[:E]),
            "attn_wk": matrix(w_in[E : 2 * E]),
            "attn_wv": matrix(w_in[2 * E :]),
            "attn_wo": matrix(state["blocks.0.attn.out_proj.weight"]),
            "ln_2": vector(state["blocks.0.ln_2.weight"]),
            "mlp_fc1": matrix(state["blocks.0.mlp.steps.0.weight"]),
            "mlp_fc2": matrix(state["blocks.0.mlp.steps.2.weight"]),
            "ln_f": vector(state["ln_f.weight"]),
            "lm_head": matrix(state["lm_head.weight"]),
        }
        self.params = [
            p
            for mat in self.sd.values()
            for row in mat
            for p in (row if isinstance(row, list) else [row])
        ]

    @staticmethod
    def linear(x, w):
        return [sum(wi * xi for wi, xi in zip(wo, x)) for wo in w]

    @staticmethod
    def softmax(logits):
        max_val = max(val.data for val in logits)
        exps = [(val - max_val).exp() for val in logits]
        total = sum(exps)
        return [e / total for e in exps]

    @staticmethod
    def rmsnorm(x, weight):
        ms = sum(xi * xi for xi in x) / len(x)
        scale = (ms + sys.float_info.epsilon) ** -0.5  # torch.nn.RMSNorm's eps in float64
        return [xi * scale * wi for xi, wi in zip(x, weight)]

    def gpt(self, token_id, pos_id, keys, values):
        sd, linear, rmsnorm, head_dim = self.sd, self.linear, self.rmsnorm, self.head_dim
        x = [t + p for t, p in zip(sd["wte"][token_id], sd["wpe"][pos_id])]
        x_residual = x
        x = rmsnorm(x, sd["ln_1"])
        q = linear(x, sd["attn_wq"])
        k = linear(x, sd["attn_wk"])
        v = linear(x, sd["attn_wv"])
        keys.append(k)
        values.append(v)
        x_attn = []
        for h in range(self.n_head):
            hs = h * head_dim
            q_h = q[hs : hs + head_dim]
            k_h = [ki[hs : hs + head_dim] for ki in keys]
            v_h = [vi[hs : hs + head_dim] for vi in values]
            attn_logits = [
                sum(q_h[j] * k_h[t][j] for j in range(head_dim)) / head_dim**0.5
                for t in range(len(k_h))
            ]
            attn_weights = self.softmax(attn_logits)
            head_out = [
                sum(attn_weights[t] * v_h[t][j] for t in range(len(v_h))) for j in range(head_dim)
            ]
            x_attn.extend(head_out)
        x = linear(x_attn, sd["attn_wo"])
        x = [a + b for a, b in zip(x, x_residual)]
        x_residual = x
        x = rmsnorm(x, sd["ln_2"])
        x = linear(x, sd["mlp_fc1"])
        x = [xi.relu() for xi in x]
        x = linear(x, sd["mlp_fc2"])
        x = [a + b for a, b in zip(x, x_residual)]
        return linear(rmsnorm(x, sd["ln_f"]), sd["lm_head"])

    def loss(self, tokens):
        n = len(tokens) - 1
        keys, values, losses = [], [], []
        for pos_id in range(n):
            token_id, target_id = tokens[pos_id], tokens[pos_id + 1]
            probs = self.softmax(self.gpt(token_id, pos_id, keys, values))
            losses.append(-probs[target_id].log())
        return (1 / n) * sum(losses)


class MicroAdam:
    """microgpt's Adam loop (its betas 0.85, 0.99; constant lr here)."""

    def __init__(self, params, lr=0.01, beta1=0.85, beta2=0.99, eps=1e-8):
        self.params, self.lr, self.beta1, self.beta2, self.eps = params, lr, beta1, beta2, eps
        self.m = [0.0] * len(params)
        self.v = [0.0] * len(params)
        self.step_count = 0

    def step(self):
        self.step_count += 1
        b1, b2, t = self.beta1, self.beta2, self.step_count
        for i, p in enumerate(self.params):
            self.m[i] = b1 * self.m[i] + (1 - b1) * p.grad
            self.v[i] = b2 * self.v[i] + (1 - b2) * p.grad**2
            m_hat = self.m[i] / (1 - b1**t)
            v_hat = self.v[i] / (1 - b2**t)
            p.data -= self.lr * m_hat / (v_hat**0.5 + self.eps)
            p.grad = 0


def count_nodes(root: MicroValue) -> int:
    seen, stack = set(), [root]
    while stack:
        v = stack.pop()
        if v not in seen:
            seen.add(v)
            stack.extend(v._children)
    return len(seen)


def run_microgpt(steps: int) -> dict[str, Any]:
    """Both engines train the same GPT on the same names in turns; times in ms per step."""
    names = load_names()
    random.Random(42).shuffle(names)  # microgpt shuffles (with its seed 42)
    tok = CharTokenizer.from_texts(names)
    docs = [tok.encode(name, boundary=True) for name in names[:steps]]

    model = GPT(27, 16, 16, 4, 1, seed=0)
    micro = MicroGPT(model.state_dict(), n_head=4)
    assert len(micro.params) == model.num_parameters()
    lean = MicroGPT(model.state_dict(), n_head=4, value=chaingrad.Value)
    opt = Adam(model, lr=0.01, betas=(0.85, 0.99))
    micro_opt = MicroAdam(micro.params)
    lean_opt = MicroAdam(lean.params)

    def chaingrad_step(ids: list[int]) -> float:
        loss = F.cross_entropy(model(ids[:-1]), ids[1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.data

    def micro_step(ids: list[int]) -> float:
        loss = micro.loss(ids)
        loss.backward()
        micro_opt.step()
        return loss.data

    def lean_step(ids: list[int]) -> float:  # microgpt's code, chaingrad's Value
        loss = lean.loss(ids)
        loss.backward()
        lean_opt.step()
        return loss.data

    engines = (("microgpt", micro_step), ("lean", lean_step), ("chaingrad", chaingrad_step))
    times: dict[str, list[float]] = {name: [] for name, _ in engines}
    losses: dict[str, list[float]] = {name: [] for name, _ in engines}
    for start in range(0, steps, BLOCK):
        block = docs[start : start + BLOCK]
        for name, step in engines:
            for ids in block:
                start = clock()
                loss = step(ids)
                times[name].append((clock() - start) * 1e3)
                losses[name].append(loss)
    worst = max(
        abs(a - b) / abs(b)
        for other in ("chaingrad", "lean")
        for a, b in zip(losses[other], losses["microgpt"])
    )
    compiled = run_compiled_gpt(docs, GPT(27, 16, 16, 4, 1, seed=0), losses["chaingrad"])
    sample = tok.encode("isabella", boundary=True)
    nodes = {
        "chaingrad": len(toposort(F.cross_entropy(model(sample[:-1]), sample[1:]))),
        "microgpt": count_nodes(micro.loss(sample)),
        "lean": len(toposort(lean.loss(sample))),
    }
    return {
        "steps": steps,
        "median_ms": {k: statistics.median(v) for k, v in times.items()},
        "total_s": {k: sum(v) / 1e3 for k, v in times.items()},
        "worst_relative_loss_difference": worst,
        "nodes_isabella": nodes,
        "last_loss": losses["chaingrad"][-1],
        "compiled": compiled,
        "gc": gc.isenabled(),
    }


def run_compiled_gpt(docs: list[list[int]], model: GPT, eager: list[float]) -> dict[str, Any]:
    """The same training with chaingrad.jit (numpy backend, Adam fused), after the eager turns.

    One program per name length: the first step of each length traces and
    compiles it (counted apart); later steps of that length replay. The losses
    must equal the eager run's, from the same initial weights.
    """
    step = chaingrad.jit(
        lambda ids, nxt: F.cross_entropy(model(ids), nxt),
        params=model,
        backend="numpy",
        optimizer=Adam(model, lr=0.01, betas=(0.85, 0.99)),
    )
    replays, traces, losses, seen = [], [], [], set()
    for ids in docs:
        start = clock()
        losses.append(step(ids[:-1], ids[1:]))
        (replays if len(ids) in seen else traces).append((clock() - start) * 1e3)
        seen.add(len(ids))
    worst = max(abs(a - b) / abs(b) for a, b in zip(losses, eager))
    return {
        "median_ms": statistics.median(replays) if replays else math.nan,
        "traces": len(traces),
        "trace_ms": statistics.median(traces),
        "worst_relative_loss_difference": worst,
    }


def report_microgpt(steps: int, collector_off: bool = False) -> None:
    result = subprocess.run(
        [sys.executable, __file__, "--microgpt-worker", str(steps)]
        + (["--collector-off"] if collector_off else []),
        capture_output=True,
        text=True,
        check=True,
    )
    r = json.loads(result.stdout)
    print("\nGPT at microgpt's size (vocab 27, block 16, n_embd 16, 4 heads, 1 layer, 4,240")
    print(f"parameters), {r['steps']} Adam steps on one name each, engines in turns of {BLOCK}")
    print(f"steps, in a fresh interpreter without torch (gc enabled: {r['gc']})")
    print(
        f"losses agree at every step (largest relative difference "
        f"{r['worst_relative_loss_difference']:.1e})"
    )
    rows = (
        ("microgpt", "microgpt"),
        ("lean", "microgpt's code on chaingrad.Value"),
        ("chaingrad", "chaingrad (nn.GPT)"),
    )
    print(f"{'engine':34} {'median step (CPU ms)':>21} {'total (s)':>10} {'nodes, isabella':>16}")
    for name, shown in rows:
        print(
            f"{shown:34} {r['median_ms'][name]:21.1f} {r['total_s'][name]:10.2f} "
            f"{r['nodes_isabella'][name]:16,}"
        )
    lean_ratio = r["median_ms"]["microgpt"] / r["median_ms"]["lean"]
    print(
        f"speed: microgpt's own code on chaingrad's Value runs at {lean_ratio:.2f}x the speed "
        "of microgpt's Value (the engine alone, no dot nodes, no nn layers)"
    )
    ratio = r["median_ms"]["microgpt"] / r["median_ms"]["chaingrad"]
    print(f"speed: chaingrad's GPT step is {ratio:.1f}x faster than the microgpt-style engine")
    c = r["compiled"]
    print(
        f"\nchaingrad.jit (numpy, Adam fused), the same steps after the turns: median replay "
        f"{c['median_ms']:.2f} ms, {c['traces']} traces (one per name length, median "
        f"{c['trace_ms']:.0f} ms each); losses equal eager's to "
        f"{c['worst_relative_loss_difference']:.1e}"
    )
    print(
        f"speed: the compiled GPT step is {r['median_ms']['microgpt'] / c['median_ms']:.0f}x "
        "faster than the microgpt-style engine"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per model (part 1)")
    parser.add_argument("--gpt-steps", type=int, default=40, help="steps per engine (part 2)")
    parser.add_argument("--skip-table", action="store_true", help="part 2 only")
    parser.add_argument(
        "--collector-off",
        action="store_true",
        help="part 2 with Python's cycle collector disabled (to see what it costs each engine)",
    )
    parser.add_argument("--microgpt-worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.microgpt_worker:
        if args.collector_off:
            gc.disable()
        print(json.dumps(run_microgpt(args.microgpt_worker)))
        return
    if not args.skip_table:
        run_table(args.steps)
    report_microgpt(args.gpt_steps, args.collector_off)


if __name__ == "__main__":
    main()
