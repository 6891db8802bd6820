"""State dicts (state_dict.py): exact round trips, copies, mismatches refused, nothing changed."""

from __future__ import annotations

import pytest

from chaingrad.nn import MLP, Neuron, StateDictError
from tests.helpers import snapshot

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


def test_huge_numbers_in_a_state_dict_are_clear_errors():
    model = Neuron(2, seed=0)
    before = snapshot(model)
    for huge in (10**400, -(10**5000)):
        with pytest.raises(StateDictError, match=r"'w.0' is too large for a float: an integer"):
            model.load_state_dict({"w": [huge, 1.0], "b": 0.0})
    assert snapshot(model) == before
    model.load_state_dict({"w": [10**300, 1], "b": 0})  # large, but a float: fine
    assert model.w[0].data == 1e300
