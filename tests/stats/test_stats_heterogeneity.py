"""DerSimonian-Laird, Cochran's Q and I^2 against statsmodels' meta-analysis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2
from statsmodels.stats.meta_analysis import combine_effects

from hstool.stats.heterogeneity import chi2_sf, dersimonian_laird


def _oracle(theta, v):
    res = combine_effects(np.asarray(theta), np.asarray(v), method_re="dl")
    low, high = res.conf_int(alpha=0.05)[1]  # row 1: random effects
    return res, low, high


def test_heterogeneous_sites_match_statsmodels():
    theta = np.array([0.91, 0.84, 0.78, 0.88, 0.70])
    v = np.array([0.0004, 0.0009, 0.0016, 0.0005, 0.0025])
    got = dersimonian_laird(theta, v)
    res, low, high = _oracle(theta, v)
    assert got is not None
    assert got.q == pytest.approx(res.q, rel=1e-12)
    assert got.i2 == pytest.approx(res.i2, rel=1e-12)
    assert got.tau2 == pytest.approx(res.tau2, rel=1e-12)
    assert got.pooled == pytest.approx(res.mean_effect_re, rel=1e-12)
    assert got.pooled_se == pytest.approx(res.sd_eff_w_re, rel=1e-12)
    assert (got.pooled_ci_low, got.pooled_ci_high) == pytest.approx((low, high), rel=1e-12)
    assert got.df == 4 and 0 <= got.q_p < 0.05


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0.5, 1.0), st.floats(1e-4, 1e-2)), min_size=2, max_size=12))
def test_any_sites_match_statsmodels(pairs):
    theta, v = np.array(pairs).T
    got = dersimonian_laird(theta, v)
    res, _, _ = _oracle(theta, v)
    assert got is not None
    assert got.q == pytest.approx(res.q, rel=1e-9, abs=1e-9)  # statsmodels leaves ~1e-12 for equal sites
    # statsmodels leaves a negative moment estimate of tau^2 untruncated (and then pools with it);
    # DerSimonian & Laird truncate at 0, where the random-effects mean is the fixed-effect one.
    assert got.tau2 == pytest.approx(max(res.tau2, 0.0), rel=1e-9, abs=1e-12)
    pooled = res.mean_effect_re if res.tau2 >= 0 else res.mean_effect_fe
    assert got.pooled == pytest.approx(pooled, rel=1e-9)
    assert 0.0 <= got.i2 < 1.0


def test_identical_sites_have_no_heterogeneity_and_one_group_none():
    got = dersimonian_laird(np.array([0.8, 0.8, 0.8]), np.array([0.001, 0.002, 0.003]))
    assert got is not None and got.q == pytest.approx(0.0, abs=1e-20) and got.i2 == 0.0 and got.tau2 == 0.0
    assert dersimonian_laird(np.array([0.8]), np.array([0.001])) is None
    assert dersimonian_laird(np.array([0.8, 1.0]), np.array([0.001, 0.0])) is None


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 19, 20, 26])
def test_chi2_survival_equals_scipy(df):
    for q in (0.0, 0.01, 0.5, 1.0, df * 0.7, float(df), df + 3.0, 4.0 * df + 10, 300.0):
        assert chi2_sf(q, df) == pytest.approx(chi2.sf(q, df), rel=1e-10, abs=1e-300)
