"""Reading what `hs report` and `hs audit` show: cases (preds + labels), a stratify output,
clusters. Each reader validates its file against docs/formats.md and names the file and
line in its errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from hstool.audit.operating_point import OperatingPoint, refuse_own_calibration
from hstool.errors import InputError, UsageError, option_ref
from hstool.io.label_coding import binary_labels
from hstool.io.preds_labels import PredsLabels
from hstool.io.sidecar import read_sidecar
from hstool.io.table_format import TableFormat
from hstool.io.tables import KEY, Source, join_on_id, read_table

LABEL = "label"
# Internal columns of the cases table; the double underscore keeps them apart from labels columns.
Y, OUTCOME, ERROR = "__y", "__outcome", "__error"
ERROR_KINDS = {"binary": ("FN", "FP"), "multiclass": ("wrong",)}
ROLES = ("high_error", "low_error")
# Bookkeeping columns of hs cluster's clusters.csv (docs/formats.md): not subclasses, so never
# listed in a cluster's make-up.
CLUSTER_BOOKKEEPING = ("k", "error", "distance", "split")


@dataclass(frozen=True)
class Cases:
    """One row per analysed case, sorted by image_id: image_id, label (text), score (binary) or
    pred (multi-class), the internal outcome columns, and every other labels column."""

    table: pl.DataFrame
    mode: str  # 'binary' or 'multiclass'
    threshold: float | None
    columns: list[str]  # the labels file's other columns: candidate stratifiers and make-up
    sources: tuple[Source, Source]
    dropped: dict[str, int]

    @property
    def error_kinds(self) -> tuple[str, ...]:
        return ERROR_KINDS[self.mode]


def load_cases(
    tables: PredsLabels,
    *,
    threshold: float | OperatingPoint | None,
    positive: str | None,
    allow_unmatched: bool,
) -> Cases:
    """Join preds and labels on image_id and call each case at `threshold` (score >= threshold).

    An OperatingPoint (`--threshold youden`, a calibration .json...) is resolved on the joined
    cases, as hs stratify resolves it."""
    preds, preds_src, mode = tables.preds, tables.preds_source, tables.mode
    labels, labels_src = tables.labels, tables.labels_source
    if isinstance(threshold, OperatingPoint):
        refuse_own_calibration(preds_src.name, threshold)
    text = labels[LABEL].cast(pl.String).str.strip_chars()
    others = [c for c in labels.columns if c not in (KEY, LABEL)]
    if mode == "binary":
        labels = labels.with_columns(
            text.alias(LABEL), pl.Series(Y, binary_labels(labels, LABEL, labels_src, positive=positive))
        )
    else:
        labels = labels.with_columns(text.alias(LABEL))
    joined, dropped = join_on_id(preds, preds_src, labels, labels_src, allow_unmatched=allow_unmatched)
    if mode == "binary":
        if threshold is None:
            raise UsageError("a binary report needs the operating threshold")
        scores, y = joined["score"].to_numpy(), joined[Y].to_numpy()
        if isinstance(threshold, OperatingPoint):
            if threshold.needs_labels and (y.all() or not y.any()):
                raise InputError(
                    f"{labels_src.name}: every analysed label is the same class; {option_ref('threshold')} {threshold.text} needs both"
                )
            cut = threshold.resolve(scores, y)
        else:
            cut = float(threshold)
        called = scores >= cut
        outcome = np.where(y, np.where(called, "TP", "FN"), np.where(called, "FP", "TN"))
        error = called != y
    else:
        error = (joined["pred"] != joined[LABEL]).fill_null(True).to_numpy()
        outcome = np.where(error, "wrong", "right")
        cut = None
    joined = joined.with_columns(pl.Series(OUTCOME, outcome), pl.Series(ERROR, error))
    return Cases(joined, mode, cut, others, (preds_src, labels_src), dropped)


@dataclass(frozen=True)
class Strata:
    """A stratify output (`hs.strata/1` or `hs.strata-multiclass/1`) and its sidecar, if any."""

    table: pl.DataFrame
    mode: str
    meta: dict[str, Any] | None
    source: Source | None

    @property
    def stratifiers(self) -> list[str]:
        """The stratifiers the table names, in its order (the overall row's among them)."""
        return list(dict.fromkeys(self.table["stratifier"].to_list()))

    @property
    def threshold(self) -> float | None:
        if self.mode != "binary":
            return None
        value = self.table["threshold"][0]
        return None if value is None else float(value)


# Files hs wrote itself: a group or label spelled `NA` or `None` is a value, not a missing marker.
HS_WRITTEN = TableFormat(na_values=())
_STRATA_TEXT = ("stratifier", "group", "scope", "comparator", "worse_on", "status", "reason", "auc_test")


def read_strata(path: str) -> Strata:
    table, source = read_table(
        path,
        role="stratify output",
        required=("stratifier", "group", "n", "flag", "status"),
        key=None,
        string_columns=_STRATA_TEXT,
        fmt=HS_WRITTEN,
    )
    mode = "binary" if "auc" in table.columns else "multiclass"
    needed = ("threshold", "sensitivity", "specificity") if mode == "binary" else ("accuracy",)
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InputError(
            f"{source.name}: not a stratify output: no column '{missing[0]}'; pass the CSV that hs stratify -o wrote"
        )
    text = [c for c in _STRATA_TEXT if c in table.columns]
    numeric = [c for c in table.columns if c not in text and c != "flag"]
    try:
        table = table.with_columns(
            [pl.col(c).cast(pl.String).fill_null("") for c in text]
            + [pl.col(c).cast(pl.Float64) for c in numeric]
            + [pl.col("flag").cast(pl.String).str.to_lowercase().is_in(["true", "1"])]
        )
    except pl.exceptions.PolarsError:
        raise InputError(
            f"{source.name}: a metric column is not numeric; pass the CSV that hs stratify -o wrote"
        ) from None
    return Strata(table, mode, read_sidecar(path), source)


@dataclass(frozen=True)
class Clusters:
    table: pl.DataFrame  # image_id, label (superclass), cluster, role ('' when none) and any extra columns
    source: Source

    @property
    def extra_columns(self) -> list[str]:
        return [c for c in self.table.columns if c not in (KEY, LABEL, "cluster", "role", *CLUSTER_BOOKKEEPING)]


def read_clusters(path: str) -> Clusters:
    """clusters.csv (`hs.clusters/1`): image_id,label,cluster,role; rows without a cluster are dropped."""
    table, source = read_table(
        path,
        role="clusters",
        required=(KEY, LABEL, "cluster"),
        string_columns=(LABEL, "cluster", "role"),
        fmt=HS_WRITTEN,
    )
    if "role" not in table.columns:
        table = table.with_columns(pl.lit("").alias("role"))
    table = table.with_columns(
        [pl.col(c).cast(pl.String).str.strip_chars().fill_null("") for c in (LABEL, "cluster", "role")]
    )
    bad = ~table["role"].is_in(["", *ROLES]).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{source.at(i, 'role')}: role {table['role'][i]!r} is not one of high_error, low_error or empty"
        )
    # An empty cluster is a case in no cluster (hs cluster reported nothing for its superclass).
    return Clusters(table.filter(pl.col("cluster") != "").sort(KEY), source)
