"""Neuron, Layer and MLP with micrograd's call shapes and names, plus Dropout and Sequential.

micrograd's lecture code runs unchanged: ``MLP(nin, nouts)``, ``model.layers``,
``layer.neurons``, ``neuron.w``, ``neuron.b``, ``Neuron(nin, nonlin=True)``;
hidden layers are ReLU and the last layer is linear; a layer (and so an MLP)
with one output returns that Value itself rather than a one-element list.

Each neuron computes ``dot(w, x) + b``: one many-input ``dot`` node instead of
micrograd's chain of ``n`` multiplications and ``n`` additions, so graphs are
several times smaller and backward is faster.

Weights are drawn from a seeded ``random.Random`` (see :mod:`chaingrad.nn.init`):
without ``seed`` every model starts from ``DEFAULT_SEED``, reproducibly.
"""

from __future__ import annotations

import numbers
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from chaingrad.engine import Value, dot
from chaingrad.engine.trace_hook import guard, random_leaves

from ._checks import _describe, as_value_array, check_int
from ._memory import BYTES_PER_VALUE, check_memory
from .init import Initializer, Seed, get_initializer, make_rng
from .module import Module
from .torch_export import prefixed

# name -> the Value method applying it (None: identity)
ACTIVATIONS: dict[str, Callable[[Value], Value] | None] = {
    "relu": Value.relu,
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "leaky_relu": Value.leaky_relu,
    "linear": None,
}


def _check_activation(activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
    return activation


def _check_parameters(who: str, sizes: Sequence[int]) -> None:
    """A MemoryError before building, if the weights of these layer sizes cannot fit."""
    count = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    check_memory(who, count * BYTES_PER_VALUE, f"{count:,} parameters")


_JUST_VALUES = frozenset({Value})
_VALUES_AND_NUMBERS = frozenset({Value, float, int})


def _as_values(x: Any, nin: int, who: str) -> list[Value]:
    """The inputs as Values (numbers become leaves once, not once per neuron).

    A list or tuple, a NumPy array (or anything with ``tolist``), or a single
    number for a one-input unit, as in micrograd's ``MLP(1, ...)``.
    """
    if (type(x) is list or type(x) is tuple) and len(x) == nin:
        kinds = set(map(type, x))  # one C-level pass decides the common cases
        if kinds <= _JUST_VALUES and type(x) is list:
            return x  # a layer's output feeding the next layer: nothing to convert
        if kinds <= _VALUES_AND_NUMBERS:
            return [v if type(v) is Value else Value(v) for v in x]
    if hasattr(x, "tolist") and not isinstance(x, Value):
        x = x.tolist()  # a NumPy array (a 0-d one gives a number)
    if isinstance(x, (Value, numbers.Real)):
        x = [x]
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        raise ValueError(
            f"{who} expects a list of {nin} inputs (or a NumPy array), got {_describe(x)}"
        )
    if len(x) != nin:
        raise ValueError(f"{who} expects {nin} inputs, got {len(x)}")
    return as_value_array(x, (nin,), who, "x[i]")


class Neuron(Module):
    """``activation(w . x + b)``: one unit with ``nin`` weights ``w`` and a bias ``b``.

    ``nonlin`` is micrograd's switch (True: ReLU, False: linear); ``activation``
    picks another (``"relu" "tanh" "sigmoid" "leaky_relu" "linear"``).
    ``init`` names a weight initialiser from :mod:`chaingrad.nn.init`
    (``"uniform"`` is micrograd's U(-1, 1)); ``fan_out`` is the size of the
    layer, which Xavier initialisation uses. The bias starts at 0.

    >>> n = Neuron(2, seed=0)
    >>> n
    Neuron(2, activation='relu')
    >>> round(n([1.0, -1.0]).data, 6)
    0.172935
    """

    def __init__(
        self,
        nin: int,
        nonlin: bool = True,
        *,
        activation: str | None = None,
        init: str | Initializer = "uniform",
        seed: Seed = None,
        fan_out: int = 1,
    ) -> None:
        nin = check_int(nin, "Neuron: nin")
        check_memory("Neuron", (nin + 1) * BYTES_PER_VALUE, f"{nin + 1:,} parameters")
        if activation is None:
            activation = "relu" if nonlin else "linear"
        self.activation = _check_activation(activation)
        self._init_name, sample = get_initializer(init)
        rng = make_rng(seed)
        self.w = [Value(float(sample(rng, nin, fan_out))) for _ in range(nin)]
        self.b = Value(0.0)
        self._apply = ACTIVATIONS[self.activation]

    @property
    def nonlin(self) -> bool:
        """micrograd's flag: True unless the neuron is linear."""
        return self.activation != "linear"

    def forward(self, x: Sequence[Value | float]) -> Value:
        if type(x) is not list or len(x) != len(self.w):
            x = _as_values(x, len(self.w), "Neuron")  # a Layer passes a checked list
        act = dot(self.w, x) + self.b
        apply = self._apply
        return act if apply is None else apply(act)

    def extra_repr(self) -> str:
        return f"{len(self.w)}, activation={self.activation!r}"

    def _torch_module(self, torch: Any) -> Any:
        return _torch_dense(torch, len(self.w), 1, self.activation)

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        return _dense_parameters([self], self.activation)


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs; returns a list (or one Value if nout=1).

    Keyword arguments (``nonlin``, ``activation``, ``init``) go to every Neuron;
    all neurons draw from one rng made from ``seed``.

    >>> layer = Layer(3, 2, activation="tanh", seed=0)
    >>> len(layer.neurons), len(layer([1.0, 2.0, 3.0]))
    (2, 2)
    """

    def __init__(self, nin: int, nout: int, *, seed: Seed = None, **kwargs: Any) -> None:
        nin = check_int(nin, "Layer: nin")
        nout = check_int(nout, "Layer: nout")
        _check_parameters("Layer", [nin, nout])
        rng = make_rng(seed)
        self.neurons = [Neuron(nin, seed=rng, fan_out=nout, **kwargs) for _ in range(nout)]

    @property
    def nin(self) -> int:
        return len(self.neurons[0].w)

    @property
    def nout(self) -> int:
        return len(self.neurons)

    def forward(self, x: Sequence[Value | float]) -> Value | list[Value]:
        x = _as_values(x, self.nin, "Layer")
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def _torch_module(self, torch: Any) -> Any:
        return _torch_dense(torch, self.nin, self.nout, self._activation("to_torch()"))

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        return _dense_parameters(self.neurons, self._activation("to_torch()"))

    def _activation(self, who: str) -> str:
        kinds = {neuron.activation for neuron in self.neurons}
        if len(kinds) != 1:
            raise ValueError(f"Layer.{who}: the neurons mix activations {sorted(kinds)}")
        return kinds.pop()

    def extra_repr(self) -> str:
        n = self.neurons[0]
        kinds = {neuron.activation for neuron in self.neurons}
        kind = n.activation if len(kinds) == 1 else "mixed"
        return f"{self.nin} -> {self.nout}, activation={kind!r}, init={n._init_name!r}"

    def __repr__(self) -> str:
        # 16 identical neuron lines would say nothing the header does not.
        return f"Layer({self.extra_repr()})"


class MLP(Module):
    """A multi-layer perceptron: ``MLP(2, [16, 16, 1])`` is 2 inputs, two hidden layers, 1 output.

    Hidden layers use ``activation`` (ReLU by default, as micrograd); the last
    layer uses ``output_activation`` (linear by default). ``init`` chooses the
    weight initialiser and ``seed`` the random stream (see
    :mod:`chaingrad.nn.init`; no seed means ``DEFAULT_SEED``).

    >>> model = MLP(2, [16, 16, 1])
    >>> model.num_parameters()
    337
    >>> model
    MLP(2 -> [16, 16, 1], 337 parameters,
      (layers.0): Layer(2 -> 16, activation='relu', init='uniform')
      (layers.1): Layer(16 -> 16, activation='relu', init='uniform')
      (layers.2): Layer(16 -> 1, activation='linear', init='uniform')
    )
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        *,
        activation: str = "relu",
        output_activation: str = "linear",
        init: str | Initializer = "uniform",
        seed: Seed = None,
    ) -> None:
        nin = check_int(nin, "MLP: nin")
        if isinstance(nouts, int) or not isinstance(nouts, Sequence) or not nouts:
            raise ValueError(f"MLP: nouts must be a non-empty list of layer sizes, got {nouts!r}")
        for i, nout in enumerate(nouts):
            check_int(nout, f"MLP: nouts[{i}]")
        _check_activation(activation)
        _check_activation(output_activation)
        rng = make_rng(seed)
        sizes = [nin, *nouts]
        _check_parameters("MLP", sizes)
        last = len(nouts) - 1
        self.layers = [
            Layer(
                sizes[i],
                sizes[i + 1],
                activation=output_activation if i == last else activation,
                init=init,
                seed=rng,
            )
            for i in range(len(nouts))
        ]

    def forward(self, x: Sequence[Value | float]) -> Value | list[Value]:
        out: Any = x  # a list of Values between layers; one Value after a one-neuron layer
        for layer in self.layers:
            out = layer(out)
        return out

    def _torch_module(self, torch: Any) -> Any:
        # One flat nn.Sequential: Linear, activation, Linear, ... as a torch user writes it.
        parts = [
            part
            for layer in self.layers
            for part in _torch_parts(torch, layer.nin, layer.nout, layer._activation("to_torch()"))
        ]
        return torch.nn.Sequential(*parts)

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        position = 0  # of each Linear in the flat nn.Sequential
        for layer in self.layers:
            yield from prefixed(str(position), _dense_parameters(layer.neurons, "linear"))
            position += 2 if layer._activation("to_torch()") != "linear" else 1

    def extra_repr(self) -> str:
        sizes = [layer.nout for layer in self.layers]
        return f"{self.layers[0].nin} -> {sizes}, {self.num_parameters()} parameters"


class Dropout(Module):
    """Zero each input with probability ``p`` in training mode, scaling the rest by 1/(1-p).

    In eval mode (``model.eval()``) it passes inputs through unchanged, so a
    trained network's predictions are deterministic. The mask comes from a
    seeded rng. Under ``chaingrad.jit`` the masks are random inputs of the
    compiled program, redrawn from the same rng at every call, so a compiled
    step drops the same units as the eager step would; switching between
    train and eval mode makes the step trace again.

    >>> drop = Dropout(0.5, seed=0)
    >>> [v.data for v in drop([Value(1.0)] * 4)]
    [2.0, 2.0, 0.0, 0.0]
    >>> [v.data for v in drop.eval()([Value(1.0)] * 2)]
    [1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, *, seed: Seed = None) -> None:
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1), got {p!r}")
        self.p = float(p)
        self._rng: random.Random = make_rng(seed)

    def forward(self, x: Value | Sequence[Value]) -> Value | list[Value]:
        single = isinstance(x, Value)
        xs = [x] if isinstance(x, Value) else list(x)
        # Under chaingrad.jit the graph depends on these: a change makes it trace again.
        guard(self, "training")
        guard(self, "p")
        if not self.training or self.p == 0.0:
            return xs[0] if single else xs
        # The mask multipliers are numbers eagerly; under chaingrad.jit they are leaves
        # the compiled step redraws from the same rng at every call, in the same order.
        masks = random_leaves(self._draw_mask, len(xs), f"Dropout(p={self.p})")
        out = [v * m for v, m in zip(xs, masks)]
        return out[0] if single else out

    def _draw_mask(self, n: int) -> list[float]:
        """``n`` multipliers: 1/(1-p) (kept) with probability 1 - p, else 0 (dropped)."""
        p = self.p
        keep = 1.0 / (1.0 - p)
        rand = self._rng.random
        return [keep if rand() >= p else 0.0 for _ in range(n)]

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def _torch_module(self, torch: Any) -> Any:
        # Its own mode, as set here: an eval()'d Dropout exports as one that passes through.
        return torch.nn.Dropout(self.p).train(self.training)

    def _torch_module_in(self, torch: Any, example_dims: int | None) -> tuple[Any, int | None]:
        return self._torch_module(torch), example_dims  # elementwise: the layout is kept


class Sequential(Module):
    """Modules (or plain functions) applied one after the other.

    >>> from chaingrad.nn import functional as F
    >>> net = Sequential(Layer(2, 3, seed=0), Dropout(0.1), Layer(3, 2, nonlin=False, seed=1))
    >>> len(F.softmax(net([1.0, 2.0])))
    2
    """

    def __init__(self, *steps: Module | Callable[[Any], Any]) -> None:
        for i, step in enumerate(steps):
            if not callable(step):
                raise TypeError(f"Sequential: step {i} is not callable: {step!r}")
        self.steps = list(steps)

    def forward(self, x: Any) -> Any:
        for step in self.steps:
            x = step(x)
        return x

    def _torch_module(self, torch: Any) -> Any:
        return self._torch_module_in(torch, None)[0]

    def _torch_module_in(self, torch: Any, example_dims: int | None) -> tuple[Any, int | None]:
        twins = []
        for i, step in enumerate(self.steps):
            if not isinstance(step, Module):
                name = getattr(step, "__name__", type(step).__name__)
                raise TypeError(
                    f"Sequential.to_torch(): step {i} ({name}) is a plain function; "
                    "use a module such as chaingrad.nn.ReLU() so it can be exported"
                )
            # Each step learns how many dimensions one example has when it arrives, so
            # its twin takes a batch in front of them (a Flatten after convolutions).
            twin, example_dims = step._torch_module_in(torch, example_dims)
            twins.append(twin)
        return torch.nn.Sequential(*twins), example_dims

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        for i, step in enumerate(self.steps):
            if isinstance(step, Module):  # a plain function has no parameters
                yield from prefixed(str(i), step.torch_parameters())


# What each activation name is in torch.nn (None: no module, the Linear stands alone).
_TORCH_ACTIVATIONS = {
    "relu": "ReLU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "leaky_relu": "LeakyReLU",
    "linear": None,
}


def _torch_parts(torch: Any, nin: int, nout: int, activation: str) -> list[Any]:
    """``[nn.Linear(nin, nout), activation]`` (just the Linear for a linear layer)."""
    parts = [torch.nn.Linear(nin, nout)]
    name = _TORCH_ACTIVATIONS[activation]
    if name is not None:
        parts.append(getattr(torch.nn, name)())  # LeakyReLU's default slope is Value's, 0.01
    return parts


def _torch_dense(torch: Any, nin: int, nout: int, activation: str) -> Any:
    """A Layer (or Neuron) in torch: ``nn.Linear``, in an ``nn.Sequential`` with its activation."""
    parts = _torch_parts(torch, nin, nout, activation)
    return parts[0] if len(parts) == 1 else torch.nn.Sequential(*parts)


def _dense_parameters(neurons: Sequence[Neuron], activation: str) -> Iterator[tuple[str, Any]]:
    """The Linear's weight (one row per neuron) and bias, named as ``_torch_dense`` nests it."""
    prefix = "" if _TORCH_ACTIVATIONS[activation] is None else "0."
    yield f"{prefix}weight", [n.w for n in neurons]
    yield f"{prefix}bias", [n.b for n in neurons]
