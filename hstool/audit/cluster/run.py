"""`hs cluster`: algorithmic discovery of hidden strata in a model's embeddings.

For every superclass (value of `label`), its cases' embeddings are clustered at every k of the
search; the paper's rule (or the silhouette rule) picks the reported high-error / low-error
pair; every cluster gets an error rate, interval and test against the rest of its superclass,
adjusted across the run; known-subclass columns of the labels file describe the clusters of
the reported k (never used to form them). Returns plain data: the per-case assignments
(clusters.csv), the summary table, the prevalence table, human views and sidecar metadata.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from hstool.audit.cluster.inputs import LABEL, ClusterInputs, read_cluster_inputs
from hstool.audit.cluster.options import ClusterOptions
from hstool.audit.cluster.search import Clustering, search_superclass
from hstool.audit.cluster.select import Partition, Selection, select
from hstool.audit.cluster.stats import (
    ALL,
    PREVALENCE_SCHEMA,
    SUMMARY_SCHEMA,
    adjust_and_flag,
    cluster_id,
    cluster_rows,
    prevalence_rows,
    superclass_row,
)
from hstool.audit.cluster.views import Outcome, prevalence_view, summary_lines, summary_view
from hstool.audit.groups import Stratifier, build_stratifiers
from hstool.io.sidecar import build_sidecar
from hstool.io.tables import KEY

ASSIGNMENT_SCHEMA: dict[str, Any] = {
    KEY: str,
    LABEL: str,
    "cluster": str,
    "role": str,
    "k": int,
    "error": int,
    "distance": float,
    "split": str,
}


@dataclass(frozen=True)
class ClusterResult:
    assignments: pl.DataFrame
    summary_table: pl.DataFrame  # the --summary file
    summary_view: pl.DataFrame
    prevalence: pl.DataFrame
    prevalence_view: pl.DataFrame
    meta: dict[str, Any]  # sidecar of the summary; the other artifacts' sidecars differ in `schema`/`rows`
    summary: list[str]  # in plain words, for stderr (as every result's `summary`)
    n_flagged: int

    def sidecar(self, schema: str, rows: int) -> dict[str, Any]:
        return {**self.meta, "schema": schema, "rows": rows}


@dataclass
class _Superclass:
    """What the analysis of one superclass produced."""

    name: str
    idx: np.ndarray  # its rows among the analysed cases
    selection: Selection | None  # None: skipped
    reason: str
    rows: list[dict[str, Any]]  # summary rows: its (all) row, then every cluster at every k
    prevalence: list[dict[str, Any]]
    chosen: Clustering | None = None  # the clustering at the reported k


def run_cluster(emb_path: str, preds_path: str, labels_path: str, options: ClusterOptions) -> ClusterResult:
    data = read_cluster_inputs(
        emb_path,
        preds_path,
        labels_path,
        ids_path=options.ids,
        threshold=options.threshold,
        positive=options.positive,
        allow_unmatched=options.allow_unmatched,
        columns=options.columns,
        fmt=options.table_format,
    )
    fit = _fit_mask(data, options)
    describe = [c for c in (options.by if options.by is not None else data.table.columns) if c not in (KEY, LABEL)]
    stratifiers = build_stratifiers(
        data.table,
        by=describe,
        crosses=[],
        bins={},
        max_levels=options.max_levels,
        source_name=data.sources[2].name,
        decimal_comma=data.sources[2].decimal_comma,
    )
    results = [
        _superclass(data, fit, stratifiers, name, key, options)
        for key, name in enumerate(_superclass_order(data.superclass))
    ]
    summary = [row for r in results for row in r.rows]
    n_flagged = adjust_and_flag([r for r in summary if r["cluster"] != ALL], options.correction, options.alpha)
    summary_df = pl.DataFrame(summary, schema=SUMMARY_SCHEMA, orient="row")
    prevalence_df = pl.DataFrame([row for r in results for row in r.prevalence], schema=PREVALENCE_SCHEMA, orient="row")
    outcomes: list[Outcome] = [(r.name, r.selection, r.reason) for r in results]
    return ClusterResult(
        assignments=_assignments(data, results, fit, options),
        summary_table=summary_df,
        summary_view=summary_view(summary_df),
        prevalence=prevalence_df,
        prevalence_view=prevalence_view(prevalence_df),
        meta=_meta(data, options, summary_df, n_flagged, outcomes),
        summary=summary_lines(outcomes, summary_df, options.correction, options.alpha),
        n_flagged=n_flagged,
    )


def _superclass(
    data: ClusterInputs, fit: np.ndarray, stratifiers: list[Stratifier], name: str, key: int, options: ClusterOptions
) -> _Superclass:
    """Cluster one superclass at every k, select the pair, and describe its clusters."""
    idx = np.flatnonzero(data.superclass == name)
    sc_fit, errors = fit[idx], data.errors[idx]
    tested = ~sc_fit if not sc_fit.all() else sc_fit
    stats: dict[str, Any] = {"level": options.level, "ci": options.ci}
    needed = 2 * (options.min_size + 1)
    if len(idx) < needed:
        reason = f"{len(idx)} cases: fewer than {needed}, so no two clusters can have more than --min-size {options.min_size} members"
        return _Superclass(
            name,
            idx,
            None,
            reason,
            [superclass_row(name, errors[tested], None, status="skipped", reason=reason, **stats)],
            [],
        )
    clusterings = search_superclass(data.matrix[data.rows[idx]], errors, sc_fit, options.search, key)
    selection = select([_partition(c, errors, sc_fit) for c in clusterings], options.min_size, options.select)
    status = "no_pair" if selection.pair is None else "ok"
    rows = [superclass_row(name, errors[tested], selection, status=status, reason=selection.reason, **stats)]
    for clustering in clusterings:
        rows.extend(cluster_rows(name, clustering, errors, sc_fit, selection, min_size=options.min_size, **stats))
    chosen = next((c for c in clusterings if c.k == selection.k), None)
    prevalence = []
    if chosen is not None:
        local = [Stratifier(s.name, s.levels, s.codes[idx], s.note) for s in stratifiers]
        prevalence = prevalence_rows(name, chosen, tested, _roles(selection), local, **stats)
    return _Superclass(name, idx, selection, selection.reason, rows, prevalence, chosen)


def _superclass_order(superclass: np.ndarray) -> list[str]:
    """Superclasses sorted numerically when every label is a number, else as text."""
    names = sorted(set(superclass.tolist()))
    try:
        return sorted(names, key=float)
    except ValueError:
        return names


def _fit_mask(data: ClusterInputs, options: ClusterOptions) -> np.ndarray:
    """Which cases form the clusters: all, or a seeded random part of each superclass."""
    fit = np.ones(len(data.superclass), dtype=bool)
    if options.held_out <= 0:
        return fit
    rng = np.random.default_rng([options.search.seed, 1])
    for name in _superclass_order(data.superclass):
        idx = np.flatnonzero(data.superclass == name)
        held = rng.permutation(idx)[: int(round(options.held_out * len(idx)))]
        fit[held] = False
    return fit


def _partition(clustering: Clustering, errors: np.ndarray, fit: np.ndarray) -> Partition:
    """Selection counts: error rates among the fitting cases, sizes over all members."""
    labels = clustering.labels[fit]
    sizes = np.bincount(labels, minlength=clustering.n_clusters)
    wrong = np.bincount(labels, weights=errors[fit].astype(np.float64), minlength=clustering.n_clusters)
    members = np.bincount(clustering.labels, minlength=clustering.n_clusters)
    return Partition(clustering.k, sizes, wrong.astype(np.int64), clustering.centroids, clustering.silhouette, members)


def _roles(selection: Selection) -> dict[int, str]:
    if selection.pair is None:
        return {}
    return {selection.pair.high: "high_error", selection.pair.low: "low_error"}


def _assignments(
    data: ClusterInputs, results: list[_Superclass], fit: np.ndarray, options: ClusterOptions
) -> pl.DataFrame:
    """clusters.csv: every case's cluster and role at its superclass's reported k."""
    n = len(data.superclass)
    cluster, role = np.full(n, None, dtype=object), np.full(n, None, dtype=object)
    k_of, distance = np.full(n, None, dtype=object), np.full(n, None, dtype=object)
    for r in results:
        if r.chosen is None or r.selection is None:  # a clustering is chosen only by a selection
            continue
        roles = _roles(r.selection)
        cluster[r.idx] = [cluster_id(r.name, r.chosen.k, j) for j in r.chosen.labels]
        role[r.idx] = [roles.get(j) for j in r.chosen.labels]
        k_of[r.idx], distance[r.idx] = r.chosen.k, r.chosen.distance
    split = np.where(fit, "fit", "holdout") if options.held_out > 0 else np.full(n, "all")
    columns = {
        KEY: data.table[KEY],
        LABEL: data.table[LABEL].cast(pl.String),
        "cluster": cluster.tolist(),
        "role": role.tolist(),
        "k": k_of.tolist(),
        "error": data.errors.astype(np.int64),
        "distance": distance.tolist(),
        "split": split,
    }
    return pl.DataFrame(columns, schema=ASSIGNMENT_SCHEMA)


def _meta(
    data: ClusterInputs, options: ClusterOptions, summary: pl.DataFrame, n_flagged: int, outcomes: list[Outcome]
) -> dict[str, Any]:
    parameters = asdict(options)
    parameters["search"]["ks"] = list(options.search.ks)
    selections = []
    for name, selection, reason in outcomes:
        entry: dict[str, Any] = {
            "superclass": name,
            "k": None,
            "high": None,
            "low": None,
            "pair_distance": None,
            "reason": reason,
        }
        if selection is not None and selection.k is not None:
            entry["k"] = selection.k
        if selection is not None and selection.pair is not None:
            pair = selection.pair
            entry.update(
                {
                    "high": cluster_id(name, pair.k, pair.high),
                    "low": cluster_id(name, pair.k, pair.low),
                    "pair_distance": pair.distance,
                }
            )
        selections.append(entry)
    extra = {
        "mode": data.mode,
        "threshold": data.threshold,
        "n_analysed": len(data.superclass),
        "embedding_dims": data.dims,
        "dropped": data.dropped,
        "n_tests": int(summary["p"].is_not_null().sum()),
        "n_flagged": n_flagged,
        "selections": selections,
    }
    return build_sidecar(
        schema="hs.cluster-summary/1",
        parameters=parameters,
        inputs=[s.provenance() for s in data.sources],
        rows=summary.height,
        seed=options.search.seed,
        extra=extra,
    )
