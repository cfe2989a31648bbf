"""Subgroups: the strata table with a forest plot of AUC and sensitivity (or accuracy)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hstool.audit.strata_table import OVERALL, interval_text, p_text
from hstool.report.context import ReportData
from hstool.report.markup import el
from hstool.report.plots import ForestRow, forest_plot
from hstool.report.sections import Section, data_table, unavailable

FOREST = {"binary": [("auc", "AUC"), ("sensitivity", "sensitivity")], "multiclass": [("accuracy", "accuracy")]}
# The columns of each metric family (`--metrics`) in a binary table, each with its interval.
FAMILY_COLUMNS = {
    "auc": [("auc", "AUC")],
    "proportions": [("sensitivity", "sensitivity"), ("specificity", "specificity"), ("ppv", "PPV"), ("npv", "NPV")],
    "calibration": [
        ("brier", "Brier score"),
        ("calibration_intercept", "calibration intercept"),
        ("calibration_slope", "calibration slope"),
        ("ece", "ECE"),
    ],
    "power": [("auc_mdd", "detectable AUC deficit"), ("sensitivity_mdd", "detectable sensitivity deficit")],
}


def shown_metrics(data: ReportData) -> list[tuple[str, str]]:
    """(column, title) of the metrics the subgroup table shows: the chosen families' (binary)."""
    if data.given_strata().mode != "binary":
        return [("accuracy", "accuracy")]
    return [column for family in data.families() for column in FAMILY_COLUMNS[family]]


def row_label(r: Mapping[str, Any]) -> str:
    return "overall" if r["stratifier"] == OVERALL else f"{r['stratifier']} = {r['group']}"


def build(data: ReportData) -> Section:
    if data.strata is None:
        return Section(
            "subgroups",
            "Subgroups",
            unavailable("No subgroups: pass --preds and --labels, or --strata strata.csv (from hs stratify)."),
        )
    mode = data.strata.mode
    rows = data.strata.table.to_dicts()
    overall = rows[0] if rows and rows[0]["stratifier"] == OVERALL else {}
    metrics = shown_metrics(data)
    forest = [(m, t) for m, t in FOREST[mode] if m in dict(metrics)]
    level = data.level_text()  # '95% ', or '' without the stratify output's sidecar
    parts = []
    if forest:
        forest_rows = [
            ForestRow(
                row_label(r),
                {m: (r.get(m), r.get(f"{m}_ci_low"), r.get(f"{m}_ci_high")) for m, _ in forest},
                frozenset(w for w in (r.get("worse_on") or "").split(";") if w),
            )
            for r in rows
        ]
        plot = forest_plot(forest_rows, forest, {m: overall.get(m) for m, _ in forest})
        parts.append(el("div", plot, cls="figure"))
        parts.append(
            el(
                "p",
                f"Squares are estimates and bars their {level}intervals; the dashed line is the overall value. Red "
                "marks a metric on which the group is flagged (its flag column, explained in the summary).",
                cls="muted",
            )
        )
    # The adjusted p-value of the first tested metric shown (the MDDs are not tests).
    tested = next(((m, t) for m, t in metrics if not m.endswith("_mdd")), None)
    headers = ["stratifier", "group", "scope", "n", "positives"] if mode == "binary" else ["stratifier", "group", "n"]
    headers += [t if m.endswith("_mdd") else f"{t} [{level}CI]" for m, t in metrics]
    headers += ([f"adj. p ({tested[1]})"] if tested else []) + ["flag", "status"]
    table_rows, classes = [], []
    for r in rows:
        cells = [r["stratifier"], r["group"]]
        cells += [r.get("scope", ""), int(r["n"]), int(r["n_pos"])] if mode == "binary" else [int(r["n"])]
        cells += [interval_text(r.get(m), r.get(f"{m}_ci_low"), r.get(f"{m}_ci_high")) for m, _ in metrics]
        if tested:
            cells.append(p_text(r.get(f"{tested[0]}_p_adj")))
        # The flag of the stratify table (its flag and worse_on columns), never recomputed here.
        cells.append(("worse: " + r["worse_on"].replace(";", ", ")) if r["flag"] else "")
        cells.append(r["status"] + (f": {r['reason']}" if r.get("reason") else ""))
        table_rows.append(cells)
        classes.append("flagged" if r["flag"] else None)
    numeric = [h in ("n", "positives") for h in headers]
    parts.append(data_table(headers, table_rows, classes, numeric))
    return Section("subgroups", "Subgroups", el("div", *parts))
