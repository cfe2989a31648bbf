"""Permutation tests of AUC differences: exact level in small groups, where DeLong is not."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hstool.stats.auc import auc_score, delong
from hstool.stats.auc_permutation import _VECTOR_POOL, _pairs_below, _samples, independent_auc_test, placement_test
from hstool.stats.delong import compare_aucs


def _auc_diff(pos_a, neg_a, pos_b, neg_b) -> float:
    a = auc_score(np.concatenate([pos_a, neg_a]), np.r_[np.ones(len(pos_a)), np.zeros(len(neg_a))].astype(bool))
    b = auc_score(np.concatenate([pos_b, neg_b]), np.r_[np.ones(len(pos_b)), np.zeros(len(neg_b))].astype(bool))
    return a - b


def test_independent_test_matches_full_enumeration_on_a_tiny_example():
    # Every reassignment of 2 of 4 positives and 2 of 4 negatives to group a: 36 equally likely.
    pos_a, neg_a = np.array([0.9, 0.3]), np.array([0.5, 0.6])
    pos_b, neg_b = np.array([0.8, 0.7]), np.array([0.1, 0.2])
    x, y = np.r_[pos_a, pos_b], np.r_[neg_a, neg_b]
    observed = abs(_auc_diff(pos_a, neg_a, pos_b, neg_b))
    extreme = 0
    for ip in itertools.combinations(range(4), 2):
        for ineg in itertools.combinations(range(4), 2):
            rp, rn = [i for i in range(4) if i not in ip], [j for j in range(4) if j not in ineg]
            extreme += abs(_auc_diff(x[list(ip)], y[list(ineg)], x[rp], y[rn])) >= observed - 1e-12
    exact = extreme / 36
    p = independent_auc_test(pos_a, neg_a, pos_b, neg_b, n_perm=20_000, rng=np.random.default_rng(0))
    assert p == pytest.approx(exact, abs=0.01)


def test_statistic_is_the_auc_difference_whichever_side_is_drawn():
    rng = np.random.default_rng(1)
    small = (rng.normal(1, 1, 4), rng.normal(0, 1, 30))
    large = (rng.normal(1, 1, 200), rng.normal(0, 1, 800))
    p1 = independent_auc_test(*small, *large, n_perm=4000, rng=np.random.default_rng(5))
    p2 = independent_auc_test(*large, *small, n_perm=4000, rng=np.random.default_rng(6))
    # The same exact p-value estimated twice (Monte Carlo SE at most 0.008 each).
    assert p1 == pytest.approx(p2, abs=0.04)


def test_null_rejection_rate_is_at_most_alpha_for_3_to_10_positives_where_delong_is_not():
    """Seeded null simulation: a group of 40 cases with 3-10 positives against 400 others, same scores."""
    rng = np.random.default_rng(2026)
    n_sets, alpha = 300, 0.05
    perm_rejections = delong_rejections = 0
    for i in range(n_sets):
        k = 3 + i % 8
        pos_a, neg_a = rng.normal(1.5, 1, k), rng.normal(0, 1, 40 - k)
        pos_b, neg_b = rng.normal(1.5, 1, 120), rng.normal(0, 1, 280)
        p = independent_auc_test(pos_a, neg_a, pos_b, neg_b, n_perm=199, rng=rng)
        perm_rejections += p <= alpha
        ca = delong(np.r_[pos_a, neg_a], np.r_[np.ones(k), np.zeros(40 - k)].astype(bool))
        cb = delong(np.r_[pos_b, neg_b], np.r_[np.ones(120), np.zeros(280)].astype(bool))
        assert ca is not None and cb is not None
        test = compare_aucs(ca.auc, ca.variance(), cb.auc, cb.variance())
        delong_rejections += test.p is not None and test.p <= alpha
    # Binomial(300, 0.05) exceeds 24 rejections with probability < 0.5%.
    assert perm_rejections / n_sets <= alpha + 2.6 * np.sqrt(alpha * (1 - alpha) / n_sets)
    assert delong_rejections > perm_rejections  # the normal approximation is anti-conservative here


def test_placement_test_detects_a_real_difference_and_not_an_absent_one():
    rng = np.random.default_rng(4)
    same = placement_test(rng.uniform(size=8), rng.uniform(size=300), n_perm=1999, rng=rng)
    shifted = placement_test(rng.uniform(0, 0.3, size=8), rng.uniform(size=300), n_perm=1999, rng=rng)
    assert same > 0.05 and shifted < 0.01
    assert shifted >= 1 / 2000


def test_pairs_below_counts_each_rows_pairs_as_brute_force():
    rng = np.random.default_rng(3)
    pos, neg = rng.integers(0, 6, (50, 4)), rng.integers(0, 6, (50, 7))  # many ties
    brute = [sum((b < a) + 0.5 * (b == a) for a in p for b in q) for p, q in zip(pos, neg)]
    np.testing.assert_allclose(_pairs_below(pos, neg, 6), brute)


@pytest.mark.parametrize("pool", [12, _VECTOR_POOL + 5])  # whole chunks at once, and one by one
def test_samples_are_uniform_subsets_without_repeats(pool):
    rows, k = 4000, 3
    drawn = _samples(np.random.default_rng(4), pool, k, rows)
    assert drawn.shape == (rows, k) and all(len(set(r)) == k for r in drawn.tolist())
    if pool == 12:  # every index drawn k / pool of the time: 1000 of 4000 x 3 draws each
        counts = np.bincount(drawn.ravel(), minlength=pool)
        assert np.abs(counts - rows * k / pool).max() < 5 * np.sqrt(rows * k / pool)


def test_permutation_p_values_are_seeded_and_the_same_in_chunks(monkeypatch):
    rng = np.random.default_rng(5)
    args = (rng.normal(1, 1, 4), rng.normal(0, 1, 9), rng.normal(1, 1, 60), rng.normal(0, 1, 90))
    whole = independent_auc_test(*args, n_perm=999, rng=np.random.default_rng(7))
    assert whole == independent_auc_test(*args, n_perm=999, rng=np.random.default_rng(7))
    # The p-value counts replicates, whatever the chunk size (the draws then differ, not the law).
    monkeypatch.setattr("hstool.stats.auc_permutation._CHUNK_CELLS", 500)
    chunked = independent_auc_test(*args, n_perm=999, rng=np.random.default_rng(7))
    assert 0 < chunked <= 1 and abs(chunked - whole) < 0.05
