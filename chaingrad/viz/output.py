"""Running Graphviz's ``dot``, bounded and explained, and writing files atomically.

Every call of ``dot`` goes through :func:`pipe`, which gives it a time limit
(``timeout`` seconds, :data:`DEFAULT_TIMEOUT` unless told) and turns each way
it can fail into one :class:`DotError` line: not installed, too slow, killed
by a signal (a crash), or an error message of its own. :func:`write_atomic`
replaces a file all at once or not at all.

>>> DEFAULT_TIMEOUT
60.0
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import tempfile
from pathlib import Path

INSTALL_HINT = (
    "install Graphviz and make sure 'dot' is on PATH: "
    "apt install graphviz (Debian/Ubuntu), brew install graphviz (macOS), "
    "or conda install -c conda-forge graphviz (conda)"
)

# Seconds one run of dot may take. A graph that needs longer is one nobody can read
# anyway; the drawing guard in summary.py summarizes most of those before dot sees them.
DEFAULT_TIMEOUT = 60.0


class DotError(RuntimeError):
    """Graphviz ``dot`` failed, crashed or ran out of time; the message is one line."""


class GraphvizNotFoundError(DotError):
    """The Graphviz ``dot`` program is not installed (the message says how to install it)."""


def dot_available() -> bool:
    """True if the Graphviz ``dot`` program can be found on PATH."""
    return shutil.which("dot") is not None


def require_dot() -> None:
    if not dot_available():
        raise GraphvizNotFoundError(f"the Graphviz 'dot' program was not found; {INSTALL_HINT}")


def check_timeout(timeout: float | None, who: str = "render") -> float:
    """The timeout to use: ``DEFAULT_TIMEOUT`` for None, else a positive finite number."""
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{who}: timeout must be a number of seconds, got {type(timeout).__name__}")
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"{who}: timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


def signal_name(number: int) -> str:
    """``11`` -> ``'SIGSEGV (Segmentation fault)'``; unknown numbers stay numbers."""
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    description = signal.strsignal(number) if hasattr(signal, "strsignal") else None
    return f"{name} ({description})" if description else name


SUMMARIZE_HINT = "draw less of it (a smaller max_nodes summarizes it)"


def pipe(
    source: str,
    fmt: str,
    timeout: float | None = None,
    what: str = "the graph",
    hint: str = SUMMARIZE_HINT,
) -> bytes:
    """Run ``dot -T<fmt>`` on DOT text, at most ``timeout`` seconds, and return its output.

    Every failure is one :class:`DotError` line naming what happened: dot is
    missing (:class:`GraphvizNotFoundError`, with install commands), ran out of
    time (the process is killed), was killed by a signal, or reported an error.
    """
    import subprocess

    seconds = check_timeout(timeout)
    require_dot()
    try:
        done = subprocess.run(
            ["dot", f"-T{fmt}"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=seconds,
            check=False,
        )
    except FileNotFoundError:  # PATH changed between the check and the call
        raise GraphvizNotFoundError(
            f"the Graphviz 'dot' program was not found; {INSTALL_HINT}"
        ) from None
    except subprocess.TimeoutExpired:  # run() has killed dot already
        raise DotError(
            f"dot -T{fmt} was stopped after {seconds:g} s laying out {what}; {hint}, "
            "or allow more time with timeout="
        ) from None
    if done.returncode < 0:
        raise DotError(
            f"dot -T{fmt} crashed with {signal_name(-done.returncode)} laying out {what}; "
            f"graphs with many long edges (one value used by hundreds of ops) can do this: {hint}"
        )
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = lines[-1] if lines else f"exit status {done.returncode}"
        raise DotError(f"dot -T{fmt} failed on {what}: {detail}")
    return done.stdout


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file and a rename: no half-written files.

    A symlink is followed: its target gets the new content and the link stays.
    Errors name ``path`` (never the temporary file), and leave the old file as it was.
    """
    shown = str(path)
    target = Path(os.path.realpath(path))  # write through symlinks, never replace them
    directory = target.parent
    if not directory.is_dir():
        raise FileNotFoundError(
            f"cannot write {shown!r}: directory {str(directory)!r} does not exist"
        )
    if target.is_dir():
        raise IsADirectoryError(f"cannot write {shown!r}: it is a directory")
    try:
        mode = target.stat().st_mode & 0o7777  # keep an existing file's permissions
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)  # mkstemp makes the file private (0600)
        os.replace(tmp, target)
    except OSError as error:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        reason = error.strerror or str(error)
        raise type(error)(error.errno, f"cannot write {shown!r}: {reason}") from None
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    return Path(path)
