"""Typed access to table columns with checks that point at the offending line."""

from __future__ import annotations

import numpy as np
import polars as pl

from hstool.errors import InputError
from hstool.io.tables import Source

_TRUE = {"1", "1.0", "true", "yes", "y", "t"}
_FALSE = {"0", "0.0", "false", "no", "n", "f"}


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def numeric_values(
    df: pl.DataFrame,
    column: str,
    source: Source,
    *,
    low: float | None = None,
    high: float | None = None,
    range_hint: str = "",
) -> np.ndarray:
    """Column as float64, refusing empty, non-numeric, NaN/inf and out-of-range values."""
    col = df[column]
    if col.dtype == pl.String:
        as_num = col.str.strip_chars().cast(pl.Float64, strict=False)
        bad = (as_num.is_null() & col.is_not_null()).to_numpy()
        if bad.any():
            i = _first(bad)
            raise InputError(f"{source.at(i, column)}: {col[i]!r} is not a number; {column} must be numeric")
        col = as_num
    elif col.dtype == pl.Boolean or col.dtype.is_numeric():
        col = col.cast(pl.Float64)
    else:
        raise InputError(f"{source.at(None, column)}: has type {col.dtype}, expected numbers")
    nulls = col.is_null().to_numpy()
    if nulls.any():
        i = _first(nulls)
        raise InputError(f"{source.at(i, column)}: empty value ({int(nulls.sum())} rows); fill it in or drop the row")
    values = col.to_numpy().astype(np.float64, copy=False)
    bad = ~np.isfinite(values)
    if bad.any():
        i = _first(bad)
        raise InputError(f"{source.at(i, column)}: {values[i]} is not finite ({int(bad.sum())} rows); fix the values")
    out = np.zeros(values.shape, bool)
    if low is not None:
        out |= values < low
    if high is not None:
        out |= values > high
    if out.any():
        i = _first(out)
        hint = f"; {range_hint}" if range_hint else ""
        raise InputError(
            f"{source.at(i, column)}: {values[i]:g} is outside [{low:g}, {high:g}] ({int(out.sum())} rows){hint}"
        )
    return values


def probabilities(df: pl.DataFrame, column: str, source: Source) -> np.ndarray:
    """Scores that must be probabilities; logits get a message that says so."""
    return numeric_values(
        df,
        column,
        source,
        low=0.0,
        high=1.0,
        range_hint="scores must be probabilities, not logits: apply a sigmoid (or softmax) before writing them",
    )


def binary_labels(df: pl.DataFrame, column: str, source: Source, *, positive: str | None = None) -> np.ndarray:
    """Labels as a boolean array (True = positive).

    Accepts 0/1, booleans and true/false/yes/no spellings. Other values (e.g. 'pneumonia') need
    `positive`, which names the positive class; every other value is then negative.
    """
    col = df[column]
    nulls = col.is_null().to_numpy()
    if nulls.any():
        i = _first(nulls)
        raise InputError(f"{source.at(i, column)}: empty label ({int(nulls.sum())} rows); every row needs a label")
    text = col.cast(pl.String).str.strip_chars()
    if positive is not None:
        return (text == str(positive)).to_numpy()
    lowered = text.str.to_lowercase()
    is_true = lowered.is_in(list(_TRUE)).to_numpy()
    is_false = lowered.is_in(list(_FALSE)).to_numpy()
    other = ~(is_true | is_false)
    if other.any():
        values = sorted(text.unique().to_list())
        shown = ", ".join(repr(v) for v in values[:5]) + (", ..." if len(values) > 5 else "")
        i = _first(other)
        raise InputError(
            f"{source.at(i, column)}: label {text[i]!r} is not binary (values: {shown}); "
            f"use 0/1, or pass --positive VALUE to name the positive class"
        )
    return is_true
