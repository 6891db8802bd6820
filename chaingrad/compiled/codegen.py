"""Turning a backend's generated source into a callable, in memory proportional to a chunk.

Both backends generate one Python function ``def run(...)``, a line or a
few per op. CPython compiles a function whole: its syntax tree takes about
2.5 KB per line, so a program of a million ops would need gigabytes at once
(and fail with an empty ``MemoryError``). A large function is therefore cut
at top-level statements into chunks of at most :data:`CHUNK_LINES` lines,
each compiled on its own and run in turn on one namespace per call (its
variables are dictionary entries instead of fast locals: a few nanoseconds
more per line, nothing next to the work of a program that size). Compile
time and memory stay linear in the program's size.

>>> run = make_runner("def run(a, b):\\n    c = a + b\\n    return c * 2\\n", {}, "<example>")
>>> run(1.0, 2.0)
6.0
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

CHUNK_LINES = 100_000  # lines compiled at once (about 250 MB); larger functions run in chunks
_HEAD = re.compile(r"^def run\(([^)]*)\):$")
_RESULT = "__chaingrad_result__"


def make_runner(
    source: str, namespace: dict[str, Any], filename: str, chunk_lines: int = CHUNK_LINES
) -> Callable[..., Any]:
    """The ``run`` function defined by ``source``, executed in ``namespace`` (chunked if large)."""
    lines = source.splitlines()
    if len(lines) <= chunk_lines + 2:
        exec(compile(source, filename, "exec"), namespace)
        run: Callable[..., Any] = namespace["run"]
        return run
    head = _HEAD.match(lines[0])
    if head is None:
        raise AssertionError(f"generated code starts with {lines[0]!r}")
    names = [name.strip() for name in head.group(1).split(",") if name.strip()]
    body = [line[4:] for line in lines[1:]]
    if not body[-1].startswith("return "):
        raise AssertionError(f"generated code ends with {body[-1]!r}")
    body[-1] = f"{_RESULT} = {body[-1][len('return ') :]}"
    codes = []
    start = 0
    while start < len(body):
        stop = min(start + chunk_lines, len(body))
        # A chunk ends before a top-level statement (not inside an if/for block).
        while stop < len(body) and (body[stop].startswith((" ", "else:", "elif "))):
            stop += 1
        text = "\n".join(body[start:stop]) + "\n"
        codes.append(compile(text, f"{filename} (lines {start + 2}-{stop + 1})", "exec"))
        start = stop

    def chunked(*args: Any) -> Any:
        scope = dict(namespace)
        scope.update(zip(names, args))
        for code in codes:
            exec(code, scope)
        return scope[_RESULT]

    return chunked
