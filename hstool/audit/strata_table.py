"""The strata table shared by both stratify modes: options, multiplicity, flags, human view."""

from __future__ import annotations

import math
from typing import Any, SupportsFloat

import numpy as np
import polars as pl

# Re-exported: the options and the metric families live in the light audit/options.py.
from hstool.audit.options import DEFAULT_FAMILIES as DEFAULT_FAMILIES
from hstool.audit.options import DEFAULT_FLAG_ON as DEFAULT_FLAG_ON
from hstool.audit.options import FAMILIES as FAMILIES
from hstool.audit.options import StratifyOptions as StratifyOptions
from hstool.stats.multiplicity import adjust

OVERALL = "(all)"


# Which way is harm: lower (default), higher, or away from an ideal value.
HIGHER_IS_WORSE = frozenset({"brier"})
IDEAL = {"calibration_intercept": 0.0, "calibration_slope": 1.0}


def harm(metric: str, value: float, comparator: float) -> float:
    """How much worse a group's `value` is than its comparator's (positive: worse)."""
    if metric in HIGHER_IS_WORSE:
        return value - comparator
    if metric in IDEAL:
        return abs(value - IDEAL[metric]) - abs(comparator - IDEAL[metric])
    return comparator - value


def none_if_nan(value: SupportsFloat | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def finalize(
    rows: list[dict[str, Any]],
    tested: list[str],
    correction: str,
    alpha: float,
    schema: dict[str, type],
    flag_on: tuple[str, ...] | None = None,
    margins: dict[str, float] | None = None,
) -> tuple[pl.DataFrame, int]:
    """Adjust the run's p-values for multiplicity, then flag groups that are worse; returns the
    table and the number of distinct tests.

    Each row's test of a metric is its plain two-sided test (`_p`), or with a margin for that
    metric the one-sided test that the deficit exceeds the margin (`_margin_p`). The tests of
    metrics in `flag_on` form one family (the flag family); the others (e.g. PPV, NPV) are
    adjusted among themselves and never flag. A row marked `duplicate_of` another (the two
    groups of a two-group stratifier, each against the rest: one test) enters the family once
    and takes its partner's p-values. A flag needs an adjusted p-value below `alpha` and, for a
    plain test, a deficit in the harmful direction (`harm`).
    """
    margins = margins or {}
    flagging = set(tested) if flag_on is None else set(flag_on) & set(tested)
    duplicate = [r.pop("duplicate_of", None) for r in rows]
    for i, partner in enumerate(duplicate):
        if partner is not None:
            for metric in tested:
                if metric not in margins:
                    rows[i][f"{metric}_p"] = rows[partner].get(f"{metric}_p")
    key = {m: (f"{m}_margin_p" if m in margins else f"{m}_p") for m in tested}
    p = np.array([[r.get(key[m]) for m in tested] for r in rows], dtype=float)  # None -> nan
    for i, partner in enumerate(duplicate):
        if partner is not None:
            p[i] = [np.nan if m not in margins else p[i, j] for j, m in enumerate(tested)]
    adjusted = np.full(p.shape, np.nan)
    for family in (flagging, set(tested) - flagging):
        columns = [j for j, m in enumerate(tested) if m in family]
        if columns and p.size:
            adjusted[:, columns] = adjust(p[:, columns].ravel(), correction).reshape(len(rows), len(columns))
    for i, partner in enumerate(duplicate):
        if partner is not None:
            for j, m in enumerate(tested):
                if m not in margins:
                    adjusted[i, j] = adjusted[partner, j]
    for i, row in enumerate(rows):
        worse = []
        for j, metric in enumerate(tested):
            value = adjusted[i, j]
            row[f"{metric}_p_adj"] = None if math.isnan(value) else float(value)
            if metric not in flagging or math.isnan(value) or value >= alpha:
                continue
            delta = row.get(f"{metric}_delta")
            if metric in margins or (delta is not None and harm(metric, row[metric], row[metric] - delta) > 0):
                worse.append(metric)
        row["flag"] = bool(worse)
        row["worse_on"] = ";".join(worse)
    return pl.DataFrame(rows, schema=schema, orient="row"), int(np.count_nonzero(~np.isnan(p)))


def interval_text(value: float | None, low: float | None, high: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    text = f"{value:.{digits}f}"
    if low is not None and high is not None:
        text += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return text


def p_text(p: float | None) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def human_view(table: pl.DataFrame, metrics: list[str], labels: dict[str, str]) -> pl.DataFrame:
    """The terminal table: interval columns and adjusted p-values for each metric."""
    columns: dict[str, list[Any]] = {"stratifier": table["stratifier"].to_list(), "group": table["group"].to_list()}
    columns["n"] = table["n"].to_list()
    if "n_pos" in table.columns:
        columns["n_pos"] = table["n_pos"].to_list()
    rows = table.to_dicts()
    for metric in metrics:
        columns[labels[metric]] = [
            interval_text(r[metric], r.get(f"{metric}_ci_low"), r.get(f"{metric}_ci_high")) for r in rows
        ]
        if f"{metric}_p_adj" in table.columns and metric in ("auc", "sensitivity", "accuracy"):
            columns[f"p_adj({labels[metric]})"] = [p_text(r[f"{metric}_p_adj"]) for r in rows]
    columns["flag"] = [("WORSE: " + r["worse_on"].replace(";", ",")) if r["flag"] else "" for r in rows]
    columns["status"] = [r["status"] for r in rows]
    return pl.DataFrame(columns)


def flagged_summary(
    table: pl.DataFrame, correction: str, alpha: float, margins: dict[str, float] | None = None
) -> list[str]:
    """Plain-words lines for each flagged group (shown on stderr and in reports)."""
    margins = margins or {}
    lines = []
    for r in table.filter(pl.col("flag")).to_dicts():
        parts = []
        for metric in r["worse_on"].split(";"):
            delta = r[f"{metric}_delta"]
            beyond = f", beyond margin {margins[metric]:g}" if metric in margins else ""
            parts.append(
                f"{metric} {r[metric]:.3f} ({delta:+.3f} vs {r['comparator']}{beyond}, "
                f"adjusted p {p_text(r[f'{metric}_p_adj'])})"
            )
        lines.append(f"{r['stratifier']}={r['group']}: " + "; ".join(parts))
    rule = f"{correction} correction, alpha {alpha:g}"
    if margins:
        rule += "; margins " + ", ".join(f"{m} {v:g}" for m, v in margins.items())
    head = f"{len(lines)} group(s) significantly worse ({rule})"
    return [head + (":" if lines else ".")] + ["  " + line for line in lines]


def heterogeneity_lines(pooled: dict[str, dict[str, Any]]) -> list[str]:
    """The footer lines for the AUC's heterogeneity across each stratifier's groups (sidecar form)."""
    return [
        f"AUC across {name} ({h['k']} groups): Cochran's Q {h['q']:.2f} (df {h['df']}, p {p_text(h['q_p'])}), "
        f"I² {100 * h['i2']:.0f}%, tau² {h['tau2']:.2g}; random-effects pooled AUC "
        f"{interval_text(h['pooled'], h['pooled_ci_low'], h['pooled_ci_high'])}"
        for name, h in pooled.items()
    ]
