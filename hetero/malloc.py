"""Process-wide glibc allocator settings for training loops.

Called by the ``hetero`` command and in the process-pool workers that a measurement
starts, never on import: a script that uses the library in its own process calls
:func:`tune_malloc` itself if it wants the settings.

PyTorch's CPU allocator takes every tensor from ``malloc``. With glibc's defaults, a block
of more than 128 KiB-32 MiB (the threshold adapts) is mapped fresh from the kernel and
unmapped on ``free``, and free memory at the top of the heap is returned to the kernel; a
training step that allocates and frees the same activations every step then pays a page
fault for every 4 KiB of every activation, every step. Keeping freed memory in the process
instead made the HighMMT large-setting step 23 % faster on 2 CPU threads
(``docs/benchmarks.md``). The cost: memory freed after a peak is kept for reuse rather
than returned to the system.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "tune_malloc"]

#: Blocks up to this size come from the heap (and are reused) instead of fresh mappings.
MMAP_THRESHOLD = 32 * 2**20
#: Free memory at the top of the heap is returned to the kernel only above this size.
TRIM_THRESHOLD = 256 * 2**20

_M_TRIM_THRESHOLD = -1  # mallopt parameter numbers, from glibc's <malloc.h>
_M_MMAP_THRESHOLD = -3


def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; True when applied.

    Does nothing (returns False) outside glibc, or when the person running the command chose
    the allocator themselves: ``glibc.malloc.*`` in ``GLIBC_TUNABLES``, a ``MALLOC_*``
    variable, or another allocator (jemalloc, tcmalloc, mimalloc) in ``LD_PRELOAD``.
    """
    if not sys.platform.startswith("linux"):
        return False
    env = os.environ
    preload = env.get("LD_PRELOAD", "")
    if (
        "glibc.malloc." in env.get("GLIBC_TUNABLES", "")
        or any(v.startswith("MALLOC_") for v in env)
        or any(lib in preload for lib in ("jemalloc", "tcmalloc", "mimalloc"))
    ):
        return False
    try:
        libc = ctypes.CDLL(None)
        if not hasattr(libc, "gnu_get_libc_version"):  # musl: its mallopt is a no-op
            return False
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
