"""`hs manifest check`: validate a manifest and its image files, optionally decoding each one."""

from __future__ import annotations

from collections.abc import Callable

from hstool.data.images import ImageError, load_image
from hstool.data.manifest import PATH, describe, read_manifest
from hstool.io.table_format import KEY, TableFormat


def check_manifest(
    path: str,
    *,
    root: str | None = None,
    require_label: bool = False,
    decode: bool = False,
    progress: Callable[[int, int], None] | None = None,
    id_col: str = KEY,
    fmt: TableFormat = TableFormat(),
) -> str:
    """Raise the first problem found (InputError / ImageError); return a one-line summary."""
    manifest = read_manifest(path, root=root, require_label=require_label, id_col=id_col, fmt=fmt)
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
    return f"{manifest.source.name}: ok, {describe(manifest.table)}; {checked}"
