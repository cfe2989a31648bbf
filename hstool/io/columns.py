"""Typed access to table columns with checks that point at the offending line."""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from hstool.errors import InputError, option_ref
from hstool.io.tables import Source

# 0,5 or -12,75: what a number with a decimal comma looks like when read as text.
_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]*,[0-9]+")


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def parse_numbers(text: pl.Series, *, decimal_comma: bool = False) -> pl.Series:
    """Text as float64 over the whole column (null where a cell is not a number)."""
    text = text.str.strip_chars()
    if decimal_comma:
        text = text.str.replace(",", ".", literal=True)
    return text.cast(pl.Float64, strict=False)


def not_a_number(value: str, column: str, decimal_comma: bool) -> str:
    """Why `value` is refused, with a hint when it is a decimal comma and the flag is absent."""
    text = f"{value!r} is not a number; {column} must be numeric"
    if not decimal_comma and _DECIMAL_COMMA.fullmatch(value.strip()):
        text += f" (it looks like a decimal comma: pass {option_ref('decimal_comma')} for files that write 0,5 for 0.5)"
    return text


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
        as_num = parse_numbers(col, decimal_comma=source.decimal_comma)
        bad = (as_num.is_null() & col.is_not_null()).to_numpy()
        if bad.any():
            i = _first(bad)
            raise InputError(
                f"{source.at(i, column)}: {not_a_number(col[i], source.file_column(column), source.decimal_comma)}"
            )
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
