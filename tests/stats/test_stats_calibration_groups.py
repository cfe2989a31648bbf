"""Calibration from cases grouped by score (calibration_groups): the same estimates, intervals and
Brier scores as the per-case functions of calibration_metrics, for groups and for the rest."""

from __future__ import annotations

import numpy as np
import pytest
from calibration_data import miscalibrated_groups
from hypothesis import given, settings
from hypothesis import strategies as st

from hstool.stats.auc import rank_classes
from hstool.stats.calibration_groups import ScoreClasses, SquaredErrors
from hstool.stats.calibration_metrics import (
    Estimate,
    Likelihood,
    bins_ece,
    bins_ece_interval,
    brier,
    brier_of,
    calibration_intercept,
    calibration_slope,
    ece,
    ece_interval,
    intercept_estimate,
    logit,
    slope_estimate,
    sorted_bins,
)

REL = 1e-9  # the fits stop within ~1e-11 of the maximum; estimates agree far below their standard errors


def _classes(s: np.ndarray, y: np.ndarray) -> ScoreClasses:
    return ScoreClasses(s, y, *rank_classes(s))


def _same(got: Estimate | None, expected: Estimate | None) -> None:
    assert (got is None) == (expected is None)
    if got is not None and expected is not None:
        assert got.value == pytest.approx(expected.value, rel=REL, abs=1e-12)
        assert (got.se is None) == (expected.se is None)
        if got.se is not None:
            assert got.se == pytest.approx(expected.se, rel=REL)


@pytest.mark.parametrize("seed", range(4))
def test_each_group_and_its_rest_fit_as_the_per_case_functions(seed):
    s, y, codes = miscalibrated_groups(seed)
    classes = _classes(s, y)
    for code in range(8):
        member = codes == code
        if not member.any():
            continue
        fits = classes.fits_with_rest(classes.counts(np.flatnonzero(member)))
        for slope, per_case, estimate in (
            (False, calibration_intercept, intercept_estimate),
            (True, calibration_slope, slope_estimate),
        ):
            group_fit, rest_fit = fits[slope]
            _same(estimate(group_fit), per_case(s[member], y[member]))
            _same(estimate(rest_fit), per_case(s[~member], y[~member]))


def test_the_edge_groups_are_what_the_data_promise():
    s, y, codes = miscalibrated_groups(0)
    classes = _classes(s, y)
    fits = {c: classes.fits_with_rest(classes.counts(np.flatnonzero(codes == c))) for c in (5, 6, 7)}
    assert fits[5][True][0] is None and fits[5][True][1] is not None  # one class: no fit, the rest has one
    assert fits[6][True][0] is not None  # one positive: a slope all the same
    assert fits[7][True][0] is None  # separated by score: no finite slope


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 6), st.integers(1, 3))
def test_any_data_fit_as_the_per_case_functions(seed, decimals, n_groups):
    rng = np.random.default_rng(seed)
    n = 600
    codes = rng.integers(0, n_groups + 1, n)
    true_logit = rng.normal(rng.uniform(-2, 1), rng.uniform(0.5, 2.0), n)
    y = rng.random(n) < 1 / (1 + np.exp(-true_logit))
    s = np.round(1 / (1 + np.exp(-true_logit * rng.uniform(0.5, 2.0))), decimals)
    classes = _classes(s, y)
    for code in range(n_groups + 1):
        member = codes == code
        if not member.any():
            continue
        fits = classes.fits_with_rest(classes.counts(np.flatnonzero(member)))
        _same(intercept_estimate(fits[False][0]), calibration_intercept(s[member], y[member]))
        _same(intercept_estimate(fits[False][1]), calibration_intercept(s[~member], y[~member]))
        _same(slope_estimate(fits[True][0]), calibration_slope(s[member], y[member]))
        _same(slope_estimate(fits[True][1]), calibration_slope(s[~member], y[~member]))
        # A group on its own (as against a --reference group).
        _same(
            slope_estimate(classes.fits(classes.counts(np.flatnonzero(member)))[True]),
            calibration_slope(s[member], y[member]),
        )


def test_brier_of_the_rest_from_sums_equals_the_per_case_brier():
    s, y, codes = miscalibrated_groups(1)
    classes = _classes(s, y)
    for code in range(8):
        member = codes == code
        if not member.any():
            continue
        squared = classes.squared[member]
        assert brier_of(squared) == brier(s[member], y[member])
        for kept, cases in (("all", np.ones_like(y)), ("positives", y), ("negatives", ~y)):
            rest = (classes.errors[kept] - SquaredErrors.of(classes.squared[member & cases])).brier()
            expected = brier(s[~member & cases], y[~member & cases])
            assert rest is not None and expected.se is not None and rest.se is not None
            assert rest.value == pytest.approx(expected.value, rel=1e-12)
            assert rest.se == pytest.approx(expected.se, rel=1e-9)
    assert SquaredErrors(0, 0.0, 0.0).brier() is None
    assert SquaredErrors(1, 0.25, 0.0625).brier() == Estimate(0.25, None)


def test_ece_of_the_rows_in_score_order_equals_the_per_case_ece():
    s, y, codes = miscalibrated_groups(2, decimals=1)  # long runs of tied scores straddle the bins' edges
    classes = _classes(s, y)
    for code in (0, 2, 4):
        member = codes == code
        rows = classes.sorted_rows(member)
        bins = sorted_bins(s[rows], y[rows], 10)
        assert bins_ece(bins) == pytest.approx(ece(s[member], y[member], 10), rel=1e-12)
        got = bins_ece_interval(bins, n_boot=200, level=0.9, rng=np.random.default_rng(4))
        expected = ece_interval(s[member], y[member], n_bins=10, n_boot=200, level=0.9, rng=np.random.default_rng(4))
        assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "beta, slope", [([0.3], False), ([-40.0], False), ([0.2, 1.3], True), ([5.0, -30.0], True), ([-2.0, 0.0], True)]
)
def test_likelihood_equals_the_textbook_sums_without_overflow(beta, slope):
    rng = np.random.default_rng(0)
    x = np.sort(logit(rng.uniform(0, 1, 300)))
    total = rng.integers(0, 4, 300).astype(float)
    positives = np.minimum(total, rng.integers(0, 3, 300)).astype(float)
    b = np.array(beta)
    eta = b[0] + (b[1] * x if slope else x)
    p = 1 / (1 + np.exp(-eta))
    w = total * p * (1 - p)
    design = np.column_stack([np.ones_like(x), x]) if slope else np.ones((x.size, 1))
    with np.errstate(over="raise"):
        loglik, info, score = Likelihood(x, total, positives)(b, slope)
    assert loglik == pytest.approx(float(np.sum(positives * eta - total * np.logaddexp(0, eta))), rel=1e-12)
    np.testing.assert_allclose(info, design.T @ (design * w[:, None]), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(score, design.T @ (positives - total * p), rtol=1e-9, atol=1e-9)


def test_classes_must_follow_the_scores():
    s = np.array([0.2, 0.7, 0.4])
    with pytest.raises(ValueError, match="increasing"):
        ScoreClasses(s, np.array([True, False, True]), np.array([0, 1, 2]), 3)
