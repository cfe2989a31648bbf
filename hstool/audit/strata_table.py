"""The strata table shared by both stratify modes: options, multiplicity, flags, human view."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, SupportsFloat

import numpy as np
import polars as pl

from hstool.audit.groups import BinSpec
from hstool.stats.multiplicity import adjust

OVERALL = "(all)"


@dataclass(frozen=True)
class StratifyOptions:
    """Every knob of `hs stratify` (defaults as on the command line)."""

    by: list[str] | None = None  # None: every non-key column of the labels file
    crosses: list[list[str]] = field(default_factory=list)
    bins: dict[str, BinSpec] = field(default_factory=dict)
    threshold: str = "0.5"
    ci: str = "wilson"  # wilson | clopper-pearson | bootstrap
    n_boot: int = 1000
    seed: int = 0
    level: float = 0.95
    correction: str = "holm"
    alpha: float = 0.05
    min_n: int = 10
    reference: dict[str, str] = field(default_factory=dict)
    max_levels: int = 20
    positive: str | None = None
    allow_unmatched: bool = False


def none_if_nan(value: SupportsFloat | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def finalize(
    rows: list[dict[str, Any]], tested: list[str], correction: str, alpha: float, schema: dict[str, Any]
) -> pl.DataFrame:
    """Adjust every p-value of the run together, then flag groups significantly worse.

    A group is flagged on a metric when its adjusted p-value is below `alpha` and the metric is
    lower than its comparator's (tests are two-sided; the flag reports the harmful direction).
    """
    p = np.array([[r.get(f"{m}_p") for m in tested] for r in rows], dtype=float)  # None -> nan
    adjusted = adjust(p.ravel(), correction).reshape(p.shape) if p.size else p
    for i, row in enumerate(rows):
        worse = []
        for j, metric in enumerate(tested):
            value = adjusted[i, j]
            row[f"{metric}_p_adj"] = None if math.isnan(value) else float(value)
            delta = row.get(f"{metric}_delta")
            if not math.isnan(value) and value < alpha and delta is not None and delta < 0:
                worse.append(metric)
        row["flag"] = bool(worse)
        row["worse_on"] = ";".join(worse)
    return pl.DataFrame(rows, schema=schema, orient="row")


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


def flagged_summary(table: pl.DataFrame, correction: str, alpha: float) -> list[str]:
    """Plain-words lines for each flagged group (shown on stderr and in reports)."""
    lines = []
    for r in table.filter(pl.col("flag")).to_dicts():
        parts = []
        for metric in r["worse_on"].split(";"):
            delta = r[f"{metric}_delta"]
            parts.append(
                f"{metric} {r[metric]:.3f} ({delta:+.3f} vs {r['comparator']}, adjusted p {p_text(r[f'{metric}_p_adj'])})"
            )
        lines.append(f"{r['stratifier']}={r['group']}: " + "; ".join(parts))
    head = f"{len(lines)} group(s) significantly worse ({correction} correction, alpha {alpha:g})"
    return [head + (":" if lines else ".")] + ["  " + line for line in lines]
