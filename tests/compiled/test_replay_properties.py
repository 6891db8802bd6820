"""Property: for generated steps of every class that once replayed wrong numbers, on both
backends, each call's compiled loss and gradients equal eager's to 1e-10, or the trace
raises TracingError where the step reads an argument in Python, or eager's own error is
raised where eager raises one. The classes and their cases are in ``replay_cases.py``.
"""

from __future__ import annotations

import pytest

pytest.importorskip("numpy")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from .replay_cases import CLASSES, run_case  # noqa: E402


@settings(max_examples=120, deadline=None, derandomize=True)
@given(
    kind=st.sampled_from(sorted(CLASSES)),
    seed=st.integers(min_value=0, max_value=10_000),
    backend=st.sampled_from(["python", "numpy"]),
)
def test_a_compiled_step_equals_eager_or_refuses(kind, seed, backend):
    case = CLASSES[kind](seed)
    problem = run_case(case, backend)
    assert problem is None, f"{case.name} (seed {seed}, {backend}): {problem}"


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_every_class_has_cases_that_must_match_and_cases_that_must_refuse_or_raise(kind):
    # The generators cover both outcomes where a class has both (not only refusals).
    cases = [CLASSES[kind](seed) for seed in range(40)]
    expects = {case.expect for case in cases}
    if kind in ("branches on arguments", "generators"):
        assert expects == {"equal", "refuse"}
    else:
        assert expects == {"equal"}
    if kind != "module edits between calls":  # one model, edits drawn call by call
        assert len({case.name for case in cases}) >= 2
