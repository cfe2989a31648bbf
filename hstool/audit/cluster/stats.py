"""Statistics attached to every discovered cluster, and the known-subclass make-up of clusters.

Per cluster: n, errors, error rate with a Wilson (or Clopper-Pearson) interval, and Fisher's
exact test of its error rate against the rest of its superclass; p-values adjusted together
(Holm by default) across every tested cluster of the run, at every k and in every superclass.
Clusters with no more than `--min-size` members are described but not tested (the paper's
rule never reports them). See docs/cluster.md, "Statistics".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hstool.audit.cluster.search import Clustering
from hstool.audit.cluster.select import Pair, Selection
from hstool.audit.groups import Stratifier
from hstool.stats.multiplicity import adjust
from hstool.stats.proportions import fisher_p, interval

ALL = "(all)"

SUMMARY_SCHEMA: dict[str, Any] = {
    "superclass": str,
    "k": int,
    "cluster": str,
    "n": int,
    "n_error": int,
    "error_rate": float,
    "error_ci_low": float,
    "error_ci_high": float,
    "rest_n": int,
    "rest_error_rate": float,
    "error_delta": float,
    "p": float,
    "p_adj": float,
    "flag": bool,
    "candidate": str,
    "pair_distance": float,
    "role": str,
    "silhouette": float,
    "status": str,
    "reason": str,
}
PREVALENCE_SCHEMA: dict[str, Any] = {
    "superclass": str,
    "k": int,
    "cluster": str,
    "role": str,
    "column": str,
    "value": str,
    "count": int,
    "n": int,
    "prevalence": float,
    "ci_low": float,
    "ci_high": float,
}


def cluster_id(superclass: str, k: int, index: int) -> str:
    """The text id of a cluster, unique across superclasses: `1/k3/c0`."""
    return f"{superclass}/k{k}/c{index}"


def _rate_fields(wrong: int, n: int, level: float, ci: str) -> dict[str, Any]:
    if n == 0:
        return {"error_rate": None, "error_ci_low": None, "error_ci_high": None}
    low, high = interval(wrong, n, level, ci)
    return {"error_rate": wrong / n, "error_ci_low": float(low), "error_ci_high": float(high)}


def superclass_row(
    name: str, errors: np.ndarray, selection: Selection | None, *, status: str, reason: str, level: float, ci: str
) -> dict[str, Any]:
    """The `(all)` row of a superclass: its error rate, and what was reported for it."""
    row: dict[str, Any] = {
        "superclass": name,
        "k": selection.k if selection else None,
        "cluster": ALL,
        "n": len(errors),
    }
    row.update({"n_error": int(errors.sum()), **_rate_fields(int(errors.sum()), len(errors), level, ci)})
    if selection is not None and selection.pair is not None:
        row["pair_distance"] = selection.pair.distance
    row.update({"status": status, "reason": reason})
    return row


def cluster_rows(
    name: str,
    clustering: Clustering,
    errors: np.ndarray,
    fit: np.ndarray,
    selection: Selection,
    *,
    min_size: int,
    level: float,
    ci: str,
) -> list[dict[str, Any]]:
    """One row per cluster of one clustering; counts over the held-out rows when there are any."""
    tested = ~fit if not fit.all() else fit
    labels, wrong_all = clustering.labels[tested], errors[tested]
    members = np.bincount(clustering.labels, minlength=clustering.n_clusters)
    sizes = np.bincount(labels, minlength=clustering.n_clusters)
    wrong = np.bincount(labels, weights=wrong_all.astype(np.float64), minlength=clustering.n_clusters).astype(int)
    total_n, total_wrong = int(tested.sum()), int(wrong_all.sum())
    candidate = selection.candidates.get(clustering.k)
    reported = selection.pair if selection.k == clustering.k else None
    rows = []
    for j in range(clustering.n_clusters):
        n, k_wrong = int(sizes[j]), int(wrong[j])
        rest_n, rest_wrong = total_n - n, total_wrong - k_wrong
        row = {
            "superclass": name,
            "k": clustering.k,
            "cluster": cluster_id(name, clustering.k, j),
            "n": n,
            "n_error": k_wrong,
        }
        row.update(_rate_fields(k_wrong, n, level, ci))
        row["rest_n"] = rest_n
        if rest_n:
            row["rest_error_rate"] = rest_wrong / rest_n
        row["candidate"], row["role"] = _marks(j, candidate, reported)
        if candidate is not None and j in (candidate.high, candidate.low):
            row["pair_distance"] = candidate.distance
        row["silhouette"] = clustering.silhouette
        if members[j] <= min_size:
            row.update(
                {
                    "status": "too_small",
                    "reason": f"{members[j]} members, not more than --min-size {min_size}: described, not tested",
                }
            )
        elif n == 0 or rest_n == 0:
            row.update(
                {"status": "untested", "reason": "no held-out cases in the cluster or in the rest of its superclass"}
            )
        else:
            row["error_delta"] = k_wrong / n - rest_wrong / rest_n
            row["p"] = fisher_p(k_wrong, n, rest_wrong, rest_n)
            row.update({"status": "ok", "reason": ""})
        rows.append(row)
    return rows


def _marks(j: int, candidate: Pair | None, reported: Pair | None) -> tuple[str, str]:
    mark = ""
    if candidate is not None and j in (candidate.high, candidate.low):
        mark = "high" if j == candidate.high else "low"
    role = ""
    if reported is not None and j in (reported.high, reported.low):
        role = "high_error" if j == reported.high else "low_error"
    return mark, role


def adjust_and_flag(rows: list[dict[str, Any]], correction: str, alpha: float) -> int:
    """Adjust every cluster p-value of the run together; flag clusters significantly worse.

    A cluster is flagged when its adjusted p-value is below `alpha` and its error rate is
    above the rest of its superclass. Returns the number flagged.
    """
    p = np.array([r["p"] if r.get("p") is not None else np.nan for r in rows], dtype=float)
    adjusted = adjust(p, correction)
    flagged = 0
    for row, value in zip(rows, adjusted):
        row["p_adj"] = None if math.isnan(value) else float(value)
        row["flag"] = bool(row["p_adj"] is not None and row["p_adj"] < alpha and row["error_delta"] > 0)
        flagged += row["flag"]
    return flagged


def prevalence_rows(
    name: str,
    clustering: Clustering,
    rows_mask: np.ndarray,
    roles: dict[int, str],
    stratifiers: list[Stratifier],
    *,
    level: float,
    ci: str,
) -> list[dict[str, Any]]:
    """For each cluster and each known-subclass value: how many of its cases have that value.

    `rows_mask` selects the superclass's cases that are counted (the held-out ones when some
    were held out); the stratifiers' codes cover the superclass's rows in the same order.
    """
    labels = clustering.labels[rows_mask]
    out = []
    for stratifier in stratifiers:
        codes = stratifier.codes[rows_mask]
        present = np.flatnonzero(np.bincount(codes, minlength=len(stratifier.levels)) > 0)
        if len(present) < 2:
            continue  # one value for the whole superclass (e.g. a positives-only column): nothing to compare
        for j in range(clustering.n_clusters):
            member = labels == j
            n = int(member.sum())
            counts = np.bincount(codes[member], minlength=len(stratifier.levels))
            low, high = interval(counts[present], np.full(len(present), n), level, ci)
            for i, code in enumerate(present):
                out.append(
                    {
                        "superclass": name,
                        "k": clustering.k,
                        "cluster": cluster_id(name, clustering.k, j),
                        "role": roles.get(j, ""),
                        "column": stratifier.name,
                        "value": stratifier.levels[code],
                        "count": int(counts[code]),
                        "n": n,
                        "prevalence": counts[code] / n if n else None,
                        "ci_low": float(low[i]) if n else None,
                        "ci_high": float(high[i]) if n else None,
                    }
                )
    return out
