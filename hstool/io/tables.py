"""Reading the tables that hs commands exchange (CSV or Parquet, `-` = stdin), and joining them.

Every check names the file, the line (CSV) or row (Parquet) and the column, and says how to
fix the problem. Joins are on `image_id`, never on row order.
"""

from __future__ import annotations

import hashlib
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from hstool.errors import LISTED, InputError, UsageError

KEY = "image_id"


@dataclass(frozen=True)
class Source:
    """Where a table came from: used to locate problems in messages and for provenance."""

    name: str  # as given on the command line; '<stdin>' for '-'
    sha256: str
    kind: str  # 'csv' or 'parquet'
    rows: int

    def at(self, row_index: int | None = None, column: str | None = None) -> str:
        """`preds.csv, line 12, column 'score'` for the 0-based data row `row_index`."""
        parts = [self.name]
        if row_index is not None:
            # CSV line numbers count the header, so an editor's line N is what we print.
            parts.append(f"line {row_index + 2}" if self.kind == "csv" else f"row {row_index + 1}")
        if column is not None:
            parts.append(f"column '{column}'")
        return ", ".join(parts)

    def provenance(self) -> dict[str, Any]:
        return {"path": self.name, "sha256": self.sha256, "rows": self.rows}


def check_one_stdin(*paths: str | None) -> None:
    """Only one input can come from stdin."""
    if sum(1 for p in paths if p == "-") > 1:
        raise UsageError("only one input can be '-' (stdin); write the others to files")


def _read_bytes(path: str, role: str) -> tuple[str, bytes]:
    if path == "-":
        return "<stdin>", sys.stdin.buffer.read()
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file (the {role} file); check the path")
    if p.is_dir():
        raise InputError(f"{path}: is a folder, expected a {role} file (CSV or Parquet)")
    try:
        return path, p.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {role} file: {exc.strerror}") from None


def _kind(path: str, data: bytes) -> str:
    if path.lower().endswith((".parquet", ".pq")) or data[:4] == b"PAR1":
        return "parquet"
    return "csv"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def read_table(
    path: str,
    *,
    role: str,
    required: Sequence[str] = (KEY,),
    key: str | None = KEY,
    string_columns: Sequence[str] = (),
) -> tuple[pl.DataFrame, Source]:
    """Read a CSV/Parquet table and check its shape.

    `role` names the file in messages ("predictions", "labels"). `required` columns must exist.
    When `key` is given, that column is read as text (ids such as `00012` keep their zeros) and
    must be present, non-empty and unique.
    """
    name, data = _read_bytes(path, role)
    kind = _kind(path, data)
    sha = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise InputError(f"{name}: the {role} file is empty; expected a header line ({', '.join(required)}) and rows")
    overrides = {c: pl.String for c in ([key] if key else []) + list(string_columns)}
    try:
        if kind == "parquet":
            df = pl.read_parquet(io.BytesIO(data))
        else:
            df = _read_csv(data, overrides)
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{name}: cannot parse the {role} file as {kind.upper()}: {_first_line(exc)}") from None
    df = df.rename({c: c.strip().lstrip("\ufeff") for c in df.columns})
    source = Source(name=name, sha256=sha, kind=kind, rows=df.height)
    _check_columns(df, source, role, required)
    if df.height == 0:
        raise InputError(f"{name}: the {role} file has a header but no data rows")
    if key:
        df = df.with_columns(pl.col(key).cast(pl.String))
        _check_key(df, source, key)
    return df, source


def _read_csv(data: bytes, overrides: dict[str, Any]) -> pl.DataFrame:
    # Override columns are matched by their cleaned name, so a BOM or spaces in the header
    # do not stop ids such as `00012` from being read as text.
    header = data.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    raw = {h: pl.String for h in header.split(",") if h.strip().lstrip("\ufeff") in overrides}
    try:
        return pl.read_csv(io.BytesIO(data), schema_overrides=raw or None)
    except pl.exceptions.ComputeError:
        # Types guessed from the first rows failed later on (e.g. an integer column with a
        # float at row 50,000): infer from every row instead, which is slower but exact.
        return pl.read_csv(io.BytesIO(data), infer_schema_length=None, schema_overrides=raw or None)


def _check_columns(df: pl.DataFrame, source: Source, role: str, required: Sequence[str]) -> None:
    duplicated = [c for c in df.columns if "_duplicated_" in c]
    if duplicated:
        raise InputError(
            f"{source.name}: the header repeats a column name ({duplicated[0].split('_duplicated_')[0]!r}); make column names unique"
        )
    missing = [c for c in required if c not in df.columns]
    if missing:
        found = ", ".join(df.columns[:8]) + (", ..." if df.width > 8 else "")
        raise InputError(
            f"{source.name}: the {role} file has no column '{missing[0]}' (found: {found}); "
            f"it needs {', '.join(required)}: rename the column or pass the right file"
        )


def _check_key(df: pl.DataFrame, source: Source, key: str) -> None:
    ids = df[key]
    blank = ids.is_null() | (ids.str.strip_chars() == "")
    if blank.any():
        i = int(blank.arg_true()[0])
        raise InputError(f"{source.at(i, key)}: empty id; every row needs an {key}")
    if ids.n_unique() == len(ids):
        return
    dup = ids.is_duplicated()
    if dup.any():
        i = int(dup.arg_true()[0])
        first = int((ids == ids[i]).arg_true()[0])
        j = int((ids == ids[i]).arg_true()[1])
        n_dup = int(dup.sum())
        raise InputError(
            f"{source.at(j, key)}: {key} {ids[i]!r} repeats line {first + 2 if source.kind == 'csv' else first + 1} "
            f"({n_dup} rows share an id); ids must be unique: remove or rename the duplicates"
        )


def join_on_id(
    left: pl.DataFrame,
    left_source: Source,
    right: pl.DataFrame,
    right_source: Source,
    *,
    allow_unmatched: bool,
    key: str = KEY,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Inner-join two tables on `key`; unmatched ids are an error unless explicitly allowed.

    Returns the joined table, sorted by `key` (so results never depend on input row order),
    and the counts of rows dropped from each side (for the sidecar).
    Columns present in both tables (other than the key) keep the left table's values, and the
    right one's get a `_right` suffix.
    """
    joined = left.join(right, on=key, how="inner", suffix="_right").sort(key)
    counts = {
        f"unmatched_in_{left_source.name}": left.height - joined.height,
        f"unmatched_in_{right_source.name}": right.height - joined.height,
    }
    if not allow_unmatched:
        # Ids are unique on both sides, so equal heights mean every id matched.
        for table, has, other, lacks in (
            (left, left_source, right, right_source),
            (right, right_source, left, left_source),
        ):
            if table.height > joined.height:
                extra = table.join(other.select(key), on=key, how="anti").sort(key)
                shown = ", ".join(repr(v) for v in extra[key].head(LISTED).to_list())
                raise InputError(
                    f"{has.name}: {extra.height} {key}s are missing from {lacks.name} (first: {shown}); "
                    f"fix the files or pass --allow-unmatched to analyse only the ids in both"
                )
    if joined.height == 0:
        raise InputError(f"{left_source.name} and {right_source.name} share no {key}; are they from the same images?")
    return joined, counts
