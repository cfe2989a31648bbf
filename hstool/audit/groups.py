"""Stratifiers: turning label-file columns into coded groups (`--by`, `--cross`, `--bins`).

Missing values form their own group, `(missing)`. Numeric columns can be cut into bins given
by edges (`age=0,40,65,200`) or quantiles (`age=q4`); a numeric column with more distinct
values than `max_levels` and no bins is cut into quartiles automatically (and says so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from hstool.errors import UsageError

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

    def sizes(self) -> np.ndarray:
        return np.bincount(self.codes, minlength=len(self.levels))


@dataclass(frozen=True)
class BinSpec:
    edges: tuple[float, ...] = ()
    quantiles: int = 0

    @classmethod
    def parse(cls, text: str) -> tuple[str, BinSpec]:
        """`age=0,40,65,200` (edges) or `age=q4` (quartiles) -> (column, spec)."""
        column, sep, rest = text.partition("=")
        column, rest = column.strip(), rest.strip()
        if not sep or not column or not rest:
            raise UsageError(f"--bins {text!r}: expected COLUMN=EDGES (age=0,40,65,200) or COLUMN=qN (age=q4)")
        if rest.lower().startswith("q"):
            try:
                q = int(rest[1:])
            except ValueError:
                q = 0
            if q < 2:
                raise UsageError(f"--bins {text!r}: quantile bins need qN with N >= 2, e.g. {column}=q4")
            return column, cls(quantiles=q)
        try:
            edges = tuple(float(v) for v in rest.split(","))
        except ValueError:
            raise UsageError(f"--bins {text!r}: edges must be numbers separated by commas") from None
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
            raise UsageError(f"--bins {text!r}: give at least two strictly increasing edges")
        return column, cls(edges=edges)


def _fmt(value: float) -> str:
    return f"{value:g}"


def _bin_labels(edges: tuple[float, ...]) -> list[str]:
    labels = [f"[{_fmt(a)}, {_fmt(b)})" for a, b in zip(edges[:-1], edges[1:])]
    labels[-1] = labels[-1][:-1] + "]"  # the last bin includes its upper edge
    return labels


def _binned(series: pl.Series, spec: BinSpec, name: str) -> Stratifier:
    if not (series.dtype.is_numeric() or series.dtype == pl.Null):
        raise UsageError(f"--bins {name}: column '{name}' is not numeric (type {series.dtype}); bins need numbers")
    values = series.cast(pl.Float64).fill_nan(None).to_numpy()
    missing = np.isnan(values)
    note = ""
    if spec.quantiles:
        present = values[~missing]
        if present.size == 0:
            raise UsageError(f"--bins {name}: column '{name}' has no values to cut into quantiles")
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


def _categorical(series: pl.Series, name: str) -> Stratifier:
    numeric = series.dtype.is_numeric() or series.dtype == pl.Boolean
    s = series
    if series.dtype.is_float():
        s = s.fill_nan(None)
    if not numeric:
        s = s.cast(pl.String).str.strip_chars()
        s = pl.select(pl.when(s == "").then(None).otherwise(s)).to_series()  # blank = missing
    present = s.drop_nulls().unique().sort()
    if numeric:
        labels = [("true" if v else "false") if isinstance(v, bool) else _fmt_value(v) for v in present.to_list()]
    else:
        labels = present.to_list()
    codes = s.replace_strict(
        present, pl.Series(range(len(present)), dtype=pl.Int64), default=None, return_dtype=pl.Int64
    )
    levels = list(labels)
    if codes.null_count():
        levels.append(MISSING)
        codes = codes.fill_null(len(levels) - 1)
    return Stratifier(name, tuple(levels), codes.to_numpy().astype(np.int64))


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


def build_stratifiers(
    df: pl.DataFrame,
    *,
    by: list[str],
    crosses: list[list[str]],
    bins: dict[str, BinSpec],
    max_levels: int,
    source_name: str,
) -> list[Stratifier]:
    """Stratifiers for `by` columns then `crosses`, in the order given."""
    singles: dict[str, Stratifier] = {}

    def single(column: str) -> Stratifier:
        if column not in singles:
            if column not in df.columns:
                found = ", ".join(df.columns)
                raise UsageError(f"{source_name} has no column '{column}' to stratify by (found: {found})")
            series = df[column]
            if column in bins:
                singles[column] = _binned(series, bins[column], column)
            elif series.dtype.is_numeric() and series.n_unique() > max_levels:
                auto = _binned(series, BinSpec(quantiles=4), column)
                note = f"{series.n_unique()} distinct values: binned into quartiles (set --bins {column}=...)"
                singles[column] = Stratifier(auto.name, auto.levels, auto.codes, note)
            else:
                singles[column] = _categorical(series, column)
        return singles[column]

    unused = set(bins) - set(by) - {c for group in crosses for c in group}
    if unused:
        raise UsageError(f"--bins names {sorted(unused)[0]!r}, which is not among the stratifiers (--by/--cross)")
    result = [single(c) for c in by]
    for columns in crosses:
        if len(columns) < 2:
            raise UsageError(f"--cross {','.join(columns)!r}: name at least two columns, e.g. --cross sex,age")
        result.append(cross([single(c) for c in columns]))
    return result
