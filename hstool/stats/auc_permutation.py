"""Permutation tests of a difference of two AUCs, for groups too small for DeLong's normal theory.

With a handful of positives the DeLong z-test of a group against the rest rejects far more often
than its nominal level (docs/statistics.md gives a simulation). These tests are exact under
exchangeability: the p-value is (1 + #{|D*| >= |D|}) / (1 + B) over B seeded random
reassignments (Phipson & Smyth 2010), so P(p <= alpha) <= alpha under the null.

- `independent_auc_test`: samples a and b share no cases (scope `group`). Under the null the
  group labels are exchangeable within each class, so each replicate draws the smaller sample's
  positives and negatives from the pooled positives and negatives (class sizes fixed). The two
  AUCs are not recomputed from scratch: with every pooled positive's count of pooled negatives
  below it (P_i, ties 1/2) and every negative's count of positives above it (Q_j), the Mann-
  Whitney sum of the rest is U_all - sum_S P - sum_S Q + U_SS, so a replicate costs one sort of
  the drawn sample.
- `placement_test`: two AUCs that share one class (one-class scopes: two subclasses of the
  positives against the same negatives). Each AUC is the mean placement value of its own cases
  in the shared class, so the test is a permutation test of a difference of means of placements.
"""

from __future__ import annotations

import numpy as np

SMALL_CLASS = 10  # a group (or comparator) with fewer positives or negatives than this is tested exactly
N_PERMUTATIONS = 2000


def _p_value(observed: float, replicates: np.ndarray) -> float:
    # A relative tolerance so that a replicate equal to the observed statistic up to rounding counts.
    hits = int(np.count_nonzero(np.abs(replicates) >= abs(observed) * (1 - 1e-12) - 1e-15))
    return (1 + hits) / (1 + replicates.size)


def _counts_below(sorted_values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """How many sorted values lie below each query, ties counting one half."""
    left = np.searchsorted(sorted_values, queries, side="left")
    right = np.searchsorted(sorted_values, queries, side="right")
    return left + 0.5 * (right - left)


def independent_auc_test(
    pos_a: np.ndarray, neg_a: np.ndarray, pos_b: np.ndarray, neg_b: np.ndarray, *, n_perm: int, rng: np.random.Generator
) -> float:
    """Two-sided permutation p-value of AUC_a = AUC_b for disjoint samples a and b."""
    x = np.concatenate([pos_a, pos_b]).astype(np.float64)
    y = np.concatenate([neg_a, neg_b]).astype(np.float64)
    m, n = x.size, y.size
    place_pos = _counts_below(np.sort(y), x)  # P_i: negatives below positive i
    place_neg = m - _counts_below(np.sort(x), y)  # Q_j: positives above negative j, ties 1/2
    u_all = float(place_pos.sum())
    # Draw the smaller sample; the statistic is antisymmetric, so only its size matters.
    a_first = pos_a.size + neg_a.size <= pos_b.size + neg_b.size
    ms, ns = (pos_a.size, neg_a.size) if a_first else (pos_b.size, neg_b.size)
    sign = 1.0 if a_first else -1.0

    def delta(ip: np.ndarray, ineg: np.ndarray) -> float:
        u_ss = float(_counts_below(np.sort(y[ineg]), x[ip]).sum())
        u_rr = u_all - float(place_pos[ip].sum()) - float(place_neg[ineg].sum()) + u_ss
        return sign * (u_ss / (ms * ns) - u_rr / ((m - ms) * (n - ns)))

    start_p = 0 if a_first else pos_a.size
    start_n = 0 if a_first else neg_a.size
    observed = delta(np.arange(start_p, start_p + ms), np.arange(start_n, start_n + ns))
    replicates = np.array(
        [delta(rng.choice(m, ms, replace=False), rng.choice(n, ns, replace=False)) for _ in range(n_perm)]
    )
    return _p_value(observed, replicates)


def placement_test(
    placements_a: np.ndarray, placements_b: np.ndarray, *, n_perm: int, rng: np.random.Generator
) -> float:
    """Two-sided permutation p-value of mean(a) = mean(b), drawing a's members from the pool."""
    pool = np.concatenate([placements_a, placements_b]).astype(np.float64)
    k, total = placements_a.size, float(pool.sum())
    rest = pool.size - k

    def delta(chosen_sum: np.ndarray | float) -> np.ndarray | float:
        return chosen_sum / k - (total - chosen_sum) / rest

    observed = float(delta(float(placements_a.sum())))
    sums = np.array([pool[rng.choice(pool.size, k, replace=False)].sum() for _ in range(n_perm)])
    return _p_value(observed, np.asarray(delta(sums)))
