"""Cohen et al.'s piecewise-linear calibration and the Youden threshold."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hstool.stats.calibration import calibrated_threshold, piecewise_calibrate
from hstool.stats.thresholds import UninformativeScores, sensitivity_specificity, youden_threshold


def test_eq1_by_hand():
    # t = 0.2: below, s / 0.4; from t, 1 - (1 - s) / 1.6
    out = piecewise_calibrate(np.array([0.0, 0.1, 0.2, 0.6, 1.0]), 0.2)
    np.testing.assert_allclose(out, [0.0, 0.25, 0.5, 0.75, 1.0])
    assert calibrated_threshold(0.6, 0.2) == pytest.approx(0.75)


unit = st.floats(0.0, 1.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(unit, min_size=1, max_size=50), unit)
def test_called_positive_exactly_when_score_reaches_threshold(scores, t):
    s = np.array(scores)
    out = piecewise_calibrate(s, t)
    np.testing.assert_array_equal(out >= 0.5, s >= t)
    assert ((out >= 0.0) & (out <= 1.0)).all()
    order = np.argsort(s, kind="stable")
    assert (np.diff(out[order]) >= 0).all()  # monotone


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-6, 1.0 - 1e-6))
def test_neighbours_of_the_threshold(t):
    below, above = np.nextafter(t, 0.0), np.nextafter(t, 1.0)
    out = piecewise_calibrate(np.array([below, t, above]), t)
    assert out[0] < 0.5 and out[1] == 0.5 and out[2] >= 0.5


def test_threshold_edges():
    s = np.array([0.0, 0.5, 1.0])
    np.testing.assert_allclose(piecewise_calibrate(s, 0.0), [0.5, 0.75, 1.0])
    np.testing.assert_allclose(piecewise_calibrate(s, 1.0), [0.0, 0.25, 0.5])
    above_one = piecewise_calibrate(s, float(np.nextafter(1.0, 2.0)))
    assert (above_one < 0.5).all()


def _brute_force_youden(scores, labels):
    """Every distinct score as the cut of 'score >= cut', J in exact fractions; ties: highest cut."""
    m, n = int(labels.sum()), int((~labels).sum())
    best_j, best_cut = None, None
    for cut in np.unique(scores):
        called = scores >= cut
        j = Fraction(int(called[labels].sum()), m) + Fraction(int((~called[~labels]).sum()), n) - 1
        if best_j is None or j >= best_j:
            best_j, best_cut = j, cut
    return float(best_j), best_cut


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=2, max_size=80))
def test_youden_against_brute_force(pairs):
    scores = np.array([p[0] / 20 for p in pairs])  # few distinct values: many ties
    labels = np.array([p[1] for p in pairs])
    if labels.all() or not labels.any():
        return
    best_j, best_cut = _brute_force_youden(scores, labels)
    if best_j == 0:  # uninformative: refused rather than calling every case positive
        with pytest.raises(UninformativeScores):
            youden_threshold(scores, labels)
        return
    t = youden_threshold(scores, labels)
    sens, spec = sensitivity_specificity(scores, labels, t)
    assert sens + spec - 1 == pytest.approx(best_j, abs=1e-12)
    assert t == best_cut
