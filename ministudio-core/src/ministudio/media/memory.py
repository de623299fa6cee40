"""How much of the memory that media work frees this process keeps (glibc's malloc).

A decode for the checks or a frame grab allocates 10-20 MB of buffers at 720p (the
decoder's frames, the sample buffers) and frees them when it ends. glibc gives each thread
that allocates a malloc arena of its own (up to eight per core) and keeps what a thread
freed for that thread's next allocations; only the top of a heap goes back to the system.
A render hands its media work to whichever worker thread is idle, so how many arenas ended
up holding a decode's worth of freed memory depended on timing: a 10-minute film's peak
spread over tens of MB from run to run (issue 17, benchmarks/README.md).

``cap_arenas`` bounds the arenas to one per core; ``release`` hands back what the arenas
hold free (malloc_trim). Elsewhere than glibc (macOS, musl, Windows) both do nothing.
"""

from __future__ import annotations

import ctypes
import functools
import sys

_M_ARENA_MAX = -8  # mallopt's parameter (malloc.h)


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The process's C library if it is glibc, else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version.restype = ctypes.c_char_p  # glibc's alone
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


def cap_arenas(count: int) -> bool:
    """At most ``count`` malloc arenas from now on (threads share them beyond that): the
    memory a thread's media work freed is reused by the next, whichever thread runs it.
    True if the allocator took it."""
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(_M_ARENA_MAX, max(1, count)))


def release() -> None:
    """Hand what the arenas hold free back to the system (whole free pages, anywhere in a
    heap): a few milliseconds, worth it once a shot's decoding is done, not per frame."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
