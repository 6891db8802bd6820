"""Compile time and memory grow linearly with a program's size, on both backends.

A 100,000-op chain (the depth of a long recurrent step) traces, compiles and
replays under a memory cap and a time limit, in a fresh interpreter; before,
the numpy backend took time quadratic in the depth (a 16,000-step chain: 30 s)
and the Python backend died in ``compile()`` with an empty ``MemoryError``.
"""

from __future__ import annotations

import pytest

from chaingrad.compiled.codegen import make_runner
from tests.limits import run_limited

CHAIN = """
    import time
    from chaingrad import Value, jit

    w = Value(0.9999)

    def step(x):
        y = w * x
        for _ in range({n} // 2):
            y = (y * w).tanh()
        return y

    for backend in {backends!r}:
        start = time.perf_counter()
        compiled = jit(step, params=[w], backend=backend)
        first = compiled(0.5)
        second = compiled(0.25)
        w.grad = 0.0
        eager = step(0.25)
        eager.backward()
        print(backend, len(compiled.program), abs(second - eager.data), time.perf_counter() - start)
"""


@pytest.mark.parametrize(
    ("backend", "ops", "seconds"),
    [
        ("python", 100_000, 120),
        ("numpy", 20_000, 120),  # quadratic before: about 270 s on the same machine
        pytest.param("numpy", 100_000, 400, marks=pytest.mark.slow),
    ],
)
def test_a_long_chain_compiles_under_a_memory_cap_and_a_time_limit(backend, ops, seconds):
    if backend == "numpy":
        pytest.importorskip("numpy")
    result = run_limited(CHAIN.format(n=ops, backends=(backend,)), memory_mb=1024, timeout=seconds)
    assert result.returncode == 0, result.stderr[-2000:]
    name, size, error, _ = result.stdout.split()
    assert name == backend and int(size) > ops and float(error) <= 1e-12


def test_large_generated_functions_run_in_chunks_with_the_same_result():
    lines = ["def run(a, b):", "    v0 = a"]
    lines += [f"    v{i} = v{i - 1} * b + {i}" for i in range(1, 50)]
    lines += ["    if v49 > 0.0:", "        v50 = v49", "    else:", "        v50 = -v49"]
    lines += ["    return v50, [v1, v2]"]
    source = "\n".join(lines) + "\n"
    whole = make_runner(source, {}, "<whole>")
    chunked = make_runner(source, {}, "<chunked>", chunk_lines=7)
    assert chunked.__name__ == "chunked" and whole.__name__ == "run"
    for a, b in ((0.5, 1.5), (-2.0, 0.25)):
        assert chunked(a, b) == whole(a, b)


def test_a_program_too_large_to_compile_is_one_error_naming_its_size(monkeypatch):
    from chaingrad import Value, jit
    from chaingrad.compiled import python_backend

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(python_backend.PythonBackend, "__init__", out_of_memory)
    w = Value(0.5)
    with pytest.raises(MemoryError, match=r"program of 3 ops and 5 edges for the python backend"):
        jit(lambda x: (w * x + w).tanh(), params=[w], backend="python")(1.0)
