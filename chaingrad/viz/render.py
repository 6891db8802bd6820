"""Turning drawings into files and notebook output, with one clear error when ``dot`` is missing."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from chaingrad.engine import Value

INSTALL_HINT = (
    "install Graphviz and make sure 'dot' is on PATH: "
    "apt install graphviz (Debian/Ubuntu), brew install graphviz (macOS), "
    "or conda install -c conda-forge graphviz (conda)"
)

# file extension -> Graphviz output format ("dot" and "gv" write the DOT text itself)
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}


class GraphvizNotFoundError(RuntimeError):
    """The Graphviz ``dot`` program is not installed (the message says how to install it)."""


def dot_available() -> bool:
    """True if the Graphviz ``dot`` program can be found on PATH."""
    return shutil.which("dot") is not None


def require_dot() -> None:
    if not dot_available():
        raise GraphvizNotFoundError(f"the Graphviz 'dot' program was not found; {INSTALL_HINT}")


def pipe(source: str, fmt: str, timeout: float | None = None) -> bytes:
    """Run ``dot -T<fmt>`` on DOT text and return its output.

    Raises GraphvizNotFoundError (never FileNotFoundError/ExecutableNotFound)
    when ``dot`` is missing, and RuntimeError with dot's message when it fails.
    """
    import subprocess

    require_dot()
    try:
        done = subprocess.run(
            ["dot", f"-T{fmt}"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:  # PATH changed between the check and the call
        raise GraphvizNotFoundError(
            f"the Graphviz 'dot' program was not found; {INSTALL_HINT}"
        ) from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"dot -T{fmt} failed: {message[-1] if message else done.returncode}")
    return done.stdout


def source_of(graph_or_value: Any, **draw_options: Any) -> str:
    """DOT text of a Value (drawn with ``draw_dot``) or of a graphviz graph."""
    if isinstance(graph_or_value, Value):
        from .graph import draw_dot

        return draw_dot(graph_or_value, **draw_options).source
    if hasattr(graph_or_value, "source"):
        if draw_options:
            raise TypeError("render: drawing options apply to a Value, not to a ready graph")
        return graph_or_value.source
    raise TypeError(
        f"render: expected a Value or a graphviz graph, got {type(graph_or_value).__name__}"
    )


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename: no half-written files."""
    directory = path.parent
    if not directory.is_dir():
        raise FileNotFoundError(
            f"cannot write {str(path)!r}: directory {str(directory)!r} does not exist"
        )
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        # mkstemp makes the file private (0600); give it the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def render(root: Any, path: str | os.PathLike[str], **draw_options: Any) -> Path:
    """Draw ``root`` (a Value, or a graph from ``draw_dot``) to ``path``; returns the path.

    The format comes from the extension: ``.svg``, ``.png``, ``.pdf``, or
    ``.dot``/``.gv`` for the DOT text. Only ``path`` is written (no stray
    ``.gv`` file beside it). ``draw_options`` go to ``draw_dot``.

    >>> from chaingrad import Value
    >>> y = Value(3.0, label="x") ** 2
    >>> render(y, "square.svg", edge_labels=True)   # doctest: +SKIP
    PosixPath('square.svg')
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(FORMATS)
        raise ValueError(f"render: cannot tell the format of {str(path)!r}; use one of {known}")
    source = source_of(root, **draw_options)
    data = source.encode("utf-8") if fmt == "dot" else pipe(source, fmt)
    write_atomic(path, data)
    return path


def repr_mimebundle(value: Value, include: Any = None, exclude: Any = None) -> dict[str, Any]:
    """What Jupyter shows for a Value: its graph as SVG, plus a text fallback.

    Without the ``dot`` program (or the graphviz package) the bundle is text only,
    so printing a Value in a notebook never fails.
    """
    bundle: dict[str, Any] = {"text/plain": repr(value)}
    wants_svg = (include is None or "image/svg+xml" in include) and not (
        exclude is not None and "image/svg+xml" in exclude
    )
    if wants_svg and dot_available():
        try:
            from .graph import draw_dot

            svg = pipe(draw_dot(value).source, "svg", timeout=60)
            bundle["image/svg+xml"] = svg.decode("utf-8")
        except Exception:
            # A display hook must never break printing (no graphviz package, dot
            # crashing or timing out): text/plain still shows the Value.
            pass
    if include is not None:
        bundle = {k: v for k, v in bundle.items() if k in include}
    if exclude is not None:
        bundle = {k: v for k, v in bundle.items() if k not in exclude}
    return bundle
