"""Refuse, before allocating, what would not fit in memory.

A scalar engine keeps every number as a Python object (a ``Value`` is about
100 bytes), so an innocent-looking size -- ``Layer(100_000, 100_000)``,
``make_moons(10**9)`` -- can ask for hundreds of gigabytes. Building it
object by object would swap the machine to a halt long before a
``MemoryError``; PyTorch fails at once because it asks for one block. This
module gives chaingrad the same behaviour: estimate, compare with what is
available, and raise one clear ``MemoryError`` up front.

>>> check_memory("example", 1_000, "a few numbers")   # small requests are not even measured
"""

from __future__ import annotations

import contextlib
import os

from ._files import describe_size

# Measured with tracemalloc on CPython 3.11: a leaf Value with its float (~100),
# plus a list slot; rounded up.
BYTES_PER_VALUE = 120
# A row of a dataset as Python lists: the list (56 + 8 per item) and a float per item.
BYTES_PER_FLOAT_IN_A_ROW = 8 + 24
BYTES_PER_ROW = 64

_NOT_WORTH_MEASURING = 64 * 2**20  # below this nothing is read from /proc


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _address_space_left() -> int | None:
    """What RLIMIT_AS (ulimit -v) still allows this process, if it is capped."""
    try:
        import resource
    except ImportError:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return max(0, soft - int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        return None
    return None


def available_bytes() -> int | None:
    """Memory this process can still get (None when the system does not say)."""
    known = [n for n in (_meminfo_available(), _address_space_left()) if n is not None]
    if not known and hasattr(os, "sysconf"):
        with contextlib.suppress(ValueError, OSError):
            known.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    return min(known) if known else None


def check_parameters(who: str, count: int) -> None:
    """A MemoryError naming ``who`` if ``count`` new parameters (Values) cannot fit.

    Every module calls it with its own count before it makes its first Value:

    >>> check_parameters("Linear", 10**12)
    Traceback (most recent call last):
    ...
    MemoryError: Linear: 1,000,000,000,000 parameters would need about ... of memory, ...
    """
    check_memory(who, count * BYTES_PER_VALUE, f"{count:,} parameters")


def check_memory(who: str, nbytes: int, what: str) -> None:
    """A MemoryError naming ``who`` if ``nbytes`` for ``what`` exceed the memory available."""
    if nbytes < _NOT_WORTH_MEASURING:
        return
    available = available_bytes()
    if available is not None and nbytes > available:
        raise MemoryError(
            f"{who}: {what} would need about {describe_size(nbytes)} of memory, "
            f"more than the {describe_size(available)} available"
        )
