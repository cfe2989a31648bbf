"""AUC and DeLong against independent references: sklearn, brute force, hand-worked values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from hstool.stats.auc import auc_score, class_counts, delong_components, midranks, rank_classes, shared_class_covariance
from hstool.stats.delong import compare_aucs, compare_paired_aucs, wald_interval


def components(scores, labels):
    classes, u = rank_classes(np.asarray(scores, float))
    labels = np.asarray(labels, bool)
    return delong_components(class_counts(classes, labels, u), class_counts(classes, ~labels, u))


def brute_placements(pos, neg):
    """O(m n) DeLong placements straight from the definition (the independent oracle)."""
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return psi.mean(axis=1), psi.mean(axis=0)


def test_hand_worked_delong_variance():
    # Positives 0.9, 0.8, 0.4; negatives 0.7, 0.4, 0.2, 0.1 (one tie at 0.4).
    # V10 = (1, 1, 5/8), V01 = (2/3, 5/6, 1, 1), AUC = 7/8,
    # S10 = 3/64, S01 = 11/432, Var = S10/3 + S01/4 = 19/864.
    comp = components([0.9, 0.8, 0.4, 0.7, 0.4, 0.2, 0.1], [1, 1, 1, 0, 0, 0, 0])
    assert comp.auc == pytest.approx(7 / 8)
    assert comp.variance() == pytest.approx(19 / 864, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    scores=st.lists(st.integers(0, 6), min_size=4, max_size=60),
    flips=st.lists(st.booleans(), min_size=4, max_size=60),
)
def test_auc_equals_sklearn_with_ties(scores, flips):
    n = min(len(scores), len(flips))
    s, y = np.array(scores[:n], float), np.array(flips[:n])
    if y.all() or not y.any():
        assert auc_score(s, y) is None
        return
    assert auc_score(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_variance_equals_brute_force_definition():
    rng = np.random.default_rng(1)
    s = np.round(rng.normal(size=300), 1)  # many ties
    y = rng.random(300) < 0.4
    v10, v01 = brute_placements(s[y], s[~y])
    expected = v10.var(ddof=1) / y.sum() + v01.var(ddof=1) / (~y).sum()
    assert components(s, y).variance() == pytest.approx(expected, rel=1e-10)


def test_delong_variance_matches_bootstrap_variance_on_a_large_group():
    rng = np.random.default_rng(7)
    y = rng.random(2000) < 0.3
    s = rng.normal(size=2000) + 1.2 * y
    comp = components(s, y)
    pos, neg = s[y], s[~y]
    boot = []
    for _ in range(1000):
        boot.append(
            roc_auc_score(
                np.r_[np.ones(len(pos)), np.zeros(len(neg))],
                np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))],
            )
        )
    # Monte Carlo error of a variance from 1000 replicates is about sqrt(2/1000) = 4.5%.
    assert comp.variance() == pytest.approx(np.var(boot, ddof=1), rel=0.15)


def test_midranks_equal_scipy_rankdata():
    from scipy.stats import rankdata

    values = np.random.default_rng(0).integers(0, 9, 200).astype(float)
    np.testing.assert_array_equal(midranks(values), rankdata(values))


def test_undefined_cases():
    assert components([0.1, 0.2], [1, 1]) is None
    assert components([0.1, 0.9, 0.3], [1, 0, 0]).variance() is None  # one positive
    assert wald_interval(0.8, None, 0.95) == (None, None)


def test_wald_interval_is_clipped():
    low, high = wald_interval(0.99, 0.01**2 * 4, 0.95)
    assert high == 1.0 and low == pytest.approx(0.99 - 1.959964 * 0.02, rel=1e-5)


def test_shared_negative_covariance_matches_brute_force():
    rng = np.random.default_rng(3)
    y = rng.random(400) < 0.4
    sub = rng.random(400) < 0.5  # splits the positives into two subclasses
    s = rng.normal(size=400) + y * (0.5 + sub)
    g, r = y & sub, y & ~sub
    classes, u = rank_classes(s)
    neg_counts = class_counts(classes, ~y, u)
    a = delong_components(class_counts(classes, g, u), neg_counts)
    b = delong_components(class_counts(classes, r, u), neg_counts)
    _, v01_a = brute_placements(s[g], s[~y])
    _, v01_b = brute_placements(s[r], s[~y])
    expected = np.cov(v01_a, v01_b)[0, 1] / (~y).sum()
    assert shared_class_covariance(a, b, "neg") == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError):
        shared_class_covariance(a, b, "pos")  # their positives differ: not a shared-positives pair


def test_paired_test_matches_brute_force_covariance():
    rng = np.random.default_rng(5)
    y = rng.random(250) < 0.5
    a = rng.normal(size=250) + y
    b = a + rng.normal(scale=0.8, size=250)
    auc_a, auc_b, cmp = compare_paired_aucs(a, b, y)
    a10, a01 = brute_placements(a[y], a[~y])
    b10, b01 = brute_placements(b[y], b[~y])
    m, n = y.sum(), (~y).sum()
    var = (np.var(a10, ddof=1) + np.var(b10, ddof=1) - 2 * np.cov(a10, b10)[0, 1]) / m + (
        np.var(a01, ddof=1) + np.var(b01, ddof=1) - 2 * np.cov(a01, b01)[0, 1]
    ) / n
    assert auc_a == pytest.approx(roc_auc_score(y, a)) and auc_b == pytest.approx(roc_auc_score(y, b))
    assert cmp.z == pytest.approx((auc_a - auc_b) / np.sqrt(var), rel=1e-10)


def test_independent_test_has_nominal_size_under_the_null():
    """Two groups drawn from one distribution: about 5% of tests reject at 0.05."""
    rng = np.random.default_rng(11)
    rejections = 0
    sims = 400
    for _ in range(sims):
        y = rng.random(400) < 0.3
        s = rng.normal(size=400) + y
        group = rng.random(400) < 0.5
        ca, cb = components(s[group], y[group]), components(s[~group], y[~group])
        test = compare_aucs(ca.auc, ca.variance(), cb.auc, cb.variance())
        rejections += test.p < 0.05
    # Binomial(400, 0.05): mean 20, sd 4.4; a broken variance (e.g. halved) would give ~50.
    assert 8 <= rejections <= 34
