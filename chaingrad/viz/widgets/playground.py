"""``Playground``: TensorFlow Playground on chaingrad, a network training live in the notebook.

>>> from chaingrad.viz import Playground
>>> pg = Playground(dataset="moons", hidden=[8, 8], activation="tanh", lr=0.1)
>>> round(pg.step(200), 4)  # what the step button does, 200 times: the new loss
0.0796
>>> pg.accuracy             # on the training points
0.99
>>> pg.set(dataset="spirals", hidden=[8, 8, 8], optimizer="adam", lr=0.03)
>>> pg.steps, pg.model.num_parameters()     # a new dataset starts again
(0, 177)

In a notebook, ``pg`` on the last line of a cell shows it: the data, the
network, the decision boundary and the loss curves, with their controls.

Every control has its Python twin (:meth:`Playground.set`, :meth:`~Playground.play`,
:meth:`~Playground.pause`, :meth:`~Playground.step`, :meth:`~Playground.reset`,
:meth:`~Playground.select`), and the page only draws what the kernel sends.

How it works. The network is a chaingrad model (``pg.model``, an ``MLP`` or,
with dropout, a ``Sequential`` of layers and ``Dropout``); one minibatch step
(zero_grad, forward, binary cross-entropy plus the L1/L2 penalties on the
weights, backward, the optimizer's update) is compiled once with
``chaingrad.jit`` and replayed, thousands of times a second for a small network.
``play`` trains in a background thread of the kernel and sends the state to the
page several times a second: the weights, the whole-set losses, and pictures of
what every neuron computes over the plane (evaluated with numpy from the
weights, the same numbers as the model's forward pass). Clicking a neuron asks
the kernel to draw that neuron's computation graph for one example with
:func:`chaingrad.viz.draw_dot`.
"""

from __future__ import annotations

import array
import dataclasses
import math
import numbers
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chaingrad.engine import Value, dot
from chaingrad.engine.scopes import record_scopes
from chaingrad.nn import functional as F
from chaingrad.nn.data import make_blobs, make_circles, make_moons, make_spirals, make_xor
from chaingrad.nn.layers import MLP, Dropout, Layer, Sequential
from chaingrad.nn.module import Module
from chaingrad.nn.optim import SGD, Adam, Optimizer

from ._base import Widget, asset, traitlets

DATASETS = ("moons", "circles", "spirals", "blobs", "xor")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "leaky_relu", "linear")
OPTIMIZERS = ("sgd", "momentum", "adam")
MAX_LAYERS = 6  # hidden layers, as TensorFlow Playground
MAX_WIDTH = 8  # neurons per hidden layer
BOUNDARY_RESOLUTION = 64  # the decision boundary is drawn from a 64 x 64 grid
NEURON_RESOLUTION = 24  # each neuron's small map, 24 x 24
REFRESH_SECONDS = 0.15  # while playing, the page is updated about 7 times a second
CURVE_POINTS = 300  # loss curves are sent thinned to about this many points

# What each hidden activation computes, on numpy arrays (the views evaluate the network
# over a grid of the plane with these; a test checks they agree with the model's Values).
_NUMPY_ACTIVATIONS: dict[str, Callable[[Any], Any]] = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),
    "leaky_relu": lambda z: np.where(z > 0.0, z, 0.01 * z),
    "linear": lambda z: z,
}


# The inputs the network can be given, as TensorFlow Playground's feature column: each is
# computed from the point (x1, x2), on arrays for the views and on Values for the graph.
FEATURES: dict[str, tuple[Callable[[Any, Any], Any], Callable[[Value, Value], Value]]] = {
    "x1": (lambda a, b: a, lambda a, b: a),
    "x2": (lambda a, b: b, lambda a, b: b),
    "x1^2": (lambda a, b: a * a, lambda a, b: a**2),
    "x2^2": (lambda a, b: b * b, lambda a, b: b**2),
    "x1*x2": (lambda a, b: a * b, lambda a, b: a * b),
    "sin(x1)": (lambda a, b: np.sin(a), lambda a, b: a.sin()),
    "sin(x2)": (lambda a, b: np.sin(b), lambda a, b: b.sin()),
}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the controls set; ``Playground.settings`` is the current one."""

    dataset: str = "moons"
    noise: float = 0.1
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (8, 8)
    activation: str = "tanh"
    lr: float = 0.1
    optimizer: str = "momentum"
    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    batch_size: int = 10
    n_samples: int = 200
    validation: float = 0.5
    seed: int = 0
    speed: int = 300
    show_test: bool = False
    discretize: bool = False


_DATA_FIELDS = frozenset({"dataset", "noise", "n_samples", "validation", "seed"})
_NETWORK_FIELDS = frozenset({"features", "hidden", "activation", "dropout"})
_STEP_FIELDS = frozenset({"optimizer", "l1", "l2", "batch_size"})


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _number(name: str, value: Any, low: float, high: float, *, open_low: bool = False) -> float:
    if not _is_number(value) or not math.isfinite(value):
        raise TypeError(f"Playground: {name} must be a number, got {value!r}")
    value = float(value)
    if value < low or value > high or (open_low and value == low):
        low_text = f"> {low:g}" if open_low else f">= {low:g}"
        raise ValueError(f"Playground: {name} must be {low_text} and <= {high:g}, got {value:g}")
    return value


def _integer(name: str, value: Any, low: int, high: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"Playground: {name} must be an int, got {value!r}")
    if not low <= int(value) <= high:
        raise ValueError(f"Playground: {name} must be in {low}..{high}, got {value}")
    return int(value)


def _choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(
            f"Playground: unknown {name} {value!r}; choose one of {', '.join(choices)}"
        )
    return str(value)


def _hidden(value: Any) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(
            f"Playground: hidden must be a list of layer widths such as [8, 8], got {value!r}"
        )
    if len(value) > MAX_LAYERS:
        raise ValueError(
            f"Playground: hidden has {len(value)} layers; at most {MAX_LAYERS} are drawn"
        )
    return tuple(_integer(f"hidden[{i}]", width, 1, MAX_WIDTH) for i, width in enumerate(value))


def _features(value: Any) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"Playground: features must be a list such as ['x1', 'x2'], got {value!r}")
    for name in value:
        if name not in FEATURES:
            raise ValueError(
                f"Playground: unknown feature {name!r}; choose from {', '.join(FEATURES)}"
            )
    if not value:
        raise ValueError("Playground: features must name at least one input")
    return tuple(name for name in FEATURES if name in value)  # in the diagram's order


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"Playground: {name} must be True or False, got {value!r}")
    return value


def _checked(settings: Settings, changes: dict[str, Any]) -> Settings:
    """``settings`` with ``changes``, every one checked; the first bad one is the error."""
    known = {field.name for field in dataclasses.fields(Settings)}
    for name in changes:
        if name not in known:
            raise TypeError(
                f"Playground: unknown setting {name!r}; settings are {', '.join(sorted(known))}"
            )
    checks: dict[str, Callable[[Any], Any]] = {
        "dataset": lambda v: _choice("dataset", v, DATASETS),
        "noise": lambda v: _number("noise", v, 0.0, 1.0),
        "features": _features,
        "hidden": _hidden,
        "activation": lambda v: _choice("activation", v, ACTIVATIONS),
        "lr": lambda v: _number("lr", v, 0.0, 10.0, open_low=True),
        "optimizer": lambda v: _choice("optimizer", v, OPTIMIZERS),
        "l1": lambda v: _number("l1", v, 0.0, 10.0),
        "l2": lambda v: _number("l2", v, 0.0, 10.0),
        "dropout": lambda v: _number("dropout", v, 0.0, 0.9),
        "batch_size": lambda v: _integer("batch_size", v, 1, 10_000),
        "n_samples": lambda v: _integer("n_samples", v, 20, 2_000),
        "validation": lambda v: _number("validation", v, 0.1, 0.9),
        "seed": lambda v: _integer("seed", v, 0, 2**31 - 1),
        "speed": lambda v: _integer("speed", v, 0, 1_000_000),
        "show_test": lambda v: _flag("show_test", v),
        "discretize": lambda v: _flag("discretize", v),
    }
    new = dataclasses.replace(settings, **{k: checks[k](v) for k, v in changes.items()})
    n_train = new.n_samples - round(new.n_samples * new.validation)
    if new.batch_size > n_train:
        raise ValueError(
            f"Playground: batch_size {new.batch_size} is more than the {n_train} training "
            "points; choose at most that (it is then full-batch)"
        )
    return new


def make_dataset(name: str, n_samples: int, noise: float, seed: int) -> tuple[Any, Any]:
    """The playground's version of dataset ``name``: points centred on 0, labels 0/1.

    ``noise`` scatters the points (the Gaussian noise of moons, circles and XOR,
    the angle noise of the spirals, the spread of the blobs beyond 0.25).
    """
    if name == "moons":
        X, y = make_moons(n_samples, noise=noise, seed=seed)
        X = [[a - 0.5, b - 0.25] for a, b in X]  # centre the two moons on 0
    elif name == "circles":
        X, y = make_circles(n_samples, noise=noise, factor=0.5, seed=seed)
    elif name == "spirals":
        X, y = make_spirals(n_samples, noise=noise, seed=seed, turns=1.0)
    elif name == "blobs":
        centers = [[-0.5, -0.5], [0.5, 0.5]]
        X, y = make_blobs(n_samples, centers=centers, std=0.25 + noise, seed=seed)
    else:
        X, y = make_xor(n_samples, noise=noise, seed=seed)
    return np.array(X, dtype=float), np.array(y, dtype=int)


class Playground(Widget):
    """TensorFlow Playground backed by chaingrad: train a small network on a 2-D dataset, live.

    ``Playground(dataset="moons", hidden=[8, 8], activation="tanh", lr=0.1)``;
    every field of :class:`Settings` is a keyword, and :meth:`set` changes any
    of them later, as the controls do:

    ============  =====================================================================
    dataset       ``"moons" "circles" "spirals" "blobs" "xor"`` (labels 0/1)
    noise         how scattered the points are, 0 to 1 (default 0.1)
    features      the inputs, from ``"x1" "x2" "x1^2" "x2^2" "x1*x2" "sin(x1)" "sin(x2)"``
    hidden        hidden layer widths, up to 6 layers of 1 to 8 (``[]``: no hidden layer)
    activation    ``"tanh" "relu" "sigmoid" "leaky_relu" "linear"``
    lr            learning rate
    optimizer     ``"sgd"``, ``"momentum"`` (SGD with momentum 0.9, default), ``"adam"``
    l1, l2        penalties on the weights (not the biases), added to the loss
    dropout       drop probability after each hidden layer while training
    batch_size    points per step (default 10); at most the training points
    validation    the held-out fraction of ``n_samples`` points (default 0.5 of 200)
    seed          the points, the initial weights and the batches
    speed         steps per second while playing (0: as fast as it goes)
    show_test     draw the held-out points too; ``discretize``: the boundary as 0/1
    ============  =====================================================================

    A new dataset, seed, set of features, architecture, activation or dropout
    starts the network again; lr, optimizer, L1/L2 and batch size apply to the
    weights as they are. A bad argument is one ``TypeError``/``ValueError``
    naming it, and leaves the playground as it was.

    The output is one logit per point; the loss is binary cross-entropy (class 1
    is blue, class 0 orange). ``loss_history`` and ``val_loss_history`` hold
    that loss over the whole training and validation sets at step 0 and after
    every step (without the L1/L2 penalty, as TensorFlow Playground shows it).
    """

    _esm = asset("playground.js")
    _css = asset("playground.css")

    # The state the page draws. The page never changes these itself: it sends a
    # message (play, set lr, select a neuron...) and draws what comes back.
    config = traitlets.Dict().tag(sync=True)
    choices = traitlets.Dict().tag(sync=True)
    running = traitlets.Bool(False).tag(sync=True)
    points = traitlets.Dict().tag(sync=True)
    network = traitlets.Dict().tag(sync=True)
    weights: Any = traitlets.List().tag(sync=True)
    maps = traitlets.Bytes(b"").tag(sync=True)
    curves = traitlets.Dict().tag(sync=True)
    stats = traitlets.Dict().tag(sync=True)
    selected = traitlets.Dict().tag(sync=True)

    def __init__(self, **settings: Any) -> None:
        checked = _checked(Settings(), settings)
        super().__init__()
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._settings = checked
        self._compiled: Any = None  # the jit step, made at the first step after a change
        self.choices = {
            "dataset": list(DATASETS),
            "activation": list(ACTIVATIONS),
            "optimizer": list(OPTIMIZERS),
            "features": list(FEATURES),
            "thumbnails": {name: _thumbnail(name) for name in DATASETS},
            "max_layers": MAX_LAYERS,
            "max_width": MAX_WIDTH,
            "boundary_resolution": BOUNDARY_RESOLUTION,
            "neuron_resolution": NEURON_RESOLUTION,
        }
        self._make_data()
        self._make_network()
        self._publish(everything=True)

    # ----------------------------------------------------------------- public API
    @property
    def settings(self) -> Settings:
        """The current settings (a frozen :class:`Settings`)."""
        return self._settings

    @property
    def model(self) -> Module:
        """The chaingrad network being trained (its Values hold the current weights)."""
        with self._lock:
            self._sync()
            return self._model

    @property
    def loss_history(self) -> list[float]:
        """Training loss (whole training set) at step 0 and after every step since the reset."""
        return list(self._loss)

    @property
    def val_loss_history(self) -> list[float]:
        """Validation loss (the held-out points) at step 0 and after every step."""
        return list(self._val_loss)

    @property
    def accuracy(self) -> float:
        """Fraction of the training points the network classifies right, now."""
        return self._accuracy[-1]

    @property
    def val_accuracy(self) -> float:
        """Fraction of the held-out points the network classifies right, now."""
        return self._val_accuracy[-1]

    @property
    def steps(self) -> int:
        """Training steps (minibatch updates) since the last reset."""
        return self._steps

    @property
    def data(self) -> tuple[Any, Any, Any, Any]:
        """``(X_train, y_train, X_val, y_val)`` as numpy arrays."""
        return self._X_train, self._y_train, self._X_val, self._y_val

    def step(self, n: int = 1) -> float:
        """Train ``n`` minibatch steps (what the step button does, ``n`` times); the new loss.

        A long run (``pg.step(5000)``) updates the page as it goes, several times a second.
        """
        n = _integer("step count", n, 1, 10_000_000)
        last = time.perf_counter()
        done = 0
        while done < n:
            chunk = min(n - done, 50)
            with self._lock:
                self._train(chunk)
            done += chunk
            if done < n and time.perf_counter() - last >= REFRESH_SECONDS:
                self._publish(picture=False)
                last = time.perf_counter()
        self._publish()
        return self._loss[-1]

    def play(self) -> None:
        """Start training in the background (the play button); :meth:`pause` stops it."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="Playground", daemon=True)
            self.running = True
            self._thread.start()

    def pause(self) -> None:
        """Stop background training (the pause button) and wait until it has stopped."""
        thread = self._thread
        self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self._thread = None
        with self.hold_sync():  # the page gets the last step and "paused" in one message
            self.running = False
            self._publish()

    def close(self) -> None:
        """Stop training and close the widget (its views disappear from the page)."""
        if hasattr(self, "_stop"):  # not when __init__ refused its arguments
            self.pause()
        super().close()

    def reset(self) -> None:
        """New initial weights from the seed and an empty history (the reset button)."""
        with self._lock:
            self._make_network()
        self._publish(everything=True)

    def set(self, **changes: Any) -> None:
        """Change settings, as the controls do: ``pg.set(lr=0.03, dataset="xor")``.

        All changes are checked first; a bad one raises and changes nothing.
        A new dataset, seed, architecture, activation or dropout starts the
        network again (as TensorFlow Playground does); the learning rate,
        optimizer, L1/L2 and batch size apply to the weights as they are, so
        training continues with them.
        """
        new = _checked(self._settings, changes)
        changed = {k for k in changes if getattr(new, k) != getattr(self._settings, k)}
        with self._lock:
            self._sync()
            self._settings = new
            if changed & _DATA_FIELDS:
                self._make_data()
            if changed & (_DATA_FIELDS | _NETWORK_FIELDS):
                self._make_network()
            elif changed & _STEP_FIELDS:
                if "optimizer" in changed:
                    self._optimizer = self._make_optimizer()
                self._compiled = None  # traced again at the next step
            elif "lr" in changed:
                self._optimizer.lr = new.lr  # the compiled step reads it at every call
        self._publish(everything=bool(changed & (_DATA_FIELDS | _NETWORK_FIELDS)))

    def select(self, layer: int | None, index: int = 0, example: int = 0) -> None:
        """Show neuron ``index`` of ``layer`` (``model`` layer numbers; the output is the
        last) and its computation graph for training point ``example`` (clicking it).

        ``select(None)`` closes the graph.
        """
        if layer is None:
            self.selected = {}
            return
        layer, index, example = self._check_neuron(layer, index, example)
        try:
            svg = self.neuron_graph(layer, index, example).pipe(format="svg").decode("utf-8")
            problem = ""
        except Exception as error:  # Graphviz missing or too slow: say so in the panel
            svg, problem = "", f"{type(error).__name__}: {error}"
        self.selected = {
            "layer": layer,
            "index": index,
            "example": example,
            "name": self._neuron_name(layer, index),
            "point": [float(v) for v in self._X_train[example]],
            "label": int(self._y_train[example]),
            "svg": svg,
            "problem": problem,
        }

    def neuron_graph(self, layer: int, index: int, example: int = 0) -> Any:
        """The computation graph of one neuron's output for training point ``example``,
        after a backward pass from it (so each weight's grad is d neuron / d weight),
        drawn by :func:`chaingrad.viz.draw_dot` (a ``graphviz.Digraph``)."""
        from chaingrad.viz import draw_dot

        layer, index, example = self._check_neuron(layer, index, example)
        with self._lock:
            self._sync()
            params = self._model.parameters()
            saved = [p.grad for p in params]
            x1 = Value(float(self._X_train[example][0]), label="x1")
            x2 = Value(float(self._X_train[example][1]), label="x2")
            inputs = []
            for name in self._settings.features:
                feature = FEATURES[name][1](x1, x2)
                if feature is not x1 and feature is not x2:
                    feature.label = name
                inputs.append(feature)
            with record_scopes() as scopes:  # one cluster per neuron in the drawing
                out: Any = inputs
                for k in range(layer):
                    out = self._layers[k](out)
                    out = out if isinstance(out, list) else [out]
                out = self._layers[layer].neurons[index](out)
            out.label = self._neuron_name(layer, index)
            try:
                for p in params:  # the drawing shows this backward's gradients alone
                    p.grad = 0.0
                out.backward()
                return draw_dot(out, model=self._model, inputs=[x1, x2], scopes=scopes)
            finally:
                for p, g in zip(params, saved):
                    p.grad = g

    def predict_proba(self, X: Any) -> Any:
        """The network's probability of class 1 for each row of ``X`` (numpy, eval mode)."""
        with self._lock:
            self._sync()
            logits = self._activations(np.asarray(X, dtype=float))[-1][:, 0]
        return 0.5 * (1.0 + np.tanh(0.5 * logits))

    # ----------------------------------------------------------------- building
    def _make_data(self) -> None:
        s = self._settings
        X, y = make_dataset(s.dataset, s.n_samples, s.noise, s.seed)
        n_val = round(len(X) * s.validation)
        self._X_val, self._y_val = X[:n_val], y[:n_val]  # the generators shuffle already
        self._X_train, self._y_train = X[n_val:], y[n_val:]
        extent = float(np.abs(X).max()) * 1.08
        self._domain = max(1.25, math.ceil(extent * 4.0) / 4.0)  # the plane shown: [-d, d]^2

    def _make_network(self) -> None:
        s = self._settings
        sizes = [*s.hidden, 1]
        if s.dropout:
            parts: list[Module] = []
            nin = len(s.features)
            for k, nout in enumerate(sizes):
                last = k == len(sizes) - 1
                activation = "linear" if last else s.activation
                parts.append(Layer(nin, nout, activation=activation, seed=s.seed * 101 + k))
                if not last:
                    parts.append(Dropout(s.dropout, seed=s.seed * 101 + 50 + k))
                nin = nout
            self._model: Module = Sequential(*parts)
            self._layers = [p for p in parts if isinstance(p, Layer)]
        else:
            model = MLP(len(s.features), sizes, activation=s.activation, seed=s.seed)
            self._model = model
            self._layers = list(model.layers)
        self._inputs_train = self._inputs(self._X_train)  # the features of each point
        self._weight_params = [w for layer in self._layers for n in layer.neurons for w in n.w]
        self._optimizer = self._make_optimizer()
        self._compiled = None
        self._order_rng = np.random.default_rng(s.seed)
        self._order = self._order_rng.permutation(len(self._X_train))
        self._cursor = 0
        self._steps = 0
        # 8 bytes a number: a long play keeps one of each per step
        self._loss = array.array("d")
        self._val_loss = array.array("d")
        self._accuracy = array.array("d")
        self._val_accuracy = array.array("d")
        self._rate = 0.0
        self._record()

    def _make_optimizer(self) -> Optimizer:
        s = self._settings
        if s.optimizer == "adam":
            return Adam(self._model, lr=s.lr)
        return SGD(self._model, lr=s.lr, momentum=0.9 if s.optimizer == "momentum" else 0.0)

    def _objective(self, Xb: Any, yb: Any) -> Value:
        """One minibatch's loss: binary cross-entropy of the logits, plus the penalties."""
        s = self._settings
        logits = [self._model(x) for x in Xb]
        loss = F.binary_cross_entropy_with_logits(logits, yb)
        if s.l2:
            loss = loss + s.l2 * dot(self._weight_params, self._weight_params)
        if s.l1:
            loss = loss + s.l1 * F.l1_penalty(self._weight_params)
        return loss

    def _make_step(self) -> Any:
        from chaingrad.compiled import jit
        from chaingrad.compiled.step import fusable

        self._model.train()
        if fusable(self._optimizer):
            # The weights then live in the step's arrays; _sync hands them back to the Values.
            return jit(self._objective, params=self._model, optimizer=self._optimizer, sync=False)
        step = jit(self._objective, params=self._model)
        optimizer = self._optimizer

        def unfused(Xb: Any, yb: Any) -> float:
            optimizer.zero_grad()
            loss = step(Xb, yb)
            optimizer.step()
            return float(loss)

        unfused.sync = lambda: None  # type: ignore[attr-defined]
        return unfused

    def _sync(self) -> None:
        if self._compiled is not None:
            self._compiled.sync()

    # ----------------------------------------------------------------- training
    def _next_batch(self) -> Any:
        """Indices of the next minibatch: a shuffled pass over the training points,
        always ``batch_size`` long (a pass that runs out continues in a new shuffle),
        so the compiled step keeps one shape."""
        size = self._settings.batch_size
        n = len(self._order)
        if self._cursor + size <= n:
            idx = self._order[self._cursor : self._cursor + size]
            self._cursor += size
            return idx
        head = self._order[self._cursor :]
        self._order = self._order_rng.permutation(n)
        self._cursor = size - len(head)
        return np.concatenate([head, self._order[: self._cursor]])

    def _train(self, n: int) -> None:
        if self._compiled is None:
            self._compiled = self._make_step()
        for _ in range(n):
            idx = self._next_batch()
            self._compiled(self._inputs_train[idx], self._y_train[idx].tolist())
            self._steps += 1
            self._record()

    def _run(self) -> None:
        """The play loop: train in chunks of about 20 ms at ``speed`` steps a second at most
        (0: as fast as it goes), publish every REFRESH_SECONDS."""
        chunk = 1
        last = started = time.perf_counter()
        steps_then = steps_at_start = self._steps
        try:
            while not self._stop.is_set():
                began = time.perf_counter()
                with self._lock:
                    self._train(chunk)
                took = time.perf_counter() - began
                chunk = max(1, min(chunk * 2, int(chunk * 0.02 / max(took, 1e-6)) or 1))
                speed = self._settings.speed
                if speed:
                    chunk = max(1, min(chunk, speed // 20))
                    # ahead of the clock: wait until the steps done are due
                    due = started + (self._steps - steps_at_start) / speed
                    self._stop.wait(max(0.0, due - time.perf_counter()))
                now = time.perf_counter()
                if now - last >= REFRESH_SECONDS:
                    self._rate = (self._steps - steps_then) / (now - last)
                    steps_then, last = self._steps, now
                    self._publish(picture=False)
                time.sleep(0.0005)  # let the kernel's own thread answer the page
        except Exception as error:  # shown on the page; training stops
            with self.hold_sync():
                self.error = f"training stopped: {type(error).__name__}: {error}"
                self.running = False

    # ----------------------------------------------------------------- evaluating
    def _matrices(self) -> list[tuple[Any, Any]]:
        """Each layer's weights (nout x nin) and biases as arrays, from the Values."""
        return [
            (
                np.array([[w.data for w in n.w] for n in layer.neurons]),
                np.array([n.b.data for n in layer.neurons]),
            )
            for layer in self._layers
        ]

    def _inputs(self, points: Any) -> Any:
        """The network's inputs (the chosen features) for ``points`` (N x 2)."""
        a, b = points[:, 0], points[:, 1]
        return np.column_stack([FEATURES[name][0](a, b) for name in self._settings.features])

    def _activations(self, points: Any, matrices: list[tuple[Any, Any]] | None = None) -> list:
        """Every layer's output for ``points`` (N x 2): what the model computes, on arrays."""
        activation = _NUMPY_ACTIVATIONS[self._settings.activation]
        outputs = []
        a = self._inputs(points)
        layers = matrices if matrices is not None else self._matrices()
        for k, (W, b) in enumerate(layers):
            z = a @ W.T + b
            a = z if k == len(layers) - 1 else activation(z)
            outputs.append(a)
        return outputs

    def _record(self) -> None:
        """Whole-set losses and accuracies now (after a sync of the compiled weights)."""
        self._sync()
        matrices = self._matrices()
        for X, y, losses, accuracies in (
            (self._X_train, self._y_train, self._loss, self._accuracy),
            (self._X_val, self._y_val, self._val_loss, self._val_accuracy),
        ):
            z = self._activations(X, matrices)[-1][:, 0]
            # softplus(-z) + (1 - t) z: binary cross-entropy of sigmoid(z), as F computes it
            losses.append(float(np.mean(np.logaddexp(0.0, -z) + (1 - y) * z)))
            accuracies.append(float(np.mean((z > 0) == (y == 1))))

    # ----------------------------------------------------------------- publishing
    def _grid(self, resolution: int) -> Any:
        d = self._domain
        centres = (np.arange(resolution) + 0.5) / resolution * 2 * d - d
        gx, gy = np.meshgrid(centres, centres[::-1])  # row 0 is the top of the picture
        return np.column_stack([gx.ravel(), gy.ravel()])

    def _pictures(self) -> bytes:
        """The boundary and every node's map as bytes 0..255 for values -1..1, row by row:
        the output's 2p - 1 on the big grid, then on the small grid every feature of
        FEATURES (scaled to -1..1), each hidden neuron's activation and the output again
        (layer by layer)."""
        matrices = self._matrices()
        big = self._grid(BOUNDARY_RESOLUTION)
        small = self._grid(NEURON_RESOLUTION)
        boundary = np.tanh(0.5 * self._activations(big, matrices)[-1][:, 0])
        parts = [boundary]
        for numpy_feature, _ in FEATURES.values():  # every feature, chosen or not
            values = numpy_feature(small[:, 0], small[:, 1])
            parts.append(values / max(float(np.abs(values).max()), 1e-12))
        for k, outputs in enumerate(self._activations(small, matrices)):
            if k == len(matrices) - 1:
                outputs = np.tanh(0.5 * outputs)
            parts.extend(outputs.T)
        values = np.clip(np.concatenate(parts), -1.0, 1.0)
        return np.round((values + 1.0) * 127.5).astype(np.uint8).tobytes()

    def _publish(self, everything: bool = False, picture: bool = True) -> None:
        """Send the state to the page; with ``picture``, redraw the static picture for
        exports too (not at every refresh while playing: that one is sent when it pauses)."""
        with self._lock:
            self._sync()
            s = self._settings
            state: dict[str, Any] = {
                "config": _settings_dict(s),
                "weights": [{"w": W.tolist(), "b": b.tolist()} for W, b in self._matrices()],
                "maps": self._pictures(),
                "curves": _thin_curves(self._loss, self._val_loss),
                "stats": {
                    "step": self._steps,
                    "loss": self._loss[-1],
                    "val_loss": self._val_loss[-1],
                    "accuracy": self._accuracy[-1],
                    "val_accuracy": self._val_accuracy[-1],
                    "steps_per_second": self._rate,
                    "epoch": self._steps * s.batch_size / len(self._X_train),
                },
            }
            if everything:
                state["points"] = {
                    "domain": self._domain,
                    "train": _flat_points(self._X_train, self._y_train),
                    "val": _flat_points(self._X_val, self._y_val),
                }
                state["network"] = self._network_layout()
                state["selected"] = {}
        with self.hold_sync():
            for name, value in state.items():
                setattr(self, name, value)
        if picture:
            self._update_static()

    def _neuron_name(self, layer: int, index: int) -> str:
        for name, module in self._model.named_modules():
            if module is self._layers[layer].neurons[index]:
                return name
        return f"layer {layer} neuron {index}"  # pragma: no cover - every neuron is named

    def _network_layout(self) -> dict[str, Any]:
        """Node names per column (every feature, hidden layers, output) and the features in
        use (the inputs of the first layer, in order): the page places them."""
        columns = [list(FEATURES)]
        columns += [
            [self._neuron_name(k, i) for i in range(len(layer.neurons))]
            for k, layer in enumerate(self._layers)
        ]
        return {
            "columns": columns,
            "features": list(self._settings.features),
            "activation": self._settings.activation,
        }

    def _check_neuron(self, layer: Any, index: Any, example: Any) -> tuple[int, int, int]:
        layer = _integer("layer", layer, 0, len(self._layers) - 1)
        index = _integer("index", index, 0, len(self._layers[layer].neurons) - 1)
        example = _integer("example", example, 0, len(self._X_train) - 1)
        return layer, index, example

    def _static_html(self) -> str:
        """The picture exported HTML shows: the same views, drawn from the same state."""
        with self._lock:
            return static_picture(
                config=self.config,
                choices=self.choices,
                points=self.points,
                network=self.network,
                weights=self.weights,
                maps=self.maps,
                curves=self.curves,
                stats=self.stats,
            )

    # ----------------------------------------------------------------- the page
    # Each control sends {"action": ...}; the base class routes it here and shows errors.
    def _action_play(self, content: dict[str, Any]) -> None:
        self.play()

    def _action_pause(self, content: dict[str, Any]) -> None:
        self.pause()

    def _action_step(self, content: dict[str, Any]) -> None:
        self.step(content.get("count", 1))

    def _action_reset(self, content: dict[str, Any]) -> None:
        self.reset()

    def _action_set(self, content: dict[str, Any]) -> None:
        name = content.get("name")
        if not isinstance(name, str):
            raise TypeError(f"Playground: a setting needs a name, got {name!r}")
        self.set(**{name: content.get("value")})

    def _action_select(self, content: dict[str, Any]) -> None:
        self.select(content.get("layer"), content.get("index", 0), content.get("example", 0))


def _thumbnail(name: str) -> list[float]:
    """80 points of ``name`` scaled into [-1, 1], flat (x, y, label): its button's picture."""
    X, y = make_dataset(name, 80, 0.05, 0)
    X = X / float(np.abs(X).max())
    return [round(float(v), 3) for row, label in zip(X, y) for v in (row[0], row[1], label)]


def _settings_dict(s: Settings) -> dict[str, Any]:
    out = dataclasses.asdict(s)
    out["hidden"] = list(s.hidden)
    out["features"] = list(s.features)
    return out


def _flat_points(X: Any, y: Any) -> list[float]:
    return [round(float(v), 4) for row, label in zip(X, y) for v in (row[0], row[1], label)]


def _thin_curves(train: Sequence[float], val: Sequence[float]) -> dict[str, Any]:
    """At most about CURVE_POINTS points per curve, always keeping the first and last."""
    n = len(train)
    stride = max(1, math.ceil(n / CURVE_POINTS))
    idx = list(range(0, n, stride))
    if idx[-1] != n - 1:
        idx.append(n - 1)
    return {
        "step": idx,
        "train": [round(train[i], 5) for i in idx],
        "val": [round(val[i], 5) for i in idx],
    }


# ---------------------------------------------------------------------- the static picture
ORANGE = (245, 147, 34)  # class 0 and negative weights, as TensorFlow Playground
BLUE = (8, 119, 189)  # class 1 and positive weights
PAPER = (232, 234, 235)


def _colours(t: Any, light: float) -> Any:
    """Values -1..1 as RGB: orange, through paper grey, to blue; ``light`` mixes in white."""
    t = np.clip(t, -1.0, 1.0)[..., None]
    paper, orange, blue = (np.array(c, dtype=float) for c in (PAPER, ORANGE, BLUE))
    rgb = np.where(t < 0, paper + (orange - paper) * -t, paper + (blue - paper) * t)
    return np.round(rgb * (1 - light) + 255 * light).astype(np.uint8)


def _png(rgb: Any) -> str:
    """An RGB array (h x w x 3, uint8) as a data: URI of a PNG (zlib and struct only)."""
    import base64
    import struct
    import zlib

    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


_PRETTY = {"x1": "x₁", "x2": "x₂", "x1^2": "x₁²", "x2^2": "x₂²", "x1*x2": "x₁x₂"}
_PRETTY.update({"sin(x1)": "sin(x₁)", "sin(x2)": "sin(x₂)"})


def _rgb(c: tuple[int, int, int]) -> str:
    return f"rgb({c[0]},{c[1]},{c[2]})"


def static_picture(
    *,
    config: dict[str, Any],
    choices: dict[str, Any],
    points: dict[str, Any],
    network: dict[str, Any],
    weights: list[Any],
    maps: bytes,
    curves: dict[str, Any],
    stats: dict[str, Any],
) -> str:
    """One SVG (inside a div, no script) of the playground's state: the network with its
    weights and neuron maps, the decision boundary with the points, the loss curves."""
    import html

    big, small = choices["boundary_resolution"], choices["neuron_resolution"]
    values = np.frombuffer(maps, dtype=np.uint8) / 127.5 - 1.0
    boundary = values[: big * big].reshape(big, big)
    if config["discretize"]:
        boundary = np.where(boundary < 0, -1.0, 1.0)
    columns = network["columns"]
    width, top = 880, 64
    node, row = 34, 44
    net_left, net_width = 64, 460
    tallest = max(len(col) for col in columns)
    size = 300  # the decision boundary's side
    height = max(top + 28 + tallest * row, top + size + 150) + 10
    out: list[str] = []
    add = out.append
    add(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" style="max-width:100%;height:auto;font-family:sans-serif">'
    )
    add(f'<rect width="{width}" height="{height}" fill="white" stroke="#e3e5e8"/>')
    title = f"Playground: {config['dataset']}, step {stats['step']:,} (epoch {stats['epoch']:.1f})"
    add(f'<text x="16" y="24" font-size="15" font-weight="600">{html.escape(title)}</text>')
    hidden = ", ".join(map(str, config["hidden"])) or "none"
    settings = (
        f"hidden [{hidden}], {config['activation']}, {config['optimizer']} lr {config['lr']:g}, "
        f"L1 {config['l1']:g}, L2 {config['l2']:g}, dropout {config['dropout']:g}, "
        f"batch {config['batch_size']}, noise {config['noise']:g}"
    )
    add(f'<text x="16" y="44" font-size="12" fill="#5f6368">{html.escape(settings)}</text>')
    # the network: edges first, then each node's map
    gap = (net_width - node) / max(1, len(columns) - 1)
    where = [
        [(net_left + k * gap, top + 20 + i * row) for i in range(len(col))]
        for k, col in enumerate(columns)
    ]
    active = network["features"]
    sources = [[where[0][columns[0].index(name)] for name in active], *where[1:]]
    for k, layer in enumerate(weights):
        for i, (x2, y2) in enumerate(where[k + 1]):
            for j, (x1, y1) in enumerate(sources[k]):
                w = layer["w"][i][j]
                a, b = x1 + node, y1 + node / 2
                c, d = x2, y2 + node / 2
                mid = (a + c) / 2
                add(
                    f'<path d="M{a:.1f},{b:.1f} C{mid:.1f},{b:.1f} {mid:.1f},{d:.1f} '
                    f'{c:.1f},{d:.1f}" fill="none" stroke="{_rgb(BLUE if w > 0 else ORANGE)}" '
                    f'stroke-width="{min(7.0, 0.4 + abs(w) * 1.6):.2f}" opacity="0.85"/>'
                )
    offset = big * big
    for k, col in enumerate(columns):
        for i, name in enumerate(col):
            x, y = where[k][i]
            cells = values[offset : offset + small * small].reshape(small, small)
            offset += small * small
            faded = ' opacity="0.3"' if k == 0 and name not in active else ""
            add(
                f'<image x="{x:.1f}" y="{y:.1f}" width="{node}" height="{node}"{faded} '
                f'href="{_png(_colours(cells, 0.1))}"/>'
            )
            add(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{node}" height="{node}" fill="none" '
                f'stroke="{"#222" if k == len(columns) - 1 else "#9aa0a6"}"/>'
            )
        if k == 0:
            for i, name in enumerate(col):
                x, y = where[0][i]
                faded = ' opacity="0.4"' if name not in active else ""
                add(
                    f'<text x="{x - 4:.1f}" y="{y + 21:.1f}" font-size="13"{faded} '
                    f'text-anchor="end">{html.escape(_PRETTY.get(name, name))}</text>'
                )
        else:
            label = "output" if k == len(columns) - 1 else f"{len(col)} neurons"
            add(
                f'<text x="{where[k][0][0] + node / 2:.1f}" y="{top + 10}" font-size="12" '
                f'text-anchor="middle" fill="#5f6368">{label}</text>'
            )
    # the decision boundary and the points
    left = net_left + net_width + 30
    add(
        f'<image x="{left}" y="{top}" width="{size}" height="{size}" '
        f'preserveAspectRatio="none" href="{_png(_colours(boundary, 0.35))}"/>'
    )
    domain = points["domain"]
    sets = [(points["train"], "white")]
    if config["show_test"]:
        sets.append((points["val"], "#222"))
    for flat, edge in sets:
        for i in range(0, len(flat), 3):
            px = left + (flat[i] + domain) / (2 * domain) * size
            py = top + (domain - flat[i + 1]) / (2 * domain) * size
            if not (left <= px <= left + size and top <= py <= top + size):
                continue
            add(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.6" stroke="{edge}" '
                f'fill="{_rgb(BLUE if flat[i + 2] else ORANGE)}"/>'
            )
    add(f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#c8ccd0"/>')
    legend_y = top + size + 18
    add(f'<circle cx="{left + 6}" cy="{legend_y - 4}" r="5" fill="{_rgb(ORANGE)}"/>')
    add(f'<text x="{left + 15}" y="{legend_y}" font-size="12">class 0</text>')
    add(f'<circle cx="{left + 76}" cy="{legend_y - 4}" r="5" fill="{_rgb(BLUE)}"/>')
    add(f'<text x="{left + 85}" y="{legend_y}" font-size="12">class 1</text>')
    add(
        f'<text x="{left + 145}" y="{legend_y}" font-size="12" fill="#5f6368">'
        f"background: p(class 1)</text>"
    )
    # loss numbers and curves, under the boundary
    numbers_y = legend_y + 22
    for k, (name, loss, accuracy) in enumerate(
        (
            ("training", stats["loss"], stats["accuracy"]),
            ("validation", stats["val_loss"], stats["val_accuracy"]),
        )
    ):
        add(
            f'<text x="{left}" y="{numbers_y + 16 * k}" font-size="12">{name} loss '
            f'<tspan font-weight="600">{loss:.3f}</tspan> (accuracy {100 * accuracy:.1f}%)</text>'
        )
    steps = curves["step"]
    peak = max(max(curves["train"]), max(curves["val"]), 1e-9)
    last = max(1, steps[-1])
    box_top, box_height = numbers_y + 38, height - numbers_y - 48
    box_height = max(box_height, 60)
    add(f'<rect x="{left}" y="{box_top}" width="{size}" height="{box_height}" fill="#f6f7f8"/>')
    add(
        f'<text x="{left}" y="{box_top - 5}" font-size="11" fill="#5f6368">loss over '
        f"{steps[-1]:,} steps (training solid, validation dashed)</text>"
    )
    for key, colour, dash in (("val", "#9aa0a6", "4 3"), ("train", "#222", "")):
        coords = " ".join(
            f"{left + s / last * size:.1f},{box_top + box_height - v / peak * box_height:.1f}"
            for s, v in zip(steps, curves[key])
        )
        add(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" '
            f'stroke-width="1.6" stroke-dasharray="{dash}"/>'
        )
    add("</svg>")
    return '<div class="chaingrad-playground-static">' + "".join(out) + "</div>"


__all__ = ["Playground", "Settings", "make_dataset", "static_picture"]
