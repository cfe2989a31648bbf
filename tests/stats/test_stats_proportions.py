"""Intervals and tests for proportions against scipy, and multiplicity against hand computation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from hstool.stats.multiplicity import adjust, benjamini_hochberg, holm
from hstool.stats.proportions import (
    clopper_pearson_interval,
    compare_proportions,
    fisher_p,
    proportion,
    two_proportion_z_p,
    wilson_interval,
)

CASES = [(0, 1), (1, 1), (0, 10), (10, 10), (3, 10), (1, 7), (57, 91), (0, 500), (499, 500), (250, 1000)]


@pytest.mark.parametrize("k,n", CASES)
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_wilson_equals_scipy(k, n, level):
    low, high = wilson_interval(k, n, level)
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    assert float(low) == pytest.approx(ref.low, abs=1e-12)
    assert float(high) == pytest.approx(ref.high, abs=1e-12)


@pytest.mark.parametrize("k,n", CASES)
def test_clopper_pearson_equals_scipy_exact(k, n):
    low, high = clopper_pearson_interval(k, n, 0.95)
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert float(low) == pytest.approx(ref.low, abs=1e-10)
    assert float(high) == pytest.approx(ref.high, abs=1e-10)


def test_vectorised_and_empty():
    low, high = wilson_interval(np.array([0, 3]), np.array([0, 10]))
    assert np.isnan(low[0]) and np.isnan(high[0]) and 0 < low[1] < 0.3 < high[1]
    assert np.isnan(proportion(0, 0))


def test_z_test_equals_uncorrected_chi_square():
    # The pooled two-proportion z-test is the chi-square test without continuity correction.
    for k1, n1, k2, n2 in [(40, 100, 55, 100), (300, 1000, 260, 900), (12, 50, 30, 60)]:
        chi2 = stats.chi2_contingency([[k1, n1 - k1], [k2, n2 - k2]], correction=False)
        assert two_proportion_z_p(k1, n1, k2, n2) == pytest.approx(chi2.pvalue, rel=1e-9)


def test_compare_proportions_chooses_fisher_for_small_counts():
    p, test = compare_proportions(1, 8, 6, 9)
    assert test == "fisher"
    assert p == pytest.approx(stats.fisher_exact([[1, 7], [6, 3]]).pvalue)
    p, test = compare_proportions(40, 100, 55, 100)
    assert test == "z"
    assert compare_proportions(3, 0, 1, 5) == (None, None)


@settings(max_examples=300, deadline=None)
@given(
    n1=st.integers(1, 60),
    n2=st.one_of(st.integers(1, 60), st.integers(1000, 200_000)),
    share1=st.floats(0, 1),
    share2=st.floats(0, 1),
)
def test_fisher_equals_scipy(n1, n2, share1, share2):
    k1, k2 = round(share1 * n1), round(share2 * n2)
    expected = stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue
    assert fisher_p(k1, n1, k2, n2) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_fisher_counts_the_mirror_table_of_a_symmetric_design():
    # n1 = n2 = 6 and 2 successes in all: of the 12 choose 2 = 66 ways, (2, 0) and (0, 2) have
    # 15 each and (1, 1) has 36; the observed (2, 0) and its mirror give 30/66.
    assert fisher_p(2, 6, 0, 6) == pytest.approx(30 / 66, rel=1e-12)


def test_holm_and_bh_hand_computed():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # Holm: sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06.
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    # BH: 0.005*4/1=0.02, 0.01*4/2=0.02, 0.03*4/3=0.04, 0.04*4/4=0.04.
    np.testing.assert_allclose(benjamini_hochberg(p), [0.02, 0.04, 0.04, 0.02])


def test_bh_equals_scipy_and_nan_is_skipped():
    rng = np.random.default_rng(0)
    p = rng.random(50) ** 3
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p, method="bh"))
    with_nan = np.array([0.01, np.nan, 0.02])
    out = holm(with_nan)
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [0.02, 0.02])
    assert np.isnan(adjust(np.array([np.nan]), "holm")).all()
    np.testing.assert_allclose(adjust(p, "none"), p)
    assert (holm(np.array([0.9, 0.8])) <= 1).all()
