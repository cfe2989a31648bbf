"""Embedding arrays: `emb.npy` (float32, shape (n, d)) with `emb.ids.csv` (one image_id per row)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import polars as pl

from hstool.errors import InputError
from hstool.io.atomic import atomic_path
from hstool.io.tables import KEY, Source, read_table

_BLOCK_ROWS = 65536


def ids_path_for(npy: str | Path) -> Path:
    """`emb.npy` -> `emb.ids.csv` (the companion file that names each row)."""
    p = Path(npy)
    return p.with_name((p.name[:-4] if p.name.endswith(".npy") else p.name) + ".ids.csv")


def read_embeddings(npy: str, ids: str | None = None) -> tuple[pl.Series, np.ndarray, Source]:
    """Load an embedding matrix and its ids; checks shape, dtype, finiteness and agreement."""
    path = Path(npy)
    if not path.is_file():
        raise InputError(f"{npy}: no such embedding file; make one with `hs embed MODEL MANIFEST -o {npy}`")
    try:
        matrix = np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise InputError(f"{npy}: not a readable .npy array ({exc}); pass the file written by hs embed") from None
    if matrix.ndim != 2:
        raise InputError(f"{npy}: expected a 2-D array (n, d), found shape {matrix.shape}")
    if not np.issubdtype(matrix.dtype, np.floating):
        raise InputError(f"{npy}: expected floating-point values, found {matrix.dtype}")
    ids_file = str(ids) if ids else str(ids_path_for(npy))
    if not Path(ids_file).exists():
        raise InputError(f"{npy}: its ids file {ids_file} is missing; pass --ids PATH (one image_id per row)")
    table, ids_source = read_table(ids_file, role="embedding ids")
    if table.height != matrix.shape[0]:
        raise InputError(
            f"{ids_file}: has {table.height} ids but {npy} has {matrix.shape[0]} rows; they must come from the same hs embed run"
        )
    values = np.asarray(matrix, dtype=np.float32)
    # Checked and hashed in blocks: a million 1,024-wide rows (4 GiB) are never held twice.
    for start in range(0, values.shape[0], _BLOCK_ROWS):
        finite = np.isfinite(values[start:start + _BLOCK_ROWS]).all(axis=1)
        if not finite.all():
            i = start + int(np.flatnonzero(~finite)[0])
            raise InputError(f"{npy}: row {i + 1} (image_id {table[KEY][i]!r}) has NaN or inf values")
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            digest.update(block)
    digest = digest.hexdigest()
    source = Source(name=npy, sha256=digest, kind="npy", rows=values.shape[0])
    return table[KEY], values, source


def write_embeddings(npy: str | Path, ids: list[str] | pl.Series, matrix: np.ndarray) -> Path:
    """Write the array and its ids file atomically; returns the ids path."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    ids_series = pl.Series(KEY, list(ids), dtype=pl.String)
    if len(ids_series) != matrix.shape[0]:
        raise ValueError("ids and embedding rows differ in length")
    ids_file = ids_path_for(npy)
    with atomic_path(ids_file) as tmp:
        ids_series.to_frame().write_csv(tmp)
    with atomic_path(npy) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, matrix, allow_pickle=False)
    return ids_file
