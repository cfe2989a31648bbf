"""`hs manifest check`: validate a manifest and its image files, optionally decoding each one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hstool.data.images import ImageError, load_image
from hstool.data.leakage import SCHEMA, Overlap, split_overlap
from hstool.data.manifest import PATH, describe, read_manifest
from hstool.errors import InputError, option_ref
from hstool.io.sidecar import build_sidecar
from hstool.io.table_format import KEY, TableFormat


@dataclass(frozen=True)
class Checked:
    """The one-line summary, and with a group column the groups found in several splits."""

    summary: str
    overlap: Overlap | None = None
    meta: dict[str, Any] | None = None  # sidecar of the overlap table


def check_manifest(
    path: str,
    *,
    root: str | None = None,
    require_label: bool = False,
    decode: bool = False,
    group_col: str | None = None,
    allow_overlap: bool = False,
    progress: Callable[[int, int], None] | None = None,
    id_col: str = KEY,
    fmt: TableFormat = TableFormat(),
) -> Checked:
    """Raise the first problem found (InputError / ImageError); return a one-line summary.

    With `group_col` (e.g. patient_key), the values found in more than one split are listed in
    `Checked.overlap`; unless `allow_overlap`, finding any is an InputError, raised by
    `fail_on_overlap` once the caller has shown the list."""
    manifest = read_manifest(
        path,
        root=root,
        require_label=require_label,
        id_col=id_col,
        fmt=fmt,
        text_columns=(group_col,) if group_col else (),
    )
    manifest.check_files()
    if decode:
        total = len(manifest.paths)
        for done, image_path in enumerate(manifest.paths, start=1):
            try:
                load_image(image_path)
            except ImageError as exc:
                raise ImageError(f"{manifest.source.at(done - 1, PATH)}: {exc}") from None
            if progress and (done % 64 == 0 or done == total):
                progress(done, total)
    checked = "every file decoded" if decode else "every file present"
    summary = f"{manifest.source.name}: ok, {describe(manifest.table)}; {checked}"
    if group_col is None:
        return Checked(summary)
    overlap = split_overlap(manifest, group_col)
    meta = build_sidecar(
        schema=SCHEMA,
        parameters={"group_col": group_col, "allow_overlap": allow_overlap, "root": root},
        inputs=[manifest.source.provenance()],
        rows=overlap.table.height,
        extra={"groups": overlap.groups, "missing": overlap.missing},
    )
    return Checked(f"{summary}; {overlap.summary()}", overlap, meta)


def fail_on_overlap(checked: Checked) -> None:
    """The leakage error: some group lies in more than one split."""
    overlap = checked.overlap
    if overlap is None or not overlap.table.height:
        return
    first = overlap.table.row(0, named=True)
    raise InputError(
        f"{overlap.source}: {overlap.table.height} {overlap.group_col} value(s) in more than one split (first: {first[overlap.group_col]!r}: "
        f"{first['splits']}); put all images of a {overlap.group_col} in one split, or pass {option_ref('allow_overlap')} to only report"
    )
