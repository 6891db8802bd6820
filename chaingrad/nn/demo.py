"""Train micrograd's moons demo with chaingrad and save the results.

An MLP(2, [16, 16, 1]) (ReLU hidden layers, linear output) learns to separate
two classes of 2-D points with the max-margin (SVM) loss plus 1e-4 * L2, by
full-batch SGD with the learning rate falling linearly from 1.0 to 0.1
(lr = 1.0 - 0.9 * k / steps), exactly as micrograd's demo notebook. It shows
a progress bar on a terminal, prints the loss and accuracy at every tenth of
the run and at the end, and writes into the output folder:

  decision_boundary.png   the learned regions with the data on top
  loss_curve.png          loss and accuracy per step
  model.json              the trained weights (load with MLP(2, [16, 16, 1]).load(path))

Everything is generated locally from --seed: the same command prints the same
numbers on every machine. Needs matplotlib (and tqdm for the progress bar):
pip install 'chaingrad[demo]'.

--compiled trains with chaingrad.jit: the step is traced once and replayed,
with the same numbers. At the default 100 steps the training itself (the
"trained in" time the demo prints) runs 5-15x faster on a 2-core machine
(4.6 s against 0.3 s when it is quiet), but the whole command only 2-3x
(less on a busy machine), because starting Python, importing matplotlib and
drawing the plots take a few seconds either way; the more steps, the closer
the whole run comes to the training's speed-up.

Two losses are printed. "loss", at each step, is what training minimises:
the max-margin loss plus the 1e-4 * L2 penalty on the weights, measured
before that step's update (as micrograd prints it). "data loss", at the end,
is the max-margin loss alone, on the final weights: how well the points are
separated, without the penalty.

example:
  chaingrad demo --dataset circles --steps 150 --output ./circles-demo
  chaingrad demo --compiled --steps 1000
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import sys
import tempfile
import time
from typing import Any

from chaingrad._usage import UsageError

from ._files import write_atomically

DATASETS = ("moons", "circles", "blobs", "spirals")
DEFAULT_OUTPUT = "chaingrad-demo"


# The demo trains full-batch in pure Python: past these it would run for hours, and
# 10,000 points already hold a graph of a few hundred MB per step.
MAX_SAMPLES = 10_000
MAX_STEPS = 100_000


def _whole_number(minimum: int, maximum: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {minimum} to {maximum}, got {text!r}"
            )
        return value

    return parse


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None


def _noise(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 10.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 10, got {text!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``chaingrad demo`` options to ``parser``."""
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        default="moons",
        help="which two-class 2-D dataset to learn (default: moons)",
    )
    parser.add_argument(
        "--samples",
        type=_whole_number(4, MAX_SAMPLES),
        default=100,
        help=f"number of points, up to {MAX_SAMPLES:,} (default: 100)",
    )
    parser.add_argument(
        "--noise",
        type=_noise,
        default=None,
        help="spread of the points (default: 0.1 moons, 0.05 circles, 1.0 blobs, 0.2 spirals)",
    )
    parser.add_argument(
        "--steps",
        type=_whole_number(1, MAX_STEPS),
        default=100,
        help=f"training steps, up to {MAX_STEPS:,} (default: 100)",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=1337,
        help="seed for the data and the initial weights (default: 1337)",
    )
    parser.add_argument(
        "--output",
        "-o",
        default=DEFAULT_OUTPUT,
        metavar="FOLDER",
        help=f"folder for the plots and the model (default: ./{DEFAULT_OUTPUT}/)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar even on a terminal"
    )
    parser.add_argument(
        "--compiled",
        action="store_true",
        help=(
            "train with chaingrad.jit: trace the step once, replay it (same numbers; "
            "at the default 100 steps the training 5-15x faster, the whole run 2-3x)"
        ),
    )


def _missing(package: str, purpose: str) -> str:
    return (
        f"chaingrad demo: error: {package} is not installed ({purpose}); "
        "install the demo extras: pip install 'chaingrad[demo]'"
    )


def _make_data(name: str, samples: int, noise: float | None, seed: int) -> Any:
    from . import data

    if name == "moons":
        return data.make_moons(samples, 0.1 if noise is None else noise, seed=seed)
    if name == "circles":
        return data.make_circles(samples, 0.05 if noise is None else noise, seed=seed)
    if name == "blobs":
        centers = [[-1.5, -1.0], [1.5, 1.0]]
        return data.make_blobs(samples, centers, 1.0 if noise is None else noise, seed=seed)
    return data.make_spirals(samples, 2, 0.2 if noise is None else noise, seed=seed)


def _save_figure(fig: Any, path: str) -> None:
    # Rendered in memory, then written next to the target and renamed: a crash never
    # leaves half a PNG.
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    write_atomically(path, buffer.getvalue())


def _prepare_output(output: str, shown: str) -> None:
    """Make the output folder and prove it is writable, before any time is spent training."""
    if os.path.exists(output) and not os.path.isdir(output):
        raise UsageError(f"chaingrad demo: error: --output {shown!r} is a file, not a folder")
    try:
        os.makedirs(output, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".chaingrad-probe-", dir=output)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UsageError(
            f"chaingrad demo: error: cannot write to --output {shown!r} ({reason})"
        ) from None


def run(args: argparse.Namespace) -> int:
    """Train, print the progress, write the plots and the model; returns the exit status."""
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("\nchaingrad demo: interrupted; nothing was written", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    output = os.path.abspath(args.output)
    if os.path.exists(output) and not os.path.isdir(output):
        raise UsageError(f"chaingrad demo: error: --output {args.output!r} is a file, not a folder")
    for package, purpose in (("matplotlib", "for the plots"), ("numpy", "for the plots")):
        if importlib.util.find_spec(package) is None:
            print(_missing(package, purpose), file=sys.stderr)
            return 1
    progress = not args.no_progress and sys.stderr.isatty()
    if progress and importlib.util.find_spec("tqdm") is None:
        print(_missing("tqdm", "for the progress bar; or pass --no-progress"), file=sys.stderr)
        return 1
    _prepare_output(output, args.output)

    from .layers import MLP
    from .optim import SGD
    from .plot import plot_decision_boundary, plot_loss_curve
    from .train import evaluate, fit

    X, labels = _make_data(args.dataset, args.samples, args.noise, args.seed)
    y = [1 if label == 1 else -1 for label in labels]  # max-margin targets are -1/+1
    model = MLP(2, [16, 16, 1], seed=args.seed)
    steps = args.steps
    print(
        f"chaingrad demo: MLP(2, [16, 16, 1]) ({model.num_parameters()} parameters) on "
        f"{len(X)} {args.dataset} points (seed {args.seed}), {steps} steps of SGD"
        + (", compiled (chaingrad.jit)" if args.compiled else "")
    )
    started = time.perf_counter()
    history = fit(
        model,
        X,
        y,
        loss="hinge",
        optimizer=SGD(model, lr=1.0),
        steps=steps,
        l2=1e-4,
        schedule=lambda k: 1.0 - 0.9 * k / steps,  # micrograd's learning-rate decay
        progress=progress,
        compiled=args.compiled,
    )
    seconds = time.perf_counter() - started
    # Loss and accuracy are measured before each step's update, as micrograd prints them.
    shown = sorted({*range(0, steps, max(1, steps // 10)), steps - 1})
    print("loss = max-margin loss + 1e-4 * L2 penalty, before each step's update")
    for k in shown:
        print(f"step {k:>4}  loss {history.loss[k]:.6f}  accuracy {history.accuracy[k]:.1%}")
    final = evaluate(model, X, y, loss="hinge")
    print(
        f"trained in {seconds:.1f} s; after the last step: data loss {final['loss']:.6f} "
        f"(max-margin loss alone, without the L2 penalty), "
        f"training accuracy {final['accuracy']:.1%}"
    )

    boundary = os.path.join(output, "decision_boundary.png")
    curve = os.path.join(output, "loss_curve.png")
    model_path = os.path.join(output, "model.json")
    title = f"MLP(2, [16, 16, 1]) on {args.dataset}: accuracy {final['accuracy']:.0%}"
    try:
        _save_figure(plot_decision_boundary(model, X, labels, title=title), boundary)
        _save_figure(plot_loss_curve(history, title=f"{args.dataset}, {steps} steps"), curve)
        model.save(model_path)
    except OSError as error:  # the folder was checked, but a disk can still fill up
        where = error.filename or args.output
        print(
            f"chaingrad demo: error: could not write {where!r}: {error.strerror or error}",
            file=sys.stderr,
        )
        return 1
    for path in (boundary, curve, model_path):
        print(f"wrote {os.path.relpath(path)}")
    return 0
