"""Neuron, Layer, MLP, Dropout, Sequential: micrograd's shapes, seeding, agreement with torch."""

from __future__ import annotations

import random

import numpy as np
import pytest

from chaingrad import Value, gradcheck
from chaingrad.nn import MLP, Dropout, Layer, LeakyReLU, Neuron, ReLU, Sequential, Sigmoid, Tanh
from chaingrad.nn import functional as F
from chaingrad.nn.data import make_moons
from chaingrad.nn.init import DEFAULT_SEED, INITIALIZERS, make_rng
from tests.helpers import one_line


def test_micrograd_attribute_names_and_call_shapes():
    model = MLP(3, [4, 4, 1])
    assert len(model.layers) == 3
    assert len(model.layers[0].neurons) == 4
    neuron = model.layers[0].neurons[0]
    assert len(neuron.w) == 3 and isinstance(neuron.b, Value) and neuron.b.data == 0.0
    # Hidden layers ReLU, last linear (micrograd's nonlin flag).
    assert [layer.neurons[0].nonlin for layer in model.layers] == [True, True, False]
    out = model([Value(1.0), Value(2.0), Value(3.0)])
    assert isinstance(out, Value)  # one output neuron: a Value, not a list
    outs = MLP(3, [4, 2])([1.0, 2.0, 3.0])
    assert isinstance(outs, list) and len(outs) == 2
    assert isinstance(Layer(2, 1)([1.0, 2.0]), Value)
    assert isinstance(Neuron(2)([1.0, 2.0]), Value)
    assert Neuron(2, nonlin=False).activation == "linear"


def test_neuron_computes_activation_of_weighted_sum_with_one_dot_node():
    n = Neuron(3, activation="tanh", seed=0)
    n.b.data = 0.5
    x = [1.0, -2.0, 0.5]
    out = n(x)
    expected = sum(w.data * xi for w, xi in zip(n.w, x)) + 0.5
    assert out.data == pytest.approx(__import__("math").tanh(expected), abs=1e-15)
    # tanh <- add(b) <- dot: the weighted sum is one node, not 2n - 1.
    assert out.op.name == "tanh"
    add = out.parents[0]
    assert add.op.name == "add" and add.parents[1] is n.b
    assert add.parents[0].op.name == "dot"


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "linear"])
def test_each_activation_matches_value_method_and_gradchecks(activation):
    n = Neuron(2, activation=activation, seed=3)
    n.b.data = 0.1

    def f(w0, w1, b, x0, x1):
        n.w[0], n.w[1], n.b = w0, w1, b
        return n([x0, x1])

    point = [n.w[0].data, n.w[1].data, 0.1, 0.7, -0.4]
    assert gradcheck(f, point)


def test_seeded_init_is_reproducible_and_seeds_differ():
    assert MLP(2, [4, 1], seed=7).state_dict() == MLP(2, [4, 1], seed=7).state_dict()
    assert MLP(2, [4, 1], seed=7).state_dict() != MLP(2, [4, 1], seed=8).state_dict()
    # No seed: the documented DEFAULT_SEED, never the global RNG.
    random.seed(0)
    a = MLP(2, [4, 1]).state_dict()
    random.seed(1)
    b = MLP(2, [4, 1]).state_dict()
    assert a == b == MLP(2, [4, 1], seed=DEFAULT_SEED).state_dict()
    state = random.getstate()
    MLP(2, [4, 1])
    assert random.getstate() == state  # the global RNG was not touched


def test_shared_rng_gives_different_models():
    rng = random.Random(0)
    a, b = MLP(2, [3, 1], seed=rng), MLP(2, [3, 1], seed=rng)
    assert a.state_dict() != b.state_dict()


def test_neurons_in_a_layer_differ():
    layer = Layer(2, 4, seed=0)
    weights = [tuple(w.data for w in n.w) for n in layer.neurons]
    assert len(set(weights)) == 4


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_initializer_scales(name):
    rng = make_rng(0)
    fan_in, fan_out = 50, 30
    samples = [INITIALIZERS[name](rng, fan_in, fan_out) for _ in range(4000)]
    variance = sum(s * s for s in samples) / len(samples)
    expected = {
        "uniform": 1 / 3,
        "xavier_uniform": 2 / (fan_in + fan_out),
        "xavier": 2 / (fan_in + fan_out),
        "glorot": 2 / (fan_in + fan_out),
        "xavier_normal": 2 / (fan_in + fan_out),
        "he_uniform": 2 / fan_in,
        "he": 2 / fan_in,
        "kaiming": 2 / fan_in,
        "he_normal": 2 / fan_in,
        "lecun_normal": 1 / fan_in,
    }[name]
    assert variance == pytest.approx(expected, rel=0.1)


def test_init_choice_reaches_weights():
    wide = MLP(100, [10, 1], init="he_normal", seed=0)
    ws = [w.data for n in wide.layers[0].neurons for w in n.w]
    assert max(abs(w) for w in ws) < 1.0  # U(-1, 1) would have many near 1
    custom = Neuron(3, init=lambda rng, fan_in, fan_out: 0.25)
    assert [w.data for w in custom.w] == [0.25] * 3


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: MLP(2, 16), "nouts must be a non-empty list"),
        (lambda: MLP(2, []), "nouts must be a non-empty list"),
        (lambda: MLP(0, [1]), "nin must be a positive int"),
        (lambda: MLP(2, [4, 0]), r"MLP: nouts\[1\] must be a positive int, got 0"),
        (lambda: MLP(2, [1], activation="swish"), "unknown activation 'swish'"),
        (lambda: Neuron(2, init="magic"), "unknown weight initialiser 'magic'"),
        (lambda: Neuron(2, seed="x"), "seed must be None, an int or a random.Random"),
        (lambda: Dropout(1.0), "p must be a probability"),
        (lambda: Sequential(3), "step 0 is not callable"),
    ],
)
def test_bad_construction_is_a_clear_error(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_wrong_number_of_inputs_is_a_clear_error():
    with pytest.raises(ValueError, match="Layer expects 2 inputs, got 3"):
        MLP(2, [3, 1])([1.0, 2.0, 3.0])


def test_dropout_train_scales_and_eval_passes_through():
    drop = Dropout(0.5, seed=0)
    xs = [Value(1.0) for _ in range(2000)]
    out = drop(xs)
    kept = [v.data for v in out if v.data != 0.0]
    assert set(kept) == {2.0}  # inverted dropout: survivors scaled by 1/(1-p)
    assert 0.45 < len(kept) / len(xs) < 0.55
    out[0].backward()
    drop.eval()
    assert [v.data for v in drop(xs[:3])] == [1.0, 1.0, 1.0]
    assert drop(xs[0]) is xs[0]


def test_dropout_inside_a_model_follows_model_mode():
    net = Sequential(Layer(4, 8, seed=0), Dropout(0.5, seed=1), Layer(8, 1, nonlin=False, seed=2))
    x = [0.5, -0.5, 1.0, 2.0]
    net.eval()
    assert net(x).data == net(x).data
    net.train()
    assert len({net(x).data for _ in range(10)}) > 1


# --- agreement with torch.nn ------------------------------------------------------------


@pytest.mark.parametrize(
    ("sizes", "activation", "output_activation"),
    [
        ([16, 16, 1], "relu", "linear"),
        ([8, 8, 3], "tanh", "linear"),
        ([5, 4], "sigmoid", "sigmoid"),
        ([6, 2], "leaky_relu", "tanh"),
    ],
)
def test_mlp_outputs_and_every_gradient_equal_torch(sizes, activation, output_activation):
    torch = pytest.importorskip("torch")
    model = MLP(
        3, sizes, activation=activation, output_activation=output_activation, init="he", seed=11
    )
    bias_rng = random.Random(1)
    for neuron in (n for layer in model.layers for n in layer.neurons):
        neuron.b.data = bias_rng.uniform(-0.5, 0.5)  # nonzero biases
    twin = model.to_torch()
    rng = random.Random(0)
    X = [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(20)]

    outputs = [model(x) for x in X]
    flat = [v for o in outputs for v in ([o] if isinstance(o, Value) else o)]
    # A scalar of every output, so every parameter gets a gradient.
    loss = F.mse_loss(flat, [0.3] * len(flat))
    loss.backward()

    t_out = twin(torch.tensor(X, dtype=torch.float64))
    target = torch.full((t_out.numel(),), 0.3, dtype=torch.float64)
    t_loss = torch.nn.functional.mse_loss(t_out.flatten(), target)
    t_loss.backward()

    assert [v.data for v in flat] == pytest.approx(t_out.flatten().tolist(), abs=1e-9)
    assert loss.data == pytest.approx(t_loss.item(), abs=1e-9)
    params = model.parameters()
    assert sum(p.grad != 0.0 for p in params) > len(params) // 2  # not trivially all zero
    linears = [m for m in twin if isinstance(m, torch.nn.Linear)]
    for layer, linear in zip(model.layers, linears):
        for j, neuron in enumerate(layer.neurons):
            t_grad = linear.weight.grad[j].tolist()
            assert [w.grad for w in neuron.w] == pytest.approx(t_grad, abs=1e-9)
            assert neuron.b.grad == pytest.approx(linear.bias.grad[j].item(), abs=1e-9)


def test_mlp_matches_micrograd_itself_from_same_weights():
    micrograd_nn = pytest.importorskip("micrograd.nn")
    micrograd_engine = pytest.importorskip("micrograd.engine")
    random.seed(5)
    reference = micrograd_nn.MLP(2, [16, 16, 1])
    ours = MLP(2, [16, 16, 1])
    ours.load_state_dict(
        {
            f"layers.{i}.neurons.{j}.{k}": [w.data for w in n.w] if k == "w" else float(n.b.data)
            for i, layer in enumerate(reference.layers)
            for j, n in enumerate(layer.neurons)
            for k in ("w", "b")
        }
    )
    x = [0.3, -1.2]
    ref_out = reference(list(map(micrograd_engine.Value, x)))
    out = ours(x)
    ref_out.backward()
    out.backward()
    assert out.data == pytest.approx(ref_out.data, abs=1e-12)
    for p, q in zip(ours.parameters(), reference.parameters()):
        assert p.grad == pytest.approx(q.grad, abs=1e-12)


# --- to_torch: the exported module is the same function, weight for weight ----------


@pytest.mark.parametrize(
    "make",
    [
        lambda: Neuron(3, activation="tanh", seed=1),
        lambda: Layer(3, 4, activation="sigmoid", seed=2),
        lambda: Layer(3, 1, nonlin=False, seed=3),
        lambda: MLP(3, [5, 4, 2], activation="leaky_relu", seed=4),
        lambda: MLP(3, [4, 1], seed=5),
        lambda: Sequential(Layer(3, 4, nonlin=False, seed=6), Tanh(), Layer(4, 2, seed=7), ReLU()),
        lambda: Sequential(Layer(3, 2, nonlin=False, seed=8), Sigmoid(), LeakyReLU(0.2)),
    ],
    ids=["neuron", "layer", "layer-1", "mlp", "mlp-1", "sequential", "activations"],
)
def test_to_torch_gives_the_same_function_and_gradients(make):
    pytest.importorskip("torch")
    from tests.nn.torch_oracle import assert_matches_torch

    module = make()
    bias_rng = random.Random(9)
    for p in module.parameters():
        p.data += bias_rng.uniform(-0.3, 0.3)  # nonzero biases, no ReLU exactly at 0
    assert_matches_torch(module, [0.7, -1.3, 0.4])


def test_to_torch_refuses_what_has_no_torch_counterpart():
    pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"step 1 \(<lambda>\) is a plain function.*nn.ReLU"):
        Sequential(Layer(2, 2), lambda xs: xs).to_torch()
    layer = Layer(2, 2)
    layer.neurons[1].activation = "tanh"
    with pytest.raises(ValueError, match="mix activations"):
        layer.to_torch()


# --- NumPy arrays and wrong inputs --------------------------------------------------------


def test_numpy_input_gives_the_same_results_as_lists():
    X, _ = make_moons(40, noise=0.1, seed=0)
    Xn = np.array(X)
    model = MLP(2, [6, 2], seed=0)
    # Calls: one sample as an array (float32, int64), a 0-d array for one input.
    assert model(Xn[0]).__len__() == 2
    assert [v.data for v in model(Xn[0].astype(np.float32))] == [
        v.data for v in model([float(np.float32(v)) for v in X[0]])
    ]
    assert [v.data for v in model(np.array([1, 2]))] == [v.data for v in model([1.0, 2.0])]
    assert MLP(1, [1], seed=0)(np.array(3.0)).data == MLP(1, [1], seed=0)(3.0).data
    assert Neuron(2, seed=0)(np.array([1.0, 2.0])).data == Neuron(2, seed=0)([1.0, 2.0]).data
    assert [v.data for v in Layer(2, 3, seed=0)(Xn[1])] == [
        v.data for v in Layer(2, 3, seed=0)(X[1])
    ]
    net = Sequential(Layer(2, 3, seed=0), Layer(3, 1, seed=1))
    assert net(Xn[2]).data == net(X[2]).data


def test_activation_modules_take_numpy_arrays_whatever_the_nesting():
    assert [[v.data for v in row] for row in ReLU()(np.array([[1.0, -2.0], [0.0, 3.0]]))] == [
        [1.0, 0.0],
        [0.0, 3.0],
    ]
    assert [v.data for v in LeakyReLU(0.5)(np.array([-2.0, 2.0]))] == [-1.0, 2.0]


def test_wrong_inputs_to_a_layer_name_the_layer():
    model = MLP(2, [3, 1], seed=0)
    for bad, message in (
        (np.zeros(3), "Layer expects 2 inputs, got 3"),
        (np.zeros((2, 2)), "Layer expects x[i] to hold numbers or Values, got list"),
        ("ab", "Layer expects a list of 2 inputs (or a NumPy array), got str 'ab'"),
        (None, "Layer expects a list of 2 inputs (or a NumPy array), got NoneType None"),
        ([1.0, "2"], "Layer expects x[i] to hold numbers or Values, got str '2'"),
    ):
        with pytest.raises(ValueError) as info:
            model(bad)
        assert message in one_line(info.value)
    with pytest.raises(ValueError, match="Neuron expects 2 inputs, got 3"):
        Neuron(2)([1.0, 2.0, 3.0])
