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


def test_one_manager_entered_by_two_threads_at_once():
    # torch.no_grad allows this; a manager holding per-entry tokens did not.
    shared = no_grad()
    both_inside = threading.Barrier(2, timeout=5)
    seen = []

    def worker():
        with shared:
            both_inside.wait()
            seen.append((Value(1.0) * 2).parents)
        seen.append((Value(1.0) * 2).parents)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert sorted(len(p) for p in seen) == [0, 0, 2, 2]
    assert is_grad_enabled() and len((Value(1.0) * 2).parents) == 2


def test_decorated_generator_runs_each_step_without_grad_and_the_caller_with():
    @no_grad
    def steps(x):
        for _ in range(2):
            received = yield x * 2
            assert received in (None, "hi")

    gen = steps(Value(1.0))
    first = next(gen)
    assert first.parents == () and is_grad_enabled()
    assert gen.send("hi").parents == ()
    assert is_grad_enabled()
    assert next(gen, "finished") == "finished"
    assert all(v.parents == () for v in steps(Value(1.0)))


def test_exception_thrown_into_a_decorated_generator_reaches_it():
    caught = []

    @no_grad
    def gen():
        try:
            yield 1
        except KeyError:
            caught.append(is_grad_enabled())
            yield 2

    g = gen()
    next(g)
    assert g.throw(KeyError()) == 2
    assert caught == [False] and is_grad_enabled()
    g.close()


def test_decorated_coroutine_and_async_generator_run_without_grad():
    import asyncio

    @no_grad
    async def compute(x):
        await asyncio.sleep(0)
        return x * 2

    @no_grad
    async def stream(x):
        for _ in range(2):
            await asyncio.sleep(0)
            yield x * 2

    async def main():
        y = await compute(Value(1.0))
        ys = [v async for v in stream(Value(1.0))]
        return y, ys, is_grad_enabled()

    y, ys, enabled_after = asyncio.run(main())
    assert y.parents == () and all(v.parents == () for v in ys) and enabled_after
