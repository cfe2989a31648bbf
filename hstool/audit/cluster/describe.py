"""What sets a reported high-error cluster apart, in metadata (`hs cluster --describe meta.csv`).

Slice-discovery tools describe a slice in words with CLIP text embeddings, whose weights a
hospital may not be able to download; its DICOM headers (scanner, view, age, sex) it always
has. For each reported high-error cluster and each value of each metadata column, the share of
the cluster with that value is compared with the share among the rest of the cluster's class
(superclass) by Fisher's exact test (two-sided); the p-values of all these tests are adjusted
together with the run's multiplicity correction (a family of their own, so describing never
changes the clusters' own p-values). Rows are ranked within each cluster: over-represented
values first, by p-value, then by the difference in share.

Every member of the cluster is counted, held-out or not: the metadata never entered the
clustering, so the cluster's make-up is not biased towards it. Text columns with more than
`max_levels` values, and columns whose every value is unique (ids, paths), are left out;
numeric columns with more than `numeric_levels` distinct values are cut into quartiles (the
note goes into the sidecar). Missing values form their own group, `(missing)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from hstool.audit.cluster.inputs import LABEL
from hstool.audit.groups import Stratifier, build_stratifiers, is_measurement
from hstool.audit.strata_table import p_text
from hstool.io.sidecar import build_sidecar
from hstool.io.table_format import ColumnMap, TableFormat
from hstool.io.tables import KEY, Source, join_on_id, read_table
from hstool.stats.multiplicity import adjust
from hstool.stats.proportions import fisher_p

SCHEMA = "hs.cluster-describe/1"
HIGH = "high_error"
DESCRIBE_SCHEMA: dict[str, Any] = {
    "superclass": pl.String,
    "cluster": pl.String,
    "rank": pl.Int64,
    "column": pl.String,
    "value": pl.String,
    "count": pl.Int64,
    "n": pl.Int64,
    "share": pl.Float64,
    "rest_count": pl.Int64,
    "rest_n": pl.Int64,
    "rest_share": pl.Float64,
    "class_share": pl.Float64,
    "delta": pl.Float64,
    "p": pl.Float64,
    "p_adj": pl.Float64,
    "flag": pl.Boolean,
}
_ASSIGNED = (KEY, LABEL, "cluster", "role", "k", "error", "distance", "split")


@dataclass(frozen=True)
class DescribeOptions:
    correction: str = "holm"  # the cluster run's
    alpha: float = 0.05
    max_levels: int = 50  # text columns with more values are not described
    numeric_levels: int = 10  # numeric columns with more distinct values are cut into quartiles
    top: int = 3  # values per cluster in the plain-words lines
    allow_unmatched: bool = False
    # The cluster run's table options: the metadata file is read like its other inputs.
    columns: ColumnMap = field(default_factory=ColumnMap)
    table_format: TableFormat = field(default_factory=TableFormat)


@dataclass(frozen=True)
class Description:
    table: pl.DataFrame
    meta: dict[str, Any]
    lines: list[str]


def describe_clusters(
    assignments: pl.DataFrame, metadata_path: str, options: DescribeOptions, *, inputs: list[dict[str, Any]]
) -> Description:
    """Rank the metadata values over-represented in each reported high-error cluster.

    `assignments` is `hs cluster`'s per-case table (image_id, label, cluster, role...);
    `inputs` the cluster run's provenance, to which the metadata file is added."""
    metadata, source = read_table(
        metadata_path, role="metadata", fmt=options.table_format, columns=options.columns.pick(KEY)
    )
    cases = Source(name="the analysed cases", sha256="", kind="csv", rows=assignments.height)
    joined, dropped = join_on_id(
        assignments.select(KEY, LABEL, "cluster", "role"),
        cases,
        metadata.drop([c for c in metadata.columns if c in _ASSIGNED and c != KEY]),
        source,
        allow_unmatched=options.allow_unmatched,
    )
    columns, skipped = _describable(
        joined, [c for c in metadata.columns if c not in _ASSIGNED], options.max_levels, source.decimal_comma
    )
    stratifiers = build_stratifiers(
        joined,
        by=columns,
        crosses=[],
        bins={},
        max_levels=options.numeric_levels,
        source_name=source.name,
        decimal_comma=source.decimal_comma,
    )
    rows: list[dict[str, Any]] = []
    superclass = joined[LABEL].cast(pl.String).to_numpy()
    high = (joined["role"] == HIGH).fill_null(False).to_numpy()
    cluster = joined["cluster"].to_numpy()
    for name in sorted(set(superclass[high].tolist())):
        in_class = superclass == name
        rows.extend(_cluster_rows(name, str(cluster[high & in_class][0]), high[in_class], stratifiers, in_class))
    p = np.array([r["p"] for r in rows], dtype=float)
    for row, value in zip(rows, adjust(p, options.correction)):
        row["p_adj"] = float(value)
        row["flag"] = bool(value < options.alpha and row["delta"] > 0)
    rows = _ranked(rows)
    table = pl.DataFrame(rows, schema=DESCRIBE_SCHEMA, orient="row") if rows else pl.DataFrame(schema=DESCRIBE_SCHEMA)
    notes = {s.name: s.note for s in stratifiers if s.note}
    meta = build_sidecar(
        schema=SCHEMA,
        parameters={
            "correction": options.correction,
            "alpha": options.alpha,
            "max_levels": options.max_levels,
            "numeric_levels": options.numeric_levels,
            "allow_unmatched": options.allow_unmatched,
        },
        inputs=[*inputs, source.provenance()],
        rows=table.height,
        extra={
            "columns": columns,
            "skipped_columns": skipped,
            "notes": notes,
            "n_tests": len(rows),
            "n_flagged": int(sum(r["flag"] for r in rows)),
            "dropped": dropped,
        },
    )
    return Description(table=table, meta=meta, lines=_lines(table, options))


def _describable(
    table: pl.DataFrame, candidates: list[str], max_levels: int, decimal_comma: bool
) -> tuple[list[str], dict[str, str]]:
    """Columns worth describing, and why the others are not."""
    keep, skipped = [], {}
    for column in candidates:
        series = table[column]
        distinct = series.drop_nulls().n_unique()
        if distinct == table.height and table.height > 1:
            skipped[column] = "every value is unique (an id?)"
        elif not is_measurement(series, decimal_comma) and distinct > max_levels:
            skipped[column] = f"{distinct} distinct values (more than {max_levels})"
        else:
            keep.append(column)
    return keep, skipped


def _cluster_rows(
    name: str, cluster: str, member: np.ndarray, stratifiers: list[Stratifier], in_class: np.ndarray
) -> list[dict[str, Any]]:
    """Fisher's exact test of every value's share in the cluster against the rest of the class."""
    n, total = int(member.sum()), len(member)
    rows = []
    for stratifier in stratifiers:
        codes = stratifier.codes[in_class]
        in_cluster = np.bincount(codes[member], minlength=len(stratifier.levels))
        overall = np.bincount(codes, minlength=len(stratifier.levels))
        present = np.flatnonzero(overall > 0)
        if len(present) < 2 or total == n:
            continue  # one value for the whole class, or no rest: nothing to compare
        for code in present:
            count, rest_count = int(in_cluster[code]), int(overall[code] - in_cluster[code])
            rest_n = total - n
            rows.append(
                {
                    "superclass": name,
                    "cluster": cluster,
                    "column": stratifier.name,
                    "value": stratifier.levels[code],
                    "count": count,
                    "n": n,
                    "share": count / n,
                    "rest_count": rest_count,
                    "rest_n": rest_n,
                    "rest_share": rest_count / rest_n,
                    "class_share": int(overall[code]) / total,
                    "delta": count / n - rest_count / rest_n,
                    "p": fisher_p(count, n, rest_count, rest_n),
                }
            )
    return rows


def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Within each cluster: over-represented values first, then by p-value and difference."""
    order = sorted(rows, key=lambda r: (r["superclass"], r["delta"] <= 0, r["p"], -r["delta"], r["column"], r["value"]))
    rank: dict[str, int] = {}
    for row in order:
        rank[row["cluster"]] = rank.get(row["cluster"], 0) + 1
        row["rank"] = rank[row["cluster"]]
    return order


def _lines(table: pl.DataFrame, options: DescribeOptions) -> list[str]:
    """The top over-represented values of each high-error cluster, in words."""
    if table.height == 0:
        # A summary line for stderr, not an error (tests/core/test_no_flags_in_library.py allows it).
        return ["--describe: no reported high-error cluster, or no metadata column with two values in its class"]
    lines = []
    for cluster in table["cluster"].unique(maintain_order=True).to_list():
        rows = table.filter((pl.col("cluster") == cluster) & (pl.col("delta") > 0)).head(options.top).to_dicts()
        lines.append(f"high-error cluster {cluster}: values over-represented against the rest of its class")
        if not rows:
            lines.append("  none")
        for r in rows:
            lines.append(
                f"  {r['column']} = {r['value']}: {r['share']:.0%} of the cluster ({r['count']}/{r['n']}) vs "
                f"{r['rest_share']:.0%} of the rest ({r['rest_count']}/{r['rest_n']}), {r['class_share']:.0%} of the "
                f"class; adjusted p {p_text(r['p_adj'])}{', significant' if r['flag'] else ''}"
            )
    return lines
