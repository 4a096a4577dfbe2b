"""The CLI's glibc allocator settings (hetero.malloc): applied, skipped, and what they do."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="glibc only",
)

# Allocate ten 10 MB blocks, touch them, free them; repeat. Page faults per round after the
# first: glibc's defaults return the freed top of the heap to the kernel every round.
PROBE = """
import json, resource, sys
from hetero.malloc import tune_malloc
applied = tune_malloc() if sys.argv[1] == "tune" else None
faults = []
for _ in range(6):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blocks = [bytearray(10 * 2**20) for _ in range(10)]
    del blocks
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"applied": applied, "faults": faults[1:]}))
"""


def probe(mode: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES" and "MALLOC" not in k}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_tuned_allocator_reuses_freed_memory_instead_of_faulting_it_in_again():
    tuned, default = probe("tune"), probe("default")
    assert tuned["applied"] is True
    # 10 x 10 MB = 25,600 pages touched per round
    assert max(tuned["faults"]) < 500
    assert min(default["faults"]) > 5000


@pytest.mark.parametrize(
    "env",
    [
        {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"},
        {"MALLOC_ARENA_MAX": "2"},
        {"LD_PRELOAD": "/nonexistent/libjemalloc.so.2"},  # (the loader only warns)
    ],
)
def test_an_allocator_set_by_the_user_is_left_alone(env):
    assert probe("tune", **env)["applied"] is False


def test_unrelated_glibc_tunables_do_not_stop_it():
    assert probe("tune", GLIBC_TUNABLES="glibc.pthread.rseq=0")["applied"] is True


def test_nothing_happens_outside_linux(monkeypatch):
    from hetero.malloc import tune_malloc

    monkeypatch.setattr(sys, "platform", "darwin")
    assert tune_malloc() is False
