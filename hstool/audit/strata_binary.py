"""Schema completion for a binary task: per-group AUC (DeLong) and operating-point metrics.

Each group is compared with a comparator: the rest of the data (default) or a named reference
group. How a group's cases are chosen depends on the stratifier's scope:

- `group`: the group holds both classes; all metrics come from its own cases and the
  comparator is disjoint from it (independent-samples tests).
- `positives` / `negatives`: the stratifier describes one class only (every group is pure, as
  for a subclass of the disease such as "chest drain"). A positive subclass is scored against
  all negatives, and compared with the other positives against the same negatives; the shared
  negatives make the two AUCs correlated, and the DeLong test accounts for it. Negative
  subclasses are the mirror image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from hstool.audit.groups import MISSING, Stratifier
from hstool.audit.strata_table import OVERALL, StratifyOptions, harm
from hstool.errors import UsageError, option_ref
from hstool.stats.auc import DelongComponents, class_counts, delong_components, rank_classes, shared_class_covariance
from hstool.stats.auc_groups import Summary, Whole, group_and_rest
from hstool.stats.auc_permutation import SMALL_CLASS, independent_auc_test, placement_test
from hstool.stats.bootstrap import bootstrap_intervals
from hstool.stats.calibration_metrics import (
    Estimate,
    brier,
    calibration_intercept,
    calibration_slope,
    ece,
    ece_interval,
)
from hstool.stats.delong import compare_aucs, one_sided_p, two_sided_p, wald_interval
from hstool.stats.heterogeneity import Heterogeneity, dersimonian_laird
from hstool.stats.power import Design, auc_mdd, proportion_mdd
from hstool.stats.proportions import compare_proportions, interval, proportion

PROPORTIONS = ("sensitivity", "specificity", "ppv", "npv")
CALIBRATION = ("brier", "calibration_intercept", "calibration_slope")
TESTED = ("auc",) + PROPORTIONS + CALIBRATION
FAMILY_OF = {"auc": "auc", **{m: "proportions" for m in PROPORTIONS}, **{m: "calibration" for m in CALIBRATION}}

SCHEMA: dict[str, type] = {"stratifier": str, "group": str, "scope": str, "comparator": str, "n": int, "n_pos": int}
SCHEMA.update({"prevalence": float, "threshold": float})
for _m in ("auc",):
    SCHEMA.update({_m: float, f"{_m}_se": float, f"{_m}_ci_low": float, f"{_m}_ci_high": float})
    SCHEMA.update({f"{_m}_delta": float, f"{_m}_p": float, f"{_m}_p_adj": float})
for _m in PROPORTIONS:
    SCHEMA.update({_m: float, f"{_m}_ci_low": float, f"{_m}_ci_high": float})
    SCHEMA.update({f"{_m}_delta": float, f"{_m}_p": float, f"{_m}_p_adj": float})
SCHEMA.update({"accuracy": float, "accuracy_ci_low": float, "accuracy_ci_high": float, "brier": float})
SCHEMA.update({"tp": int, "fp": int, "tn": int, "fn": int, "flag": bool, "worse_on": str, "status": str, "reason": str})
# Added with calibration, margins, small-group tests and power (appended: existing columns keep their place).
SCHEMA.update({"brier_ci_low": float, "brier_ci_high": float, "brier_delta": float, "brier_p": float})
SCHEMA.update({"brier_p_adj": float})
for _m in ("calibration_intercept", "calibration_slope"):
    SCHEMA.update({_m: float, f"{_m}_ci_low": float, f"{_m}_ci_high": float})
    SCHEMA.update({f"{_m}_delta": float, f"{_m}_p": float, f"{_m}_p_adj": float})
SCHEMA.update({"ece": float, "ece_ci_low": float, "ece_ci_high": float})
SCHEMA.update({f"{_m}_margin_p": float for _m in TESTED})
SCHEMA.update({"auc_test": str, "auc_mdd": float, "sensitivity_mdd": float})


@dataclass(frozen=True)
class Data:
    scores: np.ndarray
    labels: np.ndarray  # bool
    called: np.ndarray  # bool: score >= threshold
    classes: np.ndarray  # rank class of each score
    n_classes: int
    threshold: float

    @classmethod
    def build(cls, scores: np.ndarray, labels: np.ndarray, threshold: float) -> Data:
        classes, n_classes = rank_classes(scores)
        return cls(scores, labels, scores >= threshold, classes, n_classes, threshold)


@dataclass(frozen=True)
class Tally:
    """What a set of cases contributes: positives and negatives per rank class, and calls."""

    pos_counts: np.ndarray
    neg_counts: np.ndarray
    tp: int  # positives called positive
    fp: int  # negatives called positive

    @classmethod
    def of(cls, data: Data, pos: np.ndarray, neg: np.ndarray) -> Tally:
        return cls(
            class_counts(data.classes, pos, data.n_classes),
            class_counts(data.classes, neg, data.n_classes),
            int(np.count_nonzero(pos & data.called)),
            int(np.count_nonzero(neg & data.called)),
        )

    def __sub__(self, other: Tally) -> Tally:
        return Tally(
            self.pos_counts - other.pos_counts,
            self.neg_counts - other.neg_counts,
            self.tp - other.tp,
            self.fp - other.fp,
        )

    def positives_with_negatives_of(self, other: Tally) -> Tally:
        """This tally's positives scored against `other`'s negatives (one-class scopes)."""
        return Tally(self.pos_counts, other.neg_counts, self.tp, other.fp)


@dataclass(frozen=True)
class Evaluation:
    """Counts, AUC and DeLong variance of the cases a metric is computed on (None: undefined)."""

    m: int
    n: int
    tp: int
    fp: int
    auc: float | None
    variance: float | None
    comp: DelongComponents | None = None  # dense components: one-class scopes and --reference only

    @classmethod
    def of(cls, tally: Tally) -> Evaluation:
        m, n = int(tally.pos_counts.sum()), int(tally.neg_counts.sum())
        comp = delong_components(tally.pos_counts, tally.neg_counts)
        if comp is None:
            return cls(m, n, tally.tp, tally.fp, None, None)
        return cls(m, n, tally.tp, tally.fp, comp.auc, comp.variance(), comp)

    @classmethod
    def of_summary(cls, summary: Summary, tp: int, fp: int) -> Evaluation:
        return cls(summary.m, summary.n, tp, fp, summary.auc, summary.variance)

    @property
    def tn(self) -> int:
        return self.n - self.fp

    @property
    def fn(self) -> int:
        return self.m - self.tp

    def counts(self, metric: str) -> tuple[int, int]:
        """(successes, trials) of a proportion."""
        return {
            "sensitivity": (self.tp, self.m),
            "specificity": (self.tn, self.n),
            "ppv": (self.tp, self.tp + self.fp),
            "npv": (self.tn, self.tn + self.fn),
            "accuracy": (self.tp + self.tn, self.m + self.n),
        }[metric]


@dataclass(frozen=True)
class GroupCase:
    """One row of the table: the group's cases, what it is compared with, and how (module doc)."""

    stratifier: str
    level: str
    scope: str  # all | group | positives | negatives
    rows: np.ndarray  # indices of the group's rows
    n_total: int  # rows in the data
    group: Evaluation  # the cases its metrics are computed on
    comparator: Evaluation | None
    reference_member: np.ndarray | None  # the --reference group's rows (None: the rest)
    shared: str | None  # 'neg' / 'pos': the class the group and its comparator share
    comparator_name: str
    index: int  # row number, for seeding the row's random streams

    @cached_property
    def member(self) -> np.ndarray:
        mask = np.zeros(self.n_total, bool)
        mask[self.rows] = True
        return mask

    @property
    def comparator_member(self) -> np.ndarray | None:
        if self.comparator is None:
            return None
        return self.reference_member if self.reference_member is not None else ~self.member

    def own_class(self, data: Data, rows: np.ndarray) -> np.ndarray:
        """`rows` restricted to the class a one-class group holds (all of them otherwise)."""
        keep: np.ndarray = {"positives": data.labels, "negatives": ~data.labels}.get(self.scope, rows)
        restricted: np.ndarray = rows & keep
        return restricted


@dataclass(frozen=True)
class Analysis:
    rows: list[dict[str, Any]]
    heterogeneity: dict[str, Heterogeneity]  # per stratifier of independent groups


def scope_of(stratifier: Stratifier, labels: np.ndarray) -> str:
    """'group' unless every group is pure (one class only): then 'class' (see module doc)."""
    pos = np.bincount(stratifier.codes[labels], minlength=len(stratifier.levels))
    neg = np.bincount(stratifier.codes[~labels], minlength=len(stratifier.levels))
    pure = (pos == 0) | (neg == 0)
    return "class" if pure.all() and (pos > 0).any() and (neg > 0).any() else "group"


def _reference_code(stratifier: Stratifier, options: StratifyOptions) -> int | None:
    wanted = options.reference.get(stratifier.name)
    if wanted is None:
        return None
    if wanted not in stratifier.levels:
        shown = ", ".join(stratifier.levels[:10])
        raise UsageError(f"{option_ref('reference')} {stratifier.name}={wanted}: no such group (groups: {shown})")
    return stratifier.levels.index(wanted)


def analyse(data: Data, stratifiers: list[Stratifier], options: StratifyOptions) -> Analysis:
    """Rows of the strata table (the overall row, then every group of every stratifier) and the
    heterogeneity of the AUC across the groups of each stratifier.

    Each stratifier's rows are sorted by group once, so a group's counts cost its own size; a
    group against the rest gets both AUCs and variances from `auc_groups` (no pass over every
    distinct score per group). One-class scopes and `--reference` use dense per-class counts.
    """
    pos, neg = data.labels, ~data.labels
    n_total = len(pos)
    overall = Tally.of(data, pos, neg)
    overall_ev = Evaluation.of(overall)
    whole = Whole.of(overall.pos_counts, overall.neg_counts)
    everyone = np.arange(n_total)
    first_case = GroupCase(OVERALL, OVERALL, "all", everyone, n_total, overall_ev, None, None, None, "", 0)
    rows = [_row(data, first_case, options)]
    heterogeneity = {}
    for stratifier in stratifiers:
        scope = scope_of(stratifier, pos)
        ref = _reference_code(stratifier, options)
        ref_member = stratifier.codes == ref if ref is not None else None
        ref_tally = Tally.of(data, pos & ref_member, neg & ref_member) if ref_member is not None else None
        comparator_name = "rest" if ref is None else f"{stratifier.name}={stratifier.levels[ref]}"
        order = np.argsort(stratifier.codes, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(stratifier.sizes())])
        first = len(rows)
        for code, level in enumerate(stratifier.levels):
            members = order[bounds[code] : bounds[code + 1]]
            if members.size == 0:
                continue
            y = data.labels[members]
            n_pos_g = int(np.count_nonzero(y))
            if scope == "group" and ref_tally is None:
                kind, shared = "group", None
                group, comparator = _group_and_rest(data, whole, overall, members, y)
            else:
                member = stratifier.codes == code
                own = Tally.of(data, pos & member, neg & member)
                other = ref_tally if ref_tally is not None else overall - own
                if scope == "group":
                    kind, shared, group_tally, comparator_tally = "group", None, own, other
                elif n_pos_g:
                    if level == MISSING and n_pos_g == overall_ev.m:
                        continue  # every positive lacks a value: that is the pool, not a subgroup
                    kind, shared = "positives", "neg"
                    group_tally = own.positives_with_negatives_of(overall)
                    comparator_tally = other.positives_with_negatives_of(overall)
                else:
                    if level == MISSING and members.size == overall_ev.n:
                        continue  # every negative lacks a value: the pool of a positives-only column
                    kind, shared = "negatives", "pos"
                    group_tally = overall.positives_with_negatives_of(own)
                    comparator_tally = overall.positives_with_negatives_of(other)
                group, comparator = Evaluation.of(group_tally), Evaluation.of(comparator_tally)
            case = GroupCase(
                stratifier.name,
                level,
                kind,
                members,
                n_total,
                group,
                comparator,
                ref_member,
                shared,
                comparator_name,
                len(rows),
            )
            rows.append(_row(data, case, options))
        _mark_duplicate_pair(data, rows, first, ref is None)
        pooled = _heterogeneity(rows[first:], options) if scope == "group" and "auc" in options.metrics else None
        if pooled is not None:
            heterogeneity[stratifier.name] = pooled
    return Analysis(rows, heterogeneity)


# A group with fewer rows than this share of the distinct scores is summarised from its own
# classes (auc_groups); a larger one touches most classes anyway, and dense counts are cheaper.
SPARSE_SHARE = 0.25


def _group_and_rest(
    data: Data, whole: Whole, overall: Tally, members: np.ndarray, y: np.ndarray
) -> tuple[Evaluation, Evaluation]:
    """A group holding both classes and the rest of the data, from the group's own rows."""
    classes, called = data.classes[members], data.called[members]
    tp, fp = int(np.count_nonzero(called & y)), int(np.count_nonzero(called & ~y))
    if members.size >= SPARSE_SHARE * data.n_classes:
        own = Tally(
            np.bincount(classes[y], minlength=data.n_classes),
            np.bincount(classes[~y], minlength=data.n_classes),
            tp,
            fp,
        )
        return Evaluation.of(own), Evaluation.of(overall - own)
    pos_classes, pos_counts = np.unique(classes[y], return_counts=True)
    neg_classes, neg_counts = np.unique(classes[~y], return_counts=True)
    group, rest = group_and_rest(whole, pos_classes, pos_counts, neg_classes, neg_counts)
    return Evaluation.of_summary(group, tp, fp), Evaluation.of_summary(rest, overall.tp - tp, overall.fp - fp)


def _mark_duplicate_pair(data: Data, rows: list[dict[str, Any]], first: int, against_rest: bool) -> None:
    """Two groups that split their class(es) between them, each against the rest, are one test.

    "F vs rest" and "M vs rest" compare the same two samples, so the second row is marked as a
    duplicate of the first and `finalize` counts the test once in the multiplicity family.
    """
    tested = [i for i in range(first, len(rows)) if rows[i]["status"] != "too_small"]
    if not against_rest or len(tested) != 2 or len(rows) - first != 2:
        return
    a, b = rows[tested[0]], rows[tested[1]]
    n_pos = int(np.count_nonzero(data.labels))
    covered = {
        "group": a["n"] + b["n"] == len(data.labels),
        "positives": a["n_pos"] + b["n_pos"] == n_pos,
        "negatives": a["n"] - a["n_pos"] + b["n"] - b["n_pos"] == len(data.labels) - n_pos,
    }[a["scope"]]
    if covered:
        b["duplicate_of"] = tested[0]


def _heterogeneity(rows: list[dict[str, Any]], options: StratifyOptions) -> Heterogeneity | None:
    """DerSimonian-Laird across the groups with an AUC and a positive DeLong variance."""
    usable = [r for r in rows if r.get("auc") is not None and r.get("auc_se")]
    if len(usable) < 2:
        return None
    return dersimonian_laird(
        np.array([r["auc"] for r in usable]), np.array([r["auc_se"] ** 2 for r in usable]), options.level
    )


def _bootstrap_masks(data: Data, scope: str, member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positives and negatives a group's metrics are computed on, for resampling."""
    pos, neg = data.labels, ~data.labels
    return {
        "all": (pos, neg),
        "group": (pos & member, neg & member),
        "positives": (pos & member, neg),
        "negatives": (pos, neg & member),
    }[scope]


def _row(data: Data, case: GroupCase, options: StratifyOptions) -> dict[str, Any]:
    members = case.rows
    n_members = int(members.size)
    y = data.labels[members]
    n_pos = int(np.count_nonzero(y))
    called = data.called[members]
    tp, fp = int(np.count_nonzero(called & y)), int(np.count_nonzero(called & ~y))
    row: dict[str, Any] = {
        "stratifier": case.stratifier,
        "group": case.level,
        "scope": case.scope,
        "comparator": case.comparator_name if case.comparator else "",
    }
    row.update({"n": n_members, "n_pos": n_pos, "prevalence": n_pos / n_members, "threshold": data.threshold})
    row.update({"tp": tp, "fp": fp, "tn": n_members - n_pos - fp, "fn": n_pos - tp})
    row["brier"] = brier(data.scores[members], y).value
    reasons: list[str] = []
    size = {"positives": n_pos, "negatives": n_members - n_pos}.get(case.scope, n_members)
    if size < options.min_n:
        row.update({"status": "too_small", "reason": f"{size} cases, below --min-n {options.min_n}"})
        return row
    ev, ref = case.group, case.comparator
    if "auc" in options.metrics:
        _auc_columns(row, data, case, ev, ref, options, reasons)
    reported = {"positives": ("sensitivity",), "negatives": ("specificity",)}.get(
        case.scope, PROPORTIONS + ("accuracy",)
    )
    if "proportions" in options.metrics:
        for metric in reported:
            _proportion_columns(row, metric, ev, ref, options, reasons)
    if "calibration" in options.metrics:
        _calibration_columns(row, data, case, options, reasons)
    _mdd_columns(row, case, ev, ref, options)
    if options.ci == "bootstrap":
        pos, neg = _bootstrap_masks(data, case.scope, case.member)
        boot = bootstrap_intervals(
            data.classes[pos],
            data.classes[neg],
            data.called[pos],
            data.called[neg],
            n_boot=options.n_boot,
            level=options.level,
            rng=np.random.default_rng([options.seed, case.index]),
        )
        for metric in ("auc",) + reported:
            if row.get(metric) is not None:
                row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = boot[metric]
    row["status"] = "partial" if reasons else "ok"
    row["reason"] = "; ".join(dict.fromkeys(reasons))
    return row


def _margin_columns(
    row: dict[str, Any], metric: str, comparator: float, se: float | None, options: StratifyOptions
) -> None:
    """One-sided test that the group's deficit exceeds the metric's margin (z with `se`)."""
    margin = options.margins.get(metric)
    if margin is None or se is None or not se > 0:
        return
    deficit = harm(metric, row[metric], comparator)
    row[f"{metric}_margin_p"] = one_sided_p((deficit - margin) / se)


def _auc_columns(
    row: dict[str, Any],
    data: Data,
    case: GroupCase,
    ev: Evaluation,
    ref: Evaluation | None,
    options: StratifyOptions,
    reasons: list[str],
) -> None:
    if ev.auc is None:
        reasons.append("AUC undefined: the group has " + ("no positives" if ev.m == 0 else "no negatives"))
        return
    var = ev.variance
    row["auc"] = ev.auc
    if var is None:
        reasons.append("no DeLong variance: fewer than 2 positives or negatives")
    else:
        row["auc_se"] = float(np.sqrt(var))
        row["auc_ci_low"], row["auc_ci_high"] = wald_interval(ev.auc, var, options.level)
    if ref is None:
        return
    if ref.auc is None:
        reasons.append("no AUC test: the comparator has " + ("no positives" if ref.m == 0 else "no negatives"))
        return
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
        _margin_columns(row, "auc", ref.auc, math.sqrt(max(var + ref_var - 2.0 * (cov or 0.0), 0.0)), options)


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


def _proportion_columns(
    row: dict[str, Any],
    metric: str,
    ev: Evaluation,
    ref: Evaluation | None,
    options: StratifyOptions,
    reasons: list[str],
) -> None:
    k, n = ev.counts(metric)
    if n == 0:
        reasons.append(f"{metric} undefined (0 cases in its denominator)")
        return
    row[metric] = float(proportion(k, n))
    low, high = interval(k, n, options.level, "wilson" if options.ci == "bootstrap" else options.ci)
    row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = float(low), float(high)
    if ref is None or metric == "accuracy":
        return
    k2, n2 = ref.counts(metric)
    if n2 == 0:
        reasons.append(f"no {metric} test: the comparator has no cases for it")
        return
    p, _test = compare_proportions(k, n, k2, n2)
    row[f"{metric}_delta"] = k / n - k2 / n2
    row[f"{metric}_p"] = p
    if metric in options.margins:
        # Agresti & Caffo (2000): one success and one failure added to each sample, so that the
        # Wald standard error is not zero at 0/n or n/n.
        a1, a2 = (k + 1) / (n + 2), (k2 + 1) / (n2 + 2)
        se = math.sqrt(a1 * (1 - a1) / (n + 2) + a2 * (1 - a2) / (n2 + 2))
        deficit = harm(metric, a1, a2)
        row[f"{metric}_margin_p"] = one_sided_p((deficit - options.margins[metric]) / se)


def _calibration_columns(
    row: dict[str, Any], data: Data, case: GroupCase, options: StratifyOptions, reasons: list[str]
) -> None:
    own = case.own_class(data, case.member)
    s, y = data.scores[own], data.labels[own]
    comparator = case.own_class(data, case.comparator_member) if case.comparator_member is not None else None
    cs = data.scores[comparator] if comparator is not None else None
    cy = data.labels[comparator] if comparator is not None else None
    estimates: dict[str, tuple[Estimate | None, Estimate | None]] = {}
    estimates["brier"] = (brier(s, y), brier(cs, cy) if cs is not None and cy is not None and cs.size else None)
    if case.scope in ("all", "group"):
        for metric, fit in (("calibration_intercept", calibration_intercept), ("calibration_slope", calibration_slope)):
            group_fit = fit(s, y)
            if group_fit is None:
                reasons.append(f"{metric} undefined: one class only or separated scores")
            estimates[metric] = (group_fit, fit(cs, cy) if cs is not None and cy is not None else None)
        row["ece"] = ece(s, y, options.ece_bins)
        row["ece_ci_low"], row["ece_ci_high"] = ece_interval(
            s,
            y,
            n_bins=options.ece_bins,
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
        _margin_columns(row, metric, comparator_est.value, se, options)


def _mdd_columns(
    row: dict[str, Any], case: GroupCase, ev: Evaluation, ref: Evaluation | None, options: StratifyOptions
) -> None:
    """Minimum detectable AUC and sensitivity deficits against the comparator (module doc of
    hstool.stats.power; the overall row: against a known value)."""
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
