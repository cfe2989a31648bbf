"""A manifest of the image files under a folder tree (`hs manifest folder`): the class is the
name of the first-level subfolder, as in torchvision's ImageFolder."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import polars as pl

from hstool.data.build import MANIFEST_NAME, Built, manifest_meta
from hstool.data.images import IMAGE_EXTENSIONS
from hstool.data.manifest import LABEL, PATH, SPLIT, SPLITS
from hstool.errors import InputError, UsageError, option_ref
from hstool.io.tables import KEY


def manifest_from_folder(folder: str, *, manifest_dir: str | Path, split_dirs: bool = False) -> Built:
    """One row per image file under `folder` (by extension, hidden files skipped, symbolic
    links to folders not followed), sorted by path. The class is the name of the first-level
    subfolder (`folder/<class>/...`), or of the second with `split_dirs`
    (`folder/<split>/<class>/...`, split = train/val/test). image_id is the path relative to
    `folder` without its extension; `path` is relative to `manifest_dir` (where the manifest
    will be written), which must contain `folder`.
    """
    real_top, base = tree_inside(folder, manifest_dir)
    files = sorted(walk_files(real_top, base, lambda name: name.lower().endswith(IMAGE_EXTENSIONS)))
    if not files:
        raise InputError(f"{folder}: no image files ({', '.join(IMAGE_EXTENSIONS)}) found; check the folder")
    rows = [_folder_row(folder, rel, os.path.relpath(os.path.join(real_top, rel), base), split_dirs) for rel in files]
    table = _folder_table(folder, rows)
    meta = manifest_meta(
        table, parameters={"source": "folder", "split_dirs": split_dirs}, inputs=[{"path": folder, "files": len(files)}]
    )
    return Built(table=table, meta=meta)


def tree_inside(folder: str, manifest_dir: str | Path) -> tuple[str, str]:
    """The real paths of `folder` and `manifest_dir`, refusing a folder outside the manifest's
    folder (manifest paths must stay inside it)."""
    if not Path(folder).is_dir():
        raise InputError(f"{folder}: no such folder; pass the folder that holds the images")
    real_top, base = os.path.realpath(folder), os.path.realpath(manifest_dir)
    if os.path.commonpath([real_top, base]) != base:
        raise UsageError(
            f"{folder} is not inside {base}, the manifest's folder: manifest paths must stay inside "
            f"it; write the manifest into {folder} or a folder above it (-o {folder}/{MANIFEST_NAME})"
        )
    return real_top, base


def walk_files(top: str, base: str, keep: Callable[[str], bool]) -> Iterable[str]:
    """Files below `top` whose name `keep` accepts, as '/'-separated paths relative to it.
    Hidden files and folders are skipped, links to folders not followed, and a link to a file
    outside `base` is refused."""
    for here, dirs, names in os.walk(top):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if name.startswith(".") or not keep(name):
                continue
            full = os.path.join(here, name)
            if os.path.islink(full) and os.path.commonpath([os.path.realpath(full), base]) != base:
                raise InputError(
                    f"{full}: is a symbolic link to a file outside {base}, which a manifest may not "
                    "reference; copy the file or write the manifest in a folder containing both"
                )
            yield Path(os.path.relpath(full, top)).as_posix()


def _folder_row(folder: str, rel: str, path: str, split_dirs: bool) -> dict[str, Any]:
    parts = rel.split("/")
    row = {KEY: rel.rsplit(".", 1)[0], PATH: Path(path).as_posix(), LABEL: None, SPLIT: None}
    if split_dirs:
        if len(parts) < 2 or parts[0] not in SPLITS:
            raise InputError(
                f"{folder}/{rel}: with {option_ref('split_dirs')} every image must be under {folder}/<split>/ with split "
                f"one of {', '.join(SPLITS)}; move it or drop {option_ref('split_dirs')}"
            )
        row[SPLIT] = parts[0]
        parts = parts[1:]
    if len(parts) > 1:
        row[LABEL] = parts[0]
    return row


def _folder_table(folder: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    table = pl.DataFrame(rows, schema={KEY: pl.String, PATH: pl.String, LABEL: pl.String, SPLIT: pl.String})
    unlabelled = table[LABEL].is_null()
    if unlabelled.all():
        table = table.drop(LABEL)
    elif unlabelled.any():
        i = int(unlabelled.arg_true()[0])
        raise InputError(
            f"{folder}: {table[PATH][i]} is not in a class folder while other images are; put every "
            "image under <class>/ (or none, for an unlabelled manifest)"
        )
    if table[SPLIT].is_null().all():
        table = table.drop(SPLIT)
    duplicated = table[KEY].is_duplicated()
    if duplicated.any():
        same = table.filter(table[KEY] == table[KEY][int(duplicated.arg_true()[0])])[PATH].to_list()
        raise InputError(
            f"{folder}: {same[0]} and {same[1]} would share the image_id {table[KEY][int(duplicated.arg_true()[0])]!r} "
            "(ids are paths without extension); rename one of them"
        )
    return table
