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

# Re-exported: the metric names live in the light audit/options.py (the command line reads them).
from hstool.audit.options import CALIBRATION as CALIBRATION
from hstool.audit.options import FAMILY_OF as FAMILY_OF
from hstool.audit.options import PROPORTIONS as PROPORTIONS
from hstool.audit.options import TESTED as TESTED
from hstool.audit.strata_cases import Data, Evaluation, GroupCase, Own, Tally
from hstool.audit.strata_columns import auc_columns, calibration_columns, mdd_columns, proportion_columns
from hstool.audit.strata_table import OVERALL, StratifyOptions
from hstool.errors import UsageError, option_ref
from hstool.stats.auc_groups import Whole, groups_and_rests
from hstool.stats.bootstrap import bootstrap_intervals
from hstool.stats.heterogeneity import Heterogeneity, dersimonian_laird

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
class Analysis:
    rows: list[dict[str, Any]]
    heterogeneity: dict[str, Heterogeneity]  # per stratifier of independent groups


def scope_of(stratifier: Stratifier, labels: np.ndarray) -> str:
    """'group' unless every group is pure (one class only): then 'class' (see module doc)."""
    pos = np.bincount(stratifier.codes[labels], minlength=len(stratifier.levels))
    return _scope(pos, np.bincount(stratifier.codes, minlength=len(stratifier.levels)) - pos)


def _scope(pos: np.ndarray, neg: np.ndarray) -> str:
    """`scope_of` from the positives and negatives of each group."""
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

    Each stratifier's groups get their counts from one `bincount` (`Own.per_group`) and, against
    the rest, every group's and rest's AUC and variance from one pass over the rows sorted by
    group and score (`auc_groups.groups_and_rests`), whatever the number of groups. One-class
    scopes and `--reference` use dense per-class counts.
    """
    pos, neg = data.labels, ~data.labels
    n_total = len(pos)
    overall = Tally.of(data, pos, neg)
    overall_ev = Evaluation.of(overall)
    whole = Whole.of(overall.pos_counts, overall.neg_counts)
    everyone = np.arange(n_total)
    first_case = GroupCase(
        OVERALL, OVERALL, "all", everyone, Own.of_all(data), n_total, overall_ev, None, None, None, "", 0
    )
    rows = [_row(data, first_case, options)]
    heterogeneity = {}
    for stratifier in stratifiers:
        owns = Own.per_group(data, stratifier.codes, len(stratifier.levels))
        n_pos_of = np.array([o.n_pos for o in owns])
        scope = _scope(n_pos_of, np.array([o.n for o in owns]) - n_pos_of)
        ref = _reference_code(stratifier, options)
        ref_member = stratifier.codes == ref if ref is not None else None
        ref_tally = Tally.of(data, pos & ref_member, neg & ref_member) if ref_member is not None else None
        comparator_name = "rest" if ref is None else f"{stratifier.name}={stratifier.levels[ref]}"
        order = _by_group_then_score(data, stratifier)
        bounds = np.concatenate([[0], np.cumsum([o.n for o in owns])])
        against_rest = scope == "group" and ref_tally is None
        summaries = groups_and_rests(whole, data.classes[order], data.labels[order], bounds) if against_rest else []
        first = len(rows)
        for code, level in enumerate(stratifier.levels):
            own_rows = owns[code]
            if own_rows.n == 0:
                continue
            members = order[bounds[code] : bounds[code + 1]]
            if against_rest:
                kind, shared = "group", None
                summary, rest_summary = summaries[code]
                group = Evaluation.of_summary(summary, own_rows.tp, own_rows.fp)
                comparator = Evaluation.of_summary(rest_summary, overall.tp - own_rows.tp, overall.fp - own_rows.fp)
            else:
                member = stratifier.codes == code
                own = Tally.of(data, pos & member, neg & member)
                other = ref_tally if ref_tally is not None else overall - own
                if scope == "group":
                    kind, shared, group_tally, comparator_tally = "group", None, own, other
                elif own_rows.n_pos:
                    if level == MISSING and own_rows.n_pos == overall_ev.m:
                        continue  # every positive lacks a value: that is the pool, not a subgroup
                    kind, shared = "positives", "neg"
                    group_tally = own.positives_with_negatives_of(overall)
                    comparator_tally = other.positives_with_negatives_of(overall)
                else:
                    if level == MISSING and own_rows.n == overall_ev.n:
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
                own_rows,
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


def _by_group_then_score(data: Data, stratifier: Stratifier) -> np.ndarray:
    """The rows grouped by the stratifier's code, in ascending score order within a group.

    A stable sort of the codes of the rows in score order; with the codes in one or two bytes
    numpy sorts them by radix, five times faster than the same sort of 8-byte codes."""
    n_levels = len(stratifier.levels)
    small = np.uint8 if n_levels <= 1 << 8 else np.uint16 if n_levels <= 1 << 16 else np.int64
    codes = stratifier.codes.astype(small, copy=False)[data.by_score]  # narrowed first: a cheaper gather
    order: np.ndarray = data.by_score[np.argsort(codes, kind="stable")]
    return order


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
    n_members, n_pos, tp, fp = case.own.n, case.own.n_pos, case.own.tp, case.own.fp
    row: dict[str, Any] = {
        "stratifier": case.stratifier,
        "group": case.level,
        "scope": case.scope,
        "comparator": case.comparator_name if case.comparator else "",
    }
    row.update({"n": n_members, "n_pos": n_pos, "prevalence": n_pos / n_members, "threshold": data.threshold})
    row.update({"tp": tp, "fp": fp, "tn": n_members - n_pos - fp, "fn": n_pos - tp})
    row["brier"] = case.own.brier
    reasons: list[str] = []
    size = {"positives": n_pos, "negatives": n_members - n_pos}.get(case.scope, n_members)
    if size < options.min_n:
        row.update({"status": "too_small", "reason": f"{size} cases, below --min-n {options.min_n}"})
        return row
    ev, ref = case.group, case.comparator
    reported = {"positives": ("sensitivity",), "negatives": ("specificity",)}.get(
        case.scope, PROPORTIONS + ("accuracy",)
    )
    parts = [auc_columns(data, case, ev, ref, options)] if "auc" in options.metrics else []
    if "proportions" in options.metrics:
        parts += [proportion_columns(metric, ev, ref, options) for metric in reported]
    if "calibration" in options.metrics:
        parts.append(calibration_columns(data, case, options))
    parts.append(mdd_columns(case, ev, ref, options))
    for part in parts:
        row.update(part.values)
        reasons += part.reasons
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
