"""Null rejection rates of the group-versus-rest AUC test in small groups: DeLong against the
permutation test hs stratify uses below 10 positives or negatives.

Every data set holds one group of `--group-size` cases with exactly k positives and a rest of
2,000 cases (30% positives); all scores come from the same binormal model (separation 1.5), so
the null hypothesis is true and a test at level alpha should reject at most alpha of the time.
Usage:
  python benchmarks/small_group_null.py [--sets 300] [--permutations 499] [--group-size 80,1000]
                                        [--positives 3,5,9] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from hstool.stats.auc import delong
from hstool.stats.auc_permutation import independent_auc_test
from hstool.stats.delong import compare_aucs


def one_set(rng: np.random.Generator, size: int, k: int, n_perm: int) -> tuple[float | None, float]:
    pos_a, neg_a = rng.normal(1.5, 1, k), rng.normal(0, 1, size - k)
    pos_b, neg_b = rng.normal(1.5, 1, 600), rng.normal(0, 1, 1400)
    a = delong(np.r_[pos_a, neg_a], np.r_[np.ones(k), np.zeros(size - k)].astype(bool))
    b = delong(np.r_[pos_b, neg_b], np.r_[np.ones(600), np.zeros(1400)].astype(bool))
    assert a is not None and b is not None
    p_delong = compare_aucs(a.auc, a.variance(), b.auc, b.variance()).p
    return p_delong, independent_auc_test(pos_a, neg_a, pos_b, neg_b, n_perm=n_perm, rng=rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", type=int, default=300)
    parser.add_argument("--permutations", type=int, default=499)
    parser.add_argument("--group-size", default="80,1000")
    parser.add_argument("--positives", default="3,5,9")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    mc = 1.96 * math.sqrt(args.alpha * (1 - args.alpha) / args.sets)
    print(f"{args.sets} null data sets per row, {args.permutations} permutations, alpha {args.alpha}")
    print(f"(Monte Carlo 95% margin around {args.alpha}: ±{mc:.3f})\n")
    print("| group size | positives | DeLong rejects | permutation rejects | seconds |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for size in (int(v) for v in args.group_size.split(",")):
        for k in (int(v) for v in args.positives.split(",")):
            start = time.perf_counter()
            results = [one_set(rng, size, k, args.permutations) for _ in range(args.sets)]
            delong_rate = np.mean([p is not None and p <= args.alpha for p, _ in results])
            perm_rate = np.mean([p <= args.alpha for _, p in results])
            took = time.perf_counter() - start
            print(f"| {size} | {k} | {delong_rate:.3f} | {perm_rate:.3f} | {took:.1f} |")


if __name__ == "__main__":
    main()
