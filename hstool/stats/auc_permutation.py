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
  the drawn sample. Replicates are drawn and computed as matrices, a chunk at a time (one
  searchsorted for every replicate of the chunk), not one by one.
- `placement_test`: two AUCs that share one class (one-class scopes: two subclasses of the
  positives against the same negatives). Each AUC is the mean placement value of its own cases
  in the shared class, so the test is a permutation test of a difference of means of placements.
"""

from __future__ import annotations

import numpy as np

from hstool.stats.auc import rank_classes

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


# Replicates are computed in chunks of index matrices of at most this many cells (memory bound).
_CHUNK_CELLS = 2_000_000
# Pools up to this size are sampled for a whole chunk at once (random keys, the k smallest); a
# larger pool is sampled replicate by replicate (numpy's choice costs the sample, not the pool).
_VECTOR_POOL = 20_000


def _samples(rng: np.random.Generator, pool: int, k: int, rows: int) -> np.ndarray:
    """`rows` independent uniform samples of k of `pool` indices without replacement, (rows, k)."""
    if k == pool:
        return np.tile(np.arange(pool), (rows, 1))
    if pool <= _VECTOR_POOL:
        keys = rng.random((rows, pool))
        return np.argpartition(keys, k - 1, axis=1)[:, :k]
    return np.stack([rng.choice(pool, k, replace=False) for _ in range(rows)])


def _chunks(n_perm: int, width: int) -> list[int]:
    """Replicates per chunk so that a chunk's index matrices stay below _CHUNK_CELLS cells."""
    size = max(1, _CHUNK_CELLS // max(width, 1))
    return [min(size, n_perm - done) for done in range(0, n_perm, size)]


def _pairs_below(pos_classes: np.ndarray, neg_classes: np.ndarray, n_classes: int) -> np.ndarray:
    """Per row, the Mann-Whitney count of the row's negatives below its positives (ties 1/2),
    for (rows, ms) positive and (rows, ns) negative rank classes: one searchsorted over all
    rows, each row's classes offset by n_classes so that the rows do not mix."""
    rows, ns = neg_classes.shape
    offsets = np.arange(rows, dtype=np.int64)[:, None] * n_classes
    negatives = np.sort(neg_classes, axis=1) + offsets  # sorted within rows, rows in order
    flat = negatives.ravel()
    queries = (pos_classes + offsets).ravel()
    before = np.repeat(np.arange(rows, dtype=np.int64) * ns, pos_classes.shape[1])
    left = np.searchsorted(flat, queries, side="left") - before
    right = np.searchsorted(flat, queries, side="right") - before
    below: np.ndarray = (left + 0.5 * (right - left)).reshape(pos_classes.shape).sum(axis=1)
    return below


def independent_auc_test(
    pos_a: np.ndarray, neg_a: np.ndarray, pos_b: np.ndarray, neg_b: np.ndarray, *, n_perm: int, rng: np.random.Generator
) -> float:
    """Two-sided permutation p-value of AUC_a = AUC_b for disjoint samples a and b."""
    x = np.concatenate([pos_a, pos_b]).astype(np.float64)
    y = np.concatenate([neg_a, neg_b]).astype(np.float64)
    m, n = x.size, y.size
    classes, n_classes = rank_classes(np.concatenate([x, y]))
    cx, cy = classes[:m], classes[m:]
    place_pos = _counts_below(np.sort(y), x)  # P_i: negatives below positive i
    place_neg = m - _counts_below(np.sort(x), y)  # Q_j: positives above negative j, ties 1/2
    u_all = float(place_pos.sum())
    # Draw the smaller sample; the statistic is antisymmetric, so only its size matters.
    a_first = pos_a.size + neg_a.size <= pos_b.size + neg_b.size
    ms, ns = (pos_a.size, neg_a.size) if a_first else (pos_b.size, neg_b.size)
    sign = 1.0 if a_first else -1.0

    def deltas(ip: np.ndarray, ineg: np.ndarray) -> np.ndarray:
        """The AUC difference (drawn sample minus the rest) of each row of drawn indices."""
        u_ss = _pairs_below(cx[ip], cy[ineg], n_classes)
        u_rr = u_all - place_pos[ip].sum(axis=1) - place_neg[ineg].sum(axis=1) + u_ss
        out: np.ndarray = sign * (u_ss / (ms * ns) - u_rr / ((m - ms) * (n - ns)))
        return out

    start_p = 0 if a_first else pos_a.size
    start_n = 0 if a_first else neg_a.size
    observed = float(deltas(np.arange(start_p, start_p + ms)[None, :], np.arange(start_n, start_n + ns)[None, :])[0])
    replicates = np.concatenate(
        [deltas(_samples(rng, m, ms, rows), _samples(rng, n, ns, rows)) for rows in _chunks(n_perm, m + n)]
    )
    return _p_value(observed, replicates)


def placement_test(
    placements_a: np.ndarray, placements_b: np.ndarray, *, n_perm: int, rng: np.random.Generator
) -> float:
    """Two-sided permutation p-value of mean(a) = mean(b), drawing a's members from the pool."""
    pool = np.concatenate([placements_a, placements_b]).astype(np.float64)
    k, total = placements_a.size, float(pool.sum())
    rest = pool.size - k

    def delta(chosen_sum: np.ndarray) -> np.ndarray:
        out: np.ndarray = chosen_sum / k - (total - chosen_sum) / rest
        return out

    observed = float(delta(np.array([placements_a.sum()]))[0])
    sums = np.concatenate([pool[_samples(rng, pool.size, k, rows)].sum(axis=1) for rows in _chunks(n_perm, pool.size)])
    return _p_value(observed, delta(sums))
