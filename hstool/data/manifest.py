"""Reading `manifest.csv` (`image_id,path[,label][,split][,<metadata>...]`, docs/formats.md).

`path` is relative to the manifest's folder, or to `root` when given; absolute paths are
accepted when they lie inside the root. Every path is resolved (symbolic links included) and one
that ends up outside the root is refused: a manifest from elsewhere must not make hs read, or
copy into a report, files its author did not mean to share.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from hstool.errors import LISTED, InputError, option_ref
from hstool.io.table_format import TableFormat
from hstool.io.tables import KEY, Source, read_table

PATH = "path"
LABEL = "label"
SPLIT = "split"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True, eq=False)
class Manifest:
    """A validated manifest: the table as read (image_id as text) and one absolute, resolved
    path per row, in the same order."""

    table: pl.DataFrame
    paths: list[Path]
    root: Path  # resolved folder every path lies in
    source: Source  # name, sha256 and row count, for messages and sidecars

    @property
    def ids(self) -> list[str]:
        return self.table[KEY].to_list()

    @property
    def has_labels(self) -> bool:
        return LABEL in self.table.columns

    @property
    def labels(self) -> list[str | None] | None:
        """Labels as text (None where empty), or None when the manifest has no label column."""
        return self.table[LABEL].to_list() if self.has_labels else None

    def required_labels(self) -> list[str]:
        """Every row's label, for a manifest read with `require_label` (which refuses empty ones)."""
        labels = self.labels
        if labels is None or None in labels:
            raise ValueError(f"{self.source.name}: every row needs a label; read it with require_label=True")
        return [str(v) for v in labels]

    @property
    def classes(self) -> list[str]:
        """Distinct non-empty labels, sorted numerically when they are all integers (so 2 < 10),
        else as text. The same manifest always gives the same order."""
        if not self.has_labels:
            return []
        values = {v for v in self.table[LABEL].to_list() if v is not None and v.strip()}
        if all(_is_int(v) for v in values):
            return sorted(values, key=lambda v: (int(v), v))
        return sorted(values)

    @property
    def metadata_columns(self) -> list[str]:
        """Every column that is not image_id, path, label or split (subclass, sex, age...)."""
        return [c for c in self.table.columns if c not in (KEY, PATH, LABEL, SPLIT)]

    def where_split(self, split: str) -> Manifest:
        """The rows of one split (train, val or test), paths kept aligned."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        if SPLIT not in self.table.columns:
            raise InputError(
                f"{self.source.name}: has no '{SPLIT}' column; add one (train/val/test) to select the {split} rows"
            )
        keep = (self.table[SPLIT] == split).to_list()
        return Manifest(
            table=self.table.filter(pl.Series(keep)),
            paths=[p for p, k in zip(self.paths, keep) if k],
            root=self.root,
            source=self.source,
        )

    def missing_files(self) -> list[int]:
        """Row indices whose path is not an existing regular file."""
        return [i for i, p in enumerate(self.paths) if not p.is_file()]

    def check_files(self) -> None:
        """Raise one InputError listing how many image files are missing and the first few."""
        missing = self.missing_files()
        if not missing:
            return
        shown = ", ".join(f"{self.table[KEY][i]!r} ({self.table[PATH][i]})" for i in missing[:LISTED])
        raise InputError(
            f"{self.source.name}: {len(missing)} of {len(self.paths)} image files are missing "
            f"(first: {shown}{', ...' if len(missing) > LISTED else ''}); paths are relative to "
            f"{self.root}: fix the paths or pass {option_ref('root')}"
        )


def read_manifest(
    path: str,
    *,
    root: str | None = None,
    require_label: bool = False,
    id_col: str = KEY,
    fmt: TableFormat = TableFormat(),
    text_columns: tuple[str, ...] = (),
) -> Manifest:
    """Read and validate a manifest; see the module docstring and docs/data.md. `text_columns`
    (when present) are read as text, like image_id: group keys such as `0042` keep their zeros.

    Errors (InputError, one line naming the file and line): missing image_id/path columns,
    empty or duplicate ids, empty paths, paths leaving the root, split values other than
    train/val/test, and with `require_label`: no label column, empty labels, a single class.
    """
    table, source = read_table(
        path,
        role="manifest",
        required=(KEY, PATH),
        string_columns=(PATH, LABEL, SPLIT, *text_columns),
        fmt=fmt,
        columns={KEY: id_col},
    )
    table = table.with_columns(pl.col(c).cast(pl.String) for c in (PATH, LABEL, SPLIT) if c in table.columns)
    base = _root_folder(path, root)
    paths = _resolve_paths(table[PATH].to_list(), base, source)
    if SPLIT in table.columns:
        _check_splits(table[SPLIT], source)
    manifest = Manifest(table=table, paths=paths, root=Path(base), source=source)
    if require_label:
        _check_labels(manifest)
    return manifest


def _root_folder(path: str, root: str | None) -> str:
    if root is not None:
        if not Path(root).is_dir():
            raise InputError(
                f"{option_ref('root')} {root}: no such folder; pass the folder the manifest's paths are relative to"
            )
        return os.path.realpath(root)
    return os.path.realpath(Path.cwd() if path == "-" else Path(path).parent)


def _resolve_paths(values: list[str | None], base: str, source: Source) -> list[Path]:
    """Absolute real paths, refusing empty ones and any that leave `base`.

    Each folder is resolved once (a manifest lists thousands of files in a few folders) and
    only the file name itself is checked for being a link.
    """
    prefix = base if base.endswith(os.sep) else base + os.sep
    real_dirs: dict[str, str] = {}
    out = []
    for i, value in enumerate(values):
        if value is None or not value.strip():
            raise InputError(f"{source.at(i, PATH)}: empty path; every row needs the image file's path")
        head, tail = os.path.split(os.path.normpath(os.path.join(base, value)))
        real_head = real_dirs.get(head)
        if real_head is None:
            real_head = real_dirs[head] = os.path.realpath(head)
        full = os.path.join(real_head, tail)
        if os.path.islink(full):
            full = os.path.realpath(full)
        if not full.startswith(prefix):
            raise InputError(
                f"{source.at(i, PATH)}: {value!r} resolves outside the root {base}; paths must stay "
                f"inside the manifest's folder: move the manifest or pass {option_ref('root')} with a folder containing every image"
            )
        out.append(Path(full))
    return out


def _check_splits(column: pl.Series, source: Source) -> None:
    bad = ~column.is_in(list(SPLITS)).fill_null(False)
    if bad.any():
        i = int(bad.arg_true()[0])
        found = "empty value" if column[i] is None else repr(column[i])
        raise InputError(
            f"{source.at(i, SPLIT)}: {found} is not a split ({int(bad.sum())} rows); "
            f"use {', '.join(SPLITS)} (lower case), or drop the column"
        )


def _check_labels(manifest: Manifest) -> None:
    source = manifest.source
    if not manifest.has_labels:
        raise InputError(f"{source.name}: the manifest has no '{LABEL}' column; add the class of every image")
    labels = manifest.table[LABEL]
    empty = labels.is_null() | (labels.str.strip_chars() == "")
    if empty.any():
        i = int(empty.arg_true()[0])
        raise InputError(f"{source.at(i, LABEL)}: empty label ({int(empty.sum())} rows); every image needs a class")
    classes = manifest.classes
    if len(classes) < 2:
        raise InputError(
            f"{source.at(None, LABEL)}: every row has the class {classes[0]!r}; a classifier needs at least two classes"
        )


def describe(table: pl.DataFrame) -> str:
    """'120 images; label 0: 80, 1: 40; split train: 100, test: 20', for terminal summaries."""
    parts = [f"{table.height} images"]
    for column in (LABEL, SPLIT):
        if column in table.columns:
            counts = sorted(Counter(table[column].to_list()).items(), key=lambda kv: str(kv[0]))
            parts.append(f"{column} " + ", ".join(f"{'(empty)' if v is None else v}: {n}" for v, n in counts))
    return "; ".join(parts)


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
