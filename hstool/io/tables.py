"""Reading the tables that hs commands exchange (CSV, TSV, Parquet or Excel, `-` = stdin), and joining them.

Every check names the file, the line (CSV) or row (Parquet) and the column, and says how to
fix the problem. Joins are on `image_id`, never on row order.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from hstool.errors import LISTED, InputError, UsageError, first_line, option_ref
from hstool.io.table_format import DELIMITERS, LABEL, SCORE, TableFormat, sniff_delimiter
from hstool.io.table_format import KEY as KEY  # re-exported: most readers import KEY from here

# The option that names each role's column, for messages that ask for it.
_ROLE_OPTION = {KEY: option_ref("id_col"), SCORE: option_ref("score_col"), LABEL: option_ref("label_col")}
_GZIP_MAGIC = b"\x1f\x8b"
_TRAILING_BLANK_LINES = re.compile(rb"(?:\r?\n[ \t]*)+\Z")
_WHITESPACE = frozenset(b" \t\r\n")


@dataclass(frozen=True)
class Source:
    """Where a table came from: used to locate problems in messages and for provenance."""

    name: str  # as given on the command line; '<stdin>' for '-'
    sha256: str
    kind: str  # 'csv', 'parquet' or 'excel'
    rows: int
    renamed: tuple[tuple[str, str], ...] = ()  # (hs name, the file's name) for mapped columns
    decimal_comma: bool = False
    sheet: str | None = None

    def file_column(self, column: str) -> str:
        """The file's own name for a column that hs reads under its own name."""
        return dict(self.renamed).get(column, column)

    def at(self, row_index: int | None = None, column: str | None = None) -> str:
        """`preds.csv, line 12, column 'score'` for the 0-based data row `row_index`."""
        parts = [self.name] + ([f"sheet {self.sheet!r}"] if self.sheet else [])
        if row_index is not None:
            parts.append(self.position(row_index))
        if column is not None:
            parts.append(f"column '{self.file_column(column)}'")
        return ", ".join(parts)

    def position(self, row_index: int) -> str:
        """`line 12` (CSV) or `row 12` (Excel, Parquet) for the 0-based data row `row_index`."""
        # Line and row numbers count the header, so an editor's or spreadsheet's line N is what
        # we print (Parquet has no header row).
        if self.kind == "csv":
            return f"line {row_index + 2}"
        return f"row {row_index + (2 if self.kind == 'excel' else 1)}"

    def provenance(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.name, "sha256": self.sha256, "rows": self.rows}
        if self.renamed:
            out["columns"] = dict(self.renamed)
        if self.sheet:
            out["sheet"] = self.sheet
        return out


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
        raise InputError(f"{path}: is a folder, expected a {role} file (CSV, TSV, Parquet or Excel)")
    try:
        return path, p.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {role} file: {exc.strerror}") from None


def _kind(path: str, data: bytes) -> str:
    lower = path.lower()
    if lower.endswith((".parquet", ".pq")) or data[:4] == b"PAR1":
        return "parquet"
    # An .xlsx is a zip archive; .xls the older compound-document format (calamine reads both).
    if lower.endswith((".xlsx", ".xlsm", ".xls")) or data[:4] == b"PK\x03\x04":
        return "excel"
    return "csv"


def read_table(
    path: str,
    *,
    role: str,
    required: Sequence[str] = (KEY,),
    key: str | None = KEY,
    string_columns: Sequence[str] = (),
    fmt: TableFormat = TableFormat(),
    columns: Mapping[str, str] | None = None,
    data: bytes | None = None,
) -> tuple[pl.DataFrame, Source]:
    """Read a CSV/TSV/Parquet/Excel table and check its shape.

    `role` names the file in messages ("predictions", "labels"). `columns` maps hs names to the
    file's own ({"score": "prob"}): those columns are renamed to hs's names, and messages and the
    sidecar keep the file's. `required` columns (hs names) must exist. When `key` is given, that
    column must be present, non-empty and unique. `data`: the file's bytes, when the caller
    already holds them (they are then not read again).

    CSV, TSV and Excel cells are read as text, so no column can fail on a type guessed from
    the first rows (ids such as `00012` and codes such as `01` keep their spelling); a command
    parses the columns it uses over the whole file (`hstool.io.columns`). `string_columns` is
    kept for Parquet, whose columns are typed. Cells in `fmt.na_values` become missing.
    """
    name, data = _read_bytes(path, role) if data is None else (path, data)
    kind = _kind(name, data)
    sha = hashlib.sha256(data).hexdigest()
    if not data or data.isspace():
        raise InputError(f"{name}: the {role} file is empty; expected a header line ({', '.join(required)}) and rows")
    try:
        if kind == "parquet":
            df = pl.read_parquet(io.BytesIO(data))
        elif kind == "excel":
            df = _read_excel(data, name, role, fmt.sheet)
        else:
            df = _read_csv(data, fmt.delimiter or ("\t" if name.lower().endswith(".tsv") else None))
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{name}: cannot parse the {role} file as {kind.upper()}: {first_line(exc)}") from None
    df = df.rename({c: c.strip().lstrip("\ufeff") for c in df.columns})
    renamed = tuple((hs, own) for hs, own in (columns or {}).items() if hs != own)
    source = Source(
        name=name,
        sha256=sha,
        kind=kind,
        rows=df.height,
        renamed=renamed,
        decimal_comma=fmt.decimal_comma,
        sheet=fmt.sheet if kind == "excel" else None,
    )
    _check_duplicated(df, source)
    df = _apply_mapping(df, source, role)
    _check_columns(df, source, role, required)
    if df.height == 0:
        raise InputError(f"{name}: the {role} file has a header but no data rows")
    if key:
        df = df.with_columns(pl.col(key).cast(pl.String))
        _check_key(df, source, key)
    for column in string_columns:
        if column in df.columns and column != key:
            df = df.with_columns(pl.col(column).cast(pl.String))
    return _with_missing(df, key, fmt.na_values), source


def _read_csv(data: bytes, delimiter: str | None) -> pl.DataFrame:
    if data[:2] == _GZIP_MAGIC:  # exports are often shipped as .csv.gz; sniff the text, not the archive
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise pl.exceptions.ComputeError(f"not a readable gzip file ({exc})") from None
    data = _without_trailing_blank_lines(data)
    if delimiter is None:
        end = data.find(b"\n")  # the header line, without copying the rest of the file (split does)
        header = data[: end if end >= 0 else len(data)].decode("utf-8", errors="replace")
        delimiter = sniff_delimiter(header)
    if len(delimiter) != 1:
        raise UsageError(f"delimiter {delimiter!r}: give one character, e.g. ';' or a tab")
    return pl.read_csv(io.BytesIO(data), separator=delimiter, infer_schema=False)


def _without_trailing_blank_lines(data: bytes) -> bytes:
    """Blank lines after the last row are an editor's or exporter's habit, not rows.

    The pattern is matched on the trailing whitespace only: a regex anchored at the end still
    tries every position of the file (0.3 s for a 20 MB table), and its match is whitespace.
    """
    end = len(data)
    while end and data[end - 1] in _WHITESPACE:
        end -= 1
    tail = data[end:]
    kept = _TRAILING_BLANK_LINES.sub(b"\n", tail)
    return data if kept == tail else data[:end] + kept


def _read_excel(data: bytes, name: str, role: str, sheet: str | None) -> pl.DataFrame:
    import fastexcel

    try:
        sheets = fastexcel.read_excel(data).sheet_names
    except Exception as exc:  # fastexcel raises its own error family for unreadable workbooks
        raise InputError(
            f"{name}: cannot read the {role} file as an Excel workbook ({first_line(exc)}); "
            "open and save it again as .xlsx, or export the sheet as CSV"
        ) from None
    listed = ", ".join(repr(s) for s in sheets)
    if sheet is None and len(sheets) > 1:
        raise InputError(
            f"{name}: the workbook has {len(sheets)} sheets ({listed}); name the one to read with {option_ref('sheet')}"
        )
    if sheet is not None and sheet not in sheets:
        raise InputError(f"{name}: the workbook has no sheet {sheet!r} (sheets: {listed})")
    # infer_schema_length=0 reads every cell as text, as for CSV.
    return pl.read_excel(io.BytesIO(data), engine="calamine", sheet_name=sheet or sheets[0], infer_schema_length=0)


def _apply_mapping(df: pl.DataFrame, source: Source, role: str) -> pl.DataFrame:
    """Rename the file's columns named by the mapping to hs's names."""
    moved = {own for _, own in source.renamed}  # columns renamed away (a swap is fine)
    for hs, own in source.renamed:
        if own not in df.columns:
            raise InputError(
                f"{source.name}: the {role} file has no column '{own}' (the {hs} column; found: {_found(df)}); "
                f"pass the right name with {_ROLE_OPTION.get(hs, 'the column option')}"
            )
        if hs in df.columns and hs not in moved:
            raise InputError(
                f"{source.name}: the {role} file has a column '{hs}' besides '{own}', which was named as the {hs} "
                f"column; rename or remove '{hs}' so that the two cannot be confused"
            )
    return df.rename({own: hs for hs, own in source.renamed})


def _found(df: pl.DataFrame) -> str:
    return ", ".join(df.columns[:8]) + (", ..." if df.width > 8 else "")


# A text column whose first rows hold at most this many distinct cells is treated as categories:
# its distinct cells are checked for missing-value markers instead of every row.
_FEW_SPELLINGS, _SAMPLE_ROWS = 64, 1000


def _with_missing(df: pl.DataFrame, key: str | None, na_values: Sequence[str]) -> pl.DataFrame:
    """Empty cells and the missing-value markers become nulls (never in the id column)."""
    markers = [*na_values, ""]
    changed = []
    for column, dtype in df.schema.items():
        if dtype != pl.String or column == key:
            continue
        cells = pl.col(column)
        if df[column].head(_SAMPLE_ROWS).n_unique() <= _FEW_SPELLINGS:
            # Categories (labels, sites): a marker is one of few distinct cells, found without
            # stripping every row; a column that holds none is left as it is.
            spellings = df[column].unique()
            found = spellings.filter(spellings.str.strip_chars().is_in(markers))
            if found.is_empty():
                continue
            missing = cells.is_in(found.to_list())
        else:
            missing = cells.str.strip_chars().is_in(markers)
        changed.append(pl.when(missing).then(None).otherwise(cells).alias(column))
    return df.with_columns(changed) if changed else df


def _check_duplicated(df: pl.DataFrame, source: Source) -> None:
    duplicated = [c for c in df.columns if "_duplicated_" in c]
    if duplicated:
        raise InputError(
            f"{source.name}: the header repeats a column name ({duplicated[0].split('_duplicated_')[0]!r}); make column names unique"
        )


def _check_columns(df: pl.DataFrame, source: Source, role: str, required: Sequence[str]) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        option = _ROLE_OPTION.get(missing[0])
        fix = f"name the file's {missing[0]} column with {option} NAME" if option else "rename the column"
        if df.width == 1 and any(d in df.columns[0] for d in DELIMITERS):
            fix = f"the header was read as one column: give the file's delimiter with {option_ref('delimiter')}"
        raise InputError(
            f"{source.name}: the {role} file has no column '{missing[0]}' (found: {_found(df)}); "
            f"it needs {', '.join(source.file_column(c) for c in required)}: {fix}, or pass the right file"
        )


def _check_key(df: pl.DataFrame, source: Source, key: str) -> None:
    ids = df[key]
    blank = ids.is_null() | (ids.str.strip_chars() == "")
    if blank.any():
        i = int(blank.arg_true()[0])
        raise InputError(f"{source.at(i, key)}: empty id; every row needs an {key}")
    # Distinct hashes prove distinct ids at a tenth of the cost of comparing the strings; a
    # repeated hash (a repeated id, or a collision) falls through to the exact check.
    if ids.hash().n_unique() == len(ids) or ids.n_unique() == len(ids):
        return
    dup = ids.is_duplicated()
    if dup.any():
        i = int(dup.arg_true()[0])
        first = int((ids == ids[i]).arg_true()[0])
        j = int((ids == ids[i]).arg_true()[1])
        n_dup = int(dup.sum())
        raise InputError(
            f"{source.at(j, key)}: {key} {ids[i]!r} repeats {source.position(first)} "
            f"({n_dup} rows share an id); ids must be unique: remove or rename the duplicates"
        )


def _sorted_join(left: pl.DataFrame, right: pl.DataFrame, key: str) -> pl.DataFrame:
    """The inner join on `key`, sorted by it. Two tables holding the same ids in the same order
    (an export written beside its labels) are set side by side and sorted once; the same ids in
    other orders are each sorted and set side by side; otherwise the hash join keeps the sorted
    left table's order."""
    if left.height == right.height and left[key].equals(right[key]):
        return _beside(left, right, key).sort(key)
    left = left.sort(key)
    if left.height == right.height:
        ordered = right.sort(key)
        if left[key].equals(ordered[key]):
            return _beside(left, ordered, key)
    return left.join(right, on=key, how="inner", suffix="_right", maintain_order="left")


def _beside(left: pl.DataFrame, right: pl.DataFrame, key: str) -> pl.DataFrame:
    """Two tables whose `key` columns are equal row by row, as one (the right one's other names
    that the left one holds get the join's `_right` suffix)."""
    others = right.drop(key)
    return left.hstack(others.rename({c: f"{c}_right" for c in others.columns if c in left.columns}))


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
    joined = _sorted_join(left, right, key)
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
                    f"fix the files or pass {option_ref('allow_unmatched')} to analyse only the ids in both"
                )
    if joined.height == 0:
        raise InputError(f"{left_source.name} and {right_source.name} share no {key}; are they from the same images?")
    return joined, counts
