"""End-to-end benchmark: whole tasks as a learner runs them, each beside torch in one run.

Where :mod:`compiled` times one training step, this times what the notebooks
do from start to finish, including tracing, writing numbers back into the
Values, inference and sampling:

* ``microgpt`` -- microgpt's task as notebook 08 writes it: ``GPT(27, 16, 16, 4, 1)``,
  1,000 Adam steps (betas 0.85/0.99, lr 0.01 falling linearly to 0) on one name
  each, then 20 samples at temperature 0.5. chaingrad: ``jit(params=model,
  optimizer=...)`` on names padded to the block size (``ignore_index=-1`` on the
  padded targets: one program) and ``model.generate``; torch: the ``to_torch()`` twin trained
  and sampled the way a torch user writes it (the whole prefix each token);
* ``cnn`` -- notebook 06's CNN (Conv2d(1, 8, 3) -> ReLU -> MaxPool2d(2) -> Flatten
  -> Linear(72, 10)) trained one epoch with ``fit(..., compiled=True)``, batch 16,
  Adam, then ``evaluate`` on the 360 test digits; torch: the twin on batches;
* ``samples`` -- 20 GPT names alone (``generate``), untrained weights;
* ``digits`` -- one compiled SGD step of the MLP 64-16-10 on digits at batches
  1, 8, 32 and 128, the inputs given as numpy arrays, beside torch's step.

Times are seconds of the process's CPU time (``--clock wall`` for elapsed; both
sides run on one thread, so they agree on a quiet machine and CPU time is the
steadier on a shared one), the tasks including tracing, which is the point; the
median of ``--repeats`` runs, chaingrad and torch alternating; torch runs in
float64 on one thread. The losses of
both sides are printed so a reader can see they train the same model.

    pip install -e '.[bench]' torch==2.13.0
    python benchmarks/end_to_end.py                    # every task (about 20 s)
    python benchmarks/end_to_end.py --tasks digits --repeats 5
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from chaingrad import jit
from chaingrad.nn import (
    GPT,
    MLP,
    Conv2d,
    Flatten,
    Layer,
    MaxPool2d,
    ReLU,
    Sequential,
    evaluate,
    fit,
)
from chaingrad.nn import functional as F
from chaingrad.nn.data import CharTokenizer, load_digits, load_names, train_test_split
from chaingrad.nn.optim import SGD, Adam, LinearLR

Task = Callable[[], tuple[float, str]]  # runs once: (seconds, what it computed)


def _torch() -> Any:
    import torch

    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    return torch


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
_clock = CLOCKS["cpu"]


def _timed(fn: Callable[[], str]) -> tuple[float, str]:
    start = _clock()
    what = fn()
    return _clock() - start, what


# --- microgpt's task ---------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _names() -> tuple[CharTokenizer, list[str]]:
    names = load_names()
    tok = CharTokenizer.from_texts(names)
    random.Random(42).shuffle(names)
    return tok, names[len(names) // 10 :]


def microgpt_chaingrad(steps: int, samples: int) -> Task:
    def run() -> str:
        tok, train_names = _names()
        model = GPT(tok.vocab_size, block_size=16, n_embd=16, n_head=4, n_layer=1, seed=0)
        optimizer = Adam(model, lr=0.01, betas=(0.85, 0.99))
        schedule = LinearLR(optimizer, start_factor=1.0, end_factor=0.0, total_steps=steps)

        @jit(params=model, optimizer=optimizer)
        def train_step(inputs: Any, targets: Any) -> Any:
            return F.cross_entropy(model(inputs), targets, ignore_index=-1)

        losses = []
        for step in range(steps):
            ids = tok.encode(train_names[step % len(train_names)], True)
            inputs, targets = ids[:-1], ids[1:]
            pad = model.block_size - len(inputs)  # one length: one program for every name
            losses.append(train_step(inputs + [0] * pad, targets + [-1] * pad))
            schedule.step()
        text = [
            tok.decode(
                model.generate(
                    [tok.boundary_id], 15, temperature=0.5, seed=seed, stop=tok.boundary_id
                )
            )
            for seed in range(samples)
        ]
        return (
            f"last 100 losses {statistics.fmean(losses[-100:]):.4f}, "
            f"{len(train_step.programs)} programs, e.g. {text[0].strip('.')!r}"
        )

    return lambda: _timed(run)


def _torch_sample(torch: Any, net: Any, tok: CharTokenizer, seed: int, temperature: float) -> str:
    generator = torch.Generator().manual_seed(seed)
    ids = [tok.boundary_id]
    with torch.no_grad():
        for _ in range(15):
            logits = net(torch.tensor([ids[-16:]]))[0, -1] / temperature
            ids.append(int(torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)))
            if ids[-1] == tok.boundary_id:
                break
    return tok.decode(ids)


def microgpt_torch(steps: int, samples: int) -> Task:
    def run() -> str:
        torch = _torch()
        tok, train_names = _names()
        net = GPT(tok.vocab_size, 16, 16, 4, 1, seed=0).to_torch()
        optimizer = torch.optim.Adam(net.parameters(), lr=0.01, betas=(0.85, 0.99))
        schedule = torch.optim.lr_scheduler.LinearLR(optimizer, 1.0, 0.0, total_iters=steps)
        losses = []
        for step in range(steps):
            ids = tok.encode(train_names[step % len(train_names)], True)
            logits = net(torch.tensor([ids[:-1]]))[0]
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        text = [_torch_sample(torch, net, tok, seed, 0.5) for seed in range(samples)]
        return f"last 100 losses {statistics.fmean(losses[-100:]):.4f}, e.g. {text[0]!r}"

    return lambda: _timed(run)


def samples_chaingrad(samples: int) -> Task:
    def run() -> str:
        tok, _ = _names()
        model = GPT(tok.vocab_size, 16, 16, 4, 1, seed=0)
        lengths = [
            len(model.generate([tok.boundary_id], 15, temperature=1.0, seed=s))
            for s in range(samples)
        ]
        return f"{sum(lengths)} ids"

    return lambda: _timed(run)


def samples_torch(samples: int) -> Task:
    def run() -> str:
        torch = _torch()
        tok, _ = _names()
        net = GPT(tok.vocab_size, 16, 16, 4, 1, seed=0).to_torch()
        generator = torch.Generator().manual_seed(0)
        total = 0
        with torch.no_grad():
            for _ in range(samples):
                ids = [tok.boundary_id]
                for _ in range(15):
                    logits = net(torch.tensor([ids[-16:]]))[0, -1]
                    probs = torch.softmax(logits, -1)
                    ids.append(int(torch.multinomial(probs, 1, generator=generator)))
                total += len(ids)
        return f"{total} ids"

    return lambda: _timed(run)


# --- notebook 06's CNN ---------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _digit_images() -> tuple[list[Any], list[Any], list[int], list[int]]:
    X, labels = load_digits()
    images = [[[row[8 * i : 8 * i + 8] for i in range(8)]] for row in X]
    return train_test_split(images, labels, 0.2, seed=0)


def _cnn() -> Sequential:
    return Sequential(
        Conv2d(1, 8, kernel_size=3, seed=0),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Layer(72, 10, nonlin=False, init="lecun_normal", seed=0),
    )


def cnn_chaingrad() -> Task:
    def run() -> tuple[float, str]:
        X_train, X_test, y_train, y_test = _digit_images()
        model = _cnn()
        start = time.perf_counter()
        history = fit(
            model,
            X_train,
            y_train,
            optimizer=Adam(model, lr=0.02),
            epochs=1,
            batch_size=16,
            seed=0,
            progress=False,
            compiled=True,
        )
        trained = time.perf_counter() - start
        result = evaluate(model, X_test, y_test)
        evaluated = time.perf_counter() - start - trained
        again = time.perf_counter()
        evaluate(model, X_test, y_test)  # the forward program is kept: no trace this time
        again = time.perf_counter() - again
        return trained + evaluated, (
            f"train {trained:.2f} s + evaluate {evaluated:.3f} s (again {again:.4f} s); "
            f"last loss {history['loss'][-1]:.3f}, test accuracy {result['accuracy']:.3f}"
        )

    return run


def cnn_torch() -> Task:
    def run() -> tuple[float, str]:
        torch = _torch()
        X_train, X_test, y_train, y_test = _digit_images()
        net = _cnn().to_torch()  # the export takes (B, 1, 8, 8) batches
        optimizer = torch.optim.Adam(net.parameters(), lr=0.02)
        start = time.perf_counter()
        order = list(range(len(X_train)))
        random.Random(0).shuffle(order)
        X, y = torch.tensor(X_train), torch.tensor(y_train)
        for i in range(0, len(order), 16):
            index = torch.tensor(order[i : i + 16])
            loss = torch.nn.functional.cross_entropy(net(X[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        trained = time.perf_counter() - start

        def evaluate_torch() -> float:
            with torch.no_grad():
                logits = net(torch.tensor(X_test))
                return float((logits.argmax(1) == torch.tensor(y_test)).double().mean().item())

        accuracy = evaluate_torch()
        evaluated = time.perf_counter() - start - trained
        again = time.perf_counter()
        evaluate_torch()
        again = time.perf_counter() - again
        return trained + evaluated, (
            f"train {trained:.2f} s + evaluate {evaluated:.3f} s (again {again:.4f} s); "
            f"last loss {loss.item():.3f}, test accuracy {accuracy:.3f}"
        )

    return run


# --- the digits MLP at several batch sizes ----------------------------------------------------


def digits_step(batch: int, steps: int, torch_side: bool) -> Task:
    import numpy as np

    X, y = load_digits()
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    rng = np.random.default_rng(0)
    batches = [rng.choice(len(X), batch, replace=False) for _ in range(steps)]

    def run_chaingrad() -> str:
        model = MLP(64, [16, 10], seed=0)

        @jit(params=model, optimizer=SGD(model, lr=0.1))
        def step(xb: Any, yb: Any) -> Any:
            return F.cross_entropy([model(x) for x in xb], yb)

        step(X[batches[0]], y[batches[0]])  # traces: one structure per batch size
        start = time.perf_counter()
        for index in batches:
            loss = step(X[index], y[index])
        per_step = (time.perf_counter() - start) / steps
        return f"{1e3 * per_step:.3f} ms per step, loss {loss:.4f}"

    def run_torch() -> str:
        torch = _torch()
        net = MLP(64, [16, 10], seed=0).to_torch()
        optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
        tX, ty = torch.tensor(X), torch.tensor(y)

        def step(index: Any) -> Any:
            index_t = torch.from_numpy(index)
            loss = torch.nn.functional.cross_entropy(net(tX[index_t]), ty[index_t])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss

        step(batches[0])  # the same warm-up step as chaingrad's (whose first call traces)
        start = time.perf_counter()
        for index in batches:
            loss = step(index)
        per_step = (time.perf_counter() - start) / steps
        return f"{1e3 * per_step:.3f} ms per step, loss {loss.item():.4f}"

    def per_step_task() -> tuple[float, str]:
        what = (run_torch if torch_side else run_chaingrad)()
        return float(what.split(" ms")[0]) / 1e3, what

    return per_step_task


# --- running -------------------------------------------------------------------------------


def compare(title: str, ours: Task, theirs: Task, repeats: int) -> None:
    """Alternate the two tasks ``repeats`` times; print medians and the ratio."""
    times: dict[str, list[float]] = {"chaingrad": [], "torch": []}
    notes: dict[str, str] = {}
    for _ in range(repeats):
        for side, task in (("chaingrad", ours), ("torch", theirs)):
            seconds, notes[side] = task()
            times[side].append(seconds)
    a, b = statistics.median(times["chaingrad"]), statistics.median(times["torch"])
    unit, scale = ("ms", 1e3) if b < 0.1 else ("s", 1.0)
    print(f"{title}")
    print(f"  chaingrad {scale * a:9.3f} {unit}   ({notes['chaingrad']})")
    print(f"  torch     {scale * b:9.3f} {unit}   ({notes['torch']})")
    print(f"  chaingrad takes {a / b:.2f}x torch's time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tasks = ["microgpt", "cnn", "samples", "digits"]
    parser.add_argument("--tasks", nargs="*", default=tasks, choices=tasks)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each task (default 3)")
    parser.add_argument("--steps", type=int, default=1000, help="microgpt's steps (default 1000)")
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="cpu",
        help="cpu: the process's CPU time (steadier on a shared machine; the default); "
        "wall: elapsed",
    )
    args = parser.parse_args()
    global _clock
    _clock = CLOCKS[args.clock]
    _torch()
    if "microgpt" in args.tasks:
        compare(
            f"microgpt's task: {args.steps} steps + 20 samples",
            microgpt_chaingrad(args.steps, 20),
            microgpt_torch(args.steps, 20),
            args.repeats,
        )
    if "cnn" in args.tasks:
        compare(
            "notebook 06's CNN: one epoch + evaluate", cnn_chaingrad(), cnn_torch(), args.repeats
        )
    if "samples" in args.tasks:
        compare("20 GPT samples", samples_chaingrad(20), samples_torch(20), args.repeats)
    if "digits" in args.tasks:
        for batch in (1, 8, 32, 128):
            compare(
                f"digits MLP 64-16-10, batch {batch} as numpy arrays: one SGD step",
                digits_step(batch, 200, False),
                digits_step(batch, 200, True),
                args.repeats,
            )
    what = "CPU time of the process" if args.clock == "cpu" else "elapsed time"
    print(f"(medians of {args.repeats} runs, {what})")


if __name__ == "__main__":
    main()
