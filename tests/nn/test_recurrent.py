"""RNN, LSTM, GRU and their cells: torch's equations, names and gradients; checks; long inputs."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from chaingrad import Value, dot, gradcheck
from chaingrad.engine import toposort
from chaingrad.engine.scopes import record_scopes
from chaingrad.nn import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    Layer,
    LSTMCell,
    RNNCell,
    Sequential,
    StateDictError,
)
from chaingrad.nn import functional as F
from chaingrad.nn.optim import Adam

from .torch_oracle import assert_matches_torch

LAYERS = {
    "RNN": lambda *a, **k: RNN(*a, **k),
    "RNN-relu": lambda *a, **k: RNN(*a, nonlinearity="relu", **k),
    "LSTM": lambda *a, **k: LSTM(*a, **k),
    "GRU": lambda *a, **k: GRU(*a, **k),
}
CELLS = {
    "RNNCell": lambda *a, **k: RNNCell(*a, **k),
    "RNNCell-relu": lambda *a, **k: RNNCell(*a, nonlinearity="relu", **k),
    "LSTMCell": lambda *a, **k: LSTMCell(*a, **k),
    "GRUCell": lambda *a, **k: GRUCell(*a, **k),
}


def random_matrix(rows: int, cols: int, seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    return [[rng.uniform(-1.5, 1.5) for _ in range(cols)] for _ in range(rows)]


def is_lstm(module: Any) -> bool:
    return isinstance(module, (LSTM, LSTMCell))


# --- agreement with torch.nn, float64, outputs and every gradient ----------------------


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layers_match_torch_without_initial_state(kind, num_layers, bidirectional):
    pytest.importorskip("torch")
    model = LAYERS[kind](3, 4, num_layers, bidirectional=bidirectional, seed=1)
    xs = random_matrix(5, 3, seed=2)
    # torch.nn.RNN/LSTM/GRU(batch_first=True) on a batch of one sequence.
    assert_matches_torch(model, xs, call=lambda twin, x: twin(x.unsqueeze(0)))


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layers_match_torch_from_an_initial_state(kind, num_layers, bidirectional):
    """Inputs and initial state travel as one flat list, so the oracle checks both gradients."""
    pytest.importorskip("torch")
    steps, width, hidden = 4, 3, 2
    model = LAYERS[kind](width, hidden, num_layers, bidirectional=bidirectional, seed=3)
    count = num_layers * (2 if bidirectional else 1)
    parts = 2 if is_lstm(model) else 1
    flat = [v for row in random_matrix(steps + parts * count, max(width, hidden), 4) for v in row]
    sizes = [steps * width] + [count * hidden] * parts
    flat = flat[: sum(sizes)]

    def split(items: Any) -> list[Any]:
        pieces, start = [], 0
        for size in sizes:
            pieces.append(items[start : start + size])
            start += size
        return pieces

    def rows(items: Any, n: int) -> list[Any]:
        return [list(items[i : i + n]) for i in range(0, len(items), n)]

    def ours(module: Any, values: list[Value]) -> Any:
        xs, *state = split(values)
        states = [rows(s, hidden) for s in state]
        return module(rows(xs, width), tuple(states) if parts == 2 else states[0])

    def theirs(twin: Any, tensor: Any) -> Any:
        xs, *state = split(tensor)
        states = [s.reshape(count, 1, hidden) for s in state]  # (layers * directions, batch, H)
        return twin(xs.reshape(1, steps, width), tuple(states) if parts == 2 else states[0])

    assert_matches_torch(model, flat, call=theirs, forward=ours)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_layers_without_bias_match_torch(kind):
    pytest.importorskip("torch")
    model = LAYERS[kind](2, 3, 2, bias=False, bidirectional=True, seed=5)
    assert not any("bias" in name for name, _ in model.named_parameters())
    assert_matches_torch(model, random_matrix(3, 2, 6), call=lambda t, x: t(x.unsqueeze(0)))


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_torch_without_state(kind, bias):
    pytest.importorskip("torch")
    cell = CELLS[kind](3, 4, bias=bias, seed=7)
    assert_matches_torch(cell, random_matrix(1, 3, 8)[0])  # torch cells take 1-D input too


@pytest.mark.parametrize("kind", list(CELLS))
def test_cells_match_torch_from_a_state(kind):
    pytest.importorskip("torch")
    cell = CELLS[kind](3, 2, seed=9)
    parts = 2 if is_lstm(cell) else 1
    flat = [v for row in random_matrix(1, 3 + 2 * parts, 10) for v in row]

    def ours(module: Any, values: list[Value]) -> Any:
        x, state = values[:3], [values[3 + 2 * k : 5 + 2 * k] for k in range(parts)]
        return module(x, tuple(state) if parts == 2 else state[0])

    def theirs(twin: Any, tensor: Any) -> Any:
        x, state = tensor[:3], [tensor[3 + 2 * k : 5 + 2 * k] for k in range(parts)]
        return twin(x, tuple(state) if parts == 2 else state[0])

    assert_matches_torch(cell, flat, call=theirs, forward=ours)


def test_a_long_sequence_matches_torch():
    pytest.importorskip("torch")
    model = LSTM(2, 3, seed=11)
    assert_matches_torch(model, random_matrix(300, 2, 12), call=lambda t, x: t(x.unsqueeze(0)))


@pytest.mark.parametrize("kind", list(LAYERS))
def test_parameter_names_order_and_state_dict_keys_are_torchs(kind):
    torch = pytest.importorskip("torch")
    model = LAYERS[kind](3, 4, 2, bidirectional=True, seed=0)
    twin = model.to_torch()
    assert [name for name, _ in model.torch_parameters()] == [n for n, _ in twin.named_parameters()]
    assert list(model.state_dict()) == list(twin.state_dict())
    # So a chaingrad state dict loads straight into the torch module, and back.
    twin.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    model.load_state_dict({k: v.tolist() for k, v in twin.state_dict().items()})
    assert twin.batch_first and twin.weight_ih_l0.dtype == torch.float64


def test_a_subclass_still_exports_to_its_torch_class():
    pytest.importorskip("torch")

    class PeepholeFreeLSTM(LSTM):
        pass

    model = PeepholeFreeLSTM(2, 3, seed=0)
    assert type(model.to_torch()).__name__ == "LSTM"
    assert_matches_torch(model, random_matrix(2, 2, 0), call=lambda t, x: t(x.unsqueeze(0)))


def test_to_torch_keeps_the_configuration():
    pytest.importorskip("torch")
    twin = RNN(3, 5, 2, nonlinearity="relu", bias=False, bidirectional=True).to_torch()
    assert (twin.input_size, twin.hidden_size, twin.num_layers) == (3, 5, 2)
    assert twin.nonlinearity == "relu" and not twin.bias and twin.bidirectional
    cell = RNNCell(2, 3, bias=False, nonlinearity="relu").to_torch()
    assert cell.nonlinearity == "relu" and cell.bias_ih is None
    assert type(GRUCell(2, 3).to_torch()).__name__ == "GRUCell"


# --- the equations, checked without torch ----------------------------------------------


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def affine(weights: list[list[Value]], bias: list[Value] | None, x: list[float], row: int) -> float:
    total = sum(w.data * xi for w, xi in zip(weights[row], x))
    return total + (bias[row].data if bias is not None else 0.0)


def test_lstm_cell_is_torchs_equations_with_gates_i_f_g_o():
    cell = LSTMCell(2, 2, seed=0)
    x, h, c = [0.3, -0.7], [0.5, -0.1], [0.2, 0.4]
    new_h, new_c = cell(x, (h, c))
    for k in range(2):

        def pre(block: int, k: int = k) -> float:
            row = block * 2 + k
            return affine(cell.weight_ih, cell.bias_ih, x, row) + affine(
                cell.weight_hh, cell.bias_hh, h, row
            )

        i, f, g, o = sigmoid(pre(0)), sigmoid(pre(1)), math.tanh(pre(2)), sigmoid(pre(3))
        expected_c = f * c[k] + i * g
        assert new_c[k].data == pytest.approx(expected_c, abs=1e-14)
        assert new_h[k].data == pytest.approx(o * math.tanh(expected_c), abs=1e-14)


def test_gru_cell_is_torchs_equations_with_gates_r_z_n():
    cell = GRUCell(2, 2, seed=0)
    x, h = [0.3, -0.7], [0.5, -0.1]
    new_h = cell(x, h)
    for k in range(2):
        r = sigmoid(
            affine(cell.weight_ih, cell.bias_ih, x, k) + affine(cell.weight_hh, cell.bias_hh, h, k)
        )
        z = sigmoid(
            affine(cell.weight_ih, cell.bias_ih, x, 2 + k)
            + affine(cell.weight_hh, cell.bias_hh, h, 2 + k)
        )
        # r multiplies the hidden part including its bias: torch's formula, not the paper's.
        n = math.tanh(
            affine(cell.weight_ih, cell.bias_ih, x, 4 + k)
            + r * affine(cell.weight_hh, cell.bias_hh, h, 4 + k)
        )
        assert new_h[k].data == pytest.approx((1 - z) * n + z * h[k], abs=1e-14)


def test_bidirectional_outputs_are_forward_then_backward_halves_and_h_n_in_torch_order():
    xs = random_matrix(4, 2, 0)
    model = GRU(2, 3, num_layers=2, bidirectional=True, seed=0)
    outputs, h_n = model(xs)
    assert len(outputs) == 4 and all(len(out) == 6 for out in outputs)
    assert len(h_n) == 4 and all(len(h) == 3 for h in h_n)
    # Last layer (k = 2 forward, 3 backward): forward ends at t = T-1, backward at t = 0.
    assert h_n[2] == outputs[-1][:3]
    assert h_n[3] == outputs[0][3:]
    # A one-way GRU with the forward weights computes the forward half of layer 0.
    one_way = GRU(2, 3, seed=1)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        setattr(one_way, f"{name}_l0", getattr(model, f"{name}_l0"))
    _, (h_last,) = one_way(xs)
    assert [v.data for v in h_last] == [v.data for v in h_n[0]]


def test_backward_direction_reads_the_sequence_reversed():
    model = LSTM(1, 2, bidirectional=True, seed=0)
    reverse = LSTM(1, 2, seed=0)
    reverse.weight_ih_l0 = model.weight_ih_l0_reverse
    reverse.weight_hh_l0 = model.weight_hh_l0_reverse
    reverse.bias_ih_l0 = model.bias_ih_l0_reverse
    reverse.bias_hh_l0 = model.bias_hh_l0_reverse
    xs = [[0.1], [0.5], [-0.3]]
    outputs, _ = model(xs)
    reversed_outputs, _ = reverse(xs[::-1])
    for t in range(3):
        got = [v.data for v in outputs[t][2:]]
        assert got == [v.data for v in reversed_outputs[2 - t]]


def test_every_gate_unit_is_one_dot_node():
    steps, width, hidden = 3, 2, 4
    lstm = LSTM(width, hidden, seed=0)
    outputs, _ = lstm(random_matrix(steps, width, 0))
    nodes = toposort(dot([1.0] * hidden, outputs[-1]))
    dots = [n for n in nodes if n.op is not None and n.op.name == "dot"]
    gate_dots = [n for n in dots if len(n.parents) == 2 * (width + hidden + 2)]
    # 4 gates x hidden units per step, plus c' = f*c + i*g (one 2-term dot per unit).
    assert len(gate_dots) == steps * 4 * hidden
    assert len(dots) == steps * 5 * hidden + 1  # + the readout above
    # One shared constant 1 per call feeds both biases of every gate unit.
    ones = {p for n in gate_dots for p in n.parents[-2:]}
    assert len(ones) == 1 and next(iter(ones)).data == 1.0


def test_gru_new_gate_is_two_dots_and_the_rest_one():
    gru = GRUCell(2, 3, seed=0)
    h = gru([0.5, -0.5])
    dots = [n for n in toposort(dot([1.0] * 3, h)) if n.op is not None and n.op.name == "dot"]
    sizes = sorted(len(n.parents) for n in dots)
    # r, z: 2*(2+3+2); n: input (2+1)*2 and hidden (3+1)*2; h' blend 2*2; readout 3*2.
    assert sizes.count(2 * 7) == 6 and sizes.count(2 * 3) == 3 + 1 and sizes.count(2 * 4) == 3
    assert sizes.count(2 * 2) == 3


# --- finite differences -------------------------------------------------------------------


def parameter_slots(module: Any) -> list[tuple[list[Value], int]]:
    """(list, index) of every parameter, so a test can swap Values in and out."""
    slots = []
    for _, tree in module.named_parameter_groups():
        stack = [tree]
        while stack:
            item = stack.pop()
            if all(isinstance(v, Value) for v in item):
                slots.extend((item, i) for i in range(len(item)))
            else:
                stack.extend(item)
    return slots


@pytest.mark.parametrize(
    "make",
    [
        lambda: RNN(2, 2, 2, bidirectional=True, seed=0),
        lambda: LSTM(2, 2, 2, bidirectional=True, seed=0),
        lambda: GRU(2, 2, 2, bidirectional=True, seed=0),
        lambda: RNNCell(2, 2, seed=0),
        lambda: LSTMCell(2, 2, seed=0),
        lambda: GRUCell(2, 2, seed=0),
    ],
    ids=["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"],
)
def test_gradcheck_inputs_state_and_parameters(make):
    """Central differences for every input number, state number and parameter."""
    model = make()
    is_cell = not isinstance(model, (RNN, LSTM, GRU))
    steps, width, hidden = (1, 2, 2) if is_cell else (3, 2, 2)
    count = 1 if is_cell else model.num_layers * model.num_directions
    parts = 2 if is_lstm(model) else 1
    slots = parameter_slots(model)
    point = [v for row in random_matrix(steps, width, 1) for v in row]
    point += [v for row in random_matrix(parts * count, hidden, 2) for v in row]
    point += [container[i].data for container, i in slots]
    readout = [random.Random(3).uniform(-1, 1) for _ in range(200)]

    def f(*leaves: Value) -> Value:
        it = iter(leaves)
        xs = [[next(it) for _ in range(width)] for _ in range(steps)]
        states = [[[next(it) for _ in range(hidden)] for _ in range(count)] for _ in range(parts)]
        for container, i in slots:
            container[i] = next(it)
        if is_cell:
            state = tuple(s[0] for s in states) if parts == 2 else states[0][0]
            out = model(xs[0], state)
        else:
            out = model(xs, tuple(states) if parts == 2 else states[0])
        flat = [v for v in _leaves(out)]
        return dot(readout[: len(flat)], flat).tanh()

    assert gradcheck(f, point)


def _leaves(out: Any) -> list[Value]:
    if isinstance(out, Value):
        return [out]
    return [leaf for item in out for leaf in _leaves(item)]


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: LSTM(3, 4)([[1.0, 2.0]]),
            "LSTM expects xs[t][input] with input of length 3, got length 2",
        ),
        (
            lambda: GRU(3, 4)([[1.0, 2.0, 3.0], [1.0]]),
            "GRU expects xs[t][input] with input of length 3, got length 1",
        ),
        (
            lambda: RNN(3, 4)([]),
            "RNN expects xs[t][input], a sequence of at least one input vector, "
            "got an empty sequence",
        ),
        (
            lambda: RNN(1, 4)([0.5, 0.2]),
            "RNN expects xs[t][input]: a list along input, got float 0.5",
        ),
        (
            lambda: RNN(2, 4)([["a", 1.0]]),
            "RNN expects xs[t][input] to hold numbers or Values, got str 'a'",
        ),
        (
            lambda: GRU(2, 3, 2)([[1.0, 2.0]], [[0.0] * 3]),
            "GRU expects h_0[layer*direction][hidden] with layer*direction of length 2, "
            "got length 1",
        ),
        (
            lambda: RNN(2, 3)([[1.0, 2.0]], [[0.0] * 4]),
            "RNN expects h_0[layer*direction][hidden] with hidden of length 3, got length 4",
        ),
        (
            lambda: LSTM(2, 3)([[1.0, 2.0]], [[0.0] * 3]),
            "LSTM expects its state as a pair (h_0, c_0), got list [[0.0, 0.0, 0.0]]",
        ),
        (
            lambda: LSTM(2, 3)([[1.0, 2.0]], ([[0.0] * 3], [[0.0] * 2])),
            "LSTM expects c_0[layer*direction][hidden] with hidden of length 3, got length 2",
        ),
        (
            lambda: LSTMCell(2, 3)([1.0, 2.0], [0.0] * 3),
            "LSTMCell expects its state as a pair (h, c), got list [0.0, 0.0, 0.0]",
        ),
        (
            lambda: GRUCell(2, 3)([1.0, 2.0, 3.0]),
            "GRUCell expects x[input] with input of length 2, got length 3",
        ),
        (
            lambda: RNNCell(2, 3)([1.0, 2.0], [0.0]),
            "RNNCell expects h[hidden] with hidden of length 3, got length 1",
        ),
        (
            lambda: RNNCell(2, 3)([[1.0, 2.0]]),
            "RNNCell expects x[input] with input of length 2, got length 1",
        ),
    ],
)
def test_bad_input_names_module_expected_and_got(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value) == message


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: LSTM(0, 4), "LSTM: input_size must be a positive int, got 0"),
        (lambda: GRU(3, 2.5), "GRU: hidden_size must be a positive int, got 2.5"),
        (lambda: RNN(3, 4, num_layers=0), "RNN: num_layers must be a positive int, got 0"),
        (
            lambda: RNN(3, 4, nonlinearity="sigmoid"),
            "RNN: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'",
        ),
        (
            lambda: RNNCell(3, 4, nonlinearity="gelu"),
            "RNNCell: nonlinearity must be 'tanh' or 'relu', got 'gelu'",
        ),
        (lambda: LSTM(3, 4, bidirectional=1), "LSTM: bidirectional must be True or False, got 1"),
        (lambda: GRUCell(3, 4, bias="no"), "GRUCell: bias must be True or False, got 'no'"),
    ],
)
def test_bad_construction_is_a_clear_error(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert str(error.value) == message


def test_numpy_inputs_and_user_values_are_accepted():
    np = pytest.importorskip("numpy")
    model = GRU(2, 3, seed=0)
    xs = np.array(random_matrix(4, 2, 0))
    from_numpy, _ = model(xs)
    from_lists, _ = model(xs.tolist())
    assert [v.data for v in from_numpy[-1]] == [v.data for v in from_lists[-1]]
    # Values the user passes are used as they are, so their gradients arrive.
    x = [[Value(0.5), Value(-0.5)]]
    h0 = [[Value(0.1), Value(0.2), Value(0.3)]]
    outputs, _ = model(x, h0)
    sum(outputs[0]).backward()
    assert x[0][0].grad != 0.0 and h0[0][2].grad != 0.0


# --- init, seeds, modules -----------------------------------------------------------------


@pytest.mark.parametrize("kind", list(LAYERS) + list(CELLS))
def test_default_init_is_torchs_uniform_and_seeded(kind):
    make = {**LAYERS, **CELLS}[kind]
    model = make(3, 16, seed=0) if "Cell" in kind else make(3, 16, 2, seed=0)
    bound = 1.0 / math.sqrt(16)
    values = [p.data for p in model.parameters()]
    assert all(-bound <= v <= bound for v in values)
    assert max(values) > 0.95 * bound and min(values) < -0.95 * bound  # spread, not zeros
    assert abs(sum(values) / len(values)) < 0.1 * bound
    same = make(3, 16, seed=0) if "Cell" in kind else make(3, 16, 2, seed=0)
    other = make(3, 16, seed=1) if "Cell" in kind else make(3, 16, 2, seed=1)
    assert same.state_dict() == model.state_dict() != other.state_dict()


def test_parameter_shapes_and_counts_are_torchs():
    lstm = LSTM(3, 5, num_layers=2, bidirectional=True)
    shapes = {
        name: (len(tree), len(tree[0])) if isinstance(tree[0], list) else (len(tree),)
        for name, tree in lstm.named_parameter_groups()
    }
    assert shapes["weight_ih_l0"] == (20, 3) and shapes["weight_hh_l0_reverse"] == (20, 5)
    assert shapes["weight_ih_l1"] == (20, 10) and shapes["bias_hh_l1_reverse"] == (20,)
    assert len(shapes) == 16
    # torch.nn.LSTM(3, 5, 2, bidirectional=True) has 1,120 parameters.
    assert lstm.num_parameters() == 2 * (20 * 3 + 20 * 5 + 40) + 2 * (20 * 10 + 20 * 5 + 40)
    assert GRUCell(3, 5).num_parameters() == 15 * 3 + 15 * 5 + 30


def test_repr_reads_like_torchs():
    assert repr(LSTM(3, 5)) == "LSTM(3, 5)"
    assert repr(GRU(3, 5, 2, bias=False, bidirectional=True)) == (
        "GRU(3, 5, num_layers=2, bias=False, bidirectional=True)"
    )
    assert repr(RNN(3, 5, nonlinearity="relu")) == "RNN(3, 5, nonlinearity='relu')"
    assert repr(LSTMCell(2, 4, bias=False)) == "LSTMCell(2, 4, bias=False)"


def test_save_and_load_round_trip_and_refuse_another_architecture(tmp_path):
    model = LSTM(2, 3, num_layers=2, bidirectional=True, seed=0)
    xs = random_matrix(3, 2, 0)
    before = [v.data for out in model(xs)[0] for v in out]
    path = tmp_path / "lstm.json"
    model.save(path)
    fresh = LSTM(2, 3, num_layers=2, bidirectional=True, seed=99)
    assert fresh.state_dict() != model.state_dict()
    fresh.load(path)
    assert [v.data for out in fresh(xs)[0] for v in out] == before
    # A GRU of the same sizes has the same names but other shapes: refused, unchanged.
    gru = GRU(2, 3, num_layers=2, bidirectional=True, seed=0)
    state = gru.state_dict()
    with pytest.raises(StateDictError, match="weight_ih_l0"):
        gru.load(path)
    assert gru.state_dict() == state
    with pytest.raises(StateDictError, match="unexpected 'weight_ih_l1'"):
        LSTM(2, 3, bidirectional=True).load(path)


def test_deep_unroll_builds_and_backpropagates_without_recursion():
    steps = 2000
    lstm = LSTM(1, 2, seed=0)
    xs = [[math.sin(t / 10.0)] for t in range(steps)]
    outputs, (h_n, c_n) = lstm(xs)
    loss = sum(h_n[0]) + sum(c_n[0])
    loss.backward()
    grads = [p.grad for p in lstm.parameters()]
    assert all(math.isfinite(g) for g in grads) and any(g != 0.0 for g in grads)
    gru = GRU(1, 2, seed=0)
    inputs = [[Value(x[0])] for x in xs]
    outputs, _ = gru(inputs)
    outputs[-1][0].backward()
    assert inputs[-1][0].grad != 0.0


def test_record_scopes_tags_the_nodes_with_the_module():
    model = GRU(2, 2, seed=0)
    xs = [[Value(1.0), Value(0.0)], [Value(0.0), Value(1.0)]]
    with record_scopes() as recorder:
        outputs, _ = model(xs)
    made = [n for n in toposort(outputs[-1][0]) if n.parents]
    assert made and all(recorder.scope_of(n) == (model,) for n in made)
    assert recorder.scope_of(xs[0][0]) == ()


def test_sequential_with_a_readout_trains():
    """A GRU in a Sequential: pick the last output, read it out, and learn a sign."""
    gru = GRU(1, 4, seed=0)
    model = Sequential(gru, lambda result: result[0][-1], Layer(4, 2, nonlin=False, seed=1))
    rng = random.Random(0)
    data = []
    for _ in range(8):
        xs = [[rng.uniform(-1, 1)] for _ in range(4)]
        data.append((xs, int(xs[0][0] > 0)))  # the label is the sign of the FIRST input
    opt = Adam(model, lr=0.05)

    def loss_of() -> Value:
        return sum(F.cross_entropy(model(xs), y) for xs, y in data) / len(data)

    first = loss_of().data
    for _ in range(40):
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        opt.step()
    assert gru.weight_ih_l0[0][0].grad != 0.0
    assert loss_of().data < 0.5 * first


# --- the export takes batches ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_exported_layers_take_a_batch_and_give_each_examples_output(kind, bidirectional):
    pytest.importorskip("torch")
    from .torch_oracle import assert_batch_matches_examples

    model = LAYERS[kind](3, 4, num_layers=2, bidirectional=bidirectional, seed=0)
    sequences = [random_matrix(5, 3, seed) for seed in range(4)]  # (B=4, T=5, features=3)

    def batch_first(twin, x):
        # torch: outputs (B, T, features); each state (layers * directions, B, hidden).
        outputs, state = twin(x)
        states = state if isinstance(state, tuple) else (state,)
        return (outputs, *(s.transpose(0, 1) for s in states))

    def per_example(xs):
        outputs, state = model(xs)
        return (outputs, *state) if is_lstm(model) else (outputs, state)

    assert_batch_matches_examples(_Exported(model, per_example), sequences, batch_first)


@pytest.mark.parametrize("kind", list(CELLS))
def test_the_exported_cells_take_a_batch(kind):
    pytest.importorskip("torch")
    from .torch_oracle import assert_batch_matches_examples

    cell = CELLS[kind](3, 4, seed=0)
    inputs = random_matrix(6, 3, 1)  # (B=6, features=3)
    assert_batch_matches_examples(cell, inputs)


class _Exported:
    """``module`` called through ``forward`` (its outputs lined up with torch's), exportable."""

    def __init__(self, module: Any, forward: Any) -> None:
        self.module, self.forward = module, forward

    def __call__(self, x: Any) -> Any:
        return self.forward(x)

    def to_torch(self) -> Any:
        return self.module.to_torch()
