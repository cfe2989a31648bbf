"""Benchmark: hs stratify's per-group AUC work against the number of groups, at 1,000,000 rows.

Times, in CPU seconds (less sensitive than wall time to other jobs on a shared machine), for one
stratifier of G random groups, in the same process:
  dense     each group's and each rest's AUC and DeLong variance from counts over all distinct
            scores (the code before issue 16): the AUC work alone
  hs        `strata_binary.analyse` (every statistic of the default table: AUCs of all groups and
            rests in one pass over the rows sorted by group, `auc_groups.groups_and_rests`;
            proportions, tests, minimum detectable differences, heterogeneity)
Usage:
  python benchmarks/stratify_groups.py [--rows 1000000] [--groups 27,200] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from hstool.audit import strata_binary
from hstool.audit.groups import Stratifier
from hstool.audit.strata_cases import Data
from hstool.audit.strata_table import StratifyOptions
from hstool.stats.auc import delong_components


def dense_per_group(data: Data, stratifier: Stratifier) -> None:
    pos_all = np.bincount(data.classes[data.labels], minlength=data.n_classes)
    neg_all = np.bincount(data.classes[~data.labels], minlength=data.n_classes)
    for code in range(len(stratifier.levels)):
        member = stratifier.codes == code
        pos = np.bincount(data.classes[member & data.labels], minlength=data.n_classes)
        neg = np.bincount(data.classes[member & ~data.labels], minlength=data.n_classes)
        for p, n in ((pos, neg), (pos_all - pos, neg_all - neg)):
            components = delong_components(p, n)
            if components is not None:
                components.variance()


def cpu_seconds(job: Callable[[], object]) -> float:
    start = time.process_time()
    job()
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
    print(f"rows {args.rows:,}; {data.n_classes:,} distinct scores; best of {args.repeats} (CPU seconds)")
    print("| groups | dense AUCs per group | hs analyse (all statistics) | ratio |")
    print("| ---: | ---: | ---: | ---: |")
    for g in (int(v) for v in args.groups.split(",")):
        stratifier = Stratifier("g", tuple(f"l{i:04d}" for i in range(g)), rng.integers(0, g, args.rows))
        dense = min(cpu_seconds(lambda: dense_per_group(data, stratifier)) for _ in range(args.repeats))
        hs = min(
            cpu_seconds(lambda: strata_binary.analyse(data, [stratifier], StratifyOptions()))
            for _ in range(args.repeats)
        )
        print(f"| {g} | {dense:.2f} | {hs:.2f} | {dense / hs:.1f}x |")


if __name__ == "__main__":
    main()
