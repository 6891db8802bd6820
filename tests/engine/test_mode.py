"""no_grad / enable_grad: context manager, decorator, nesting, threads."""

from __future__ import annotations

import threading

from chaingrad import Value, enable_grad, is_grad_enabled, no_grad, set_grad_enabled


def test_no_grad_records_no_parents_and_restores():
    x = Value(2.0)
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = x * 3 + 1
        assert y.parents == () and y.data == 7.0
        with enable_grad():
            z = x * 3
            assert z.parents[0] is x
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert (x * 3).parents[0] is x


def test_no_grad_restores_after_an_exception():
    try:
        with no_grad():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert is_grad_enabled()


def test_decorator_forms():
    @no_grad()
    def f(x):
        return x * 2

    @no_grad
    def g(x):
        return x * 2

    @set_grad_enabled(False)
    def h(x):
        return x * 2

    x = Value(1.0)
    for fn in (f, g, h):
        assert fn(x).parents == ()
    assert f.__name__ == "f"
    assert is_grad_enabled()


def test_same_manager_instance_nests():
    ctx = no_grad()
    with ctx:
        with ctx:
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_grad_mode_is_per_thread():
    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def worker():
        with no_grad():
            inside.set()
            release.wait(5)
            seen["worker"] = (Value(1.0) * 2).parents

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    # The worker is inside no_grad; this thread still records.
    seen["main"] = (Value(1.0) * 2).parents
    release.set()
    t.join(5)
    assert len(seen["main"]) == 2
    assert seen["worker"] == ()
