"""Summary: overall metrics, what is flagged and why, in plain words."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from hstool.audit.options import FAMILY_OF, TESTED
from hstool.audit.strata_table import OVERALL, flagged_summary, heterogeneity_lines, interval_text
from hstool.report.context import ReportData
from hstool.report.inputs import OUTCOME
from hstool.report.markup import el
from hstool.report.sections import Section, data_table, unavailable
from hstool.report.sections.clusters import cluster_stats
from hstool.report.sections.subgroups import FAMILY_COLUMNS

# What a lower value of each metric means at the bedside.
MEANING = {
    "auc": "AUC: how well scores rank positives above negatives (1 is perfect, 0.5 is chance)",
    "sensitivity": "sensitivity: the share of positive cases the model calls positive; lower means more missed cases",
    "specificity": "specificity: the share of negative cases called negative; lower means more false alarms",
    "ppv": "PPV: the share of positive calls that are right",
    "npv": "NPV: the share of negative calls that are right",
    "accuracy": "accuracy: the share of cases classified correctly",
    "brier": "Brier score: mean squared difference between score and outcome; higher is worse",
    "calibration_intercept": "calibration intercept: 0 when scores are right on average; below 0 they overstate risk",
    "calibration_slope": "calibration slope: 1 is ideal; below 1 the scores are too extreme, above 1 too timid",
}
# Metric titles as the subgroup table writes them (sensitivity, accuracy: their own names).
NAMES = {column: title for columns in FAMILY_COLUMNS.values() for column, title in columns}


def _names(metrics: Iterable[str]) -> str:
    return ", ".join(NAMES.get(m, m) for m in metrics)


def build(data: ReportData) -> Section:
    parts = []
    if data.strata is not None:
        parts.append(_overall(data))
        parts.append(_flags(data))
    else:
        parts.append(unavailable("No metrics: pass --preds and --labels (or a stratify output with --strata)."))
    if data.cases is not None:
        parts.append(_errors(data))
    if data.clusters is not None and data.cases is not None:
        parts.append(_clusters(data))
    if data.notes:
        parts.append(el("h3", "Notes"))
        parts.append(el("ul", *[el("li", n) for n in data.notes]))
    return Section("summary", "Summary", el("div", *parts))


def _overall(data: ReportData) -> str:
    strata = data.given_strata()
    table = strata.table
    row = table.filter((pl.col("stratifier") == OVERALL) & (pl.col("group") == OVERALL)).to_dicts()
    if not row:
        return unavailable("The stratify output has no overall row.")
    r = row[0]
    if strata.mode == "binary":
        # The overall metrics of the chosen families (a detectable deficit is a group's, not overall).
        metrics = [m for family in data.families() if family != "power" for m, _ in FAMILY_COLUMNS[family]]
        head = f"{int(r['n'])} cases, {int(r['n_pos'])} positive; operating threshold {r['threshold']:.4g} (a case is called positive when its score is at or above it)."
    else:
        metrics = ["accuracy"]
        head = f"{int(r['n'])} cases."
    rows = [[NAMES.get(m, m), interval_text(r.get(m), r.get(f"{m}_ci_low"), r.get(f"{m}_ci_high"))] for m in metrics]
    header = f"value [{data.level_text()}interval]"
    return el("div", el("h3", "Overall"), el("p", head), data_table(["metric", header], rows))


def _flags(data: ReportData) -> str:
    """What is flagged (the flag column of the stratify table) and by which rule, in words."""
    strata = data.given_strata()
    table = strata.table
    settings = data.settings
    if settings is not None:
        lines = flagged_summary(table, settings.correction, settings.alpha, settings.margins)
    else:  # a stratify output without its sidecar: the settings are unknown here
        lines = flagged_summary(table, "the stratify run's", 0.05)[1:]
        lines.insert(
            0,
            f"{int(table['flag'].sum())} group(s) significantly worse (correction and alpha as set when hs stratify ran):",
        )
    worse = sorted({m for w in table["worse_on"].to_list() for m in w.split(";") if m})
    parts = [el("h3", "What is flagged"), el("p", lines[0], cls="flagged" if len(lines) > 1 else None)]
    if len(lines) > 1:
        parts.append(el("ul", *[el("li", line.strip()) for line in lines[1:]], cls="flags"))
    else:
        parts.append(
            el(
                "p",
                "No subgroup is significantly worse than its comparator. Small groups have wide intervals: "
                "see the subgroup table for groups too small to test.",
                cls="muted",
            )
        )
    parts.extend(el("p", text) for text in _rule(data))
    if worse:
        parts.append(el("p", "What the metrics mean:"))
        parts.append(el("ul", *[el("li", MEANING[m]) for m in worse if m in MEANING]))
    pooled = heterogeneity_lines((strata.meta or {}).get("heterogeneity") or {})
    if pooled:
        parts += [el("h3", "Heterogeneity across groups"), el("ul", *[el("li", line) for line in pooled])]
    return el("div", *parts)


def _rule(data: ReportData) -> list[str]:
    """The flag rule in plain words: which metrics may flag, the multiplicity correction and
    the margins (hs stratify's --flag-on, --correction, --alpha, --margin)."""
    settings = data.settings
    base = (
        "A group is flagged when a metric is significantly worse than in its comparator (the rest of the data "
        "unless stated), after correcting the p-values for the number of tests"
    )
    if settings is None:
        return [
            base + ". The stratify output came without its sidecar, so which metrics may flag and any margins are "
            "as set when hs stratify ran; its flag column is shown as it is."
        ]
    if data.given_strata().mode != "binary":
        return [base + f" ({settings.correction} correction, alpha {settings.alpha:g}) on accuracy."]
    tested = [m for m in TESTED if FAMILY_OF[m] in settings.metrics]
    flagging = [m for m in tested if m in settings.flag_on]
    texts = [
        base
        + f" ({settings.correction} correction, alpha {settings.alpha:g}). "
        + (f"Metrics that may flag: {_names(flagging)}." if flagging else "No computed metric may flag.")
    ]
    quiet = [m for m in tested if m not in settings.flag_on]
    if quiet:
        texts[0] += f" Shown with their tests but never flagging: {_names(quiet)}."
        prevalence = [m for m in quiet if m in ("ppv", "npv")]
        if prevalence:
            texts[0] += (
                f" {' and '.join(NAMES[m] for m in prevalence)} {'depend' if len(prevalence) > 1 else 'depends'} on "
                "the group's prevalence: with the same model, a group with fewer "
                "positives has a lower PPV and a higher NPV."
            )
    margins = {m: v for m, v in settings.margins.items() if m in tested}
    if margins:
        listed = ", ".join(f"{NAMES.get(m, m)} {v:g}" for m, v in margins.items())
        texts.append(
            f"Margins (the smallest deficit that matters): {listed}. On these metrics a group is flagged only when "
            "its deficit is significantly larger than the margin (a one-sided test that the deficit exceeds it), so "
            "a deficit that is real but within the margin is not flagged."
        )
    return texts


def _errors(data: ReportData) -> str:
    cases = data.given_cases()
    counts = dict(cases.table[OUTCOME].value_counts().iter_rows())
    if cases.mode == "binary":
        text = (
            f"At the operating threshold: {counts.get('FN', 0)} false negatives (missed positives) and "
            f"{counts.get('FP', 0)} false positives, of {cases.table.height} cases."
        )
    else:
        text = f"{counts.get('wrong', 0)} of {cases.table.height} cases misclassified."
    return el("div", el("h3", "Errors"), el("p", text, " See the error galleries to look at them."))


def _clusters(data: ReportData) -> str:
    stats = cluster_stats(data)
    high = stats.filter(pl.col("role") == "high_error")
    if high.height == 0:
        return el("div", el("h3", "Clusters"), el("p", "No cluster is marked high_error in the clusters file."))
    items = [
        el(
            "li",
            f"cluster {r['cluster']} of label {r['label']}: {r['n_errors']} of {r['n']} wrong ({r['error_rate']:.1%}, "
            f"against {r['label_error_rate']:.1%} in the whole label)",
        )
        for r in high.iter_rows(named=True)
    ]
    return el(
        "div",
        el("h3", "High-error clusters"),
        el("p", "Clusters of look-alike images (hs cluster) where the model errs most often:"),
        el("ul", *items),
    )
