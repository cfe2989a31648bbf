"""Writing result tables: `--format table|csv|json`, to stdout or atomically to `-o PATH`.

Stdout carries data only. The default format is a human table when stdout is a terminal and
CSV when it is piped, so `hs stratify a.csv b.csv | other-tool` gets machine-readable data.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import polars as pl

from hstool.errors import require_choice
from hstool.io.atomic import atomic_path, write_text
from hstool.io.sidecar import write_sidecar

FORMATS = ("table", "csv", "json")


def resolve_format(fmt: str | None, output: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            require_choice("format", fmt, FORMATS)
        return fmt
    if output and output != "-":
        suffix = Path(output).suffix.lower()
        return {".json": "json", ".txt": "table", ".parquet": "parquet"}.get(suffix, "csv")
    return "table" if sys.stdout.isatty() else "csv"


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_text(df: pl.DataFrame, meta: dict[str, Any]) -> str:
    rows = [{k: _clean(v) for k, v in row.items()} for row in df.iter_rows(named=True)]
    return json.dumps({"meta": meta, "rows": rows}, indent=2, allow_nan=False, default=str) + "\n"


def table_text(view: pl.DataFrame) -> str:
    """Plain aligned text (no colours, no wrapping) so transcripts and `less` show it as is."""
    cells = [[("" if v is None else str(v)) for v in row] for row in view.iter_rows()]
    widths = [max([len(c)] + [len(r[j]) for r in cells]) for j, c in enumerate(view.columns)]
    numeric = [view[c].dtype.is_numeric() for c in view.columns]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    out = [line(list(view.columns)), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out) + "\n"


def emit(
    df: pl.DataFrame,
    *,
    fmt: str | None,
    output: str | None,
    meta: dict[str, Any],
    view: pl.DataFrame | None = None,
) -> str:
    """Write `df` in the resolved format; with a file output also write its sidecar.

    `view` is the human table (a subset of formatted columns); it defaults to `df`.
    Returns the format used.
    """
    fmt = resolve_format(fmt, output)
    if fmt == "csv":
        text = df.write_csv()
    elif fmt == "json":
        text = json_text(df, meta)
    elif fmt == "table":
        text = table_text(view if view is not None else df)
    else:  # parquet, only by file extension
        text = None
    if output and output != "-":
        if text is None:
            with atomic_path(output) as tmp:
                df.write_parquet(tmp)
        else:
            write_text(output, text)
        write_sidecar(output, meta)
    else:
        sys.stdout.write(text if text is not None else df.write_csv())
        sys.stdout.flush()
    return fmt
