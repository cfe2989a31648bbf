"""Stratifiers: turning label-file columns into coded groups (`--by`, `--cross`, `--bins`).

Groups are the values as the file spells them (`01`, `1` and `001` are three site codes, not
one). Missing cells (empty, or a missing-value marker: the reader turned them into nulls) form
their own group, `(missing)`; a file that also holds the literal value `(missing)` is refused
rather than merged with it. Numeric columns can be cut into bins given by edges
(`age=0,40,65,200`) or quantiles (`age=q4`); a column whose values are all numbers, with more
distinct values than `max_levels` and no bins, is cut into quartiles automatically (and says so),
unless its values are written as codes (`_codes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from hstool.audit.options import BinSpec as BinSpec  # re-exported: its home is the light options module
from hstool.errors import InputError, OptionError, UsageError, option_ref
from hstool.io.columns import not_a_number, parse_numbers

MISSING = "(missing)"
OUTSIDE = "(outside bins)"
CROSS_SEP = " & "


@dataclass(frozen=True)
class Stratifier:
    """One way of splitting the rows: `codes[i]` is row i's index into `levels`."""

    name: str
    levels: tuple[str, ...]
    codes: np.ndarray
    note: str = ""


def _fmt(value: float) -> str:
    return f"{value:g}"


def _bin_labels(edges: tuple[float, ...]) -> list[str]:
    labels = [f"[{_fmt(a)}, {_fmt(b)})" for a, b in zip(edges[:-1], edges[1:])]
    labels[-1] = labels[-1][:-1] + "]"  # the last bin includes its upper edge
    return labels


_SAMPLE = 1000  # rows looked at before a text column is parsed as numbers in full


def _as_numbers(series: pl.Series, decimal_comma: bool) -> pl.Series | None:
    """Float64 values of a column whose every present cell is a number; None otherwise."""
    if series.dtype.is_numeric() or series.dtype == pl.Null:
        return series.cast(pl.Float64).fill_nan(None)
    if series.dtype != pl.String:
        return None
    # A text column of categories is refused on its first rows, before the whole is parsed.
    sample = series.head(_SAMPLE).drop_nulls()
    if (parse_numbers(sample, decimal_comma=decimal_comma).is_null()).any():
        return None
    numbers = parse_numbers(series, decimal_comma=decimal_comma)
    return None if (numbers.is_null() & series.is_not_null()).any() else numbers.fill_nan(None)


def _codes(series: pl.Series, decimal_comma: bool) -> bool:
    """Numbers written as codes (`007`, or `1e3` beside `1000`): site or scanner identifiers,
    which stay categories even when there are many of them; measurements are never written so."""
    if series.dtype != pl.String:
        return False
    text = series.drop_nulls().str.strip_chars()
    leading_zero = text.str.contains(r"^[+-]?0[0-9]").any()
    return bool(leading_zero) or text.n_unique() != parse_numbers(text, decimal_comma=decimal_comma).n_unique()


def is_measurement(series: pl.Series, decimal_comma: bool = False) -> bool:
    """Every present cell a number, none written as a code: a column that may be binned."""
    return _as_numbers(series, decimal_comma) is not None and not _codes(series, decimal_comma)


def _binned(
    series: pl.Series, numbers: pl.Series | None, spec: BinSpec, name: str, decimal_comma: bool = False
) -> Stratifier:
    # `numbers`: the column parsed once by the caller (None: some present cell is not a number).
    if numbers is None:
        if series.dtype == pl.String:
            bad = parse_numbers(series, decimal_comma=decimal_comma).is_null() & series.is_not_null()
            value = series.filter(bad)[0]
            raise OptionError(
                "bins", name, f"{not_a_number(value, name, decimal_comma)}; bins need numbers", quoted=False
            )
        raise OptionError(
            "bins", name, f"column '{name}' is not numeric (type {series.dtype}); bins need numbers", quoted=False
        )
    values = numbers.to_numpy()
    missing = np.isnan(values)
    note = ""
    if spec.quantiles:
        present = values[~missing]
        if present.size == 0:
            raise OptionError("bins", name, f"column '{name}' has no values to cut into quantiles", quoted=False)
        edges = tuple(np.unique(np.quantile(present, np.linspace(0, 1, spec.quantiles + 1))))
        if len(edges) < 2:
            edges = (edges[0], edges[0])
        note = f"binned into {spec.quantiles} quantile groups"
    else:
        edges = spec.edges
    if len(edges) == 2 and edges[0] == edges[1]:
        labels = [f"[{_fmt(edges[0])}]"]
        idx = np.where(missing, -1, 0)
    else:
        labels = _bin_labels(edges)
        idx = np.searchsorted(np.asarray(edges), values, side="right") - 1
        idx = np.where(values == edges[-1], len(labels) - 1, idx)
    codes = np.asarray(idx, dtype=np.int64)
    outside = ~missing & ((codes < 0) | (codes >= len(labels)))
    levels = list(labels)
    if outside.any():
        levels.append(OUTSIDE)
        codes = np.where(outside, len(levels) - 1, codes)
    if missing.any():
        levels.append(MISSING)
        codes = np.where(missing, len(levels) - 1, codes)
    return Stratifier(name, tuple(levels), codes, note)


def _categorical(series: pl.Series, name: str, source_name: str) -> Stratifier:
    if series.dtype.is_numeric() or series.dtype == pl.Boolean:
        values = series.fill_nan(None) if series.dtype.is_float() else series
        present = values.drop_nulls().unique().sort()
        labels = [("true" if v else "false") if isinstance(v, bool) else _fmt_value(v) for v in present.to_list()]
        codes = _index_in(values, present)
    else:
        # Spellings are cleaned once per distinct cell, then the cells mapped to their groups.
        text = series.cast(pl.String)
        spellings = text.drop_nulls().unique()
        stripped = spellings.str.strip_chars()
        cleaned = pl.select(pl.when(stripped == "").then(None).otherwise(stripped)).to_series()  # blank = missing
        if (text.null_count() or cleaned.null_count()) and (cleaned == MISSING).any():
            raise InputError(
                f"{source_name}, column '{name}': holds the value {MISSING!r} and also missing cells, which would share one group; "
                f"rename the value, or count it as missing with {option_ref('na_values')}"
            )
        present = cleaned.drop_nulls().unique().sort()
        labels = present.to_list()
        codes = text.replace_strict(spellings, _index_in(cleaned, present), default=None, return_dtype=pl.Int64)
    levels = list(labels)
    if codes.null_count():
        levels.append(MISSING)
        codes = codes.fill_null(len(levels) - 1)
    return Stratifier(name, tuple(levels), codes.to_numpy().astype(np.int64))


def _index_in(values: pl.Series, present: pl.Series) -> pl.Series:
    """The position of each value in `present` (null for values not in it)."""
    return values.replace_strict(
        present, pl.Series(range(len(present)), dtype=pl.Int64), default=None, return_dtype=pl.Int64
    )


def _fmt_value(v: object) -> str:
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return str(int(v))
    return str(v)


def cross(parts: list[Stratifier]) -> Stratifier:
    """Intersections of several stratifiers; only combinations that occur become groups."""
    codes = np.zeros(len(parts[0].codes), dtype=np.int64)
    for part in parts:
        codes = codes * len(part.levels) + part.codes
    present, compact = np.unique(codes, return_inverse=True)
    levels = []
    for combined in present:
        names = []
        for part in reversed(parts):
            combined, idx = divmod(int(combined), len(part.levels))
            names.append(part.levels[idx])
        levels.append(CROSS_SEP.join(reversed(names)))
    return Stratifier(CROSS_SEP.join(p.name for p in parts), tuple(levels), compact.astype(np.int64))


def stratified_columns(by: list[str], crosses: list[list[str]], bins: dict[str, BinSpec]) -> list[str]:
    """The columns that are stratifiers of their own: `by`, then every binned column that is not
    crossed (`--bins age=0,40,65,120` alone means "stratify by age in these bins", in the order
    the bins were given)."""
    crossed = {c for group in crosses for c in group}
    return list(by) + [c for c in bins if c not in by and c not in crossed]


def build_stratifiers(
    df: pl.DataFrame,
    *,
    by: list[str],
    crosses: list[list[str]],
    bins: dict[str, BinSpec],
    max_levels: int,
    source_name: str,
    decimal_comma: bool = False,
) -> list[Stratifier]:
    """Stratifiers for `by` columns then `crosses`, in the order given."""
    singles: dict[str, Stratifier] = {}

    def single(column: str) -> Stratifier:
        if column not in singles:
            if column not in df.columns:
                found = ", ".join(df.columns)
                raise UsageError(f"{source_name} has no column '{column}' to stratify by (found: {found})")
            series = df[column]
            numbers = _as_numbers(series, decimal_comma)
            if column in bins:
                singles[column] = _binned(series, numbers, bins[column], column, decimal_comma)
            elif numbers is not None and numbers.n_unique() > max_levels and not _codes(series, decimal_comma):
                auto = _binned(series, numbers, BinSpec(quantiles=4), column, decimal_comma)
                note = f"{numbers.n_unique()} distinct values: binned into quartiles (set --bins {column}=...)"
                singles[column] = Stratifier(auto.name, auto.levels, auto.codes, note)
            else:
                singles[column] = _categorical(series, column, source_name)
        return singles[column]

    result = [single(c) for c in stratified_columns(by, crosses, bins)]
    for columns in crosses:
        if len(columns) < 2:
            raise OptionError(
                "cross", ",".join(columns), f"name at least two columns, e.g. {option_ref('cross')} sex,age"
            )
        result.append(cross([single(c) for c in columns]))
    return result
