"""A fused step lends the parameters to its arrays: every read or write of them hands back."""

from __future__ import annotations

import copy
import io
import pickle
import threading

import pytest

from chaingrad import Value, jit, no_grad
from chaingrad.nn import MLP
from chaingrad.nn import functional as F
from chaingrad.nn.optim import SGD, Adam

from .helpers import close
from .test_fused import _assert_same, _data, _loss_for, _pair

pytest.importorskip("numpy")


def _trained(steps=3, make=lambda ps: Adam(ps, lr=0.01)):
    """A fused model and an eager twin after the same steps (nothing read in between)."""
    fused_model, eager_model = _pair()
    fused_opt, eager_opt = make(fused_model), make(eager_model)
    step = jit(_loss_for(fused_model), params=fused_model, optimizer=fused_opt, backend="numpy")
    for X, y in _data(7)[:steps]:
        step(X, y)
        eager_opt.zero_grad()
        _loss_for(eager_model)(X, y).backward()
        eager_opt.step()
    return fused_model, eager_model, fused_opt, eager_opt, step


def test_between_steps_the_parameters_are_lent_and_one_read_hands_all_back():
    fused_model, eager_model, fused_opt, eager_opt, _ = _trained()
    params = fused_model.parameters()
    assert all(type(p) is not Value for p in params)  # lent: nothing was written back
    assert all(isinstance(p, Value) and type(p).__name__ == "Value" for p in params)
    q = eager_model.parameters()[5]
    assert close(params[5].grad, q.grad)  # a read of one parameter's grad ...
    assert all(type(p) is Value for p in params)  # ... hands every one back
    _assert_same(fused_model, eager_model, fused_opt, eager_opt)


@pytest.mark.parametrize(
    "read",
    [
        lambda m, opt: [p.data for p in m.parameters()],
        lambda m, opt: [p._data for p in m.parameters()],
        lambda m, opt: m.state_dict(),
        lambda m, opt: repr(m.parameters()[0]),
        lambda m, opt: opt.m,
        lambda m, opt: pickle.loads(pickle.dumps(m)),
        lambda m, opt: copy.deepcopy(m),
        lambda m, opt: copy.copy(m.parameters()[0]),
        lambda m, opt: pickle.loads(pickle.dumps(opt)),
    ],
    ids=[
        "data",
        "_data",
        "state_dict",
        "repr",
        "adam_m",
        "pickle",
        "deepcopy",
        "copy",
        "pickle_opt",
    ],
)
def test_every_way_of_looking_sees_the_current_numbers(read):
    fused_model, eager_model, fused_opt, eager_opt, _ = _trained()
    got = read(fused_model, fused_opt)
    want = read(eager_model, eager_opt)
    if isinstance(got, list) and got and isinstance(got[0], float):
        assert all(close(a, b) for a, b in zip(got, want))
    elif isinstance(got, MLP):  # a copy: its own numbers, with plain Values
        assert all(type(p) is Value for p in got.parameters())
        for p, q in zip(got.parameters(), eager_model.parameters()):
            assert close(p.data, q.data) and close(p.grad, q.grad)
    elif isinstance(got, Value):
        assert type(got) is Value and close(got.data, fused_model.parameters()[0].data)
    elif isinstance(got, Adam):
        assert type(got) is Adam and all(close(a, b) for a, b in zip(got.v, eager_opt.v))
    elif isinstance(got, dict):
        flat = [x for v in got.values() for x in (v if isinstance(v, list) else [v])]
        flat_want = [x for v in want.values() for x in (v if isinstance(v, list) else [v])]
        assert all(close(a, b) for a, b in zip(flat, flat_want))
    else:  # repr: the current number (to rounding: fused and eager may differ in the last bit)
        number = float(got.split("data=")[1].split(",")[0])
        assert close(number, float(want.split("data=")[1].split(",")[0]))
    _assert_same(fused_model, eager_model, fused_opt, eager_opt)


def test_a_loss_graph_over_lent_parameters_deepcopies_with_plain_leaves():
    fused_model, eager_model, *_ = _trained()
    x = [Value(0.5), Value(-1.0), Value(0.25), Value(2.0)]
    loss = sum(fused_model(x)) * 1.0  # an eager forward pass reads the weights
    copied = copy.deepcopy(loss)
    want = sum(eager_model(x)) * 1.0
    assert close(copied.data, want.data)
    stack, seen = [copied], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        assert type(node).__name__ in ("Value", "Constant") and "lent" not in type(node).__dict__
        stack.extend(node.parents)


def test_an_eager_forward_pass_sees_the_trained_weights():
    fused_model, eager_model, *_ = _trained()
    x = [0.3, -0.2, 1.5, 0.0]
    with no_grad():
        got = [v.data for v in fused_model(x)]
        want = [v.data for v in eager_model(x)]
    assert all(close(a, b) for a, b in zip(got, want))


@pytest.mark.parametrize("what", ["data", "grad"])
def test_a_write_while_lent_is_kept_and_read_by_the_next_step(what):
    fused_model, eager_model, fused_opt, eager_opt, step = _trained(2)
    for model in (fused_model, eager_model):
        setattr(model.parameters()[3], what, 0.125)  # hands back, then writes
    for model in (fused_model, eager_model):
        assert getattr(model.parameters()[3], what) == 0.125
    X, y = _data(7)[2]
    step(X, y)
    eager_opt.zero_grad()
    _loss_for(eager_model)(X, y).backward()
    eager_opt.step()
    _assert_same(fused_model, eager_model, fused_opt, eager_opt)


def test_replacing_the_optimizers_state_while_lent_is_taken_in():
    fused_model, eager_model, fused_opt, eager_opt, step = _trained(2)
    for opt in (fused_opt, eager_opt):
        opt.m = [0.0] * len(opt.params)  # reset the first moment
    for X, y in _data(7)[2:4]:
        step(X, y)
        eager_opt.zero_grad()
        _loss_for(eager_model)(X, y).backward()
        eager_opt.step()
    _assert_same(fused_model, eager_model, fused_opt, eager_opt)


def test_two_fused_steps_sharing_an_optimizer_interleave_like_eager():
    fused_model, eager_model = _pair()
    fused_opt = SGD(fused_model, lr=0.1, momentum=0.9)
    eager_opt = SGD(eager_model, lr=0.1, momentum=0.9)
    loss_a = _loss_for(fused_model)

    def loss_b(X, y):
        return F.cross_entropy([fused_model(x) for x in X], y) * 2.0

    step_a = jit(loss_a, params=fused_model, optimizer=fused_opt, backend="numpy")
    step_b = jit(loss_b, params=fused_model, optimizer=fused_opt, backend="numpy")
    for k, (X, y) in enumerate(_data(3)):
        (step_a if k % 2 == 0 else step_b)(X, y)
        eager_opt.zero_grad()
        loss = F.cross_entropy([eager_model(x) for x in X], y) * (1.0 if k % 2 == 0 else 2.0)
        loss.backward()
        eager_opt.step()
    _assert_same(fused_model, eager_model, fused_opt, eager_opt)


def test_a_parameter_dropped_from_the_optimizer_while_lent_is_still_readable():
    _, _, fused_opt, eager_opt, _ = _trained(2, lambda ps: SGD(ps, lr=0.1))
    dropped = fused_opt.params[0]
    fused_opt.params = fused_opt.params[1:]  # a new list: the next step rebuilds its arrays
    assert close(dropped.data, eager_opt.params[0].data)
    assert type(dropped) is Value


def test_the_default_step_is_no_slower_than_sync_false():
    # Not a timing: the default must not write anything back between unread steps.
    fused_model, _, _, _, step = _trained(1)
    writes = []
    fused = step._fused
    original = fused.write_back
    fused.write_back = lambda: (writes.append(1), original())[1]
    for X, y in _data(8):
        step(X, y)
    assert writes == []  # five steps, nothing read: no write-back
    fused_model.parameters()[0].data  # noqa: B018 -- a read
    assert writes == [1]


def test_a_read_from_another_thread_waits_for_the_step():
    fused_model, eager_model, fused_opt, eager_opt, step = _trained(1)
    seen = []

    def reader():
        for _ in range(200):
            seen.append(fused_model.parameters()[0].data)

    thread = threading.Thread(target=reader)
    thread.start()
    for X, y in _data(9):
        step(X, y)
        eager_opt.zero_grad()
        _loss_for(eager_model)(X, y).backward()
        eager_opt.step()
    thread.join(timeout=30)
    assert not thread.is_alive()
    _assert_same(fused_model, eager_model, fused_opt, eager_opt)
    assert all(isinstance(x, float) for x in seen)


def test_save_while_lent_writes_the_current_weights(tmp_path):
    fused_model, eager_model, *_ = _trained()
    path = tmp_path / "m.json"
    fused_model.save(path)
    loaded = MLP(4, [6, 3], seed=1).load(path)
    for p, q in zip(loaded.parameters(), eager_model.parameters()):
        assert close(p.data, q.data)
    buffer = io.StringIO()
    print(fused_model.parameters()[1], file=buffer)
    assert "Value(data=" in buffer.getvalue()


@pytest.mark.parametrize("backend", ["python", "numpy"])
@pytest.mark.parametrize("fused", [True, False])
def test_after_every_step_the_values_hold_eagers_numbers(backend, fused):
    """With and without the fused update: p.data and p.grad read after each call are current."""
    compiled_model, eager_model = _pair()
    compiled_opt, eager_opt = Adam(compiled_model, lr=0.02), Adam(eager_model, lr=0.02)
    loss_fn = _loss_for(compiled_model)
    if fused:
        step = jit(loss_fn, params=compiled_model, optimizer=compiled_opt, backend=backend)
    else:
        plain = jit(loss_fn, params=compiled_model, backend=backend)

        def step(X, y):
            compiled_opt.zero_grad()
            loss = plain(X, y)
            compiled_opt.step()
            return loss

    for X, y in _data(11):
        step(X, y)
        eager_opt.zero_grad()
        _loss_for(eager_model)(X, y).backward()
        eager_opt.step()
        _assert_same(compiled_model, eager_model, compiled_opt, eager_opt)
