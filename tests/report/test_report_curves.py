"""ROC points and calibration bins against sklearn as the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_auc_score, roc_curve

from hstool.report.curves import calibration_bins, roc_points
from hstool.stats.calibration_metrics import ece


@pytest.mark.parametrize("n,digits", [(50, 2), (5000, 4), (5000, 1)])
def test_roc_points_follow_sklearn(n, digits):
    rng = np.random.default_rng(n + digits)
    y = rng.random(n) < 0.3
    scores = np.clip(y * 0.3 + rng.normal(0.4, 0.2, n), 0, 1).round(digits)  # ties when rounded
    roc = roc_points(scores, y)
    assert (roc.fpr[0], roc.tpr[0], roc.fpr[-1], roc.tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(roc.fpr) >= 0) and np.all(np.diff(roc.tpr) >= 0)
    assert len(roc.fpr) <= 2 * 401
    # Thinning moves the curve by at most one grid cell, so the area moves by about 1/400.
    assert np.trapezoid(roc.tpr, roc.fpr) == pytest.approx(roc_auc_score(y, scores), abs=3e-3)
    fpr, tpr, _ = roc_curve(y, scores, drop_intermediate=False)
    if n <= 50:  # no thinning on a small set: exactly sklearn's points
        assert np.allclose(roc.fpr, fpr) and np.allclose(roc.tpr, tpr)


def test_calibration_bins_match_sklearn():
    rng = np.random.default_rng(1)
    scores = rng.random(2000)
    y = rng.random(2000) < scores**1.5
    cal = calibration_bins(scores, y, n_bins=10, strategy="width")
    observed, predicted = calibration_curve(y, scores, n_bins=10, strategy="uniform")
    assert np.allclose(cal.observed, observed) and np.allclose(cal.mean_score, predicted)
    assert cal.count.sum() == 2000
    assert np.all(cal.low <= cal.observed) and np.all(cal.observed <= cal.high)


def test_calibration_leaves_out_empty_bins_and_keeps_score_one():
    cal = calibration_bins(np.array([0.05, 0.05, 1.0]), np.array([False, True, True]), n_bins=10, strategy="width")
    assert cal.count.tolist() == [2, 1]
    assert cal.observed.tolist() == [0.5, 1.0]


def test_default_bins_are_the_equal_mass_bins_of_the_ece():
    rng = np.random.default_rng(2)
    scores = rng.random(997) ** 2
    y = rng.random(997) < scores
    cal = calibration_bins(scores, y, n_bins=10)
    assert cal.count.max() - cal.count.min() <= 1 and cal.count.sum() == 997
    weighted = float(cal.count @ np.abs(cal.observed - cal.mean_score) / cal.count.sum())
    assert weighted == pytest.approx(ece(scores, y, 10), rel=1e-12)
