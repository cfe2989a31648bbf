"""Clusters (hs cluster): per superclass, the high- and low-error clusters, with montages of
their members and what they are made of in terms of known subclasses."""

from __future__ import annotations

import polars as pl

from hstool.io.tables import KEY
from hstool.report.context import ReportData, ReportOptions
from hstool.report.gallery import Gallery, Item, ThumbTable, caption
from hstool.report.inputs import ERROR, LABEL, ROLES
from hstool.report.markup import el
from hstool.report.saliency import mean_figures
from hstool.report.sampling import pick, priorities
from hstool.report.sections import Section, data_table, unavailable

MAKEUP_VALUES = 3  # values listed per column in the make-up


def members(data: ReportData) -> pl.DataFrame:
    """clusters.csv joined with the cases it shares ids with (score, outcome, labels columns)."""
    table = data.given_clusters().table
    if data.cases is None:
        return table
    cases = data.cases.table.drop(LABEL, "cluster", "role", strict=False)
    return table.join(cases, on=KEY, how="left", suffix="_cases")


def makeup_columns(data: ReportData) -> list[str]:
    extra = data.given_clusters().extra_columns
    known = data.cases.columns if data.cases else []
    return [c for c in dict.fromkeys(extra + known) if c not in ("cluster", "role", KEY, LABEL)]


def cluster_stats(data: ReportData) -> pl.DataFrame:
    """One row per cluster: label, cluster, role, n, n_errors, error_rate, label_error_rate."""
    table = members(data)
    has_errors = ERROR in table.columns
    err = pl.col(ERROR) if has_errors else pl.lit(None, dtype=pl.Boolean)
    stats = table.group_by(LABEL, "cluster").agg(
        pl.col("role").filter(pl.col("role") != "").first().fill_null("").alias("role"),
        pl.len().alias("n"),
        err.sum().alias("n_errors"),
        err.count().alias("n_scored"),
    )
    by_label = table.group_by(LABEL).agg((err.sum() / err.count()).alias("label_error_rate"))
    stats = stats.join(by_label, on=LABEL).with_columns((pl.col("n_errors") / pl.col("n_scored")).alias("error_rate"))
    if not has_errors:
        stats = stats.with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in ("error_rate", "label_error_rate"))
    return stats.sort(LABEL, "cluster")


def makeup(table: pl.DataFrame, columns: list[str]) -> str:
    """`drain: yes 80%, no 20%; sex: F 55%, M 45%` for the rows of one cluster."""
    parts = []
    for column in columns:
        values = table[column].cast(pl.String).fill_null("(missing)")
        counts = values.value_counts(sort=True, name="k")
        counts = counts.sort(["k", column], descending=[True, False]).head(MAKEUP_VALUES)
        shares = ", ".join(f"{v} {k / table.height:.0%}" for v, k in counts.iter_rows())
        parts.append(f"{column}: {shares}")
    return "; ".join(parts)


def plan(data: ReportData, options: ReportOptions) -> dict[tuple[str, str], Gallery]:
    """Montages of the high- and low-error clusters by (label, cluster), in section order."""
    if data.clusters is None:
        return {}
    table = members(data)
    priority = priorities(table[KEY].to_list(), options.stratify.seed)
    galleries = {}
    for label, cluster, role in _marked(data):
        mask = ((table[LABEL] == label) & (table["cluster"] == cluster)).to_numpy()
        rows = pick(mask, priority, options.montage_size)
        items = [Item(r[KEY], caption(r)) for r in table[rows].iter_rows(named=True)]
        galleries[(label, cluster)] = Gallery(
            f"cluster {cluster} ({role.replace('_', ' ')}): members", items, int(mask.sum())
        )
    return galleries


def _marked(data: ReportData) -> list[tuple[str, str, str]]:
    stats = cluster_stats(data).filter(pl.col("role").is_in(list(ROLES)))
    return [(r[LABEL], r["cluster"], r["role"]) for r in stats.iter_rows(named=True)]


def build(data: ReportData, montages: dict[tuple[str, str], Gallery], thumbs: ThumbTable) -> Section:
    if data.clusters is None:
        return Section(
            "clusters",
            "Clusters",
            unavailable(
                "No clusters: pass --clusters clusters.csv (from hs cluster) to see clusters of look-alike images with many errors."
            ),
        )
    stats = cluster_stats(data)
    table = members(data)
    columns = makeup_columns(data)
    parts = [
        el(
            "p",
            "hs cluster groups the images of each label by their features; a high-error cluster is a candidate hidden "
            "subclass. Look at its members: what do they share? The make-up lists the known subclasses among them.",
        )
    ]
    for label in stats[LABEL].unique().sort().to_list():
        rows, classes = [], []
        for r in stats.filter(pl.col(LABEL) == label).iter_rows(named=True):
            members_of = table.filter((pl.col(LABEL) == label) & (pl.col("cluster") == r["cluster"]))
            rate = "-" if r["error_rate"] is None else f"{r['n_errors']} ({r['error_rate']:.1%})"
            rows.append(
                [
                    r["cluster"],
                    r["role"].replace("_", " "),
                    r["n"],
                    rate,
                    makeup(members_of, columns) if columns else "-",
                ]
            )
            classes.append("flagged" if r["role"] == "high_error" else None)
        parts.append(el("h3", f"Label {label}"))
        parts.append(
            data_table(["cluster", "role", "n", "errors", "make-up"], rows, classes, [False, False, True, True, False])
        )
        for r in stats.filter((pl.col(LABEL) == label) & pl.col("role").is_in(list(ROLES))).iter_rows(named=True):
            gallery = montages.get((label, r["cluster"]))
            if gallery is not None:
                parts.append(thumbs.gallery(gallery))
            if data.saliency is not None and data.paths:
                ids = table.filter((pl.col(LABEL) == label) & (pl.col("cluster") == r["cluster"]))[KEY].to_list()
                means = data.saliency.cluster_means(ids, data.paths, thumbs.size)
                if means:
                    parts.append(el("div", *mean_figures(means, thumbs.size), cls="thumbs"))
    return Section("clusters", "Clusters", el("div", *parts))
