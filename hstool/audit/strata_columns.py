"""The columns of one group's row in a binary stratify table: AUC (DeLong, or a permutation test
for small groups), the proportions, calibration, margins and minimum detectable differences."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hstool.audit.strata_cases import Data, Evaluation, GroupCase
from hstool.audit.strata_table import StratifyOptions, harm
from hstool.stats.auc import shared_class_covariance
from hstool.stats.auc_permutation import SMALL_CLASS, independent_auc_test, placement_test
from hstool.stats.calibration_groups import SquaredErrors
from hstool.stats.calibration_metrics import (
    Estimate,
    bins_ece,
    bins_ece_interval,
    brier_of,
    intercept_estimate,
    slope_estimate,
    sorted_bins,
)
from hstool.stats.delong import compare_aucs, one_sided_p, two_sided_p, wald_interval
from hstool.stats.power import Design, auc_mdd, proportion_mdd
from hstool.stats.proportions import compare_proportions, interval, proportion


@dataclass
class Columns:
    """Some columns of a row, and why others are empty (each builder below returns one)."""

    values: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


def _margin_p(
    metric: str, value: float, comparator: float, se: float | None, options: StratifyOptions
) -> dict[str, Any]:
    """One-sided test that the group's deficit exceeds the metric's margin (z with `se`)."""
    margin = options.margins.get(metric)
    if margin is None or se is None or not se > 0:
        return {}
    return {f"{metric}_margin_p": one_sided_p((harm(metric, value, comparator) - margin) / se)}


def auc_columns(
    data: Data, case: GroupCase, ev: Evaluation, ref: Evaluation | None, options: StratifyOptions
) -> Columns:
    out = Columns()
    row, reasons = out.values, out.reasons
    if ev.auc is None:
        reasons.append("AUC undefined: the group has " + ("no positives" if ev.m == 0 else "no negatives"))
        return out
    var = ev.variance
    row["auc"] = ev.auc
    if var is None:
        reasons.append("no DeLong variance: fewer than 2 positives or negatives")
    else:
        row["auc_se"] = float(np.sqrt(var))
        row["auc_ci_low"], row["auc_ci_high"] = wald_interval(ev.auc, var, options.level)
    if ref is None:
        return out
    if ref.auc is None:
        reasons.append("no AUC test: the comparator has " + ("no positives" if ref.m == 0 else "no negatives"))
        return out
    ref_var = ref.variance
    cov = (
        shared_class_covariance(ev.comp, ref.comp, case.shared)
        if case.shared and ev.comp is not None and ref.comp is not None and var is not None and ref_var is not None
        else 0.0
    )
    test = compare_aucs(ev.auc, var, ref.auc, ref_var, cov or 0.0)
    row["auc_delta"] = test.delta
    if _small(case.scope, ev, ref):
        row["auc_p"], row["auc_test"] = _permutation_p(data, case, ev, ref, options), "permutation"
    else:
        row["auc_p"], row["auc_test"] = test.p, "delong"
        if test.p is None:
            reasons.append("no AUC test: variance undefined")
    if var is not None and ref_var is not None:
        se = math.sqrt(max(var + ref_var - 2.0 * (cov or 0.0), 0.0))
        row.update(_margin_p("auc", ev.auc, ref.auc, se, options))
    return out


def _small(scope: str, ev: Evaluation, ref: Evaluation) -> bool:
    """Too few cases of a class that is not shared for DeLong's normal approximation."""
    sizes = {"positives": (ev.m, ref.m), "negatives": (ev.n, ref.n)}.get(scope, (ev.m, ev.n, ref.m, ref.n))
    return min(sizes) < SMALL_CLASS


def _permutation_p(data: Data, case: GroupCase, ev: Evaluation, ref: Evaluation, options: StratifyOptions) -> float:
    b = case.comparator_member
    assert b is not None
    rng = np.random.default_rng([options.seed, case.index, 2])
    pos, neg = data.labels, ~data.labels
    a = case.member
    if case.scope in ("positives", "negatives"):
        # One-class scopes: each subclass's placements in the shared class (dense components).
        assert ev.comp is not None and ref.comp is not None
        if case.scope == "positives":
            own, mine, theirs = pos, ev.comp.v10, ref.comp.v10
        else:
            own, mine, theirs = neg, ev.comp.v01, ref.comp.v01
        return placement_test(
            mine[data.classes[own & a]], theirs[data.classes[own & b]], n_perm=options.permutations, rng=rng
        )
    s = data.scores
    return independent_auc_test(s[pos & a], s[neg & a], s[pos & b], s[neg & b], n_perm=options.permutations, rng=rng)


def proportion_columns(metric: str, ev: Evaluation, ref: Evaluation | None, options: StratifyOptions) -> Columns:
    out = Columns()
    row, reasons = out.values, out.reasons
    k, n = ev.counts(metric)
    if n == 0:
        reasons.append(f"{metric} undefined (0 cases in its denominator)")
        return out
    row[metric] = float(proportion(k, n))
    low, high = interval(k, n, options.level, "wilson" if options.ci == "bootstrap" else options.ci)
    row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = float(low), float(high)
    if ref is None or metric == "accuracy":
        return out
    k2, n2 = ref.counts(metric)
    if n2 == 0:
        reasons.append(f"no {metric} test: the comparator has no cases for it")
        return out
    p, _test = compare_proportions(k, n, k2, n2)
    row[f"{metric}_delta"] = k / n - k2 / n2
    row[f"{metric}_p"] = p
    if metric in options.margins:
        # Agresti & Caffo (2000): one success and one failure added to each sample, so that the
        # Wald standard error is not zero at 0/n or n/n.
        a1, a2 = (k + 1) / (n + 2), (k2 + 1) / (n2 + 2)
        se = math.sqrt(a1 * (1 - a1) / (n + 2) + a2 * (1 - a2) / (n2 + 2))
        row.update(_margin_p(metric, a1, a2, se, options))
    return out


def calibration_columns(data: Data, case: GroupCase, options: StratifyOptions) -> Columns:
    """Brier score, calibration intercept and slope (group and comparator, with the test of their
    difference) and the group's ECE, from the data's cases grouped by score (calibration_groups)."""
    out = Columns()
    row, reasons = out.values, out.reasons
    classes = data.calibration
    own = case.own_class(data, case.member)
    rows = np.flatnonzero(own)
    squared = classes.squared[rows]
    estimates: dict[str, tuple[Estimate | None, Estimate | None]] = {}
    against_rest = case.comparator_member is not None and case.reference_member is None
    comparator_rows = (
        np.flatnonzero(case.own_class(data, case.comparator_member))
        if case.comparator_member is not None and not against_rest
        else None
    )
    if against_rest:
        # The rest of the group's class(es): every such case less the group's.
        kept = case.scope if case.scope in ("positives", "negatives") else "all"
        comparator_brier = (classes.errors[kept] - SquaredErrors.of(squared)).brier()
    elif comparator_rows is not None and comparator_rows.size:
        comparator_brier = brier_of(classes.squared[comparator_rows])
    else:
        comparator_brier = None
    estimates["brier"] = (brier_of(squared), comparator_brier)
    if case.scope in ("all", "group"):
        group_counts = classes.counts(rows)
        if against_rest:
            both = classes.fits_with_rest(group_counts)
        else:
            # The overall row (every case: the whole data's fits) or a group against --reference.
            own_fits = classes.whole_fits if rows.size == data.scores.size else classes.fits(group_counts)
            other_fits = classes.fits(classes.counts(comparator_rows)) if comparator_rows is not None else None
            both = {s: (own_fits[s], other_fits[s] if other_fits is not None else None) for s in (False, True)}
        for metric, slope in (("calibration_intercept", False), ("calibration_slope", True)):
            group_fit, comparator_fit = both[slope]
            if group_fit is None:
                reasons.append(f"{metric} undefined: one class only or separated scores")
            estimate = slope_estimate if slope else intercept_estimate
            estimates[metric] = (estimate(group_fit), estimate(comparator_fit))
        in_order = classes.sorted_rows(own)
        bins = sorted_bins(data.scores[in_order], data.labels[in_order], options.ece_bins)
        row["ece"] = bins_ece(bins)
        row["ece_ci_low"], row["ece_ci_high"] = bins_ece_interval(
            bins,
            n_boot=options.n_boot,
            level=options.level,
            rng=np.random.default_rng([options.seed, case.index, 1]),
        )
    else:
        reasons.append("calibration intercept and slope undefined: the group holds one class")
    for metric, (group_est, comparator_est) in estimates.items():
        if group_est is None:
            continue
        row[metric] = group_est.value
        row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = group_est.interval(options.level)
        if comparator_est is None or group_est.se is None or comparator_est.se is None:
            if case.comparator is not None:
                reasons.append(f"no {metric} test: undefined for the comparator")
            continue
        se = math.sqrt(group_est.se**2 + comparator_est.se**2)
        row[f"{metric}_delta"] = group_est.value - comparator_est.value
        row[f"{metric}_p"] = two_sided_p(row[f"{metric}_delta"] / se) if se > 0 else None
        row.update(_margin_p(metric, group_est.value, comparator_est.value, se, options))
    return out


def mdd_columns(case: GroupCase, ev: Evaluation, ref: Evaluation | None, options: StratifyOptions) -> Columns:
    """Minimum detectable AUC and sensitivity deficits against the comparator (module doc of
    hstool.stats.power; the overall row: against a known value)."""
    out = Columns()
    row = out.values
    alpha, power = options.alpha, options.mdd_power
    if ev.auc is not None and ev.m >= 2 and ev.n >= 2:
        if ref is not None and ref.auc is not None and ref.m >= 2 and ref.n >= 2:
            design, reference = Design(ev.m, ev.n, ref.m, ref.n), ref.auc
        else:
            design, reference = Design(ev.m, ev.n), ev.auc
        row["auc_mdd"] = auc_mdd(reference, design, alpha, power)
    if case.scope != "negatives" and ev.m > 0:
        if ref is not None and ref.m > 0:
            row["sensitivity_mdd"] = proportion_mdd(ref.tp / ref.m, ev.m, ref.m, alpha, power)
        else:
            row["sensitivity_mdd"] = proportion_mdd(ev.tp / ev.m, ev.m, None, alpha, power)
    return out
