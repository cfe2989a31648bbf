"""Benchmark: hs stratify's per-group AUC work against the number of groups, at 1,000,000 rows.

Times `strata_binary.analyse` (the statistics, after reading) in-process, in CPU seconds (less
sensitive than wall time to other jobs on a shared machine), for one stratifier of G random
groups, two ways in the same process: every group with dense counts over all distinct scores
(SPARSE_SHARE = 0, as before issue 16), and small groups from their own classes (the default).
Usage:
  python benchmarks/stratify_groups.py [--rows 1000000] [--groups 27,200] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hstool.audit import strata_binary
from hstool.audit.groups import Stratifier
from hstool.audit.strata_cases import Data
from hstool.audit.strata_table import StratifyOptions


def cpu_seconds(data: Data, stratifier: Stratifier) -> float:
    start = time.process_time()
    strata_binary.analyse(data, [stratifier], StratifyOptions())
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--groups", default="27,200")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    y = rng.random(args.rows) < 0.3
    scores = np.round(1 / (1 + np.exp(-(rng.normal(size=args.rows) + 1.5 * (2 * y - 1)))), 6)
    data = Data.build(scores, y, 0.5)
    default = strata_binary.SPARSE_SHARE
    print(f"rows {args.rows:,}; {data.n_classes:,} distinct scores; best of {args.repeats} (CPU seconds)")
    print("| groups | dense per group | default | ratio |")
    print("| ---: | ---: | ---: | ---: |")
    for g in (int(v) for v in args.groups.split(",")):
        stratifier = Stratifier("g", tuple(f"l{i:04d}" for i in range(g)), rng.integers(0, g, args.rows))
        times = {}
        for share in (0.0, default):
            strata_binary.SPARSE_SHARE = share
            times[share] = min(cpu_seconds(data, stratifier) for _ in range(args.repeats))
        strata_binary.SPARSE_SHARE = default
        print(f"| {g} | {times[0.0]:.2f} | {times[default]:.2f} | {times[0.0] / times[default]:.1f}x |")


if __name__ == "__main__":
    main()
