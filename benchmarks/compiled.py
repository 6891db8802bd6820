"""Compiled-mode benchmark: one training step, every contender in the same run.

Workloads (the model, the batch, the loss, the update):

* ``moons``  -- micrograd's demo step: MLP 2-16-16-1 on 100 points, hinge loss
  + 1e-4 L2, SGD at the demo's first learning rate, 1.0;
* ``digits`` -- MLP 64-16-10 on minibatches of 32 of sklearn's digits,
  cross-entropy, SGD (lr 0.1);
* ``cnn``    -- Conv2d(1, 4, 3) -> ReLU -> MaxPool2d(2) -> Flatten -> Linear(36, 10)
  on 8x8 digits, batch 32, cross-entropy, SGD (when chaingrad.nn has Conv2d);
* ``gpt``    -- microgpt's step: ``GPT(27, 16, 16, 4, 1)`` on one name, cross-entropy
  of every next character, Adam; 20 names cycled, one warm-up pass (a compiled step
  traces once per name length) before timing.

Contenders: micrograd 0.1.0 (moons only: it has no cross-entropy),
chaingrad eager (build the graph, backward, ``optim.SGD``), chaingrad
compiled with each backend (``jit`` step + the same ``optim.SGD``: the
Values are current after every step), and PyTorch batched in float64 on one
thread (``torch.set_num_threads(1)``), the same network and update.

Every contender starts from the same weights and sees the same batches; the
script checks that their first losses agree. Steps run in alternating blocks
(the collector is on, as users have it, and collects between blocks so one
contender's garbage is not charged to the next), and the median step is
reported with ratios. Steps are timed in this thread's CPU time by default
(``--clock cpu``): on a machine shared with other jobs, elapsed time mostly
measures the neighbours. One-time costs (trace + compile, elapsed) are
printed too.

    pip install -e '.[bench]' torch==2.13.0
    python benchmarks/compiled.py                      # all workloads (~3 min, mostly micrograd)
    python benchmarks/compiled.py --workloads moons --rounds 20
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import chaingrad
from chaingrad import jit
from chaingrad.nn import MLP
from chaingrad.nn import functional as F
from chaingrad.nn.optim import SGD

Step = Callable[[], float]


# --- workloads: data and the chaingrad model ---------------------------------------------


def moons_data() -> tuple[list[list[float]], list[int]]:
    from chaingrad.nn.data import make_moons

    X, labels = make_moons(100, noise=0.1, seed=1337)
    return X, [1 if t == 1 else -1 for t in labels]


def digits_batches(size: int = 32, count: int = 20) -> list[tuple[list[Any], list[int]]]:
    from chaingrad.nn.data import load_digits

    X, y = load_digits()
    X = [[v / 16.0 for v in row] for row in X]
    rng = random.Random(0)
    batches = []
    for _ in range(count):
        idx = rng.sample(range(len(X)), size)
        batches.append(([X[i] for i in idx], [y[i] for i in idx]))
    return batches


# --- contenders -----------------------------------------------------------------------------


class Contender:
    def __init__(self, name: str, make: Callable[[], Step], warmup: int = 1) -> None:
        self.name = name
        self.make = make
        self.warmup = warmup  # steps before timing (compiled contenders trace in them)
        self.times: list[float] = []
        self.first_loss = float("nan")
        self.setup_seconds = 0.0


def micrograd_moons(X: list[list[float]], y: list[int], weights: dict[str, Any]) -> Step:
    """micrograd's MLP with ``weights``, stepped by its demo loop (from benchmarks/train.py)."""
    import micrograd.nn
    from train import micrograd_step  # this folder's script: the loop of micrograd's demo

    model = micrograd.nn.MLP(2, [16, 16, 1])
    for i, layer in enumerate(model.layers):
        for j, neuron in enumerate(layer.neurons):
            for w, data in zip(neuron.w, weights[f"layers.{i}.neurons.{j}.w"]):
                w.data = data
            neuron.b.data = weights[f"layers.{i}.neurons.{j}.b"]
    return lambda: micrograd_step(model, X, y, 0)  # k = 0: the demo's first rate, 1.0


def chaingrad_step(
    model: Any,
    loss_fn: Callable[..., Any],
    batches: list[tuple[Any, ...]],
    optimizer: Any,
    backend: str,
) -> Step:
    """Eager (backend="eager") or compiled steps of ``loss_fn`` over ``batches``."""
    batch_iter = iter(_cycle(batches))
    if backend == "eager":

        def step() -> float:
            loss = loss_fn(*next(batch_iter))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss.data

        return step
    if backend == "numpy fused":
        fused = jit(loss_fn, params=model, optimizer=optimizer, backend="numpy")
        return lambda: fused(*next(batch_iter))
    compiled = jit(loss_fn, params=model, backend=backend)

    def compiled_step() -> float:
        optimizer.zero_grad()
        loss = compiled(*next(batch_iter))
        optimizer.step()
        return loss

    return compiled_step


def _cycle(items: list[Any]) -> Any:
    while True:
        yield from items


def torch_step(model: Any, torch_loss: Callable[..., Any], batches: list[Any], lr: float) -> Step:
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    batch_iter = iter(_cycle(batches))

    def step() -> float:
        inputs, targets = next(batch_iter)
        loss = torch_loss(model(inputs), targets, model)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


# --- the workloads ------------------------------------------------------------------------


def moons_contenders(backends: list[str], have_torch: bool) -> list[Contender]:
    X, y = moons_data()
    weights = MLP(2, [16, 16, 1], seed=1337).state_dict()

    def model() -> MLP:
        m = MLP(2, [16, 16, 1], seed=1337)
        m.load_state_dict(weights)
        return m

    def loss_fn_for(m: MLP) -> Callable[..., Any]:
        def loss_fn(X: Any, y: Any) -> Any:
            return F.hinge_loss([m(x) for x in X], y) + 1e-4 * F.l2_penalty(m)

        return loss_fn

    contenders = []
    if importlib.util.find_spec("micrograd") is not None:
        contenders.append(Contender("micrograd", lambda: micrograd_moons(X, y, weights)))
    for backend in ["eager", *backends]:
        contenders.append(
            Contender(
                "chaingrad " + ("eager" if backend == "eager" else f"jit {backend}"),
                lambda b=backend: _chaingrad(model, loss_fn_for, [(X, y)], 1.0, b),
            )
        )
    if have_torch:

        def make_torch() -> Step:
            import torch

            net = model().to_torch()
            data = [(torch.tensor(X, dtype=torch.float64), torch.tensor(y, dtype=torch.float64))]

            def loss(scores: Any, targets: Any, net: Any) -> Any:
                hinge = torch.relu(1 - targets * scores[:, 0]).mean()
                return hinge + 1e-4 * sum((p * p).sum() for p in net.parameters())

            return torch_step(net, loss, data, 1.0)

        contenders.append(Contender("torch float64 (1 thread)", make_torch))
    return contenders


def _chaingrad(
    model: Callable[[], Any], loss_for: Callable[[Any], Any], batches: Any, lr: float, backend: str
) -> Step:
    m = model()
    return chaingrad_step(m, loss_for(m), batches, SGD(m, lr=lr), backend)


def classifier_contenders(
    make_model: Callable[[], Any],
    batches: list[tuple[Any, Any]],
    backends: list[str],
    have_torch: bool,
) -> list[Contender]:
    """Cross-entropy on labelled batches with SGD (lr 0.1), every contender from the
    same weights (torch's: the ``to_torch()`` export, which takes the batches)."""

    def loss_fn_for(m: Any) -> Callable[..., Any]:
        def loss_fn(X: Any, y: Any) -> Any:
            return F.cross_entropy([m(x) for x in X], y)

        return loss_fn

    contenders = [
        Contender(
            "chaingrad " + ("eager" if backend == "eager" else f"jit {backend}"),
            lambda b=backend: _chaingrad(make_model, loss_fn_for, batches, 0.1, b),
        )
        for backend in ["eager", *backends]
    ]
    if have_torch:

        def make_torch() -> Step:
            import torch

            net = make_model().to_torch()
            data = [
                (torch.tensor(X, dtype=torch.float64), torch.tensor(y, dtype=torch.long))
                for X, y in batches
            ]

            def loss(logits: Any, targets: Any, net: Any) -> Any:
                return torch.nn.functional.cross_entropy(logits, targets)

            return torch_step(net, loss, data, 0.1)

        contenders.append(Contender("torch float64 (1 thread)", make_torch))
    return contenders


def digits_contenders(backends: list[str], have_torch: bool) -> list[Contender]:
    weights = MLP(64, [16, 10], seed=0).state_dict()

    def model() -> MLP:
        m = MLP(64, [16, 10], seed=0)
        m.load_state_dict(weights)
        return m

    return classifier_contenders(model, digits_batches(), backends, have_torch)


def cnn_contenders(backends: list[str], have_torch: bool) -> list[Contender]:
    from chaingrad.nn import Conv2d, Flatten, Layer, MaxPool2d, ReLU, Sequential

    batches = [
        ([[[x[8 * r : 8 * r + 8] for r in range(8)]] for x in X], y) for X, y in digits_batches()
    ]

    def model() -> Any:
        return Sequential(
            Conv2d(1, 4, 3, seed=0),
            ReLU(),
            MaxPool2d(2),
            Flatten(),
            Layer(36, 10, nonlin=False, seed=0),
        )

    return classifier_contenders(model, batches, backends, have_torch)


def gpt_contenders(backends: list[str], have_torch: bool) -> list[Contender]:
    from chaingrad.nn import GPT
    from chaingrad.nn.data import CharTokenizer, load_names
    from chaingrad.nn.optim import Adam

    names = load_names()
    tok = CharTokenizer.from_texts(names)
    batches = [(tok.encode(name, boundary=True),) for name in random.Random(0).sample(names, 20)]
    weights = GPT(tok.vocab_size, 16, 16, 4, 1, seed=0).state_dict()

    def model() -> Any:
        m = GPT(tok.vocab_size, 16, 16, 4, 1, seed=0)
        m.load_state_dict(weights)
        return m

    def make(backend: str) -> Step:
        m = model()

        def loss_fn(ids: Any) -> Any:
            return F.cross_entropy(m(ids[:-1]), ids[1:])

        optimizer = Adam(m, lr=0.01, betas=(0.85, 0.99))
        return chaingrad_step(m, loss_fn, batches, optimizer, backend)

    contenders = [
        Contender(
            "chaingrad " + ("eager" if b == "eager" else f"jit {b}"),
            lambda b=b: make(b),
            warmup=len(batches),
        )
        for b in ["eager", *backends]
    ]
    if have_torch:

        def make_torch() -> Step:
            import torch

            net = model().to_torch()
            data = [
                (torch.tensor([ids[:-1]]), torch.tensor(ids[1:], dtype=torch.long))
                for (ids,) in batches
            ]
            optimizer = torch.optim.Adam(net.parameters(), lr=0.01, betas=(0.85, 0.99))
            batch_iter = iter(_cycle(data))

            def step() -> float:
                inputs, targets = next(batch_iter)
                loss = torch.nn.functional.cross_entropy(net(inputs)[0], targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                return loss.item()

            return step

        contenders.append(Contender("torch float64 (1 thread)", make_torch, warmup=len(batches)))
    return contenders


WORKLOADS: dict[str, Callable[[list[str], bool], list[Contender]]] = {
    "moons": moons_contenders,
    "digits": digits_contenders,
    "cnn": cnn_contenders,
    "gpt": gpt_contenders,
}


# --- running ---------------------------------------------------------------------------------


CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}


def run(contenders: list[Contender], rounds: int, block: int, clock: Callable[[], float]) -> None:
    steps = []
    for c in contenders:
        started = time.perf_counter()
        step = c.make()
        c.first_loss = step()  # compiled contenders trace and compile here
        for _ in range(c.warmup - 1):  # e.g. one pass over names of every length
            step()
        c.setup_seconds = time.perf_counter() - started
        steps.append(step)
    for r in range(rounds):
        for c, step in zip(contenders, steps):
            n = 1 if c.name == "micrograd" else block
            if c.name == "micrograd" and r >= max(2, rounds // 5):
                continue  # a few of its steps are plenty: each takes about a second
            gc.collect()
            for _ in range(n):
                started = clock()
                step()
                c.times.append(clock() - started)


def report(name: str, contenders: list[Contender]) -> None:
    print(f"\n{name}")
    first = [c.first_loss for c in contenders]
    spread = max(first) - min(first)
    print(f"  first-step losses agree to {spread:.1e} ({min(first):.6f})")
    base = {c.name: statistics.median(c.times) for c in contenders}
    micro = base.get("micrograd")
    torch_time = next((t for n, t in base.items() if n.startswith("torch")), None)
    print(f"  {'contender':<36}{'ms/step':>10}{'vs micrograd':>14}{'vs torch':>10}{'setup s':>9}")
    for c in contenders:
        t = base[c.name]
        vs_micro = f"{micro / t:,.0f}x" if micro else "-"
        vs_torch = f"{torch_time / t:.2f}x" if torch_time else "-"
        setup = f"{c.setup_seconds:.2f}" if "jit" in c.name else ""
        print(f"  {c.name:<36}{t * 1e3:>10.3f}{vs_micro:>14}{vs_torch:>10}{setup:>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=15, help="alternating blocks (default 15)")
    parser.add_argument("--block", type=int, default=5, help="steps per block (default 5)")
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="cpu",
        help="cpu: this thread's CPU time (steady on a shared machine; the default); wall: elapsed",
    )
    args = parser.parse_args()
    have_torch = importlib.util.find_spec("torch") is not None
    if have_torch:
        import torch

        torch.set_num_threads(1)
    backends = ["python"]
    if importlib.util.find_spec("numpy") is not None:
        backends += ["numpy", "numpy fused"]
    import platform

    print(
        f"chaingrad {chaingrad.__version__}, Python {platform.python_version()}, "
        f"torch {torch.__version__ if have_torch else '-'}; medians of {args.rounds} blocks "
        f"of {args.block} steps (micrograd: a few single steps); {args.clock} time"
    )
    for name in args.workloads:
        contenders = WORKLOADS[name](backends, have_torch)
        run(contenders, args.rounds, args.block, CLOCKS[args.clock])
        report(name, contenders)


if __name__ == "__main__":
    main()
