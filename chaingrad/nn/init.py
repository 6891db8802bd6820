"""Random number sources and weight initialisers, all seeded explicitly.

Nothing in ``chaingrad.nn`` touches Python's global ``random`` state. Every
function or class that draws random numbers takes ``seed``, which may be

* ``None``: a fresh ``random.Random(DEFAULT_SEED)``, so the same code prints
  the same numbers on every run and every machine (what a lesson wants);
* an ``int``: ``random.Random(seed)``;
* a ``random.Random``: used as is (and advanced), to share one stream.

Because ``None`` means "the default seed", two models built alike without a
seed start from the same weights. Pass different seeds (or one shared
``random.Random``) to get different ones, or ``seed=random.Random()`` for
fresh entropy.

>>> from chaingrad.nn.init import make_rng, INITIALIZERS
>>> rng = make_rng(0)
>>> round(INITIALIZERS["uniform"](rng, 2, 16), 6)
0.688844
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

DEFAULT_SEED = 1337  # micrograd's demo seed; documented, never the global RNG

Seed = int | random.Random | None
# An initialiser draws one weight given the rng and the layer's fan-in / fan-out.
Initializer = Callable[[random.Random, int, int], float]


def make_rng(seed: Seed = None) -> random.Random:
    """A ``random.Random`` for ``seed`` (None -> ``DEFAULT_SEED``, int, or a Random itself).

    >>> make_rng(3).random() == make_rng(3).random()
    True
    """
    if seed is None:
        return random.Random(DEFAULT_SEED)
    if isinstance(seed, random.Random):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(
            f"seed must be None, an int or a random.Random, got {type(seed).__name__}: {seed!r}"
        )
    return random.Random(seed)


def uniform(rng: random.Random, fan_in: int, fan_out: int) -> float:
    """micrograd's choice: U(-1, 1) whatever the layer size."""
    return rng.uniform(-1.0, 1.0)


def xavier_uniform(rng: random.Random, fan_in: int, fan_out: int) -> float:
    """Glorot & Bengio (2010): U(-a, a), a = sqrt(6 / (fan_in + fan_out)); suits tanh/sigmoid."""
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound)


def xavier_normal(rng: random.Random, fan_in: int, fan_out: int) -> float:
    """Glorot normal: N(0, 2 / (fan_in + fan_out))."""
    return rng.gauss(0.0, math.sqrt(2.0 / (fan_in + fan_out)))


def he_uniform(rng: random.Random, fan_in: int, fan_out: int) -> float:
    """He et al. (2015): U(-a, a), a = sqrt(6 / fan_in); keeps ReLU activations' variance."""
    bound = math.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound)


def he_normal(rng: random.Random, fan_in: int, fan_out: int) -> float:
    """He normal: N(0, 2 / fan_in)."""
    return rng.gauss(0.0, math.sqrt(2.0 / fan_in))


def lecun_normal(rng: random.Random, fan_in: int, fan_out: int) -> float:
    """LeCun normal: N(0, 1 / fan_in)."""
    return rng.gauss(0.0, math.sqrt(1.0 / fan_in))


INITIALIZERS: dict[str, Initializer] = {
    "uniform": uniform,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "lecun_normal": lecun_normal,
}
# Common aliases.
INITIALIZERS["xavier"] = INITIALIZERS["glorot"] = xavier_uniform
INITIALIZERS["he"] = INITIALIZERS["kaiming"] = he_uniform


def get_initializer(init: str | Initializer) -> tuple[str, Initializer]:
    """``(name, function)`` for an initialiser name or a callable ``f(rng, fan_in, fan_out)``."""
    if callable(init):
        return getattr(init, "__name__", "custom"), init
    if isinstance(init, str) and init in INITIALIZERS:
        return init, INITIALIZERS[init]
    raise ValueError(
        f"unknown weight initialiser {init!r}; choose one of {sorted(INITIALIZERS)} "
        "or pass a function f(rng, fan_in, fan_out) -> float"
    )
