"""Subgroups: the strata table with a forest plot of AUC and sensitivity (or accuracy)."""

from __future__ import annotations

from hstool.audit.strata_table import OVERALL, interval_text, p_text
from hstool.report.context import ReportData
from hstool.report.markup import el
from hstool.report.plots import ForestRow, forest_plot
from hstool.report.sections import Section, data_table, unavailable

FOREST = {"binary": [("auc", "AUC"), ("sensitivity", "sensitivity")], "multiclass": [("accuracy", "accuracy")]}
COLUMNS = {
    "binary": [("auc", "AUC"), ("sensitivity", "sensitivity"), ("specificity", "specificity"), ("ppv", "PPV")],
    "multiclass": [("accuracy", "accuracy")],
}


OPTIONAL_COLUMNS = [
    ("calibration_intercept", "calibration intercept"),
    ("calibration_slope", "calibration slope"),
    ("ece", "ECE"),
    ("auc_mdd", "detectable AUC deficit"),
    ("sensitivity_mdd", "detectable sensitivity deficit"),
]


def row_label(r: dict) -> str:
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
    forest_rows = [
        ForestRow(
            row_label(r),
            {m: (r.get(m), r.get(f"{m}_ci_low"), r.get(f"{m}_ci_high")) for m, _ in FOREST[mode]},
            frozenset(w for w in (r.get("worse_on") or "").split(";") if w),
        )
        for r in rows
    ]
    plot = forest_plot(forest_rows, FOREST[mode], {m: overall.get(m) for m, _ in FOREST[mode]})
    # The families hs stratify computed (--metrics): calibration and power columns when present.
    metrics = COLUMNS[mode] + [
        (m, title)
        for m, title in OPTIONAL_COLUMNS
        if mode == "binary" and m in data.strata.table.columns and data.strata.table[m].is_not_null().any()
    ]
    headers = ["stratifier", "group", "scope", "n", "positives"] if mode == "binary" else ["stratifier", "group", "n"]
    headers += [t if m.endswith("_mdd") else f"{t} [95% CI]" for m, t in metrics]
    headers += [f"adj. p ({metrics[0][1]})", "flag", "status"]
    table_rows, classes = [], []
    for r in rows:
        cells = [r["stratifier"], r["group"]]
        cells += [r.get("scope", ""), int(r["n"]), int(r["n_pos"])] if mode == "binary" else [int(r["n"])]
        cells += [interval_text(r.get(m), r.get(f"{m}_ci_low"), r.get(f"{m}_ci_high")) for m, _ in metrics]
        cells.append(p_text(r.get(f"{metrics[0][0]}_p_adj")))
        cells.append(("worse: " + r["worse_on"].replace(";", ", ")) if r["flag"] else "")
        cells.append(r["status"] + (f": {r['reason']}" if r.get("reason") else ""))
        table_rows.append(cells)
        classes.append("flagged" if r["flag"] else None)
    numeric = [h in ("n", "positives") for h in headers]
    legend = el(
        "p",
        "Squares are estimates and bars their 95% intervals; the dashed line is the overall value. Red marks a "
        "metric on which the group is significantly worse than its comparator (adjusted p below alpha).",
        cls="muted",
    )
    return Section(
        "subgroups",
        "Subgroups",
        el("div", el("div", plot, cls="figure"), legend, data_table(headers, table_rows, classes, numeric)),
    )
