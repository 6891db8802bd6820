"""Engine benchmark: chaingrad vs micrograd 0.1.0, in the same run, on the same code.

The workload is micrograd's demo step: make_moons(100), an MLP 2-16-16-1 built
from raw Value ``+ * relu`` (identical code for both engines, written the way
micrograd's nn.py writes it), max-margin (SVM) loss plus 1e-4 L2, then
``backward()``. The garbage collector stays on, as users have it.

Prints: build+backward time per step and the ratio, bytes per graph node held
(tracemalloc, graph alive after backward), and the deepest chain each engine
can build and backpropagate. When torch is installed, the same scalar code runs
on 0-d float64 tensors as a third timing column (torch is built for tensors,
not scalars: this shows what a scalar graph costs there, nothing more).

Timing runs each engine in a fresh interpreter that imports only that engine:
the cycle collector's cost grows with everything alive in the process, so
timing micrograd and chaingrad beside torch and scikit-learn would charge
both for objects a user of either would not have. The engines take turns in
blocks of steps, so a change in the machine's load hits all of them.

    pip install -e '.[bench]'     # micrograd==0.1.0, scikit-learn
    python benchmarks/engine.py [--steps 20] [--max-depth 1000000]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import random
import statistics
import subprocess
import sys
import time
import tracemalloc

BLOCK = 5  # steps per turn


def engine(name: str):
    """The scalar constructor of an engine, importing only that engine."""
    if name == "micrograd":
        from micrograd.engine import Value

        return Value
    if name == "chaingrad":
        from chaingrad import Value

        return Value
    if name == "torch":
        import torch

        def torch_scalar(x):
            return torch.tensor(float(x), dtype=torch.float64, requires_grad=True)

        return torch_scalar
    raise ValueError(name)


def make_params(value_cls, seed: int = 1337):
    """Weights for 2-16-16-1 as nested lists [layer][neuron] = (w, b), same numbers for all."""
    rng = random.Random(seed)
    sizes = [2, 16, 16, 1]
    layers = []
    for nin, nout in zip(sizes, sizes[1:]):
        layers.append(
            [
                ([value_cls(rng.uniform(-1, 1)) for _ in range(nin)], value_cls(0))
                for _ in range(nout)
            ]
        )
    return layers


def forward(layers, x):
    # Exactly micrograd's Neuron/Layer/MLP arithmetic: sum((wi*xi ...), b), ReLU on hidden.
    for i, layer in enumerate(layers):
        outs = []
        for w, b in layer:
            act = sum((wi * xi for wi, xi in zip(w, x)), b)
            outs.append(act.relu() if i < len(layers) - 1 else act)
        x = outs
    return x[0]


def loss_fn(value_cls, layers, X, y):
    params = [p for layer in layers for w, b in layer for p in (*w, b)]
    inputs = [list(map(value_cls, row)) for row in X]
    scores = [forward(layers, x) for x in inputs]
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum(p * p for p in params)
    return data_loss + reg_loss


def count_nodes(root) -> int:
    # Iterative walk that works for both engines (micrograd: _prev, a set).
    seen = {id(root)}
    stack = [root]
    while stack:
        node = stack.pop()
        for p in node._prev:
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return len(seen)


def worker(name: str) -> None:
    """Child process: read the data on stdin, time BLOCK (+1 warm-up) steps, print JSON."""
    data = json.load(sys.stdin)
    cls = engine(name)
    layers = make_params(cls)
    times, loss_value = [], None
    for k in range(BLOCK + 1):
        t0 = time.perf_counter()
        loss = loss_fn(cls, layers, data["X"], data["y"])
        loss.backward()
        elapsed = time.perf_counter() - t0
        loss_value = float(loss.data)
        del loss
        if k:  # the first step warms up
            times.append(elapsed)
    json.dump({"times": times, "loss": loss_value, "gc": gc.isenabled()}, sys.stdout)


def time_steps(names, X, y, steps):
    """Median step time per engine, each in fresh interpreters, alternating blocks."""
    payload = json.dumps({"X": X, "y": y})
    times = {name: [] for name in names}
    losses = {}
    for _ in range(max(1, -(-steps // BLOCK))):
        for name in names:
            out = subprocess.run(
                [sys.executable, __file__, "--worker", name],
                input=payload,
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(out.stdout)
            assert result["gc"], "the collector must stay on, as users have it"
            times[name] += result["times"]
            losses[name] = result["loss"]
    # Same loss from the same weights: the engines compute the same thing.
    assert max(losses.values()) - min(losses.values()) < 1e-9, losses
    return {name: statistics.median(ts) for name, ts in times.items()}


def bytes_per_node(name, X, y):
    cls = engine(name)
    layers = make_params(cls)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    loss = loss_fn(cls, layers, X, y)
    loss.backward()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    nodes = count_nodes(loss)
    return held / nodes, nodes


def deepest_chain(name, max_depth):
    cls = engine(name)
    best = 0
    depth = 100
    while depth <= max_depth:
        x = cls(1.0)
        y = x
        try:
            for _ in range(depth):
                y = y * 1.0
            y.backward()
            ok = x.grad == 1.0
        except RecursionError:
            ok = False
        del y
        gc.collect()
        if not ok:
            break
        best = depth
        depth *= 10
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per engine")
    parser.add_argument("--max-depth", type=int, default=1_000_000)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return

    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=100, noise=0.1, random_state=1)
    X = X.tolist()
    y = [float(v) for v in y * 2 - 1]

    peers = ["micrograd", "chaingrad"]
    timed = peers + (["torch"] if importlib.util.find_spec("torch") else [])
    print(
        f"{args.steps} steps per engine in alternating blocks of {BLOCK}, each block in a fresh "
        "interpreter with the collector on; median step = build loss + backward"
    )
    t = time_steps(timed, X, y, args.steps)
    mem = {name: bytes_per_node(name, X, y) for name in peers}
    depth = {name: deepest_chain(name, args.max_depth) for name in peers}

    print(f"{'engine':<10} {'step (ms)':>10} {'nodes':>7} {'bytes/node':>11} {'deepest chain':>14}")
    for name in peers:
        print(
            f"{name:<10} {t[name] * 1e3:>10.1f} {mem[name][1]:>7} {mem[name][0]:>11.0f} "
            f"{depth[name]:>14,}"
        )
    if "torch" in t:
        print(f"{'torch':<10} {t['torch'] * 1e3:>10.1f}   (0-d float64 tensors; time only)")
    print(f"speed: chaingrad is {t['micrograd'] / t['chaingrad']:.1f}x faster than micrograd")
    if "torch" in t:
        print(f"speed: chaingrad is {t['torch'] / t['chaingrad']:.1f}x faster than scalar torch")
    ratio = mem["chaingrad"][0] / mem["micrograd"][0]
    print(f"memory: chaingrad holds {ratio:.2f}x micrograd's bytes per node")


if __name__ == "__main__":
    main()
