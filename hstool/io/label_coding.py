"""Binary label codings: which spellings of a label column mean positive and negative.

Accepted without options: 0/1 (any numeric spelling of 0 and 1, such as 0.0/1.0), true/false
(t/f), yes/no (y/n) and positive/negative (pos/neg), in any case. Any other two values need the
positive one named (`positive`). A column that mixes codings (`1` and `yes`), or has more than
two values, is refused with the values seen: guessing would give a plausible but wrong audit.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from hstool.errors import InputError, option_ref
from hstool.io.columns import parse_numbers
from hstool.io.tables import Source

# (name, positive spellings, negative spellings), lower case.
_WORD_CODINGS: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    ("true/false", frozenset({"true", "t"}), frozenset({"false", "f"})),
    ("yes/no", frozenset({"yes", "y"}), frozenset({"no", "n"})),
    ("positive/negative", frozenset({"positive", "pos"}), frozenset({"negative", "neg"})),
)
_SHOWN = 6  # how many distinct values a message lists


def _values_text(values: list[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:_SHOWN])
    return shown + (f", ... ({len(values)} values)" if len(values) > _SHOWN else "")


def _codings(values: list[str]) -> dict[str, str | None]:
    """The coding each distinct (stripped) value belongs to, or None."""
    numbers = parse_numbers(pl.Series(values, dtype=pl.String)).to_list()
    out: dict[str, str | None] = {}
    for value, number in zip(values, numbers):
        low = value.lower()
        words = (name for name, pos, neg in _WORD_CODINGS if low in pos or low in neg)
        out[value] = "0/1" if number in (0.0, 1.0) else next(words, None)
    return out


def _is_positive(value: str, coding: str) -> bool:
    if coding == "0/1":
        return bool(parse_numbers(pl.Series([value], dtype=pl.String))[0] == 1.0)
    positives = next(pos for name, pos, _ in _WORD_CODINGS if name == coding)
    return value.lower() in positives


def binary_labels(df: pl.DataFrame, column: str, source: Source, *, positive: str | None = None) -> np.ndarray:
    """Labels as a boolean array (True = positive); see the module docstring for the codings.

    Each distinct cell is read once (stripped, then coded); the rows are then marked by which
    spellings mean positive, so that a million rows cost one pass."""
    col = df[column]
    nulls = col.is_null().to_numpy()
    if nulls.any():
        i = int(np.flatnonzero(nulls)[0])
        raise InputError(f"{source.at(i, column)}: empty label ({int(nulls.sum())} rows); every row needs a label")
    text = col.cast(pl.String)
    spellings = text.unique()
    stripped = dict(zip(spellings.to_list(), spellings.str.strip_chars().to_list()))
    values = sorted(set(stripped.values()))

    def rows_spelling(chosen: set[str]) -> pl.Series:
        return text.is_in([cell for cell, value in stripped.items() if value in chosen])

    where = source.at(None, column)
    if positive is not None:
        if positive not in values:
            raise InputError(
                f"{where}: no label is {positive!r} (the positive value given; values: {_values_text(values)})"
            )
        if len(values) > 2:
            raise InputError(
                f"{where}: {len(values)} label values ({_values_text(values)}); a binary audit needs two, "
                f"the positive one ({positive!r}) and one negative"
            )
        return rows_spelling({positive}).to_numpy()
    codings = _codings(values)
    unknown = {v for v, c in codings.items() if c is None}
    if unknown:
        first = int(rows_spelling(unknown).arg_true()[0])
        raise InputError(
            f"{source.at(first, column)}: labels are not binary (values: {_values_text(values)}); use 0/1, true/false, yes/no or "
            f"positive/negative, or pass {option_ref('positive')} VALUE to name the positive one of two values"
        )
    used = sorted({c for c in codings.values() if c is not None})
    if len(used) > 1:
        raise InputError(
            f"{where}: labels mix codings {' and '.join(used)} (values: {_values_text(values)}); "
            f"use one coding for the whole column"
        )
    return rows_spelling({v for v in values if _is_positive(v, used[0])}).to_numpy()
