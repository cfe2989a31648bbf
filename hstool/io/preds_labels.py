"""Reading a predictions file and a labels file as the audit commands need them.

The mode is read from the columns, never guessed from a missing one: binary when the
predictions have the score column (`score`, or the file's own name for it), multi-class when
they are hs predict's multi-class layout (`image_id,pred[,p_<class>...]`). Anything else, such
as a vendor's `image_id,prob,pred`, is refused with the columns found and the option to pass,
instead of being audited as multi-class on the hard `pred` column.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from hstool.errors import InputError, option_ref
from hstool.io.columns import probabilities
from hstool.io.table_format import KEY, LABEL, SCORE, ColumnMap, TableFormat
from hstool.io.tables import Source, check_one_stdin, read_table

PRED = "pred"
CLASS_PROBABILITY_PREFIX = "p_"  # multi-class probability columns written by hs predict


def read_predictions(path: str, columns: ColumnMap, fmt: TableFormat) -> tuple[pl.DataFrame, Source, str]:
    """(image_id and score or pred, source, mode), mode 'binary' or 'multiclass'.

    Binary: `score` is parsed over the whole file as probabilities in [0, 1]. Multi-class:
    `pred` as stripped text, every row non-empty. Other columns are not read further.
    """
    preds, source = read_table(path, role="predictions", fmt=fmt, columns=columns.pick(KEY, SCORE))
    if SCORE in preds.columns:
        return preds.select(KEY, pl.Series(SCORE, probabilities(preds, SCORE, source))), source, "binary"
    others = [c for c in preds.columns if c not in (KEY, PRED)]
    if PRED in preds.columns and all(c.startswith(CLASS_PROBABILITY_PREFIX) for c in others):
        nulls = preds[PRED].is_null()
        if nulls.any():
            raise InputError(f"{source.at(int(nulls.arg_true()[0]), PRED)}: empty prediction; every row needs a class")
        return preds.select(KEY, pl.col(PRED).cast(pl.String).str.strip_chars()), source, "multiclass"
    found = ", ".join(source.file_column(c) for c in preds.columns)
    raise InputError(
        f"{source.name}: no score column '{columns.score}' (found: {found}); name the column that holds the "
        f"probabilities with {option_ref('score_col')} NAME (multi-class predictions are image_id,pred[,p_<class>...])"
    )


def read_labels(path: str, columns: ColumnMap, fmt: TableFormat) -> tuple[pl.DataFrame, Source]:
    """The labels file with its id and label columns under hs's names (other columns as read)."""
    return read_table(path, role="labels", required=(KEY, LABEL), fmt=fmt, columns=columns.pick(KEY, LABEL))


@dataclass(frozen=True)
class PredsLabels:
    """A predictions file and a labels file, each read once, with where they came from."""

    preds: pl.DataFrame
    preds_source: Source
    mode: str  # 'binary' or 'multiclass' (read_predictions)
    labels: pl.DataFrame
    labels_source: Source


def read_preds_labels(preds_path: str, labels_path: str, columns: ColumnMap, fmt: TableFormat) -> PredsLabels:
    """Both files of an audit (one of them may be '-'), for every analysis that joins them."""
    check_one_stdin(preds_path, labels_path)
    preds, preds_source, mode = read_predictions(preds_path, columns, fmt)
    labels, labels_source = read_labels(labels_path, columns, fmt)
    return PredsLabels(preds, preds_source, mode, labels, labels_source)
