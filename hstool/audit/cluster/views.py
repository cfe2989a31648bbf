"""Human views of `hs cluster`'s tables (the terminal format) and its plain-words summary."""

from __future__ import annotations

from typing import Any

import polars as pl

from hstool.audit.cluster.select import Selection
from hstool.audit.cluster.stats import ALL, cluster_id
from hstool.audit.strata_table import interval_text, p_text

_MARK = {"high_error": "HIGH-ERROR", "low_error": "LOW-ERROR"}


def summary_view(summary: pl.DataFrame) -> pl.DataFrame:
    """One line per superclass and cluster: error rate [interval], rest, adjusted p, role."""
    rows = summary.to_dicts()
    return pl.DataFrame(
        {
            "superclass": [r["superclass"] for r in rows],
            "k": [r["k"] for r in rows],
            "cluster": [r["cluster"] for r in rows],
            "n": [r["n"] for r in rows],
            "error rate": [interval_text(r["error_rate"], r["error_ci_low"], r["error_ci_high"]) for r in rows],
            "rest": ["" if r["rest_error_rate"] is None else f"{r['rest_error_rate']:.3f}" for r in rows],
            "p_adj": ["" if r["cluster"] == ALL else p_text(r["p_adj"]) for r in rows],
            "pair": [_pair_text(r) for r in rows],
            "flag": ["WORSE" if r["flag"] else "" for r in rows],
            "status": [r["status"] for r in rows],
        },
        schema={
            "superclass": pl.String,
            "k": pl.Int64,
            "cluster": pl.String,
            "n": pl.Int64,
            "error rate": pl.String,
            "rest": pl.String,
            "p_adj": pl.String,
            "pair": pl.String,
            "flag": pl.String,
            "status": pl.String,
        },
    )


def _pair_text(row: dict[str, Any]) -> str:
    if row["cluster"] == ALL:
        return "" if row["pair_distance"] is None else f"reported k={row['k']}, distance {row['pair_distance']:.3g}"
    if row["role"]:
        return _MARK[row["role"]]
    if row["candidate"]:
        return f"candidate {row['candidate']}"
    return ""


def prevalence_view(prevalence: pl.DataFrame) -> pl.DataFrame:
    """The paper's Table 4: each known-subclass value in the high- vs the low-error cluster."""
    pairs = prevalence.filter(pl.col("role") != "")
    columns: dict[str, list[Any]] = {
        "superclass": [],
        "column": [],
        "value": [],
        "high-error cluster": [],
        "low-error cluster": [],
    }
    keys = pairs.select("superclass", "column", "value").unique(maintain_order=True).to_dicts()
    for key in keys:
        sel = pairs.filter(
            (pl.col("superclass") == key["superclass"])
            & (pl.col("column") == key["column"])
            & (pl.col("value") == key["value"])
        )
        by_role = {r["role"]: r for r in sel.to_dicts()}
        for name in ("superclass", "column", "value"):
            columns[name].append(key[name])
        columns["high-error cluster"].append(_count_text(by_role.get("high_error")))
        columns["low-error cluster"].append(_count_text(by_role.get("low_error")))
    return pl.DataFrame(columns, schema={c: pl.String for c in columns})


def _count_text(row: dict[str, Any] | None) -> str:
    if row is None or not row["n"]:
        return "-"
    return f"{row['count']}/{row['n']} ({100 * row['prevalence']:.1f}%)"


# What one superclass came to: its name, what was selected (None: skipped) and why not, in words.
Outcome = tuple[str, Selection | None, str]


def summary_lines(outcomes: list[Outcome], summary: pl.DataFrame, correction: str, alpha: float) -> list[str]:
    """What was found, per superclass, in words (stderr)."""
    by_id = {r["cluster"]: r for r in summary.to_dicts()}
    lines = []
    for name, selection, reason in outcomes:
        if selection is None or selection.pair is None:
            lines.append(f"label={name}: nothing reported: {reason}")
            continue
        pair = selection.pair
        high = by_id[cluster_id(name, pair.k, pair.high)]
        low = by_id[cluster_id(name, pair.k, pair.low)]
        lines.append(
            f"label={name}: k={pair.k}, high-error cluster {high['cluster']} "
            f"(error {_rate(high)}, n {high['n']}, adjusted p {p_text(high['p_adj'])}) "
            f"vs low-error {low['cluster']} (error {_rate(low)}, n {low['n']}); centroid distance {pair.distance:.3g}"
        )
    n_flagged = int(summary["flag"].fill_null(False).sum())
    n_tests = int(summary["p"].is_not_null().sum())
    lines.append(
        f"{n_flagged} of {n_tests} tested cluster(s) significantly worse than the rest of their superclass ({correction}, alpha {alpha:g})"
    )
    return lines


def _rate(row: dict[str, Any]) -> str:
    return "-" if row["error_rate"] is None else f"{row['error_rate']:.3f}"
