"""hstool.workers: the one rule for the default number of worker processes."""

from __future__ import annotations

import os

import pytest

from hstool import workers
from hstool.workers import default_workers


@pytest.mark.parametrize(
    ("cpus", "processes", "main_computes", "expected"),
    [
        (1, 1, False, 1),  # a waiting main process still gets one worker
        (2, 1, False, 2),
        (16, 1, False, 8),  # capped at MAX_WORKERS
        (1, 1, True, 0),  # the only CPU is the training process's own
        (16, 4, True, 3),  # 16 // 4 = 4 each, one of them computes
        (2, 4, True, 0),  # never negative
        (64, 2, True, 8),
    ],
)
def test_default_workers_rule(
    monkeypatch: pytest.MonkeyPatch, cpus: int, processes: int, main_computes: bool, expected: int
) -> None:
    monkeypatch.setattr(workers, "usable_cpus", lambda: cpus)
    assert default_workers(processes=processes, main_computes=main_computes) == expected


def test_usable_cpus_follows_the_affinity_mask() -> None:
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no affinity masks on this OS")
    assert workers.usable_cpus() == len(os.sched_getaffinity(0))
