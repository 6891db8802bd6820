"""Reading and writing files safely: atomic replacement, and bounded reads of regular files.

Saving writes a hidden temporary file next to the target and renames it over
the target, so a failed or interrupted save never leaves half a file. A
symlink is followed (its target gets the new content; the link stays), the
new file gets the mode a plain ``open(path, "w")`` would give it, and
temporary files left by a process that was killed while saving to the same
path are removed by the next save.

Reading refuses anything but a regular file (a FIFO would block, ``/dev/zero``
never ends) and anything larger than the caller's limit, before reading it.

>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> write_atomically(os.path.join(folder, "a.txt"), b"hello")
>>> read_bounded(os.path.join(folder, "a.txt"), 100, "a greeting")
b'hello'
>>> os.listdir(folder)
['a.txt']
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import stat
import zlib

_SUFFIX = ".chaingrad.tmp"


def _temp_prefix(name: str) -> str:
    """Hidden, tied to the target's name, so leftovers can be recognised and removed."""
    return f".{name[:80]}."


@functools.lru_cache(maxsize=1)
def _host_tag() -> str:
    # Temporary files are removed only by saves on the same host: a process id says
    # nothing about processes on another machine sharing the folder.
    import socket

    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


def _process_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False  # it exists (another user's), or we cannot tell: keep its file
    return False


def remove_stale_temporaries(directory: str, name: str) -> list[str]:
    """Delete temporary files of saves to ``name`` whose process no longer runs.

    Returns the paths removed. Files of running processes (another thread or
    program saving right now) and of other hosts are left alone.
    """
    prefix, host = _temp_prefix(name), _host_tag()
    removed: list[str] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(_SUFFIX)):
            continue
        # .<name>.<pid>-<host>-<random>.chaingrad.tmp
        tag = entry.name[len(prefix) : -len(_SUFFIX)]
        parts = tag.split("-")
        if len(parts) != 3 or parts[1] != host or not parts[0].isdigit():
            continue
        if _process_is_gone(int(parts[0])):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(entry.path)
    return removed


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace the file at ``path`` with ``data`` in one step: the old file or the new, never half.

    The bytes go to a temporary file in the target's folder, are flushed to
    disk, and the temporary file is renamed over the target. If anything fails
    the temporary file is removed and the old file is untouched.
    """
    target = os.path.realpath(os.fspath(path))  # through symlinks: write the file they name
    directory, name = os.path.split(target)
    remove_stale_temporaries(directory, name)
    tmp = os.path.join(
        directory,
        f"{_temp_prefix(name)}{os.getpid()}-{_host_tag()}-{secrets.token_hex(4)}{_SUFFIX}",
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        # 0o666 before the umask: the mode a plain open() gives, read from no global state
        # (changing the umask to read it would race with other threads creating files).
        fd = os.open(tmp, flags, 0o666)
    except OSError as error:
        error.filename = os.fspath(path)  # the user's path, not the temporary name
        raise
    try:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))  # overwriting keeps the mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(error, OSError) and error.errno and error.filename in (tmp, target):
            # Name the user's path; the temporary file means nothing to them.
            raise type(error)(error.errno, error.strerror, os.fspath(path)) from None
        raise
    _sync_directory(directory)


def _sync_directory(directory: str) -> None:
    """Make the rename itself durable (best effort: not every system can open a folder)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "not a regular file"


def describe_size(n: int) -> str:
    """``1.0 GiB``, ``12.3 MiB``, ``512 bytes``.

    >>> describe_size(3 * 2**30), describe_size(1536), describe_size(7)
    ('3.0 GiB', '1.5 KiB', '7 bytes')
    """
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def read_bounded(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """The bytes of the regular file at ``path``, or a ValueError if it is not one or too big.

    ``what`` completes the message "larger than ... can be", e.g. "a model
    file for this MLP (337 parameters)".

    The kind and size are checked before anything is read, and at most
    ``limit + 1`` bytes are ever read, so a FIFO, a device or a file growing
    while it is read cannot hang the caller or exhaust memory.
    ``FileNotFoundError`` (and other ``OSError``) pass through.
    """
    path = os.fspath(path)
    kind = os.stat(path).st_mode
    if not stat.S_ISREG(kind):
        raise ValueError(f"{_kind(kind)}, not a regular file")
    # O_NONBLOCK: if the file was swapped for a FIFO since the check, open does not wait.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{_kind(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise ValueError(
                f"the file is {describe_size(info.st_size)}, larger than {what} can be "
                f"({describe_size(limit)})"
            )
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(
            f"the file grew while it was read, past what {what} can be ({describe_size(limit)})"
        )
    return data
