"""Power, sample size and minimum detectable differences for a subgroup against a comparator.

AUC. The variance of an AUC estimated from m positives and n negatives is taken from

- Hanley & McNeil (Radiology 1982, eq. 2 with the exponential approximations Q1 = A/(2-A),
  Q2 = 2A^2/(1+A)): Var = [A(1-A) + (m-1)(Q1-A^2) + (n-1)(Q2-A^2)] / (m n); or
- Obuchowski (binormal with equal variances; Obuchowski & McClish 1997, Obuchowski 1998):
  Var = V(A) / m with V(A) = 0.0099 e^{-a^2/2} [(5a^2 + 8) + (a^2 + 8)/kappa],
  a = 1.414 Phi^{-1}(A), kappa = n/m (the function pROC's power.roc.test uses).

A group with AUC A_g is compared with a comparator A_c by the z-test of the difference of two
independent AUCs: power = Phi((|A_c - A_g| - z sqrt(V_0)) / sqrt(V_1)), V_0 the variance of the
difference under the null (both at A_c), V_1 under the alternative. A comparator given without
a size is a known value (one-sample test; variance 0), which with A_c = 0.5 is pROC's test.

Proportions (sensitivity). The two-proportion z-test with the pooled null variance (Fleiss,
Levin & Paik 2003, section 4.2; R's power.prop.test for equal sizes):
power = Phi((|p1 - p2| - z sqrt(pbar qbar (1/n1 + 1/n2))) / sqrt(p1 q1/n1 + p2 q2/n2)).

z is the critical value at `alpha` (two-sided unless `sided=1`). Minimum detectable differences
and sample sizes invert these by bisection on a monotone function.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

AUC_VARIANCES = ("obuchowski", "hanley-mcneil")
_NORMAL = NormalDist()


def hanley_mcneil_variance(auc: float, n_pos: float, n_neg: float) -> float:
    q1 = auc / (2.0 - auc)
    q2 = 2.0 * auc**2 / (1.0 + auc)
    return (auc * (1.0 - auc) + (n_pos - 1.0) * (q1 - auc**2) + (n_neg - 1.0) * (q2 - auc**2)) / (n_pos * n_neg)


def obuchowski_variance(auc: float, n_pos: float, n_neg: float) -> float:
    a = 1.414 * _NORMAL.inv_cdf(min(max(auc, 1e-12), 1 - 1e-12))
    kappa = n_neg / n_pos
    return 0.0099 * math.exp(-(a**2) / 2.0) * ((5.0 * a**2 + 8.0) + (a**2 + 8.0) / kappa) / n_pos


def auc_variance(auc: float, n_pos: float, n_neg: float, method: str = "obuchowski") -> float:
    if method == "obuchowski":
        return obuchowski_variance(auc, n_pos, n_neg)
    if method == "hanley-mcneil":
        return hanley_mcneil_variance(auc, n_pos, n_neg)
    raise ValueError(f"unknown AUC variance {method!r}; use one of {', '.join(AUC_VARIANCES)}")


def critical_z(alpha: float, sided: int = 2) -> float:
    return _NORMAL.inv_cdf(1.0 - alpha / sided)


@dataclass(frozen=True)
class Design:
    """Sizes of a group and its comparator (comparator None: a known reference value)."""

    n_pos: float
    n_neg: float
    comparator_pos: float | None = None
    comparator_neg: float | None = None

    @classmethod
    def from_cases(
        cls, cases: float, prevalence: float, comparator_cases: float | None, comparator_prevalence: float | None
    ) -> Design:
        if comparator_cases is None:
            return cls(cases * prevalence, cases * (1 - prevalence))
        p = prevalence if comparator_prevalence is None else comparator_prevalence
        return cls(cases * prevalence, cases * (1 - prevalence), comparator_cases * p, comparator_cases * (1 - p))


def auc_power(
    reference: float, group: float, design: Design, alpha: float, sided: int = 2, method: str = "obuchowski"
) -> float:
    """Power to detect a group AUC `group` against a comparator AUC `reference`."""
    v0 = auc_variance(reference, design.n_pos, design.n_neg, method)
    v1 = auc_variance(group, design.n_pos, design.n_neg, method)
    if design.comparator_pos is not None and design.comparator_neg is not None:
        vc = auc_variance(reference, design.comparator_pos, design.comparator_neg, method)
        v0, v1 = v0 + vc, v1 + vc
    return _NORMAL.cdf((abs(reference - group) - critical_z(alpha, sided) * math.sqrt(v0)) / math.sqrt(v1))


def proportion_power(
    p_reference: float, p_group: float, n_group: float, n_reference: float | None, alpha: float
) -> float:
    """Two-sided power of the pooled two-proportion z-test (one-sample when n_reference is None)."""
    z = critical_z(alpha)
    if n_reference is None:
        null = math.sqrt(p_reference * (1 - p_reference) / n_group)
        alternative = math.sqrt(p_group * (1 - p_group) / n_group)
    else:
        pooled = (n_group * p_group + n_reference * p_reference) / (n_group + n_reference)
        null = math.sqrt(pooled * (1 - pooled) * (1 / n_group + 1 / n_reference))
        alternative = math.sqrt(p_group * (1 - p_group) / n_group + p_reference * (1 - p_reference) / n_reference)
    difference = abs(p_reference - p_group)
    if alternative == 0.0:
        return 1.0 if difference > z * null else 0.0
    return _NORMAL.cdf((difference - z * null) / alternative)


def _bisect(f: Callable[[float], float], low: float, high: float, tol: float = 1e-10) -> float:
    """Root of an increasing function with f(low) < 0 <= f(high)."""
    for _ in range(200):
        mid = (low + high) / 2.0
        if f(mid) < 0:
            low = mid
        else:
            high = mid
        if high - low < tol * max(1.0, high):
            break
    return high


def auc_mdd(
    reference: float, design: Design, alpha: float, power: float = 0.8, method: str = "hanley-mcneil"
) -> float | None:
    """Smallest AUC deficit below `reference` detected with `power`; None if even AUC 0.5 is not."""
    if auc_power(reference, 0.5, design, alpha, method=method) < power or reference <= 0.5:
        return None
    return _bisect(
        lambda d: auc_power(reference, reference - d, design, alpha, method=method) - power, 0.0, reference - 0.5
    )


def proportion_mdd(
    p_reference: float, n_group: float, n_reference: float | None, alpha: float, power: float = 0.8
) -> float | None:
    """Smallest drop below `p_reference` detected with `power`; None if even a drop to 0 is not."""
    if p_reference <= 0 or proportion_power(p_reference, 0.0, n_group, n_reference, alpha) < power:
        return None
    return _bisect(
        lambda d: proportion_power(p_reference, p_reference - d, n_group, n_reference, alpha) - power, 0.0, p_reference
    )


def cases_needed(power_at: Callable[[float], float], target: float, low: float, limit: float = 1e9) -> float | None:
    """Smallest (fractional) number of cases, at least `low`, giving `target` power, or None.

    `power_at(cases)` must increase with the group's size; with a comparator of fixed size it
    levels off below 1, and None says that no group size reaches the target.
    """
    if power_at(limit) < target:
        return None
    if power_at(low) >= target:
        return low
    return _bisect(lambda n: power_at(n) - target, low, limit, tol=1e-9)
