"""How many worker processes a pool starts when the user does not say: one rule for every pool
(image decoding for hs predict/embed, thumbnails for hs report, data loading for hs train)."""

from __future__ import annotations

import os

MAX_WORKERS = 8  # enough to feed a GPU with small images without starving the host


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, e.g. under taskset
    or a container's cpuset), not every CPU of the machine."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers(*, processes: int = 1, main_computes: bool = False) -> int:
    """The usable CPUs shared between `processes` processes that each run a pool, less the CPU
    each of them needs itself when it computes while its workers load (training), at most
    MAX_WORKERS. Never negative; at least 1 when the main process only waits on its workers."""
    share = usable_cpus() // max(1, processes) - (1 if main_computes else 0)
    return max(0 if main_computes else 1, min(MAX_WORKERS, share))
