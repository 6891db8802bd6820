"""jit(..., optimizer=opt): a fused step leaves Values and optimizer exactly as the eager step."""

from __future__ import annotations

import math
import random

import pytest

from chaingrad import Value, jit
from chaingrad.nn import MLP
from chaingrad.nn import functional as F
from chaingrad.nn.optim import SGD, Adam, AdamW, LinearLR

from .helpers import close

pytest.importorskip("numpy")

OPTIMIZERS = {
    "sgd": lambda ps: SGD(ps, lr=0.1),
    "momentum": lambda ps: SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "nesterov": lambda ps: SGD(ps, lr=0.05, momentum=0.8, nesterov=True),
    "adam": lambda ps: Adam(ps, lr=0.01, weight_decay=1e-3),
    "adamw": lambda ps: AdamW(ps, lr=0.01),
}


def _data(seed):
    rng = random.Random(seed)
    return [
        (
            [[rng.gauss(0, 1) for _ in range(4)] for _ in range(6)],
            [rng.randrange(3) for _ in range(6)],
        )
        for _ in range(5)
    ]


def _pair():
    return MLP(4, [6, 3], seed=0), MLP(4, [6, 3], seed=0)


def _loss_for(model):
    return lambda X, y: F.cross_entropy([model(x) for x in X], y)


def _assert_same(a, b, opt_a, opt_b):
    for p, q in zip(a.parameters(), b.parameters()):
        assert close(p.data, q.data), (p.data, q.data)
        assert close(p.grad, q.grad), (p.grad, q.grad)
    assert opt_a.steps == opt_b.steps
    for name in ("velocity", "m", "v"):
        if hasattr(opt_a, name):
            assert all(close(x, y) for x, y in zip(getattr(opt_a, name), getattr(opt_b, name)))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_fused_steps_equal_eager_steps(name):
    fused_model, eager_model = _pair()
    fused_opt = OPTIMIZERS[name](fused_model)
    eager_opt = OPTIMIZERS[name](eager_model)
    step = jit(_loss_for(fused_model), params=fused_model, optimizer=fused_opt, backend="numpy")
    eager_loss = _loss_for(eager_model)
    for X, y in _data(1):
        loss = step(X, y)
        eager_opt.zero_grad()
        expected = eager_loss(X, y)
        expected.backward()
        eager_opt.step()
        assert close(loss, expected.data)
        _assert_same(fused_model, eager_model, fused_opt, eager_opt)


@pytest.mark.parametrize("sync", [True, False])
def test_values_read_after_steps_are_current_without_sync(sync):
    fused_model, eager_model = _pair()
    fused_opt, eager_opt = Adam(fused_model, lr=0.01), Adam(eager_model, lr=0.01)
    step = jit(_loss_for(fused_model), params=fused_model, optimizer=fused_opt, sync=sync)
    for X, y in _data(3):
        step(X, y)
        eager_opt.zero_grad()
        _loss_for(eager_model)(X, y).backward()
        eager_opt.step()
    _assert_same(fused_model, eager_model, fused_opt, eager_opt)  # no sync() called


def test_edits_between_calls_and_schedules_are_seen():
    fused_model, eager_model = _pair()
    fused_opt, eager_opt = (
        SGD(fused_model, lr=0.5, momentum=0.5),
        SGD(eager_model, lr=0.5, momentum=0.5),
    )
    fused_sched = LinearLR(fused_opt, 1.0, 0.1, 5)
    eager_sched = LinearLR(eager_opt, 1.0, 0.1, 5)
    step = jit(_loss_for(fused_model), params=fused_model, optimizer=fused_opt)
    for k, (X, y) in enumerate(_data(3)):
        if k == 2:  # the user edits a weight and steps the optimizer eagerly once in between
            for model, opt in ((fused_model, fused_opt), (eager_model, eager_opt)):
                model.layers[0].neurons[0].w[0].data = 0.25
                opt.zero_grad()
                _loss_for(model)(X, y).backward()
                opt.step()
        step(X, y)
        fused_sched.step()
        eager_opt.zero_grad()
        _loss_for(eager_model)(X, y).backward()
        eager_opt.step()
        eager_sched.step()
        _assert_same(fused_model, eager_model, fused_opt, eager_opt)


def test_captured_values_outside_the_optimizer_accumulate_their_gradient():
    w, scale = Value(1.0), Value(2.0)
    opt = SGD([w], lr=0.1)
    step = jit(lambda x: (w * x * scale) ** 2, optimizer=opt, backend="numpy")
    step(1.0)
    step(1.0)
    # d/dscale of (w x scale)^2 is 2 (w x scale) w x: 4 at w = 1, then 0.16 at w = 0.2
    assert close(scale.grad, 4.0 + 0.16)
    assert close(w.data, 1.0 - 0.1 * 8.0 - 0.1 * 1.6)


def test_an_optimizer_is_fused_through_its_rule_and_other_ones_run_unfused():
    from chaingrad.nn.optim import Optimizer

    class HalfStep(SGD):  # a new rule: fused, with the same numbers as its step()
        def rule(self, sqrt=math.sqrt):
            lr = self.lr
            return lambda p, g: p - 0.5 * lr * g

    class OwnStep(SGD):  # its own step(): jit calls it after each replay, unfused
        def step(self):
            self.steps += 1
            for p in self.params:
                p.data -= 2 * self.lr * p.grad

    for kind, fused in ((HalfStep, True), (OwnStep, False)):
        w, v = Value(1.0), Value(1.0)
        opt, eager_opt = kind([w], lr=0.1), kind([v], lr=0.1)
        step = jit(lambda x, w=w: w * w * x, params=[w], optimizer=opt, backend="numpy")
        assert (step._fused is not None) is fused
        for x in (2.0, -1.0, 3.0):
            step(x)
            eager_opt.zero_grad()
            (v * v * x).backward()
            eager_opt.step()
            assert w.data == v.data and w.grad == v.grad
    with pytest.raises(TypeError, match="optimizer must be an optimizer"):
        jit(lambda x: w * x, optimizer=object())
    from chaingrad.compiled.fused import FusedUpdate

    with pytest.raises(TypeError, match="has none"):
        FusedUpdate(OwnStep([w], lr=0.1), sync=True)
    opt = SGD([w], lr=0.1)
    w.data = 1.0
    step = jit(lambda x: w * x, params=[w], optimizer=opt, backend="python")
    step(2.0)
    assert w.data == 1.0 - 0.1 * 2.0 and w.grad == 2.0 and isinstance(opt, Optimizer)


def test_after_sync_the_values_are_in_charge_again():
    fused_model, eager_model = _pair()
    fused_opt, eager_opt = SGD(fused_model, lr=0.1), SGD(eager_model, lr=0.1)
    step = jit(_loss_for(fused_model), params=fused_model, optimizer=fused_opt, sync=False)
    for k, (X, y) in enumerate(_data(4)):
        step(X, y)
        eager_opt.zero_grad()
        _loss_for(eager_model)(X, y).backward()
        eager_opt.step()
        step.sync()
        for model in (fused_model, eager_model):  # an edit between steps, after sync()
            model.layers[1].neurons[0].b.data = 0.1 * k
    step.sync()
    _assert_same(fused_model, eager_model, fused_opt, eager_opt)


@pytest.mark.parametrize("sync", [True, False])
def test_edits_of_the_optimizers_state_between_calls_are_taken_in(sync):
    from chaingrad.nn.optim import Adam

    w, v = Value(1.0), Value(1.0)
    fused_opt, eager_opt = Adam([w], lr=0.1), Adam([v], lr=0.1)
    step = jit(lambda x: (w * x) ** 2, params=[w], optimizer=fused_opt, sync=sync)
    for k in range(6):
        step(1.0 + k)
        eager_opt.zero_grad()
        ((v * (1.0 + k)) ** 2).backward()
        eager_opt.step()
        step.sync()
        if k == 1:  # a warm restart: fresh moments, the step count kept
            fused_opt.m, fused_opt.v = [0.0], [0.0]
            eager_opt.m, eager_opt.v = [0.0], [0.0]
        if k == 3:  # an edit in place
            fused_opt.v[0] = eager_opt.v[0] = 0.5
        if k == 4:  # a parameter added to the optimizer
            fused_opt.params.append(Value(0.0))
            eager_opt.params.append(Value(0.0))
            for opt in (fused_opt, eager_opt):
                opt.m.append(0.0)
                opt.v.append(0.0)
        assert w.data == v.data and fused_opt.m[0] == eager_opt.m[0], k
