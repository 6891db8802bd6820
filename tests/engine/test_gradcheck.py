"""gradcheck: passes correct derivatives, names the input when one is wrong."""

from __future__ import annotations

import pytest

from chaingrad import GradcheckError, Value, gradcheck


def test_gradcheck_passes_on_engine_functions():
    assert gradcheck(lambda x, y: (x * y).tanh() + (x / y).exp(), [0.3, -1.2])
    assert gradcheck(lambda a, b, c: (a**b).log() * c.sigmoid(), [1.5, 2.0, -0.4])


def test_gradcheck_failure_names_input_and_both_values():
    def wrong(x, y):
        # x.detach() hides one of the two paths from backward: analytical = x*y, numerical = 2*x*y
        return x * x.detach() * y

    with pytest.raises(GradcheckError) as info:
        gradcheck(wrong, [Value(1.5, label="x"), 2.0])
    message = str(info.value)
    assert "x = 1.5" in message
    assert "numerical gradient 6.0" in message[:200] or "numerical gradient 5.99" in message
    assert "analytical gradient 3.0" in message
    assert gradcheck(wrong, [1.5, 2.0], raise_exception=False) is False


def test_gradcheck_unlabelled_inputs_are_named_by_position():
    with pytest.raises(GradcheckError, match=r"inputs\[0\] = 1.5"):
        gradcheck(lambda x: x * x.detach(), [1.5])


def test_gradcheck_requires_a_value_result():
    with pytest.raises(TypeError, match="float"):
        gradcheck(lambda x: 1.0, [1.0])
