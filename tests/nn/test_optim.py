"""Optimizers and schedules follow torch.optim exactly (float64), and refuse bad settings."""

from __future__ import annotations

import math

import pytest

from chaingrad import Value
from chaingrad.nn import MLP
from chaingrad.nn.optim import (
    SGD,
    Adam,
    AdamW,
    CosineLR,
    LambdaLR,
    LinearLR,
    StepLR,
)
from tests.helpers import one_line

START = [0.5, -1.5, 2.0, 0.1]


def loss_of(ws):
    # A bumpy function with different curvature per coordinate.
    a, b, c, d = ws
    return (a * a * 3 + (b - 1) ** 2 + (c * d).tanh() + (a * c).sin() + d**4) * 0.5


def run_ours(make, steps=15):
    ws = [Value(x) for x in START]
    opt = make(ws)
    for _ in range(steps):
        opt.zero_grad()
        loss_of(ws).backward()
        opt.step()
    return [w.data for w in ws]


def run_torch(torch, make, steps=15):
    t = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    opt = make([t])
    for _ in range(steps):
        opt.zero_grad()
        a, b, c, d = t
        ((a * a * 3 + (b - 1) ** 2 + torch.tanh(c * d) + torch.sin(a * c) + d**4) * 0.5).backward()
        opt.step()
    return t.tolist()


CASES = [
    ("sgd", lambda p: SGD(p, lr=0.05), lambda o, p: o.SGD(p, lr=0.05)),
    (
        "sgd momentum wd",
        lambda p: SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
        lambda o, p: o.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
    ),
    (
        "sgd nesterov",
        lambda p: SGD(p, lr=0.05, momentum=0.8, nesterov=True),
        lambda o, p: o.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
    ),
    ("adam", lambda p: Adam(p, lr=0.05), lambda o, p: o.Adam(p, lr=0.05)),
    (
        "adam l2",
        lambda p: Adam(p, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        lambda o, p: o.Adam(p, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    ),
    (
        "adamw",
        lambda p: AdamW(p, lr=0.05, weight_decay=0.1),
        lambda o, p: o.AdamW(p, lr=0.05, weight_decay=0.1),
    ),
    (
        "adam decoupled flag",
        lambda p: Adam(p, lr=0.05, weight_decay=0.1, decoupled=True),
        lambda o, p: o.AdamW(p, lr=0.05, weight_decay=0.1),
    ),
]


@pytest.mark.parametrize(("name", "ours", "theirs"), CASES, ids=[c[0] for c in CASES])
def test_matches_torch_optim(name, ours, theirs):
    torch = pytest.importorskip("torch")
    expected = run_torch(torch, lambda p: theirs(torch.optim, p))
    got = run_ours(ours)
    assert got == pytest.approx(expected, abs=1e-12)
    assert got != pytest.approx(START, abs=1e-3)  # it moved


def test_adamw_differs_from_adam_with_l2():
    assert run_ours(lambda p: AdamW(p, lr=0.05, weight_decay=0.1)) != pytest.approx(
        run_ours(lambda p: Adam(p, lr=0.05, weight_decay=0.1)), abs=1e-6
    )


def test_plain_sgd_is_micrograds_update():
    w = Value(2.0)
    w.grad = 0.5
    SGD([w], lr=0.1).step()
    assert w.data == 2.0 - 0.1 * 0.5


def test_zero_grad_and_module_params():
    model = MLP(2, [3, 1], seed=0)
    opt = Adam(model, lr=0.01)
    assert opt.params == model.parameters()
    model([1.0, 2.0]).backward()
    opt.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SGD([], lr=0.1), "empty parameter list"),
        (lambda: SGD([1.0], lr=0.1), "params\\[0\\] must be a Value"),
        (lambda: SGD([Value(1.0)], lr=-1), "lr must be a finite number >= 0"),
        (lambda: SGD([Value(1.0)], lr="0.1"), "lr must be a finite number >= 0"),
        (lambda: SGD([Value(1.0)], lr=0.1, momentum=2), "momentum must be"),
        (lambda: SGD([Value(1.0)], lr=0.1, nesterov=True), "nesterov=True needs a momentum"),
        (lambda: Adam([Value(1.0)], betas=(0.9,)), "betas must be a pair"),
        (lambda: Adam([Value(1.0)], betas=(1.0, 0.9)), "betas must be < 1"),
        (lambda: Adam([Value(1.0)], eps=-1.0), "eps must be"),
    ],
)
def test_bad_settings_are_clear_errors(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_duplicate_parameter_refused():
    w = Value(1.0)
    with pytest.raises(ValueError, match="listed twice"):
        SGD([w, w], lr=0.1)


# --- schedules ------------------------------------------------------------------------------


def test_linear_schedule_is_micrograds_decay():
    opt = SGD([Value(0.0)], lr=1.0)
    sched = LinearLR(opt, start_factor=1.0, end_factor=0.1, total_steps=100)
    seen = []
    for _ in range(100):
        seen.append(opt.lr)
        sched.step()
    assert seen == pytest.approx([1.0 - 0.9 * k / 100 for k in range(100)], abs=1e-15)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda o: StepLR(o, step_size=3, gamma=0.5), lambda s, o: s.StepLR(o, 3, gamma=0.5)),
        (
            lambda o: LinearLR(o, 1.0, 0.2, 7),
            lambda s, o: s.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=7),
        ),
        (lambda o: CosineLR(o, 8, min_lr=0.01), lambda s, o: s.CosineAnnealingLR(o, 8, 0.01)),
        (lambda o: LambdaLR(o, lambda k: 0.9**k), lambda s, o: s.LambdaLR(o, lambda k: 0.9**k)),
    ],
)
def test_schedules_match_torch(ours, theirs):
    torch = pytest.importorskip("torch")
    t_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    t_sched = theirs(torch.optim.lr_scheduler, t_opt)
    opt = SGD([Value(0.0)], lr=0.5)
    sched = ours(opt)
    for k in range(8):
        assert opt.lr == pytest.approx(t_opt.param_groups[0]["lr"], abs=1e-12), k
        assert sched.lr_at(k) == pytest.approx(opt.lr, abs=1e-15)
        t_opt.step()
        t_sched.step()
        sched.step()


def test_schedule_validation():
    with pytest.raises(TypeError, match="needs an Optimizer"):
        StepLR("sgd", 3)
    with pytest.raises(ValueError, match="total_steps must be a positive int"):
        CosineLR(SGD([Value(0.0)], lr=1.0), 0)
    assert math.isclose(CosineLR(SGD([Value(0.0)], lr=1.0), 10).lr_at(10), 0.0, abs_tol=1e-15)


CASES_NO_DECAY = [*CASES, ("sgd decay only", lambda p: SGD(p, lr=0.05, weight_decay=0.1), None)]


@pytest.mark.parametrize(
    ("name", "make"), [(c[0], c[1]) for c in CASES_NO_DECAY], ids=[c[0] for c in CASES_NO_DECAY]
)
def test_the_rule_on_arrays_gives_steps_numbers_bit_for_bit(name, make):
    # The update is written once (rule); step() runs it per float, jit's fused update on
    # arrays of every parameter: the same operations, so exactly the same numbers.
    np = pytest.importorskip("numpy")
    ws = [Value(x) for x in START]
    opt = make(ws)
    data = np.array(START)
    state = [np.zeros(len(START)) for _ in opt.state_names]
    for _ in range(6):
        opt.zero_grad()
        loss_of(ws).backward()
        grad = np.array([w.grad for w in ws])
        opt.step()
        new = opt.rule(np.sqrt)(data, grad, *state)
        data, *state = new if opt.state_names else (new,)
        assert data.tolist() == [w.data for w in ws]
        for name_, array in zip(opt.state_names, state):
            assert np.asarray(array).tolist() == getattr(opt, name_)
    assert opt.fusable


def test_an_optimizer_is_fusable_only_when_its_step_is_its_rule():
    class Halved(SGD):
        def rule(self, sqrt=math.sqrt):
            lr = self.lr
            return lambda p, g: p - 0.5 * lr * g

    class OwnStep(SGD):
        def step(self):
            super().step()

    w = Value(1.0)
    halved = Halved([w], lr=0.2)
    w.grad = 1.0
    halved.step()
    assert w.data == 0.9 and halved.fusable
    assert not OwnStep([w], lr=0.1).fusable
    assert SGD([w], lr=0.1).state_names == () and SGD([w], lr=0.1, momentum=0.5).state_names == (
        "velocity",
    )


# --- rates and settings that are not finite or negative -----------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: SGD(p, lr=math.inf), "SGD: lr must be a finite number >= 0, got inf"),
        (lambda p: SGD(p, lr=math.nan), "SGD: lr must be a finite number >= 0, got nan"),
        (lambda p: SGD(p, lr=-0.1), "SGD: lr must be a finite number >= 0, got -0.1"),
        (lambda p: SGD(p, lr=0.1, weight_decay=math.inf), "weight_decay must be a finite"),
        (lambda p: SGD(p, lr=0.1, momentum=math.nan), "momentum must be a number in [0, 1]"),
        (lambda p: Adam(p, lr=math.inf), "Adam: lr must be a finite number >= 0, got inf"),
        (lambda p: Adam(p, eps=math.inf), "Adam: eps must be a finite number"),
        (lambda p: Adam(p, betas=(math.nan, 0.9)), "betas[0] must be a number in [0, 1]"),
        (lambda p: AdamW(p, weight_decay=-1.0), "AdamW: weight_decay must be a finite"),
        (lambda p: LinearLR(SGD(p, lr=1.0), end_factor=-0.5), "LinearLR: end_factor must be"),
        (lambda p: LinearLR(SGD(p, lr=1.0), start_factor=math.nan), "start_factor must be a"),
        (lambda p: StepLR(SGD(p, lr=1.0), 2, gamma=math.inf), "StepLR: gamma must be a finite"),
        (lambda p: CosineLR(SGD(p, lr=1.0), 10, min_lr=-1.0), "CosineLR: min_lr must be"),
        (lambda p: LambdaLR(SGD(p, lr=1.0), 0.5), "LambdaLR: fn must be a function"),
        (lambda p: LambdaLR(SGD(p, lr=1.0), lambda k: -1.0), "LambdaLR: the learning rate for"),
    ],
)
def test_constructors_refuse_rates_and_settings_that_are_not_finite_or_negative(make, message):
    with pytest.raises((ValueError, TypeError)) as info:
        make([Value(1.0)])
    assert message in one_line(info.value)


@pytest.mark.parametrize("bad", [-0.5, math.nan, math.inf, -math.inf, "0.1", None])
def test_a_schedule_that_goes_bad_stops_at_that_step_and_names_it(bad):
    w = Value(1.0)
    opt = SGD([w], lr=1.0)
    schedule = LambdaLR(opt, lambda k: 0.5 if k < 3 else bad)
    for _ in range(2):
        schedule.step()
    with pytest.raises((ValueError, TypeError), match="LambdaLR: the learning rate for step 3"):
        schedule.step()
    assert opt.lr == 0.5 and schedule.k == 2  # nothing changed


def test_setting_lr_by_hand_is_checked_too():
    opt = Adam([Value(1.0)], lr=0.1)
    for bad in (math.inf, -1.0, math.nan):
        with pytest.raises(ValueError, match="Adam: lr must be a finite number >= 0"):
            opt.lr = bad
    assert opt.lr == 0.1
    opt.lr = 0  # zero freezes the parameters: allowed
    assert opt.lr == 0.0
