"""The inputs of `hs cluster`: embeddings, predictions and labels, joined on image_id.

Each analysed case gets its superclass (the `label` value, as text) and whether the model got
it wrong: for binary scores, `(score >= threshold) != label`; for multi-class predictions,
`pred != label`. Rows are sorted by image_id, so the order of the input files never changes
the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from hstool.audit.operating_point import OperatingPoint, parse_operating_point
from hstool.errors import InputError, option_ref
from hstool.io.arrays import read_embeddings
from hstool.io.label_coding import binary_labels
from hstool.io.preds_labels import read_labels, read_predictions
from hstool.io.table_format import ColumnMap, TableFormat
from hstool.io.tables import KEY, Source, check_one_stdin, join_on_id

LABEL = "label"
_ROW = "__row"
_Y = "__y"


@dataclass(frozen=True)
class ClusterInputs:
    table: pl.DataFrame  # the labels file's columns for the analysed cases, sorted by image_id
    superclass: np.ndarray  # label value of each case, as text
    errors: np.ndarray  # bool: the model got the case wrong
    rows: np.ndarray  # each case's row in `matrix`
    matrix: np.ndarray  # the embedding array as read (rows in the ids file's order)
    mode: str  # 'binary' or 'multiclass'
    threshold: dict[str, Any] | None  # {'rule', 'value'} for binary scores
    sources: list[Source]
    dropped: dict[str, int]

    @property
    def dims(self) -> int:
        return int(self.matrix.shape[1])


def read_cluster_inputs(
    emb_path: str,
    preds_path: str,
    labels_path: str,
    *,
    ids_path: str | None,
    threshold: str,
    positive: str | None,
    allow_unmatched: bool,
    columns: ColumnMap = ColumnMap(),
    fmt: TableFormat = TableFormat(),
) -> ClusterInputs:
    check_one_stdin(preds_path, labels_path)
    threshold_option = parse_operating_point(threshold)
    ids, matrix, emb_src = read_embeddings(emb_path, ids_path)
    preds, preds_src, mode = read_predictions(preds_path, columns, fmt)
    labels, labels_src = read_labels(labels_path, columns, fmt)
    empty = labels[LABEL].is_null()
    if empty.any():
        raise InputError(
            f"{labels_src.at(int(empty.arg_true()[0]), LABEL)}: empty label; every row needs its superclass"
        )
    if mode == "binary":
        labels = labels.with_columns(pl.Series(_Y, binary_labels(labels, LABEL, labels_src, positive=positive)))
    joined, dropped = join_on_id(labels, labels_src, preds, preds_src, allow_unmatched=allow_unmatched)
    emb_ids = pl.DataFrame({KEY: ids, _ROW: np.arange(len(ids), dtype=np.int64)})
    joined, dropped_emb = join_on_id(joined, labels_src, emb_ids, emb_src, allow_unmatched=allow_unmatched)
    for name, count in dropped_emb.items():
        dropped[name] = dropped.get(name, 0) + count
    joined = joined.sort(KEY)
    superclass = joined[LABEL].cast(pl.String).str.strip_chars().to_numpy().astype(str)
    threshold_info = None
    if mode == "binary":
        scores, y = joined["score"].to_numpy(), joined[_Y].to_numpy()
        value = _resolve(threshold_option, scores, y, labels_src)
        errors = (scores >= value) != y
        threshold_info = {"rule": threshold_option.describe(), "value": value}
    else:
        errors = joined["pred"].to_numpy().astype(str) != superclass
    table = joined.drop([c for c in ("score", "pred", _Y, _ROW) if c in joined.columns])
    return ClusterInputs(
        table=table,
        superclass=superclass,
        errors=np.asarray(errors, dtype=bool),
        rows=joined[_ROW].to_numpy(),
        matrix=matrix,
        mode=mode,
        threshold=threshold_info,
        sources=[emb_src, preds_src, labels_src],
        dropped=dropped,
    )


def _resolve(option: OperatingPoint, scores: np.ndarray, y: np.ndarray, labels_src: Source) -> float:
    if option.needs_labels and (y.all() or not y.any()):
        which = "positive" if y.all() else "negative"
        raise InputError(
            f"{labels_src.name}: every analysed label is {which}; {option_ref('threshold')} {option.text} needs both classes"
        )
    return option.resolve(scores, y)
