"""Random programs using every op of the rule table: compiled (both backends) equals eager.

Each program is a batch of samples running the same random recipe -- unary,
binary and many-input ops (sum, dot, max, logsumexp, and take indexed by a
label input) mixed over parameters and inputs -- averaged into a loss. It is
compiled, run on fresh inputs and labels with the parameters moving between
calls, and compared with eager backward to 1e-10.
"""

from __future__ import annotations

import random

import pytest

from chaingrad import Value, dot, logsumexp, max_of, sum_of, take
from chaingrad.engine import OPS, PARAMETRIC_OPS

from .helpers import assert_compiled_matches_eager


def _pos(v: Value) -> Value:
    return v.softplus() + 0.5  # a positive operand for log, sqrt, division, powers


UNARY = {
    "neg": lambda a: -a,
    "exp": lambda a: a.tanh().exp(),
    "log": lambda a: _pos(a).log(),
    "sqrt": lambda a: _pos(a).sqrt(),
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "softplus": lambda a: a.softplus(),
    "relu": lambda a: a.relu(),
    "leaky_relu": lambda a: a.leaky_relu(0.1),
    "abs": lambda a: a.abs(),
    "sin": lambda a: a.sin(),
    "cos": lambda a: a.cos(),
    "pow_const": lambda a: a**2,
    "cube": lambda a: a**3,
    "root": lambda a: _pos(a) ** 0.5,
    "reciprocal": lambda a: _pos(a) ** -1,
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / _pos(b),
    "pow": lambda a, b: _pos(a) ** b.tanh(),
    "scale": lambda a, b: 0.5 * a - b * 2,
}
MANY = ("sum", "dot", "max", "logsumexp", "take")


def test_the_recipes_cover_every_op_of_the_rule_table():
    covered = {"add", "sub", "mul", "div", "neg", "pow", "sum", "dot", "max", "logsumexp", "take"}
    covered |= set(UNARY)
    assert set(OPS) <= covered
    assert set(PARAMETRIC_OPS) <= covered


def make_recipe(rng: random.Random, n_params: int, n_inputs: int, length: int) -> list:
    recipe = []
    pool = n_params + n_inputs
    for _ in range(length):
        kind = rng.random()
        if kind < 0.45:
            recipe.append(("unary", rng.choice(sorted(UNARY)), rng.randrange(pool)))
        elif kind < 0.8:
            recipe.append(
                ("binary", rng.choice(sorted(BINARY)), rng.randrange(pool), rng.randrange(pool))
            )
        elif kind < 0.9:
            size = rng.randint(2, 4)
            picks = [rng.randrange(pool) for _ in range(2 * size)]
            recipe.append(("many", rng.choice(MANY), picks))
        else:  # a neuron: parameter weights times any earlier values (a matrix product)
            size = rng.randint(1, n_params)
            weights = rng.sample(range(n_params), size)
            recipe.append(("many", "dot", weights + [rng.randrange(pool) for _ in range(size)]))
        pool += 1
    return recipe


def run_recipe(recipe: list, params: list[Value], xs: list, label: Value | int) -> Value:
    pool = list(params) + [x if isinstance(x, Value) else Value(x) for x in xs]
    for step in recipe:
        if step[0] == "unary":
            pool.append(UNARY[step[1]](pool[step[2]]))
        elif step[0] == "binary":
            pool.append(BINARY[step[1]](pool[step[2]], pool[step[3]]))
        else:
            picks = [pool[i] for i in step[2]]
            half = len(picks) // 2
            name = step[1]
            if name == "sum":
                pool.append(sum_of(picks))
            elif name == "dot":
                pool.append(dot(picks[:half], picks[half:]))
            elif name == "max":
                pool.append(max_of(picks))
            elif name == "logsumexp":
                pool.append(logsumexp(picks))
            else:
                pool.append(take(picks[:3], label))  # labels are in 0..2
        # Keep magnitudes tame so exp/pow stay finite whatever the recipe.
        pool[-1] = pool[-1].tanh() * 3 if step[0] != "unary" else pool[-1]
    return sum_of(pool[-3:])


@pytest.mark.parametrize("backend", ["python", "numpy"])
@pytest.mark.parametrize("seed", range(30))
def test_random_batch_programs_match_eager(seed, backend):
    if backend == "numpy":
        pytest.importorskip("numpy")
    rng = random.Random(seed)
    n_params, n_inputs, batch = 5, 3, 4
    recipe = make_recipe(rng, n_params, n_inputs, length=rng.randint(6, 25))
    params = [Value(rng.uniform(-1, 1), label=f"p{k}") for k in range(n_params)]

    def loss_fn(X, labels):
        losses = [run_recipe(recipe, params, x, t) for x, t in zip(X, labels)]
        return sum_of(losses) / len(losses)

    batches = [
        (
            [[rng.uniform(-2, 2) for _ in range(n_inputs)] for _ in range(batch)],
            [rng.randrange(3) for _ in range(batch)],
        )
        for _ in range(4)
    ]
    assert_compiled_matches_eager(loss_fn, params, batches, backend, seed=seed)
