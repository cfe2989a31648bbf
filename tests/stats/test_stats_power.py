"""Power, sample size and minimum detectable differences against R and published values."""

from __future__ import annotations

import numpy as np
import pytest

from hstool.stats.auc import delong_components
from hstool.stats.power import (
    Design,
    auc_mdd,
    auc_power,
    cases_needed,
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
