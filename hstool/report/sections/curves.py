"""ROC curves and calibration per subgroup, each against the overall curve."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from hstool.audit.groups import MISSING, Stratifier
from hstool.audit.strata_binary import scope_of
from hstool.report.context import ReportData, ReportOptions
from hstool.report.curves import calibration_bins, roc_points
from hstool.report.inputs import Y
from hstool.report.markup import Raw, el
from hstool.report.plots import Curve, calibration_plot, roc_plot
from hstool.report.sections import Section, unavailable


@dataclass(frozen=True)
class GroupSample:
    level: str
    pos: np.ndarray  # cases scored as positives for this group's curve
    neg: np.ndarray
    size: int


def group_samples(stratifier: Stratifier, y: np.ndarray) -> tuple[str, Iterator[GroupSample]]:
    """The cases behind each group's curve, as hs stratify chooses them (docs/statistics.md):
    a group with both classes is scored on its own cases; a subclass of one class (scope
    positives/negatives) is scored against all cases of the other class."""
    scope = scope_of(stratifier, y)

    def samples() -> Iterator[GroupSample]:
        for code, level in enumerate(stratifier.levels):
            member = stratifier.codes == code
            if scope == "group":
                yield GroupSample(level, member & y, member & ~y, int(member.sum()))
                continue
            own = y if (member & y).any() else ~y
            if level == MISSING and (member == own).all():
                continue  # the whole class without a value is the pool, not a subgroup
            if own is y:
                yield GroupSample(level, member & y, ~y, int(member.sum()))
            else:
                yield GroupSample(level, y, member & ~y, int(member.sum()))

    return scope, samples()


def _usable(
    stratifier: Stratifier, y: np.ndarray, options: ReportOptions, need_both_in_group: bool
) -> tuple[list[GroupSample], str, list[str]]:
    scope, samples = group_samples(stratifier, y)
    kept, skipped = [], []
    for s in samples:
        if need_both_in_group and scope != "group":
            continue
        if s.size < options.stratify.min_n or not s.pos.any() or not s.neg.any():
            skipped.append(s.level)
        else:
            kept.append(s)
    kept.sort(key=lambda s: -s.size)  # the largest groups when there are more than max_curves
    dropped = [s.level for s in kept[options.max_curves :]]
    kept = sorted(kept[: options.max_curves], key=lambda s: stratifier.levels.index(s.level))
    return kept, scope, skipped + dropped


def _skipped_note(stratifier: Stratifier, skipped: list[str], options: ReportOptions) -> str | None:
    if not skipped:
        return None
    shown = ", ".join(skipped[:6]) + (", ..." if len(skipped) > 6 else "")
    return (
        f"Not drawn for {stratifier.name}: {shown} (fewer than --min-n {options.stratify.min_n} cases, one class only, "
        f"or beyond --max-curves {options.max_curves})."
    )


def _binary_cases(data: ReportData, anchor: str, title: str, what: str) -> Section | None:
    if data.cases is None:
        return Section(anchor, title, unavailable(f"No {what}: pass --preds and --labels."))
    if data.cases.mode != "binary":
        return Section(
            anchor, title, unavailable(f"No {what}: they need binary scores (preds.csv with a score column).")
        )
    return None


def _section(
    data: ReportData, anchor: str, title: str, intro: str, overall_figure: Raw, panel: Callable[[Stratifier], list[Raw]]
) -> Section:
    """Intro, then one panel per stratifier (or the overall figure alone when there are none)."""
    parts = [el("p", intro, cls="muted")]
    if not data.stratifiers:
        parts.append(el("div", overall_figure, cls="figure"))
    for stratifier in data.stratifiers:
        parts.extend(panel(stratifier))
    return Section(anchor, title, el("div", *parts))


def _figure(plot: Raw, stratifier: Stratifier, skipped: list[str], options: ReportOptions) -> list[Raw]:
    note = _skipped_note(stratifier, skipped, options)
    return [el("div", plot, cls="figure")] + ([el("p", note, cls="muted")] if note else [])


def build_roc(data: ReportData, options: ReportOptions) -> Section:
    missing = _binary_cases(data, "roc", "ROC curves", "ROC curves")
    if missing:
        return missing
    cases = data.given_cases().table
    scores, y = cases["score"].to_numpy(), cases[Y].to_numpy()
    overall = roc_points(scores, y)

    def panel(stratifier: Stratifier) -> list[Raw]:
        kept, scope, skipped = _usable(stratifier, y, options, need_both_in_group=False)
        curves = [
            Curve(
                f"{s.level} (n={s.size})",
                roc_points(
                    np.concatenate([scores[s.pos], scores[s.neg]]),
                    np.concatenate([np.ones(s.pos.sum(), bool), np.zeros(s.neg.sum(), bool)]),
                ),
            )
            for s in kept
        ]
        heading = el(
            "h3", stratifier.name, el("span", f" (scope: {scope if scope == 'group' else 'one class'})", cls="muted")
        )
        return [heading] + _figure(
            roc_plot(f"ROC curves by {stratifier.name}", overall, curves), stratifier, skipped, options
        )

    intro = (
        "Each panel shows one stratifier: the dashed grey curve is the whole test set, coloured curves the groups. "
        "A curve below the overall one means the model ranks that group's cases worse. For a subclass of the "
        "positives (scope positives) the curve scores its positives against all negatives."
    )
    return _section(data, "roc", "ROC curves", intro, roc_plot("ROC curve, overall", overall, []), panel)


def build_calibration(data: ReportData, options: ReportOptions) -> Section:
    missing = _binary_cases(data, "calibration", "Calibration", "calibration plots")
    if missing:
        return missing
    cases = data.given_cases().table
    scores, y = cases["score"].to_numpy(), cases[Y].to_numpy()
    # The ECE's bins and the table's level (recorded by the stratify run when it came with --strata).
    settings = data.settings or options.stratify
    n_bins, level = settings.ece_bins, settings.level
    overall = calibration_bins(scores, y, n_bins, level)

    def panel(stratifier: Stratifier) -> list[Raw]:
        kept, scope, skipped = _usable(stratifier, y, options, need_both_in_group=True)
        if scope != "group":
            return [
                el("h3", stratifier.name),
                el(
                    "p",
                    f"{stratifier.name} describes a subclass of one class, so its groups hold one class only and "
                    "have no calibration of their own; see its ROC curves.",
                    cls="muted",
                ),
            ]
        curves = [
            Curve(f"{s.level} (n={s.size})", calibration_bins(scores[s.pos | s.neg], y[s.pos | s.neg], n_bins, level))
            for s in kept
        ]
        plot = calibration_plot(f"Calibration by {stratifier.name}", overall, curves)
        return [el("h3", stratifier.name)] + _figure(plot, stratifier, skipped, options)

    intro = (
        f"Scores are cut into {n_bins} equal-mass bins (as for the ECE in hs stratify); each point is a bin's mean "
        "score against the fraction of "
        "its cases that are positive (hover for the interval and count). Points on the diagonal are calibrated; "
        "below it the model overstates risk, above it understates it."
    )
    return _section(
        data, "calibration", "Calibration", intro, calibration_plot("Calibration, overall", overall, []), panel
    )
