"""Training benchmark: micrograd's moons demo step, micrograd 0.1.0 vs chaingrad.nn, same run.

Both train MLP(2, [16, 16, 1]) on make_moons(100, noise=0.1) from the *same*
initial weights (micrograd's, copied into chaingrad with load_state_dict),
with max-margin loss + 1e-4 L2 and SGD at lr = 1.0 - 0.9*k/100:

* micrograd: its own ``micrograd.nn.MLP`` and the loop from its demo notebook;
* chaingrad: its own ``chaingrad.nn.MLP`` (``dot(w, x) + b`` neurons),
  ``functional.hinge_loss`` + ``l2_penalty`` and ``optim.SGD``.

A step is forward + loss + backward + update. micrograd's steps run first,
then chaingrad's (interleaving would charge the collection of micrograd's
reference cycles to chaingrad's steps). The losses are checked to agree at
every step (same math, same numbers), and the median step times and the
per-step ratios (step k of micrograd / step k of chaingrad) are printed. The garbage collector
stays on, as users have it.

    pip install -e '.[bench]'      # micrograd==0.1.0, scikit-learn
    python benchmarks/train.py [--steps 100]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time

import micrograd.engine
import micrograd.nn
from sklearn.datasets import make_moons

import chaingrad
from chaingrad.nn import MLP
from chaingrad.nn import functional as F
from chaingrad.nn.optim import SGD, LinearLR


def micrograd_state(model: micrograd.nn.MLP) -> dict:
    """micrograd's weights in chaingrad's state-dict layout (same attribute names)."""
    return {
        f"layers.{i}.neurons.{j}.{name}": (
            [w.data for w in neuron.w] if name == "w" else float(neuron.b.data)
        )
        for i, layer in enumerate(model.layers)
        for j, neuron in enumerate(layer.neurons)
        for name in ("w", "b")
    }


def micrograd_step(model, X, y, k: int) -> float:
    # The loop of micrograd's demo.ipynb, verbatim apart from names.
    Value = micrograd.engine.Value
    inputs = [list(map(Value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum(p * p for p in model.parameters())
    total_loss = data_loss + reg_loss
    model.zero_grad()
    total_loss.backward()
    learning_rate = 1.0 - 0.9 * k / 100
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    return total_loss.data


def chaingrad_step(model, optimizer, schedule, X, y) -> float:
    scores = [model(x) for x in X]
    total_loss = F.hinge_loss(scores, y) + 1e-4 * F.l2_penalty(model.parameters())
    optimizer.zero_grad()
    total_loss.backward()
    optimizer.step()
    schedule.step()
    return total_loss.data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="training steps per library")
    args = parser.parse_args()

    X, y = make_moons(n_samples=100, noise=0.1, random_state=1337)
    X = X.tolist()
    y = [int(v) * 2 - 1 for v in y]

    random.seed(1337)  # micrograd's MLP draws from the global RNG
    reference = micrograd.nn.MLP(2, [16, 16, 1])
    ours = MLP(2, [16, 16, 1])
    ours.load_state_dict(micrograd_state(reference))
    optimizer = SGD(ours.parameters(), lr=1.0)
    schedule = LinearLR(optimizer, start_factor=1.0, end_factor=0.1, total_steps=100)

    # One library after the other: micrograd leaves reference cycles behind, and
    # interleaving would bill their collection to whichever step runs next.
    times: dict[str, list[float]] = {"micrograd": [], "chaingrad": []}
    losses: dict[str, list[float]] = {"micrograd": [], "chaingrad": []}
    for k in range(args.steps):
        t0 = time.perf_counter()
        losses["micrograd"].append(micrograd_step(reference, X, y, k))
        times["micrograd"].append(time.perf_counter() - t0)
    gc.collect()
    for _ in range(args.steps):
        t0 = time.perf_counter()
        losses["chaingrad"].append(chaingrad_step(ours, optimizer, schedule, X, y))
        times["chaingrad"].append(time.perf_counter() - t0)
    worst = max(abs(a - b) for a, b in zip(losses["micrograd"], losses["chaingrad"]))
    loss_c = losses["chaingrad"][-1]
    # Summation order differs (one dot node vs a chain of +), so allow rounding.
    assert worst < 1e-9, f"the two trainings diverged: max loss difference {worst}"

    accuracy = sum((yi > 0) == (ours(x).data > 0) for x, yi in zip(X, y)) / len(y)
    print(f"chaingrad {chaingrad.__version__} vs micrograd 0.1.0; gc enabled: {gc.isenabled()}")
    print(f"{args.steps} steps of MLP(2, [16, 16, 1]) on 100 moons, same initial weights")
    print(
        f"losses agree at every step (max difference {worst:.1e}); final loss {loss_c:.6f}, "
        f"training accuracy {accuracy:.0%}"
    )
    median = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"{name:<10} median step {median[name] * 1e3:8.1f} ms   total {sum(t):6.2f} s")
    ratios = [m / c for m, c in zip(times["micrograd"], times["chaingrad"])]
    print(
        f"speed: chaingrad is {median['micrograd'] / median['chaingrad']:.1f}x faster than "
        f"micrograd per step (per-step ratio min {min(ratios):.1f}x, "
        f"median {statistics.median(ratios):.1f}x)"
    )


if __name__ == "__main__":
    main()
