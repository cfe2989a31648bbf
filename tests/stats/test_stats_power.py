"""Power, sample size and minimum detectable differences against R and published values."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from scipy.optimize import brentq

from hstool.stats.auc import delong_components
from hstool.stats.power import (
    Design,
    auc_mdd,
    auc_power,
    cases_needed,
    critical_z,
    hanley_mcneil_variance,
    obuchowski_variance,
    proportion_mdd,
    proportion_power,
)

# R 4.2, pROC 1.18.0 (Debian r-cran-proc), values printed with options(digits=15):
#   power.roc.test(auc=a, sig.level=0.05, power=0.8, kappa=1)$ncases   for a in 0.7, 0.8, 0.9
#   power.roc.test(auc=0.8, sig.level=0.05, power=0.9, kappa=3)$ncases
#   power.roc.test(auc=0.75, ncases=30, ncontrols=60, sig.level=0.05)$power
#   power.roc.test(auc=0.85, ncases=20, ncontrols=200, sig.level=0.05)$power
PROC_NCASES = [(0.7, 1.0, 0.8, 30.287749845401), (0.8, 1.0, 0.8, 12.7436165290273), (0.9, 1.0, 0.8, 6.25279978937057)]
PROC_NCASES += [(0.8, 3.0, 0.9, 11.5353375433965)]
PROC_POWER = [(0.75, 30, 60, 0.983110542521689), (0.85, 20, 200, 0.999932530773806)]
# R 4.2 stats: power.prop.test(p1=0.9, p2=0.8, power=0.8)$n; power.prop.test(p1=0.5, p2=0.75, power=0.9)$n;
# power.prop.test(p1=0.85, p2=0.7, n=50)$power
R_PROP_N = [(0.9, 0.8, 0.8, 198.963413283821), (0.5, 0.75, 0.9, 76.7069301141077)]
R_PROP_POWER = (0.85, 0.7, 50, 0.433834362748797)


@pytest.mark.parametrize("auc, kappa, power, expected", PROC_NCASES)
def test_positives_needed_against_a_known_auc_equal_proc(auc, kappa, power, expected):
    # pROC's one-curve test is a group AUC against the known value 0.5, Obuchowski variance.
    def power_at(n_pos: float) -> float:
        return auc_power(0.5, auc, Design(n_pos, kappa * n_pos), 0.05)

    assert cases_needed(power_at, power, low=1.0) == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("auc, n_pos, n_neg, expected", PROC_POWER)
def test_power_of_a_design_equals_proc(auc, n_pos, n_neg, expected):
    assert auc_power(0.5, auc, Design(n_pos, n_neg), 0.05) == pytest.approx(expected, rel=1e-10)


# pROC's own test suite (xrobin/pROC, tests/testthat/test-power.roc.test.R, expected values
# checked to tolerance 1e-6 there), one ROC curve against AUC 0.5 with Obuchowski's variance, on
# the aSAH s100b curve (41 cases, 72 controls, AUC 0.7313686):
#   power.roc.test(ncases=41, ncontrols=72, auc=0.73)$power                        0.9897453
#   power.roc.test(r.s100b)$power                                                  0.9904833
#   power.roc.test(auc=r.s100b$auc, power=0.95, kappa=1.7)$ncases                  29.29764
#   power.roc.test(ncases=41, ncontrols=72, auc=0.73, power=0.95, sig.level=NULL)  0.009238584
#   power.roc.test(ncases=41, ncontrols=72, power=0.95)$auc                        0.6961054
S100B_AUC = 0.7313686


def test_one_curve_power_equals_the_values_in_procs_own_tests():
    assert auc_power(0.5, 0.73, Design(41, 72), 0.05) == pytest.approx(0.9897453, abs=1e-6)
    assert auc_power(0.5, S100B_AUC, Design(41, 72), 0.05) == pytest.approx(0.9904833, abs=1e-6)


def test_one_curve_inverse_directions_equal_the_values_in_procs_own_tests():
    def power_at(n_pos: float) -> float:
        return auc_power(0.5, S100B_AUC, Design(n_pos, 1.7 * n_pos), 0.05)

    assert cases_needed(power_at, 0.95, low=1.0) == pytest.approx(29.29764, rel=1e-6)
    # The significance level at which 41/72 cases give 95% power for AUC 0.73 ...
    assert auc_power(0.5, 0.73, Design(41, 72), 0.009238584) == pytest.approx(0.95, abs=1e-6)
    # ... and the AUC that 41/72 cases detect with 95% power at 0.05. pROC finds this one with R's
    # uniroot at its default tolerance (about 1.2e-4; R/power.roc.test.R), so its digits beyond
    # that are not exact: hs's root is 0.6960997.
    detectable = brentq(lambda a: auc_power(0.5, a, Design(41, 72), 0.05) - 0.95, 0.5 + 1e-9, 0.99, xtol=1e-12)
    assert detectable == pytest.approx(0.6961054, abs=1.2e-4)
    assert auc_power(0.5, 0.6961054, Design(41, 72), 0.05) == pytest.approx(0.95, abs=1e-4)


# Obuchowski NA, Lieber ML, Wians FH Jr. ROC curves in clinical chemistry: uses, misuses, and
# possible solutions. Clin Chem 2004;50(7):1118-25, Table 4: controls and cases needed to show
# that an AUC `theta` exceeds 0.5 (one-sided alpha 0.05, power 0.90, Obuchowski's binormal
# variance), for kappa = controls/cases. The table gives at least 10 per group: a group computed
# below 10 gets 10 and the other keeps the ratio kappa. Values as transcribed in pROC's test
# suite (xrobin/pROC, tests/testthat/test-power.roc.test.R, "power.roc.test returns correct
# results from litterature"), which notes two published cells one case below the formula (pROC
# checks 340 and 202 there); they are kept as published here and tested to within one case.
OBUCHOWSKI_2004_THETAS = (0.6, 0.7, 0.8, 0.9, 0.95)
OBUCHOWSKI_2004_TABLE4 = {  # kappa: (controls per theta, cases per theta)
    0.25: ((84, 20, 10, 10, 10), (334, 80, 40, 40, 40)),
    0.5: ((101, 25, 10, 10, 10), (201, 49, 20, 20, 20)),
    1.0: ((135, 33, 14, 10, 10), (135, 33, 14, 10, 10)),
    2.0: ((203, 50, 21, 20, 20), (102, 25, 11, 10, 10)),
    4.0: ((339, 84, 40, 40, 40), (85, 21, 10, 10, 10)),
}
OBUCHOWSKI_2004_ONE_BELOW = {(4.0, 0.6, "controls"): 339, (0.5, 0.6, "cases"): 201}


def _table4_cell(kappa: float, theta: float) -> tuple[float, float, int, int]:
    """(controls, cases) unrounded, then as the table reports them (at least 10 per group)."""

    def power_at(n_pos: float) -> float:
        return auc_power(0.5, theta, Design(n_pos, kappa * n_pos), 0.05, sided=1)

    n_pos = cases_needed(power_at, 0.9, low=1e-6)
    assert n_pos is not None
    n_neg = kappa * n_pos
    cases, controls = math.ceil(n_pos), math.ceil(n_neg)
    if controls < 10:
        controls, cases = 10, max(cases, math.ceil(10 / kappa))
    if cases < 10:
        cases, controls = 10, max(controls, math.ceil(10 * kappa))
    return n_neg, n_pos, controls, cases


@pytest.mark.parametrize("kappa", sorted(OBUCHOWSKI_2004_TABLE4))
def test_sample_sizes_reproduce_obuchowski_2004_table_4(kappa):
    published_controls, published_cases = OBUCHOWSKI_2004_TABLE4[kappa]
    for j, theta in enumerate(OBUCHOWSKI_2004_THETAS):
        raw_controls, raw_cases, controls, cases = _table4_cell(kappa, theta)
        for group, raw, ours, published in (
            ("controls", raw_controls, controls, published_controls[j]),
            ("cases", raw_cases, cases, published_cases[j]),
        ):
            if (kappa, theta, group) in OBUCHOWSKI_2004_ONE_BELOW:
                assert ours == published + 1 and abs(raw - published) < 0.3, (kappa, theta, group, raw)
            else:
                assert ours == published, (kappa, theta, group, raw)


# ROCPOWER (Zepp's SAS macro, reference 25 of Obuchowski 1998, Stat Methods Med Res 7:371-392),
# first example of its help file (https://www.lerner.ccf.org/quantitative-health/documents/
# rocpower_help.txt), as quoted in nutterb/junkyard, R/test_auc_1curve.R: one curve, continuous
# data, H0 AUC 0.75 against 0.92, 35 abnormal and 50 normal patients, two-sided alpha 0.02:
# power 0.893. That value is reproduced by the large-sample form of Hanley & McNeil's variance,
# per abnormal case V = Q1/R + Q2 - A^2 (1/R + 1), R = normals/abnormals (the form the quoting R
# function writes, citing Obuchowski 1998): eq. 2 of Hanley & McNeil without the A(1-A) and "-1"
# terms that hs keeps (`--variance hanley-mcneil`). So hs gives 0.887 here, 0.006 below the
# published value; dropping those terms gives 0.893.
def test_rocpower_example_is_hanley_mcneil_without_the_finite_sample_terms():
    abnormal, normal = 35, 50

    def large_sample_form(auc: float) -> float:
        exact = hanley_mcneil_variance(auc, abnormal, normal)
        q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
        finite = (auc * (1 - auc) - (q1 - auc**2) - (q2 - auc**2)) / (abnormal * normal)
        large_sample = exact - finite
        r = normal / abnormal  # the per-abnormal-case form, divided by the abnormal cases:
        assert large_sample == pytest.approx((q1 / r + q2 - auc**2 * (1 / r + 1)) / abnormal, rel=1e-12)
        return large_sample

    z = critical_z(0.02)
    v0, v1 = large_sample_form(0.75), large_sample_form(0.92)
    assert round(NormalDist().cdf((0.92 - 0.75 - z * math.sqrt(v0)) / math.sqrt(v1)), 3) == 0.893
    hs = auc_power(0.75, 0.92, Design(abnormal, normal), 0.02, method="hanley-mcneil")
    assert hs == pytest.approx(0.88686, abs=5e-5)


def test_obuchowski_variance_is_the_binormal_formula_at_half():
    # At AUC 0.5 (a = 0) V = 0.0099 (8 + 8 / kappa) = 0.0792 (1 + 1/kappa): pROC's v0.
    assert obuchowski_variance(0.5, 1.0, 2.0) == pytest.approx(0.0792 * 1.5)


def test_hanley_mcneil_variance_worked_by_hand_on_their_example():
    # Hanley & McNeil, Radiology 1982;143:29-36, Table I: CT ratings (1-5) of 58 normal and 51
    # abnormal subjects; the area is 0.893. By hand at A = 0.893, m = 51, n = 58:
    # Q1 = A/(2-A) = 0.806685, Q2 = 2A^2/(1+A) = 0.842524, A^2 = 0.797449;
    # [0.095551 + 50 * 0.009236 + 57 * 0.045075] / 2958 = 3.126615 / 2958 = 0.00105700, SE 0.03251.
    neg, pos = np.array([33, 6, 6, 11, 2]), np.array([3, 2, 2, 11, 33])
    comp = delong_components(pos, neg)
    assert comp is not None and round(comp.auc, 3) == 0.893
    assert hanley_mcneil_variance(0.893, 51, 58) == pytest.approx(3.126615 / 2958, rel=1e-6)


@pytest.mark.parametrize("p1, p2, power, expected", R_PROP_N)
def test_two_proportion_sample_size_equals_r_power_prop_test(p1, p2, power, expected):
    def power_at(n: float) -> float:
        return proportion_power(p1, p2, n, n, 0.05)  # equal sizes, as power.prop.test

    assert cases_needed(power_at, power, low=2.0) == pytest.approx(expected, rel=1e-7)
    p1_, p2_, n, expected_power = R_PROP_POWER
    assert proportion_power(p1_, p2_, n, n, 0.05) == pytest.approx(expected_power, rel=1e-10)


def test_mdd_is_the_deficit_detected_with_the_target_power():
    design = Design(40, 400, 2000, 20000)
    mdd = auc_mdd(0.85, design, 0.05, 0.8)
    assert mdd is not None and 0 < mdd < 0.35
    assert auc_power(0.85, 0.85 - mdd, design, 0.05, method="hanley-mcneil") == pytest.approx(0.8, abs=1e-8)
    sens = proportion_mdd(0.9, 40, 2000, 0.05)
    assert sens is not None and proportion_power(0.9, 0.9 - sens, 40, 2000, 0.05) == pytest.approx(0.8, abs=1e-8)
    # More cases, smaller detectable difference.
    assert auc_mdd(0.85, Design(400, 4000, 2000, 20000), 0.05) < mdd


def test_mdd_is_none_when_nothing_is_detectable():
    assert auc_mdd(0.85, Design(2, 3, 1000, 1000), 0.05) is None
    assert proportion_mdd(0.5, 2, 1000, 0.05) is None  # even 0 of 2 against 0.5 is not significant


def test_no_group_size_suffices_when_the_comparator_is_too_small():
    # A comparator of 10 positives alone has more variance than the deficit allows.
    def power_at(n_pos: float) -> float:
        return auc_power(0.85, 0.83, Design(n_pos, 9 * n_pos, 10, 90), 0.05)

    assert cases_needed(power_at, 0.8, low=2.0) is None
