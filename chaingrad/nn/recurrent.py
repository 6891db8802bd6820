"""Recurrent networks from Values: RNN, LSTM and GRU cells, and the layers that unroll them.

A recurrent cell reads a sequence one vector at a time and carries a hidden
state ``h`` from each step to the next. With PyTorch's equations and gate
order (``x`` the input at time t, ``h`` the state from time t - 1,
``sigma`` the sigmoid, ``*`` elementwise):

Elman RNN::

    h' = tanh(W_ih x + b_ih + W_hh h + b_hh)          (or relu)

LSTM (gates i, f, g, o stacked in that order in ``W_ih`` and ``W_hh``)::

    i = sigma(W_ii x + b_ii + W_hi h + b_hi)          input gate
    f = sigma(W_if x + b_if + W_hf h + b_hf)          forget gate
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)           cell candidate
    o = sigma(W_io x + b_io + W_ho h + b_ho)          output gate
    c' = f * c + i * g
    h' = o * tanh(c')

GRU (gates r, z, n stacked in that order)::

    r = sigma(W_ir x + b_ir + W_hr h + b_hr)          reset gate
    z = sigma(W_iz x + b_iz + W_hz h + b_hz)          update gate
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))     new gate
    h' = (1 - z) * n + z * h

Each unit's pre-activation ``W_ih[k] x + b_ih[k] + W_hh[k] h + b_hh[k]`` is ONE
``dot`` node: the row ``[W_ih[k] | W_hh[k] | b_ih[k] | b_hh[k]]`` against
``[x | h | 1 | 1]``. GRU's new gate needs its hidden part on its own (``r``
multiplies it), so it is two dots.

``RNN``, ``LSTM`` and ``GRU`` unroll a cell over a whole sequence, stack
``num_layers`` of them (layer l + 1 reads layer l's outputs) and, when
``bidirectional``, run a second cell from the last step to the first and
concatenate the two hidden states at each step. Parameter names, shapes and
order are exactly torch's (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``,
``bias_hh_l0``, ``..._reverse``; cells: ``weight_ih``, ``weight_hh``,
``bias_ih``, ``bias_hh``), so ``state_dict()`` keys are torch's keys and
``to_torch()`` copies weights one to one. Every weight and bias starts
U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), torch's default. The unrolling
is a loop over time, never recursion, so a sequence of thousands of steps
builds and backpropagates.

>>> from chaingrad.nn import LSTM
>>> lstm = LSTM(2, 3, seed=0)
>>> outputs, (h_n, c_n) = lstm([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
>>> len(outputs), len(outputs[0]), len(h_n), h_n[0] == outputs[-1]
(3, 3, 1, True)
"""

from __future__ import annotations

import functools
import math
import numbers
import random
from collections.abc import Callable, Iterator
from typing import Any

from chaingrad.engine import Constant, Value, dot, dots, take
from chaingrad.engine.trace_hook import check_input

from ._checks import Vector, _describe, as_value_array, check_int
from ._memory import check_parameters
from .init import Seed, make_rng
from .module import Module

Matrix = list[list[Value]]
# The state a cell carries: (h,) for RNN and GRU, (h, c) for LSTM.
State = tuple[Vector, ...]
# One time step: (x, state, weights) -> the next state.
Step = Callable[[Vector, State, "_Gates"], State]

NONLINEARITIES = ("tanh", "relu")
# Options printed by repr() only when they differ from these (torch's defaults).
_DEFAULTS: dict[str, Any] = {
    "num_layers": 1,
    "bias": True,
    "bidirectional": False,
    "nonlinearity": "tanh",
}


# --- the equations: one time step of each cell -------------------------------------------


def rnn_step(x: Vector, state: State, w: _Gates, nonlinearity: str = "tanh") -> State:
    """``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or relu)."""
    (h,) = state
    pre = w.joint(x, h)
    if nonlinearity == "relu":
        return ([v.relu() for v in pre],)
    return ([v.tanh() for v in pre],)


def lstm_step(x: Vector, state: State, w: _Gates) -> State:
    """``(h', c')`` from ``x`` and ``(h, c)``: gates i, f, g, o, then the cell and hidden state."""
    h, c = state
    i, f, g, o = _blocks(w.joint(x, h), 4)  # W_i* x + b_i* + W_h* h + b_h*, stacked i, f, g, o
    i = [v.sigmoid() for v in i]
    f = [v.sigmoid() for v in f]
    g = [v.tanh() for v in g]
    o = [v.sigmoid() for v in o]
    c = [dot((f_k, i_k), (c_k, g_k)) for f_k, i_k, c_k, g_k in zip(f, i, c, g)]  # f*c + i*g
    h = [o_k * c_k.tanh() for o_k, c_k in zip(o, c)]
    return h, c


def gru_step(x: Vector, state: State, w: _Gates) -> State:
    """``h'`` from ``x`` and ``h``: gates r and z, the new gate n, then the blend of n and h."""
    (h,) = state
    r, z = _blocks(w.joint(x, h), 2)  # W_r* x + b_r* + W_h* h + b_h*, stacked r, z
    r = [v.sigmoid() for v in r]
    z = [v.sigmoid() for v in z]
    # n = tanh(W_in x + b_in + r * (W_hn h + b_hn)): r gates the hidden part only.
    n = [(a + r_k * b).tanh() for a, r_k, b in zip(w.input_part(x), r, w.hidden_part(h))]
    one = w.one
    h = [dot((one - z_k, z_k), (n_k, h_k)) for z_k, n_k, h_k in zip(z, n, h)]  # (1-z)*n + z*h
    return (h,)


def _blocks(stacked: Vector, count: int) -> list[Vector]:
    """``stacked`` cut into ``count`` equal blocks (the gates, in their stacking order)."""
    size = len(stacked) // count
    return [stacked[k * size : (k + 1) * size] for k in range(count)]


class _Gates:
    """``W_ih, W_hh, b_ih, b_hh`` of one cell, joined row by row so a unit is one ``dot``.

    The first ``joined`` rows become ``[W_ih[k] | W_hh[k] | b_ih[k] | b_hh[k]]``,
    read against ``[x | h | 1 | 1]`` by :meth:`joint`. The remaining rows (GRU's
    new gate) stay split: :meth:`input_part` is ``W_ih[k] x + b_ih[k]`` and
    :meth:`hidden_part` is ``W_hh[k] h + b_hh[k]``. Built once per call, not per step.
    """

    __slots__ = ("one", "bias", "rows", "input_rows", "hidden_rows")

    def __init__(
        self,
        w_ih: Matrix,
        w_hh: Matrix,
        b_ih: Vector | None,
        b_hh: Vector | None,
        one: Value,
        joined: int,
    ) -> None:
        self.one = one
        self.bias = b_ih is not None and b_hh is not None
        if self.bias:
            assert b_ih is not None and b_hh is not None
            self.rows = [[*w_ih[k], *w_hh[k], b_ih[k], b_hh[k]] for k in range(joined)]
            split = range(joined, len(w_ih))
            self.input_rows = [[*w_ih[k], b_ih[k]] for k in split]
            self.hidden_rows = [[*w_hh[k], b_hh[k]] for k in split]
        else:
            self.rows = [[*w_ih[k], *w_hh[k]] for k in range(joined)]
            self.input_rows = w_ih[joined:]
            self.hidden_rows = w_hh[joined:]

    def joint(self, x: Vector, h: Vector) -> Vector:
        """``W_ih[k] x + b_ih[k] + W_hh[k] h + b_hh[k]`` for every joined row k."""
        one = self.one
        xh1 = [*x, *h, one, one] if self.bias else [*x, *h]
        return dots(self.rows, xh1)

    def input_part(self, x: Vector) -> Vector:
        """``W_ih[k] x + b_ih[k]`` for every split row k."""
        x1 = [*x, self.one] if self.bias else x
        return dots(self.input_rows, x1)

    def hidden_part(self, h: Vector) -> Vector:
        """``W_hh[k] h + b_hh[k]`` for every split row k."""
        h1 = [*h, self.one] if self.bias else h
        return dots(self.hidden_rows, h1)


# --- checks and weights, shared by cells and layers ----------------------------------------


def _check_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be True or False, got {value!r}")
    return value


def _check_nonlinearity(value: Any, who: str) -> str:
    if value not in NONLINEARITIES:
        raise ValueError(f"{who}: nonlinearity must be 'tanh' or 'relu', got {value!r}")
    return str(value)


def _new_weights(
    rng: random.Random, rows: int, width: int, hidden_size: int, bias: bool
) -> tuple[Matrix, Matrix, Vector | None, Vector | None]:
    """``W_ih, W_hh, b_ih, b_hh`` with ``rows`` rows for inputs of ``width``, drawn as torch does.

    Every entry is U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)); the gate
    blocks are stacked row-wise; the biases are None when ``bias=False``.
    """
    bound = 1.0 / math.sqrt(hidden_size)

    def draw(count: int) -> Vector:
        return [Value(rng.uniform(-bound, bound)) for _ in range(count)]

    w_ih = [draw(width) for _ in range(rows)]
    w_hh = [draw(hidden_size) for _ in range(rows)]
    if not bias:
        return w_ih, w_hh, None, None
    return w_ih, w_hh, draw(rows), draw(rows)


def _as_state(
    state: Any,
    shape: tuple[int, ...],
    who: str,
    names: tuple[str, ...],
    axes: str,
) -> tuple[list[Any], ...]:
    """The user's state as Values: one array (h) or, for LSTM, a pair (h, c), checked."""
    if len(names) == 1:
        return (as_value_array(state, shape, who, names[0] + axes),)
    pair = f"({', '.join(names)})"
    if hasattr(state, "tolist") and not isinstance(state, Value):
        state = state.tolist()  # a NumPy array of shape (2, ...)
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise ValueError(f"{who} expects its state as a pair {pair}, got {_describe(state)}")
    return tuple(as_value_array(s, shape, who, name + axes) for s, name in zip(state, names))


class _Recurrent(Module):
    """The sizes, weights and torch export shared by every cell and layer below.

    Each class says which cell it is: how many gate blocks ``W_ih`` stacks
    (1; 4 = i, f, g, o; 3 = r, z, n), how many of them are one joint dot
    (all but GRU's n), the names of its state and its torch class.
    """

    _equations: Step
    _gate_blocks: int
    _joined_blocks: int
    _state_names: tuple[str, ...] = ("h",)
    _torch_name: str

    def __init__(self, input_size: int, hidden_size: int, bias: bool) -> None:
        who = type(self).__name__
        self.input_size = check_int(input_size, f"{who}: input_size")
        self.hidden_size = check_int(hidden_size, f"{who}: hidden_size")
        self.bias = _check_bool(bias, f"{who}: bias")

    def _weights_size(self, width: int) -> int:
        """How many parameters ``W_ih, W_hh, b_ih, b_hh`` have for inputs of ``width``."""
        rows = self._gate_blocks * self.hidden_size
        return rows * (width + self.hidden_size + (2 if self.bias else 0))

    def _new_weights(
        self, rng: random.Random, width: int
    ) -> tuple[Matrix, Matrix, Vector | None, Vector | None]:
        rows = self._gate_blocks * self.hidden_size
        return _new_weights(rng, rows, width, self.hidden_size, self.bias)

    def _gates(self, weights: tuple[Any, Any, Any, Any], one: Value) -> _Gates:
        """The weights joined for one dot per unit; ``one`` is the constant 1 of the call."""
        return _Gates(*weights, one, self._joined_blocks * self.hidden_size)

    def _step(self) -> Step:
        """This cell's equations as ``step(x, state, weights)``: ``lstm_step``, ``gru_step``..."""
        return type(self)._equations

    def _zeros(self, count: int | None = None) -> tuple[list[Any], ...]:
        """The default start: zeros for each part of the state (one vector, or ``count``)."""
        zero: Value = Constant(0.0)
        size = self.hidden_size
        if count is None:
            return tuple([zero] * size for _ in self._state_names)
        return tuple([[zero] * size for _ in range(count)] for _ in self._state_names)

    def extra_repr(self) -> str:
        # As torch prints it: the sizes, then each option that differs from its default.
        text = f"{self.input_size}, {self.hidden_size}"
        for name, default in _DEFAULTS.items():
            value = getattr(self, name, default)
            if value != default:
                text += f", {name}={value!r}"
        return text

    def _torch_module(self, torch: Any) -> Any:
        cls = getattr(torch.nn, self._torch_name)
        return cls(self.input_size, self.hidden_size, bias=self.bias, **self._torch_options())

    def _torch_options(self) -> dict[str, Any]:
        """Keyword arguments of the torch class beyond the sizes and ``bias``."""
        if hasattr(self, "nonlinearity"):  # the Elman RNNs
            return {"nonlinearity": self.nonlinearity}
        return {}


# --- cells: one time step -----------------------------------------------------------------


class _Cell(_Recurrent):
    """One step ``cell(x, state)``; the parameters are torch's ``weight_ih ... bias_hh``."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, *, seed: Seed = None
    ) -> None:
        super().__init__(input_size, hidden_size, bias)
        check_parameters(type(self).__name__, self._weights_size(input_size))
        weights = self._new_weights(make_rng(seed), input_size)
        self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh = weights

    def _next(self, x: Any, state: Any) -> State:
        """The next state from input ``x`` and ``state`` (zeros when None), both checked."""
        who = type(self).__name__
        x = as_value_array(x, (self.input_size,), who, "x[input]")
        if state is None:
            start = self._zeros()
        else:
            start = _as_state(state, (self.hidden_size,), who, self._state_names, "[hidden]")
        weights = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return self._step()(x, start, self._gates(weights, Constant(1.0)))

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        yield "weight_ih", self.weight_ih
        yield "weight_hh", self.weight_hh
        if self.bias_ih is not None:
            yield "bias_ih", self.bias_ih
            yield "bias_hh", self.bias_hh


class RNNCell(_Cell):
    """One step of an Elman RNN: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)``.

    ``cell(x, h=None)`` takes an input vector of ``input_size`` numbers or
    Values and the previous hidden state (zeros when omitted) and returns the
    new hidden state, a list of ``hidden_size`` Values. ``nonlinearity="relu"``
    uses ReLU instead of tanh. Parameters, as torch's ``nn.RNNCell``:
    ``weight_ih`` (hidden x input), ``weight_hh`` (hidden x hidden), ``bias_ih``,
    ``bias_hh`` (hidden), all U(-1/sqrt(hidden), 1/sqrt(hidden)).

    >>> cell = RNNCell(2, 3, seed=0)
    >>> h = cell([1.0, -1.0])
    >>> h = cell([0.5, 0.5], h)          # the next step reads the last state
    >>> len(h), all(-1.0 < v.data < 1.0 for v in h)
    (3, True)

    ``cell.to_torch()`` is ``torch.nn.RNNCell`` (float64, same weights); call it
    on a 1-D tensor (one example) or a ``(batch, input)`` tensor.
    """

    _gate_blocks = _joined_blocks = 1
    _torch_name = "RNNCell"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        *,
        seed: Seed = None,
    ) -> None:
        self.nonlinearity = _check_nonlinearity(nonlinearity, "RNNCell")
        super().__init__(input_size, hidden_size, bias, seed=seed)

    def _step(self) -> Step:
        return functools.partial(rnn_step, nonlinearity=self.nonlinearity)

    def forward(self, x: Any, h: Any = None) -> Vector:
        """The next hidden state from input ``x`` and hidden state ``h`` (zeros if None)."""
        (h,) = self._next(x, h)
        return h


class LSTMCell(_Cell):
    """One step of a long short-term memory cell, with torch's gates i, f, g, o.

    ``cell(x)`` or ``cell(x, (h, c))`` returns the new ``(h, c)``, each a list of
    ``hidden_size`` Values (zeros when the state is omitted)::

        i = sigma(W_ii x + b_ii + W_hi h + b_hi)     f = sigma(W_if x + ... )
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)      o = sigma(W_io x + ... )
        c' = f * c + i * g                           h' = o * tanh(c')

    ``weight_ih`` is (4 hidden x input) with the blocks of i, f, g, o stacked
    in that order, ``weight_hh`` (4 hidden x hidden), ``bias_ih``/``bias_hh``
    (4 hidden): exactly ``torch.nn.LSTMCell``'s layout.

    >>> cell = LSTMCell(2, 3, seed=0)
    >>> h, c = cell([1.0, -1.0])
    >>> h, c = cell([0.5, 0.5], (h, c))
    >>> len(h), len(c), len(cell.weight_ih), len(cell.weight_ih[0])
    (3, 3, 12, 2)
    """

    _equations = staticmethod(lstm_step)
    _gate_blocks = _joined_blocks = 4
    _state_names = ("h", "c")
    _torch_name = "LSTMCell"

    def forward(self, x: Any, state: Any = None) -> tuple[Vector, Vector]:
        """The next ``(h, c)`` from input ``x`` and ``state = (h, c)`` (zeros if None)."""
        h, c = self._next(x, state)
        return h, c


class GRUCell(_Cell):
    """One step of a gated recurrent unit, with torch's gates r, z, n.

    ``cell(x, h=None)`` returns the new hidden state (zeros when omitted)::

        r = sigma(W_ir x + b_ir + W_hr h + b_hr)
        z = sigma(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    ``weight_ih`` is (3 hidden x input) with r, z, n stacked, ``weight_hh``
    (3 hidden x hidden), ``bias_ih``/``bias_hh`` (3 hidden), as ``torch.nn.GRUCell``.

    >>> cell = GRUCell(2, 3, seed=0)
    >>> h = cell([1.0, -1.0])
    >>> len(cell(h=h, x=[0.0, 1.0]))
    3
    """

    _equations = staticmethod(gru_step)
    _gate_blocks = 3
    _joined_blocks = 2  # r and z; n's hidden part is gated by r, so it is a dot of its own
    _torch_name = "GRUCell"

    def forward(self, x: Any, h: Any = None) -> Vector:
        """The next hidden state from input ``x`` and hidden state ``h`` (zeros if None)."""
        (h,) = self._next(x, h)
        return h


# --- layers: whole sequences, stacked, optionally both ways --------------------------------


class _Layers(_Recurrent):
    """``num_layers`` cells unrolled over a sequence, each one way or both ways."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        bidirectional: bool = False,
        *,
        seed: Seed = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias)
        who = type(self).__name__
        self.num_layers = check_int(num_layers, f"{who}: num_layers")
        self.bidirectional = _check_bool(bidirectional, f"{who}: bidirectional")
        wider = hidden_size * self.num_directions  # what layers after the first read
        per_direction = self._weights_size(input_size) + (num_layers - 1) * self._weights_size(
            wider
        )
        check_parameters(who, self.num_directions * per_direction)
        rng = make_rng(seed)
        # torch's order: for each layer, for each direction: w_ih, w_hh, b_ih, b_hh.
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * self.num_directions
            for direction in range(self.num_directions):
                suffix = _suffix(layer, direction)
                names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                for name, tensor in zip(names, self._new_weights(rng, width)):
                    if tensor is not None:  # no bias attributes at all when bias=False
                        setattr(self, f"{name}{suffix}", tensor)

    @property
    def num_directions(self) -> int:
        """2 when bidirectional, else 1."""
        return 2 if self.bidirectional else 1

    def _unroll(self, xs: Any, state: Any, length: Any = None) -> tuple[list[Vector], list[State]]:
        """The one unrolling loop: ``(outputs, final state of each layer and direction)``.

        Layer l + 1 reads layer l's outputs; the backward direction reads the
        sequence from its end to its start, and the two directions' hidden
        states are concatenated at each step.

        ``length``: only the first ``length`` steps are real, the rest padding,
        computed as torch's packed sequences are: each direction reads only the
        real steps (the backward one starts at step ``length - 1``), the final
        states are those after the last real step, and the outputs at padded
        steps are zeros. A plain int simply runs the real steps. A Value (a
        compiled step's argument) cannot be looked at, so every step runs and,
        at a padded step, a ``take`` keeps the state carried so far (and gives
        a zero output): one traced program serves every length.
        """
        who = type(self).__name__
        xs = as_value_array(xs, (None, self.input_size), who, "xs[t][input]")
        if not xs:
            raise ValueError(
                f"{who} expects xs[t][input], a sequence of at least one input vector, "
                "got an empty sequence"
            )
        real: list[Value] | None = None  # per step: 1.0 if real, 0.0 if padding (traced)
        if length is not None:
            steps = len(xs)
            check = functools.partial(_check_length, steps, who)
            check_input(length, check, _lengths_up_to(steps))
            if not isinstance(length, Value):  # a plain int: run the real steps, pad with zeros
                real_out, real_finals = self._unroll(xs[: int(length)], state)
                zeros = [Constant(0.0)] * (self.hidden_size * self.num_directions)
                return real_out + [list(zeros) for _ in range(steps - int(length))], real_finals
            real = [
                take([1.0 if n > t else 0.0 for n in range(steps + 1)], length)
                for t in range(steps)
            ]
        count = self.num_layers * self.num_directions
        # starts[j][k]: part j of the state (h, then c for LSTM) of layer-direction k.
        if state is None:
            starts = self._zeros(count)
        else:
            names = tuple(f"{name}_0" for name in self._state_names)
            shape = (count, self.hidden_size)
            starts = _as_state(state, shape, who, names, "[layer*direction][hidden]")
        step = self._step()
        one, zero = Constant(1.0), Constant(0.0)
        steps = len(xs)
        layer_input: list[Vector] = xs
        finals: list[State] = []
        for layer in range(self.num_layers):
            outputs_by_direction = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                gates = self._gates(self._weights(layer, direction), one)
                carried: State = tuple(start[k] for start in starts)
                outputs: list[Vector] = [[] for _ in range(steps)]
                times = range(steps) if direction == 0 else range(steps - 1, -1, -1)
                for t in times:
                    new = step(layer_input[t], carried, gates)
                    if real is None:
                        carried = new
                        outputs[t] = carried[0]
                        continue
                    # A padded step keeps what was carried (take picks old or new, exactly).
                    carried = tuple(
                        [take((old, fresh), real[t]) for old, fresh in zip(part, new_part)]
                        for part, new_part in zip(carried, new)
                    )
                    outputs[t] = [take((zero, h), real[t]) for h in carried[0]]
                finals.append(carried)
                outputs_by_direction.append(outputs)
            if self.bidirectional:
                forward_out, backward_out = outputs_by_direction
                layer_input = [[*f, *b] for f, b in zip(forward_out, backward_out)]
            else:
                layer_input = outputs_by_direction[0]
        return layer_input, finals

    def _torch_options(self) -> dict[str, Any]:
        return {
            **super()._torch_options(),
            "num_layers": self.num_layers,
            "batch_first": True,  # one sequence is a batch of one: tensor([xs])
            "bidirectional": self.bidirectional,
        }

    def _weights(self, layer: int, direction: int) -> tuple[Any, Any, Any, Any]:
        suffix = _suffix(layer, direction)
        return (
            getattr(self, f"weight_ih{suffix}"),
            getattr(self, f"weight_hh{suffix}"),
            getattr(self, f"bias_ih{suffix}", None),
            getattr(self, f"bias_hh{suffix}", None),
        )

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        for layer in range(self.num_layers):
            for direction in range(self.num_directions):
                suffix = _suffix(layer, direction)
                names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else [])
                for name in names:
                    yield f"{name}{suffix}", getattr(self, f"{name}{suffix}")


def _check_length(steps: int, who: str, length: Any) -> None:
    if isinstance(length, bool) or not isinstance(length, numbers.Integral):
        raise TypeError(f"{who}: length must be an int, got {type(length).__name__}")
    if not 1 <= int(length) <= steps:
        raise ValueError(f"{who}: length must be in [1, {steps}] for {steps} steps, got {length}")


@functools.lru_cache(maxsize=64)
def _lengths_up_to(steps: int) -> frozenset[int]:
    return frozenset(range(1, steps + 1))


def _suffix(layer: int, direction: int) -> str:
    """torch's parameter suffix: ``_l0``, ``_l0_reverse``, ``_l1``, ..."""
    return f"_l{layer}" + ("_reverse" if direction == 1 else "")


class RNN(_Layers):
    """An Elman RNN over a sequence: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)``.

    ``rnn(xs, h_0=None)`` reads ``xs``, a list of T input vectors (each
    ``input_size`` numbers or Values), and returns ``(outputs, h_n)`` as torch
    does. ``outputs`` is a list of T vectors, the last layer's hidden state at
    each step (``2 * hidden_size`` numbers when bidirectional: the forward
    half, then the backward half). ``h_n`` is the last hidden state of every
    layer and direction, a list of ``num_layers * num_directions`` vectors in
    torch's order (layer 0 forward, layer 0 backward, layer 1 forward, ...);
    ``h_0`` has the same shape (zeros when omitted). Layer l + 1 reads layer
    l's outputs; ``nonlinearity="relu"`` uses ReLU instead of tanh.

    Parameters are torch's, per layer ``l``: ``weight_ih_l{l}`` (hidden x
    input), ``weight_hh_l{l}`` (hidden x hidden), ``bias_ih_l{l}``,
    ``bias_hh_l{l}``, and the same with ``_reverse`` for the backward
    direction, all U(-1/sqrt(hidden), 1/sqrt(hidden)).

    >>> rnn = RNN(2, 4, num_layers=2, bidirectional=True, seed=0)
    >>> outputs, h_n = rnn([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> len(outputs), len(outputs[0]), len(h_n), len(h_n[0])
    (3, 8, 4, 4)
    >>> outputs, h_n = rnn([[0.5, 0.5]], h_n)    # carry the state into the next call

    ``rnn.to_torch()`` is ``torch.nn.RNN(..., batch_first=True)`` in float64
    with the same weights; give it one sequence as a batch of one::

        out, h_n = rnn.to_torch()(torch.tensor([xs], dtype=torch.float64))
        # out[0, t] is outputs[t]; h_n[k, 0] is h_n[k]
    """

    _gate_blocks = _joined_blocks = 1
    _torch_name = "RNN"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        bidirectional: bool = False,
        *,
        seed: Seed = None,
    ) -> None:
        self.nonlinearity = _check_nonlinearity(nonlinearity, "RNN")
        super().__init__(input_size, hidden_size, num_layers, bias, bidirectional, seed=seed)

    def _step(self) -> Step:
        return functools.partial(rnn_step, nonlinearity=self.nonlinearity)

    def forward(
        self, xs: Any, h_0: Any = None, length: Any = None
    ) -> tuple[list[Vector], list[Vector]]:
        """``(outputs, h_n)`` for the sequence ``xs`` from the initial state ``h_0`` (zeros);
        ``length``: only the first ``length`` steps are real, the rest is padding."""
        outputs, finals = self._unroll(xs, h_0, length)
        return outputs, [h for (h,) in finals]


class LSTM(_Layers):
    """A long short-term memory network over a sequence, with torch's gates i, f, g, o.

    At each step, each layer and direction computes::

        i = sigma(W_ii x + b_ii + W_hi h + b_hi)     f = sigma(W_if x + ... )
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)      o = sigma(W_io x + ... )
        c' = f * c + i * g                           h' = o * tanh(c')

    ``lstm(xs)`` or ``lstm(xs, (h_0, c_0))`` reads ``xs``, a list of T input vectors, and
    returns ``(outputs, (h_n, c_n))`` as torch does. ``outputs`` is a list of
    T vectors, the last layer's hidden state at each step (``2 * hidden_size``
    numbers when bidirectional: forward half, then backward half). ``h_n`` and
    ``c_n`` are the last hidden and cell states of every layer and direction,
    each a list of ``num_layers * num_directions`` vectors in torch's order
    (layer 0 forward, layer 0 backward, layer 1 forward, ...); ``h_0`` and
    ``c_0`` have the same shape (zeros when omitted).

    Parameters are torch's, per layer ``l``: ``weight_ih_l{l}`` (4 hidden x
    input, blocks i, f, g, o), ``weight_hh_l{l}`` (4 hidden x hidden),
    ``bias_ih_l{l}``, ``bias_hh_l{l}`` (4 hidden), and ``..._reverse`` for the
    backward direction, all U(-1/sqrt(hidden), 1/sqrt(hidden)).

    >>> lstm = LSTM(2, 4, num_layers=2, seed=0)
    >>> outputs, (h_n, c_n) = lstm([[1.0, 0.0], [0.0, 1.0]])
    >>> len(outputs), len(h_n), len(c_n), len(lstm.weight_ih_l1), len(lstm.weight_ih_l1[0])
    (2, 2, 2, 16, 4)

    ``lstm.to_torch()`` is ``torch.nn.LSTM(..., batch_first=True)`` in float64
    with the same weights; give it one sequence as a batch of one::

        out, (h_n, c_n) = lstm.to_torch()(torch.tensor([xs], dtype=torch.float64))
        # out[0, t] is outputs[t]; h_n[k, 0] is h_n[k]
    """

    _equations = staticmethod(lstm_step)
    _gate_blocks = _joined_blocks = 4
    _state_names = ("h", "c")
    _torch_name = "LSTM"

    def forward(
        self, xs: Any, state: Any = None, length: Any = None
    ) -> tuple[list[Vector], tuple[Any, Any]]:
        """``(outputs, (h_n, c_n))`` for ``xs`` from ``state = (h_0, c_0)`` (zeros if None);
        ``length``: only the first ``length`` steps are real, the rest is padding."""
        outputs, finals = self._unroll(xs, state, length)
        return outputs, ([h for h, _ in finals], [c for _, c in finals])


class GRU(_Layers):
    """A gated recurrent unit network over a sequence, with torch's gates r, z, n.

    At each step, each layer and direction computes::

        r = sigma(W_ir x + b_ir + W_hr h + b_hr)
        z = sigma(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    ``gru(xs, h_0=None)`` returns ``(outputs, h_n)`` exactly as :class:`RNN`
    does (see there for the shapes). Parameters are torch's: ``weight_ih_l{l}``
    (3 hidden x input, blocks r, z, n), ``weight_hh_l{l}`` (3 hidden x hidden),
    ``bias_ih_l{l}``, ``bias_hh_l{l}`` (3 hidden), and ``..._reverse``.

    >>> gru = GRU(3, 5, seed=0)
    >>> outputs, h_n = gru([[1.0, 0.0, -1.0]] * 4)
    >>> len(outputs), len(h_n), h_n[0] == outputs[-1]
    (4, 1, True)

    ``gru.to_torch()`` is ``torch.nn.GRU(..., batch_first=True)`` in float64
    with the same weights; give it one sequence as a batch of one::

        out, h_n = gru.to_torch()(torch.tensor([xs], dtype=torch.float64))
    """

    _equations = staticmethod(gru_step)
    _gate_blocks = 3
    _joined_blocks = 2  # r and z; n's hidden part is gated by r, so it is a dot of its own
    _torch_name = "GRU"

    def forward(
        self, xs: Any, h_0: Any = None, length: Any = None
    ) -> tuple[list[Vector], list[Vector]]:
        """``(outputs, h_n)`` for the sequence ``xs`` from the initial state ``h_0`` (zeros);
        ``length``: only the first ``length`` steps are real, the rest is padding."""
        outputs, finals = self._unroll(xs, h_0, length)
        return outputs, [h for (h,) in finals]
