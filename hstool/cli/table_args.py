"""Turning the table options (`--id-col`, `--delimiter`, ...) into the library's dataclasses."""

from __future__ import annotations

from hstool.errors import UsageError
from hstool.io.table_format import NA_VALUES, ColumnMap, TableFormat

_NAMED_DELIMITERS = {"tab": "\t", "\\t": "\t"}


def column_map(id_col: str, score_col: str = ColumnMap.score, label_col: str = ColumnMap.label) -> ColumnMap:
    for option, name in (("--id-col", id_col), ("--score-col", score_col), ("--label-col", label_col)):
        if not name.strip():
            raise UsageError(f"{option}: give a column name")
    return ColumnMap(id=id_col.strip(), score=score_col.strip(), label=label_col.strip())


def table_format(
    na_values: list[str] | None, delimiter: str | None, decimal_comma: bool, sheet: str | None
) -> TableFormat:
    if delimiter is not None:
        delimiter = _NAMED_DELIMITERS.get(delimiter.lower(), delimiter)
        if len(delimiter) != 1 or delimiter in '"\r\n':
            raise UsageError(f"--delimiter {delimiter!r}: give one character such as ';' or '|', or 'tab'")
    if decimal_comma and delimiter == ",":
        raise UsageError("--decimal-comma with --delimiter ',': a comma cannot both separate cells and mark decimals")
    return TableFormat(
        delimiter=delimiter,
        decimal_comma=decimal_comma,
        sheet=sheet,
        na_values=tuple(na_values) if na_values is not None else NA_VALUES,
    )
