"""Brier score, calibration intercept and slope, ECE: against scikit-learn and statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import brier_score_loss

from hstool.stats.calibration_metrics import (
    brier,
    calibration_intercept,
    calibration_slope,
    ece,
    ece_interval,
    equal_mass_bins,
    logit,
)


def _data(n: int = 600, seed: int = 0, shift: float = 0.4, spread: float = 1.6) -> tuple[np.ndarray, np.ndarray]:
    """Scores miscalibrated on purpose: the true logit is shift + spread * logit(score)^-1."""
    rng = np.random.default_rng(seed)
    true_logit = rng.normal(-0.5, 1.5, n)
    y = rng.random(n) < 1 / (1 + np.exp(-true_logit))
    score = 1 / (1 + np.exp(-(true_logit - shift) * spread))
    return score, y


def test_brier_equals_sklearn_with_the_standard_error_of_a_mean():
    s, y = _data()
    got = brier(s, y)
    assert got.value == pytest.approx(brier_score_loss(y, s), rel=1e-12)
    sq = (s - y) ** 2
    assert got.se == pytest.approx(np.std(sq, ddof=1) / np.sqrt(len(sq)), rel=1e-12)


def test_intercept_and_slope_equal_statsmodels_glm():
    s, y = _data()
    o = logit(s)
    glm_int = sm.GLM(y.astype(float), np.ones((len(y), 1)), family=sm.families.Binomial(), offset=o).fit()
    glm_slope = sm.GLM(y.astype(float), sm.add_constant(o), family=sm.families.Binomial()).fit()
    a, b = calibration_intercept(s, y), calibration_slope(s, y)
    assert a is not None and b is not None
    assert a.value == pytest.approx(glm_int.params[0], rel=1e-8)
    assert a.se == pytest.approx(glm_int.bse[0], rel=1e-6)
    assert b.value == pytest.approx(glm_slope.params[1], rel=1e-8)
    assert b.se == pytest.approx(glm_slope.bse[1], rel=1e-6)
    # The scores were made too extreme (spread 1.6): the slope is well below 1.
    assert b.value < 0.8


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(-1.0, 1.0), st.floats(0.5, 2.0))
def test_any_data_agree_with_statsmodels(seed, shift, spread):
    s, y = _data(200, seed, shift, spread)
    b = calibration_slope(s, y)
    glm = sm.GLM(y.astype(float), sm.add_constant(logit(s)), family=sm.families.Binomial()).fit()
    assert b is not None and b.value == pytest.approx(glm.params[1], rel=1e-6, abs=1e-8)


def test_perfectly_calibrated_scores_have_intercept_0_and_slope_1_within_error():
    rng = np.random.default_rng(3)
    s = rng.uniform(0.02, 0.98, 20_000)
    y = rng.random(s.size) < s
    a, b = calibration_intercept(s, y), calibration_slope(s, y)
    assert a is not None and b is not None
    assert abs(a.value) < 3 * a.se and abs(b.value - 1) < 3 * b.se
    low, high = b.interval(0.95)
    assert low is not None and high is not None and low < 1 < high


def test_one_class_or_separated_data_have_no_fit():
    s = np.array([0.1, 0.2, 0.3])
    assert calibration_intercept(s, np.array([True, True, True])) is None
    assert calibration_slope(s, np.array([False, False, False])) is None
    # Perfect separation by score: the slope's MLE is infinite.
    assert calibration_slope(np.array([0.1, 0.2, 0.8, 0.9]), np.array([False, False, True, True])) is None


def test_ece_by_hand_on_equal_mass_bins():
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
    y = np.array([0, 0, 1, 0, 1, 1, 1, 1], bool)
    assert equal_mass_bins(s, 4).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    # Bins: |0 - 0.15|, |0.5 - 0.35|, |1 - 0.65|, |1 - 0.85| with equal weights 1/4.
    assert ece(s, y, 4) == pytest.approx((0.15 + 0.15 + 0.35 + 0.15) / 4)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=200), st.integers(1, 15))
def test_equal_mass_bins_sizes_differ_by_at_most_one(scores, n_bins):
    index = equal_mass_bins(np.array(scores), n_bins)
    counts = np.bincount(index)
    assert counts.min() >= 1 and counts.max() - counts.min() <= 1
    assert len(counts) == min(n_bins, len(scores))


def test_ece_interval_is_seeded_and_covers_the_estimate():
    s, y = _data(2000)
    kwargs = {"n_bins": 10, "n_boot": 500, "level": 0.95}
    first = ece_interval(s, y, rng=np.random.default_rng(7), **kwargs)
    assert first == ece_interval(s, y, rng=np.random.default_rng(7), **kwargs)
    assert first[0] < ece(s, y) < first[1]
