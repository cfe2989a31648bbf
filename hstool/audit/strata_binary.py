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

from dataclasses import dataclass
from typing import Any

import numpy as np

from hstool.audit.groups import MISSING, Stratifier
from hstool.audit.strata_table import OVERALL, StratifyOptions
from hstool.errors import UsageError
from hstool.stats.auc import DelongComponents, class_counts, delong_components, rank_classes, shared_class_covariance
from hstool.stats.bootstrap import bootstrap_intervals
from hstool.stats.delong import compare_aucs, wald_interval
from hstool.stats.proportions import compare_proportions, interval, proportion

PROPORTIONS = ("sensitivity", "specificity", "ppv", "npv")
TESTED = ("auc",) + PROPORTIONS

SCHEMA: dict[str, Any] = {"stratifier": str, "group": str, "scope": str, "comparator": str, "n": int, "n_pos": int}
SCHEMA.update({"prevalence": float, "threshold": float})
for _m in ("auc",):
    SCHEMA.update({_m: float, f"{_m}_se": float, f"{_m}_ci_low": float, f"{_m}_ci_high": float})
    SCHEMA.update({f"{_m}_delta": float, f"{_m}_p": float, f"{_m}_p_adj": float})
for _m in PROPORTIONS:
    SCHEMA.update({_m: float, f"{_m}_ci_low": float, f"{_m}_ci_high": float})
    SCHEMA.update({f"{_m}_delta": float, f"{_m}_p": float, f"{_m}_p_adj": float})
SCHEMA.update({"accuracy": float, "accuracy_ci_low": float, "accuracy_ci_high": float, "brier": float})
SCHEMA.update({"tp": int, "fp": int, "tn": int, "fn": int, "flag": bool, "worse_on": str, "status": str, "reason": str})


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
    m: int
    n: int
    tp: int
    fp: int
    comp: DelongComponents | None

    @classmethod
    def of(cls, tally: Tally) -> Evaluation:
        m, n = int(tally.pos_counts.sum()), int(tally.neg_counts.sum())
        return cls(m, n, tally.tp, tally.fp, delong_components(tally.pos_counts, tally.neg_counts))

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
        raise UsageError(f"--reference {stratifier.name}={wanted}: no such group (groups: {shown})")
    return stratifier.levels.index(wanted)


def analyse(data: Data, stratifiers: list[Stratifier], options: StratifyOptions) -> list[dict[str, Any]]:
    """Rows of the strata table: the overall row, then every group of every stratifier."""
    pos, neg = data.labels, ~data.labels
    overall = Tally.of(data, pos, neg)
    rows = [_row(data, OVERALL, OVERALL, "all", np.ones(len(pos), bool), overall, None, None, "", options, 0)]
    for stratifier in stratifiers:
        scope = scope_of(stratifier, pos)
        ref = _reference_code(stratifier, options)
        ref_tally = (
            Tally.of(data, pos & (stratifier.codes == ref), neg & (stratifier.codes == ref))
            if ref is not None
            else None
        )
        comparator_name = "rest" if ref is None else f"{stratifier.name}={stratifier.levels[ref]}"
        for code, level in enumerate(stratifier.levels):
            member = stratifier.codes == code
            if not member.any():
                continue
            own = Tally.of(data, pos & member, neg & member)
            other = ref_tally if ref_tally is not None else overall - own
            if scope == "group":
                kind, group, comparator, shared = "group", own, other, None
            elif own.pos_counts.any():
                if level == MISSING and int(own.pos_counts.sum()) == int(pos.sum()):
                    continue  # every positive lacks a value: that is the pool, not a subgroup
                kind, shared = "positives", "neg"
                group, comparator = own.positives_with_negatives_of(overall), other.positives_with_negatives_of(overall)
            else:
                if level == MISSING and int(own.neg_counts.sum()) == int(neg.sum()):
                    continue  # every negative lacks a value: the pool of a positives-only column
                kind, shared = "negatives", "pos"
                group, comparator = overall.positives_with_negatives_of(own), overall.positives_with_negatives_of(other)
            rows.append(
                _row(
                    data,
                    stratifier.name,
                    level,
                    kind,
                    member,
                    group,
                    comparator,
                    shared,
                    comparator_name,
                    options,
                    len(rows),
                )
            )
    return rows


def _bootstrap_masks(data: Data, scope: str, member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positives and negatives a group's metrics are computed on, for resampling."""
    pos, neg = data.labels, ~data.labels
    return {
        "all": (pos, neg),
        "group": (pos & member, neg & member),
        "positives": (pos & member, neg),
        "negatives": (pos, neg & member),
    }[scope]


def _row(
    data: Data,
    name: str,
    level: str,
    scope: str,
    member: np.ndarray,
    group: Tally,
    comparator: Tally | None,
    shared: str | None,
    comparator_name: str,
    options: StratifyOptions,
    index: int,
) -> dict[str, Any]:
    n_members = int(np.count_nonzero(member))
    y = data.labels[member]
    n_pos = int(np.count_nonzero(y))
    called = data.called[member]
    tp, fp = int(np.count_nonzero(called & y)), int(np.count_nonzero(called & ~y))
    row: dict[str, Any] = {
        "stratifier": name,
        "group": level,
        "scope": scope,
        "comparator": comparator_name if comparator else "",
    }
    row.update({"n": n_members, "n_pos": n_pos, "prevalence": n_pos / n_members, "threshold": data.threshold})
    row.update({"tp": tp, "fp": fp, "tn": n_members - n_pos - fp, "fn": n_pos - tp})
    row["brier"] = float(np.mean((data.scores[member] - y) ** 2))
    reasons: list[str] = []
    size = {"positives": n_pos, "negatives": n_members - n_pos}.get(scope, n_members)
    if size < options.min_n:
        row.update({"status": "too_small", "reason": f"{size} cases, below --min-n {options.min_n}"})
        return row
    ev = Evaluation.of(group)
    ref = Evaluation.of(comparator) if comparator is not None else None
    _auc_columns(row, ev, ref, shared, options, reasons)
    reported = {"positives": ("sensitivity",), "negatives": ("specificity",)}.get(scope, PROPORTIONS + ("accuracy",))
    for metric in reported:
        _proportion_columns(row, metric, ev, ref, options, reasons)
    if options.ci == "bootstrap":
        pos, neg = _bootstrap_masks(data, scope, member)
        boot = bootstrap_intervals(
            data.classes[pos],
            data.classes[neg],
            data.called[pos],
            data.called[neg],
            n_boot=options.n_boot,
            level=options.level,
            rng=np.random.default_rng([options.seed, index]),
        )
        for metric in ("auc",) + reported:
            if row.get(metric) is not None:
                row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = boot[metric]
    row["status"] = "partial" if reasons else "ok"
    row["reason"] = "; ".join(dict.fromkeys(reasons))
    return row


def _auc_columns(
    row: dict[str, Any],
    ev: Evaluation,
    ref: Evaluation | None,
    shared: str | None,
    options: StratifyOptions,
    reasons: list[str],
) -> None:
    if ev.comp is None:
        reasons.append("AUC undefined: the group has " + ("no positives" if ev.m == 0 else "no negatives"))
        return
    var = ev.comp.variance()
    row["auc"] = ev.comp.auc
    if var is None:
        reasons.append("no DeLong variance: fewer than 2 positives or negatives")
    else:
        row["auc_se"] = float(np.sqrt(var))
        row["auc_ci_low"], row["auc_ci_high"] = wald_interval(ev.comp.auc, var, options.level)
    if ref is None:
        return
    if ref.comp is None:
        reasons.append("no AUC test: the comparator has " + ("no positives" if ref.m == 0 else "no negatives"))
        return
    ref_var = ref.comp.variance()
    cov = (
        shared_class_covariance(ev.comp, ref.comp, shared)
        if shared and var is not None and ref_var is not None
        else 0.0
    )
    test = compare_aucs(ev.comp.auc, var, ref.comp.auc, ref_var, cov or 0.0)
    row["auc_delta"] = test.delta
    row["auc_p"] = test.p
    if test.p is None:
        reasons.append("no AUC test: variance undefined")


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
