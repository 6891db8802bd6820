"""Run a piece of code in a fresh interpreter under a memory cap and a time limit.

A hostile case that would need gigabytes must fail fast with a clear error,
not take the test machine down: the child gets ``RLIMIT_AS`` (address space)
and a timeout, and the test asserts on what it printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

resource = pytest.importorskip("resource")  # POSIX only


def run_limited(
    code: str, *, memory_mb: int = 768, timeout: float = 120.0, cwd: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (dedented) with ``python -c`` under ``memory_mb`` of address space."""
    limit = memory_mb * 2**20

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]  # the repository
        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env.setdefault("MPLBACKEND", "Agg")
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "1"  # thread stacks count as memory
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=cap,
        env=env,
        cwd=cwd,
    )


def memory_error_of(code: str) -> str:
    """What ``code`` (one line) prints as its ``MemoryError`` under a 512 MB cap: one line.

    For constructors that must refuse a size before allocating it.
    """
    result = run_limited(
        f"""
        try:
            {code}
        except MemoryError as error:
            print(error)
        """,
        memory_mb=512,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("\n") == 1, result.stdout
    return result.stdout
