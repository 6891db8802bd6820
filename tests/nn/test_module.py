"""Module: parameter discovery, names, modes, repr, state dicts, and JSON save/load."""

from __future__ import annotations

import json
import math
import os
import pickle

import pytest

from chaingrad import Value
from chaingrad.engine.scopes import record_scopes
from chaingrad.nn import MLP, Dropout, Layer, Module, Neuron, Sequential, StateDictError
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


# --- state dicts ----------------------------------------------------------------------


def test_state_dict_round_trip_is_exact_and_keeps_value_objects():
    a = MLP(3, [4, 2], seed=1)
    b = MLP(3, [4, 2], seed=2)
    before = b.parameters()
    b.load_state_dict(a.state_dict())
    assert snapshot(a) == snapshot(b)
    assert all(x is y for x, y in zip(before, b.parameters()))  # optimizers keep working


def test_state_dict_is_a_copy():
    model = Neuron(2, seed=0)
    state = model.state_dict()
    state["w"][0] = 123.0
    assert model.w[0].data != 123.0


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s.pop("layers.0.neurons.0.b"), "missing 'layers.0.neurons.0.b'"),
        (lambda s: s.update({"layers.9.neurons.0.b": 1.0}), "unexpected 'layers.9.neurons.0.b'"),
        (
            lambda s: s.update({"layers.1.neurons.0.w": [1.0, 2.0]}),
            "'layers.1.neurons.0.w' should be a list of 3 numbers, got a list of 2 items",
        ),
        (
            lambda s: s.update({"layers.0.neurons.0.b": [0.0]}),
            "'layers.0.neurons.0.b' should be a number, got a list of 1 items",
        ),
        (
            lambda s: s.update({"layers.1.neurons.0.w": [1.0, "2", 3.0]}),
            "'layers.1.neurons.0.w.1' should be a number, got str '2'",
        ),
        (
            lambda s: s.update({"layers.1.neurons.0.b": True}),
            "should be a number, got bool True",
        ),
        (lambda s: s.update({"layers.1.neurons.0.b": None}), "got NoneType None"),
    ],
)
def test_mismatched_state_dict_is_a_clear_error_and_changes_nothing(mutate, message):
    model = MLP(2, [3, 1], seed=0)
    state = MLP(2, [3, 1], seed=5).state_dict()
    mutate(state)
    before = snapshot(model)
    with pytest.raises(StateDictError, match=__import__("re").escape(message)):
        model.load_state_dict(state)
    assert snapshot(model) == before


def test_error_in_last_entry_leaves_earlier_entries_untouched():
    # Validation happens before any assignment: a bad *last* entry must not leave
    # the first entries already overwritten.
    model = MLP(2, [3, 1], seed=0)
    state = MLP(2, [3, 1], seed=5).state_dict()
    state["layers.1.neurons.0.b"] = "oops"
    before = snapshot(model)
    with pytest.raises(StateDictError):
        model.load_state_dict(state)
    assert snapshot(model) == before


def test_load_state_dict_rejects_non_mapping():
    with pytest.raises(StateDictError, match="must be a mapping"):
        Neuron(2).load_state_dict([1.0, 2.0, 3.0])


def test_hostile_deep_nesting_is_an_error_not_a_crash():
    model = Neuron(2, seed=0)
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(StateDictError):
        model.load_state_dict({"w": [deep, 1.0], "b": 0.0})


# --- files ------------------------------------------------------------------------------


def test_save_load_round_trip_is_exact(tmp_path):
    model = MLP(2, [5, 3], seed=3)
    # Awkward floats: repr round trip must be bit-exact.
    model.layers[0].neurons[0].w[0].data = 0.1 + 0.2
    model.layers[0].neurons[0].w[1].data = 5e-324
    model.layers[0].neurons[1].w[0].data = -1.7976931348623157e308
    path = tmp_path / "model.json"
    model.save(path)
    other = MLP(2, [5, 3], seed=4)
    assert other.load(path) is other
    assert snapshot(other) == snapshot(model)
    document = json.loads(path.read_text())
    assert document["format"] == "chaingrad.state_dict"
    assert document["version"] == 1
    assert document["model"] == "MLP"


def test_nan_and_infinity_round_trip(tmp_path):
    model = Neuron(3, seed=0)
    model.w[0].data = math.nan
    model.w[1].data = math.inf
    model.w[2].data = -math.inf
    model.save(tmp_path / "m.json")
    other = Neuron(3, seed=1).load(tmp_path / "m.json")
    assert math.isnan(other.w[0].data)
    assert other.w[1].data == math.inf and other.w[2].data == -math.inf


def test_save_accepts_str_paths_and_leaves_no_temp_files(tmp_path):
    Neuron(2).save(str(tmp_path / "n.json"))
    assert sorted(os.listdir(tmp_path)) == ["n.json"]


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    model = MLP(2, [3, 1], seed=0)
    model.save(path)
    original = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    model.layers[0].neurons[0].b.data = 42.0
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert sorted(os.listdir(tmp_path)) == ["model.json"]  # temp file cleaned up


def test_save_into_missing_folder_fails_cleanly(tmp_path):
    with pytest.raises(FileNotFoundError):
        Neuron(2).save(tmp_path / "no" / "such" / "dir.json")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"  \n", "the file is empty"),
        (b"{not json", "not a chaingrad model file"),
        (b"\xff\xfe\x00garbage", "not a chaingrad model file"),
        (b"[1, 2, 3]", 'no "format"'),
        (b'{"format": "something-else", "version": 1, "state": {}}', 'no "format"'),
        (b'{"format": "chaingrad.state_dict", "version": 99, "state": {}}', "version 99"),
        (b'{"format": "chaingrad.state_dict", "version": 1}', 'has no "state"'),
        (b'{"format": "chaingrad.state_dict", "version": 1, "state": {"w": [1]}}', "missing"),
        (b"[" * 100_000 + b"]" * 100_000, "not a chaingrad model file"),
    ],
)
def test_bad_files_are_clear_errors_and_change_nothing(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    model = MLP(2, [3, 1], seed=0)
    before = snapshot(model)
    with pytest.raises(StateDictError, match=message) as info:
        model.load(path)
    assert str(path) in str(info.value)
    assert snapshot(model) == before


def test_file_for_another_architecture_is_rejected(tmp_path):
    path = tmp_path / "big.json"
    MLP(2, [16, 16, 1]).save(path)
    small = MLP(2, [8, 1])
    before = snapshot(small)
    with pytest.raises(StateDictError, match=r"should be a list of 2 numbers|missing|unexpected"):
        small.load(path)
    assert snapshot(small) == before


def test_pickle_file_is_rejected_without_running_it(tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    path = tmp_path / "evil.json"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(StateDictError):
        Neuron(2).load(path)
    assert not (tmp_path / "pwned").exists()


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        Neuron(2).load(tmp_path / "nope.json")
