"""Playground benchmark: training steps per second on moons, hidden [8, 8], against peers.

One step is what the Playground's step button does: a minibatch of 10 points,
forward, binary cross-entropy, backward, SGD with momentum 0.9, and then the
loss and accuracy on the whole training and validation sets (the curves it
draws). Measured in the same run:

* ``Playground.step`` (the jit-compiled step, numbers for the curves with numpy);
* the same step with chaingrad's eager Values (``loss.backward()``, ``opt.step()``);
* PyTorch (CPU, float64) doing the same step and the same whole-set evaluation;
* play: steps per second while playing as fast as it goes, the page refreshed
  about 7 times a second (each refresh: weights, every neuron's map, curves);
* one refresh of the page's state, in ms, and its size in bytes.

    python benchmarks/playground.py [--steps 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from chaingrad.viz import Playground


def per_second(fn, steps: int, repeats: int = 3) -> float:
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn(steps)
        rates.append(steps / (time.perf_counter() - started))
    return statistics.median(rates)


def playground_rate(steps: int) -> float:
    pg = Playground(dataset="moons", hidden=[8, 8], activation="tanh", lr=0.1)
    pg.step(1)  # traced once, as the first press of play does
    return per_second(pg.step, steps)


def eager_rate(steps: int) -> float:
    pg = Playground(dataset="moons", hidden=[8, 8], activation="tanh", lr=0.1)
    model, optimizer = pg._model, pg._optimizer

    def run(n: int) -> None:
        for _ in range(n):
            idx = pg._next_batch()
            optimizer.zero_grad()
            loss = pg._objective(pg._X_train[idx].tolist(), pg._y_train[idx].tolist())
            loss.backward()
            optimizer.step()
            pg._record()

    del model
    return per_second(run, max(50, steps // 10))


def torch_rate(steps: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    pg = Playground(dataset="moons", hidden=[8, 8], activation="tanh", lr=0.1)
    torch.manual_seed(0)
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead
    net = torch.nn.Sequential(
        torch.nn.Linear(2, 8),
        torch.nn.Tanh(),
        torch.nn.Linear(8, 8),
        torch.nn.Tanh(),
        torch.nn.Linear(8, 1),
    ).double()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    X = torch.tensor(pg._X_train)
    y = torch.tensor(pg._y_train, dtype=torch.float64)
    Xv = torch.tensor(pg._X_val)
    yv = torch.tensor(pg._y_val, dtype=torch.float64)

    def run(n: int) -> None:
        for _ in range(n):
            idx = torch.as_tensor(pg._next_batch())
            opt.zero_grad()
            loss = loss_fn(net(X[idx])[:, 0], y[idx])
            loss.backward()
            opt.step()
            with torch.no_grad():  # the whole-set numbers the curves need
                for data, target in ((X, y), (Xv, yv)):
                    z = net(data)[:, 0]
                    float(loss_fn(z, target))
                    float(((z > 0) == (target == 1)).double().mean())

    run(5)
    return per_second(run, steps)


def play_rate(seconds: float = 3.0) -> tuple[float, int]:
    pg = Playground(dataset="moons", hidden=[8, 8], activation="tanh", lr=0.1, speed=0)
    refreshes = 0

    def count(change: object) -> None:
        nonlocal refreshes
        refreshes += 1

    pg.observe(count, names="stats")
    pg.step(1)
    start_steps, started = pg.steps, time.perf_counter()
    pg.play()
    time.sleep(seconds)
    pg.pause()
    took = time.perf_counter() - started
    return (pg.steps - start_steps) / took, refreshes


def refresh_cost() -> tuple[float, int]:
    pg = Playground(dataset="moons", hidden=[8, 8], activation="tanh", lr=0.1)
    pg.step(10)
    times = []
    for _ in range(30):
        started = time.perf_counter()
        pg._publish()
        times.append(time.perf_counter() - started)
    size = len(pg.maps) + len(str(pg.weights)) + len(str(pg.curves)) + len(str(pg.stats))
    return 1000 * statistics.median(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    compiled = playground_rate(args.steps)
    eager = eager_rate(args.steps)
    torch_steps = torch_rate(args.steps)
    playing, refreshes = play_rate()
    ms, size = refresh_cost()
    print("moons, hidden [8, 8], tanh, batch 10, SGD momentum 0.9; steps per second (median of 3)")
    print(f"  Playground.step (compiled)   {compiled:8,.0f}")
    print(f"  chaingrad eager step         {eager:8,.0f}   Playground is {compiled / eager:.1f}x")
    if torch_steps is not None:
        print(
            f"  PyTorch (CPU, float64)       {torch_steps:8,.0f}   Playground is "
            f"{compiled / torch_steps:.2f}x"
        )
    print(f"  playing, as fast as it goes  {playing:8,.0f}   ({refreshes} page refreshes in 3 s)")
    print(f"  one page refresh: {ms:.1f} ms, {size:,} bytes")


if __name__ == "__main__":
    main()
