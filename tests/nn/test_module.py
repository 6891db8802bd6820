"""Module (module.py): parameter discovery, names, modes, repr, pickling; hidden parameters."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

from chaingrad import Value
from chaingrad.engine.scopes import record_scopes
from chaingrad.nn import MLP, Dropout, Layer, Module, Neuron, ReLU, Sequential
from tests.helpers import snapshot


class Affine(Module):
    """A user module written the PyTorch way: Values and lists of Values as attributes."""

    def __init__(self) -> None:
        self.scale = Value(2.0)
        self.matrix = [[Value(1.0), Value(2.0)], [Value(3.0), Value(4.0)]]
        self._cache = Value(99.0)  # private: not a parameter
        self.name = "affine"  # not a Value: ignored

    def forward(self, x):
        return [self.scale * (row[0] * x[0] + row[1] * x[1]) for row in self.matrix]


# --- parameters and names ---------------------------------------------------------


def test_mlp_parameter_count_and_order_match_micrograd_layout():
    model = MLP(2, [16, 16, 1])
    params = model.parameters()
    assert len(params) == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1 == 337
    assert len(set(params)) == 337
    # micrograd's order: layer by layer, neuron by neuron, weights then bias.
    first = model.layers[0].neurons[0]
    assert params[:3] == [*first.w, first.b]
    assert params[-1] is model.layers[2].neurons[0].b


def test_named_parameters_are_dotted_paths():
    model = MLP(2, [3, 1])
    names = [name for name, _ in model.named_parameters()]
    assert names[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert names[-1] == "layers.1.neurons.0.b"
    assert len(names) == len(set(names)) == model.num_parameters()
    named = dict(model.named_parameters())
    assert named["layers.1.neurons.0.w.2"] is model.layers[1].neurons[0].w[2]


def test_named_modules_root_first_with_names_viz_uses():
    model = MLP(2, [2, 1])
    names = [name for name, _ in model.named_modules()]
    assert names == [
        "",
        "layers.0",
        "layers.0.neurons.0",
        "layers.0.neurons.1",
        "layers.1",
        "layers.1.neurons.0",
    ]
    modules = dict(model.named_modules())
    assert modules[""] is model
    assert modules["layers.0.neurons.1"] is model.layers[0].neurons[1]


def test_user_module_finds_values_nested_lists_and_skips_private():
    m = Affine()
    assert [n for n, _ in m.named_parameters()] == [
        "scale",
        "matrix.0.0",
        "matrix.0.1",
        "matrix.1.0",
        "matrix.1.1",
    ]
    assert m.state_dict() == {"scale": 2.0, "matrix": [[1.0, 2.0], [3.0, 4.0]]}
    out = m([1.0, 1.0])
    assert [v.data for v in out] == [6.0, 14.0]


def test_shared_parameter_is_listed_once():
    shared = Neuron(2, seed=0)
    net = Sequential(shared, shared)
    assert len(net.parameters()) == 3
    assert [name for name, _ in net.named_modules()] == ["", "steps.0"]


def test_zero_grad_resets_every_parameter():
    model = MLP(2, [4, 1], seed=0)
    model([1.0, -2.0]).backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 and type(p.grad) is float for p in model.parameters())


def test_train_eval_propagate_to_submodules():
    net = Sequential(Layer(2, 2, seed=0), Dropout(0.5))
    assert net.eval() is net
    assert all(not m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module must implement forward"):
        Module()(1.0)


def test_repr_is_readable():
    text = repr(MLP(2, [16, 16, 1]))
    assert text.splitlines()[0] == "MLP(2 -> [16, 16, 1], 337 parameters,"
    assert "(layers.2): Layer(16 -> 1, activation='linear', init='uniform')" in text
    assert repr(Neuron(3, nonlin=False)) == "Neuron(3, activation='linear')"
    assert repr(Dropout(0.25)) == "Dropout(p=0.25)"


def test_call_routes_through_scope_recorder():
    model = MLP(2, [2, 1], seed=0)
    with record_scopes() as recorder:
        out = model([1.0, 2.0])
    scope = recorder.scope_of(out)
    assert scope == (model, model.layers[1], model.layers[1].neurons[0])
    # Outside a recorder nothing is recorded and the result is the same.
    assert model([1.0, 2.0]).data == out.data


# --- parameters the user cannot see -----------------------------------------------------------


class Hidden(Module):
    """Parameters in every place a user might put them."""

    def __init__(self) -> None:
        self.table = {"scale": Value(2.0), "shift": [Value(0.5), Value(-0.5)]}
        self.mixed = [Value(1.0), 3.0, "note", Neuron(1, seed=0), None]
        self.blocks = [[Layer(1, 1, seed=1)], [Layer(1, 1, seed=2)]]  # a list of lists of modules
        self.heads = {"a": Neuron(1, seed=3), "b": Neuron(1, seed=4)}
        self.config = {1: "int keys are fine when they hold no parameters", "lr": 0.1}
        self.loop: list = [Value(9.0)]
        self.loop.append(self.loop)  # a list holding itself

    def forward(self, x):
        return self.table["scale"] * x


def test_parameters_in_dicts_mixed_lists_and_nested_lists_are_found_and_named():
    model = Hidden()
    names = [name for name, _ in model.named_parameters()]
    assert names == [
        "table.scale",
        "table.shift.0",
        "table.shift.1",
        "mixed.0",
        "loop.0",  # the module's own parameters first, then its submodules' (as torch)
        "mixed.3.w.0",
        "mixed.3.b",
        "blocks.0.0.neurons.0.w.0",
        "blocks.0.0.neurons.0.b",
        "blocks.1.0.neurons.0.w.0",
        "blocks.1.0.neurons.0.b",
        "heads.a.w.0",
        "heads.a.b",
        "heads.b.w.0",
        "heads.b.b",
    ]
    assert model.num_parameters() == 15
    assert "blocks.1.0" in dict(model.named_modules())


def test_hidden_parameters_are_trained_and_saved(tmp_path):
    from chaingrad.nn.optim import SGD

    model = Hidden()
    opt = SGD(model, lr=0.1)
    loss = model(3.0) + model.table["shift"][0] * model.mixed[0]
    loss.backward()
    opt.step()
    assert model.table["scale"].data == pytest.approx(2.0 - 0.3)
    assert model.mixed[0].data == pytest.approx(1.0 - 0.05)
    model.save(tmp_path / "h.json")
    other = Hidden()
    other.load(tmp_path / "h.json")
    assert snapshot(other) == snapshot(model)
    state = json.loads((tmp_path / "h.json").read_text())["state"]
    assert state["table.shift"] == [model.table["shift"][0].data, -0.5] != [0.5, -0.5]
    assert state["mixed.0"] == model.mixed[0].data


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        ({3: Value(1.0)}, "Bad.params: dict key 3 holds parameters or modules"),
        ({"a.b": [Value(1.0)]}, "dict key 'a.b' holds parameters"),
        ({"": Neuron(1)}, "dict key '' holds parameters"),
        ({Value(1.0), Value(2.0)}, "Bad.params: a set holds parameters or modules"),
        ([{"inner": frozenset({Neuron(1)})}], "Bad.params.0.inner: a set holds"),
    ],
)
def test_structures_that_cannot_name_their_parameters_are_refused(attribute, message):
    class Bad(Module):
        def __init__(self):
            self.params = attribute

    with pytest.raises(TypeError, match=message.replace(".", r"\.")):
        Bad().parameters()


# --- printing, pickling, copying --------------------------------------------------------------


def test_repr_of_a_module_that_contains_itself_or_nests_deeply():
    net = Sequential(ReLU())
    net.steps.append(net)
    assert repr(net).splitlines() == [
        "Sequential(",
        "  (steps.0): ReLU()",
        "  (steps.1): <Sequential: contains itself, shown above>",
        ")",
    ]
    deep = Sequential()
    for _ in range(3_000):  # far past the recursion limit
        deep = Sequential(deep)
    text = repr(deep)
    assert text.count("Sequential(") == 3_001 and text.endswith(")")
    assert repr(Hidden()).splitlines()[1] == "  (mixed.3): Neuron(1, activation='relu')"


def test_pickled_mlp_is_the_same_model_and_keeps_training_alike():
    from chaingrad.nn import fit
    from chaingrad.nn.data import make_moons
    from chaingrad.nn.optim import Adam

    X, y = make_moons(30, seed=0)
    model = Sequential(MLP(2, [8, 8], seed=0), Dropout(0.2, seed=1), MLP(8, [2], seed=2))
    fit(model, X, y, optimizer=Adam(model, lr=0.05), steps=3, progress=False)
    twin = pickle.loads(pickle.dumps(model))
    copied = copy.deepcopy(model)
    assert repr(twin) == repr(model)
    for other in (twin, copied):
        assert snapshot(other) == snapshot(model)
        assert not set(map(id, other.parameters())) & set(map(id, model.parameters()))
    histories = [
        fit(m, X, y, optimizer=Adam(m, lr=0.05), steps=5, progress=False).loss
        for m in (model, twin, copied)
    ]
    assert histories[0] == histories[1] == histories[2]  # same weights, same dropout stream


def test_pickling_a_model_with_its_loss_graph_keeps_them_wired():
    model = MLP(2, [4, 1], seed=0)
    loss = sum((model([x, -x]) ** 2 for x in (0.5, 1.5)), Value(0.0))
    model2, loss2 = pickle.loads(pickle.dumps((model, loss)))
    model2.zero_grad()
    loss2.backward()
    loss.backward()
    assert [p.grad for p in model2.parameters()] == [p.grad for p in model.parameters()]
