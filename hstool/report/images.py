"""Where each image is: the manifest's paths, kept as written (relative to the manifest) for
display and resolved for reading. Decoding is the image layer's job (hstool.data)."""

from __future__ import annotations

from pathlib import Path

from hstool.io.sidecar import read_sidecar
from hstool.io.table_format import KEY, TableFormat
from hstool.report.context import InputFile, shown_path


def image_paths(
    manifest_path: str, root: str | None, id_col: str = KEY, fmt: TableFormat = TableFormat()
) -> tuple[dict[str, tuple[str, Path]], InputFile]:
    """image_id -> (path as written in the manifest, absolute path), and the manifest's provenance."""
    from hstool.data.manifest import read_manifest

    manifest = read_manifest(manifest_path, root=root, id_col=id_col, fmt=fmt)
    ids = manifest.table[KEY].to_list()
    written = manifest.table["path"].cast(str).to_list()
    paths = {i: (w, Path(p)) for i, w, p in zip(ids, written, manifest.paths)}
    source = manifest.source
    return paths, InputFile(
        "manifest", shown_path(manifest_path), source.sha256, source.rows, read_sidecar(manifest_path)
    )
