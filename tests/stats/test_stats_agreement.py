"""Cohen's kappa and its interval, Bland-Altman statistics: against scikit-learn, hand
computation, the delta method and simulation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from hstool.stats.agreement import bland_altman, cohen_kappa, confusion_counts, kappa_variance


def test_kappa_by_hand():
    # n = 50, p_o = 35/50 = 0.7, rows 25/25, columns 30/20: p_e = 0.5*0.6 + 0.5*0.4 = 0.5
    k = cohen_kappa(np.array([[20, 5], [10, 15]]))
    assert k.observed == pytest.approx(0.7)
    assert k.expected == pytest.approx(0.5)
    assert k.kappa == pytest.approx(0.4)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 4).flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), min_size=1, max_size=60),
        )
    )
)
def test_kappa_equals_sklearn(case):
    k, pairs = case
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    result = cohen_kappa(confusion_counts(a, b, k))
    with warnings.catch_warnings():  # sklearn warns (and returns nan) where kappa is undefined
        warnings.simplefilter("ignore")
        expected = cohen_kappa_score(a, b, labels=list(range(k)))
    if result.kappa is None:  # p_e = 1: both raters give one and the same category
        assert len(set(a) | set(b)) == 1
    else:
        assert result.kappa == pytest.approx(expected, abs=1e-12)
        assert result.observed == pytest.approx(np.mean(a == b))


def _kappa_of(p: np.ndarray) -> float:
    p = p / p.sum()
    p_o, p_e = np.trace(p), p.sum(axis=1) @ p.sum(axis=0)
    return (p_o - p_e) / (1 - p_e)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_kappa_variance_is_the_delta_method(k):
    """FCE 1969 = gradient' Sigma gradient, with the multinomial covariance of the cells and a
    numerical gradient: an independent derivation of the same large-sample variance."""
    rng = np.random.default_rng(k)
    table = rng.integers(1, 40, (k, k)).astype(float) + np.diag(rng.integers(30, 90, k))
    n = table.sum()
    p = (table / n).ravel()
    h = 1e-6
    grad = np.array(
        [(_kappa_of((p + h * e).reshape(k, k)) - _kappa_of((p - h * e).reshape(k, k))) / (2 * h) for e in np.eye(k * k)]
    )
    sigma = (np.diag(p) - np.outer(p, p)) / n
    assert kappa_variance(table) == pytest.approx(grad @ sigma @ grad, rel=1e-6)


def _correlated_raters(rng, n, prevalence=0.3, flip_a=0.1, flip_b=0.2):
    truth = rng.random(n) < prevalence
    return truth ^ (rng.random(n) < flip_a), truth ^ (rng.random(n) < flip_b)


def test_kappa_se_matches_bootstrap():
    rng = np.random.default_rng(7)
    a, b = _correlated_raters(rng, 600)
    result = cohen_kappa(confusion_counts(a, b))
    boot = []
    for _ in range(2000):
        i = rng.integers(0, len(a), len(a))
        boot.append(cohen_kappa(confusion_counts(a[i], b[i])).kappa)
    assert result.se == pytest.approx(np.std(boot, ddof=1), rel=0.08)


def test_kappa_interval_coverage():
    """95% intervals from 400 simulated studies cover the true kappa about 95% of the time."""
    rng = np.random.default_rng(11)
    big_a, big_b = _correlated_raters(np.random.default_rng(0), 2_000_000)
    true_kappa = cohen_kappa(confusion_counts(big_a, big_b)).kappa
    covered = 0
    for _ in range(400):
        k = cohen_kappa(confusion_counts(*_correlated_raters(rng, 300)))
        covered += k.ci_low <= true_kappa <= k.ci_high
    assert 0.92 <= covered / 400 <= 0.98


def test_perfect_and_undefined_kappa():
    perfect = cohen_kappa(np.array([[30, 0], [0, 20]]))
    assert perfect.kappa == 1.0 and perfect.se == 0.0 and perfect.ci_low == perfect.ci_high == 1.0
    constant = cohen_kappa(np.array([[0, 0], [0, 25]]))
    assert constant.kappa is None and constant.observed == 1.0 and constant.se is None


def test_bland_altman_by_hand():
    # d = [-0.5, 0.5, 0.5, -1]: mean -0.125, squared deviations sum 1.6875, sd sqrt(1.6875/3) = 0.75
    ba = bland_altman(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.5, 1.5, 2.5, 5.0]))
    assert ba.n == 4
    assert ba.mean_diff == pytest.approx(-0.125)
    assert ba.sd_diff == pytest.approx(0.75)
    z = 1.959963984540054
    assert ba.loa_low == pytest.approx(-0.125 - z * 0.75)
    assert ba.loa_high == pytest.approx(-0.125 + z * 0.75)
    t3 = 3.182446305284263  # Student t, 3 degrees of freedom, 0.975 quantile
    assert ba.mean_ci_low == pytest.approx(-0.125 - t3 * 0.75 / 2)
    assert ba.mean_ci_high == pytest.approx(-0.125 + t3 * 0.75 / 2)


def test_bland_altman_one_case():
    ba = bland_altman(np.array([0.3]), np.array([0.1]))
    assert ba.mean_diff == pytest.approx(0.2) and ba.sd_diff is None and ba.loa_low is None
    assert not math.isnan(ba.mean_diff)
