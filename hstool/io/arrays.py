"""Embedding arrays: `emb.npy` (float32, shape (n, d)) with `emb.ids.csv` (one image_id per row)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from hstool.errors import InputError, first_line, option_ref
from hstool.io.atomic import atomic_path
from hstool.io.tables import KEY, Source, read_table

_BLOCK_ROWS = 65536
_NPY_MAGIC = b"\x93NUMPY"  # the first bytes of every .npy file (NumPy's format specification)


def ids_path_for(npy: str | Path) -> Path:
    """`emb.npy` -> `emb.ids.csv` (the companion file that names each row)."""
    p = Path(npy)
    return p.with_name((p.name[:-4] if p.name.endswith(".npy") else p.name) + ".ids.csv")


def read_embeddings(npy: str, ids: str | None = None) -> tuple[pl.Series, np.ndarray, Source]:
    """Load an embedding matrix and its ids; checks shape, dtype, finiteness and agreement."""
    path = Path(npy)
    if not path.is_file():
        raise InputError(f"{npy}: no such embedding file; make one with `hs embed MODEL MANIFEST -o {npy}`")
    with open(path, "rb") as fh:
        magic = fh.read(len(_NPY_MAGIC))
    if magic != _NPY_MAGIC:
        # Without the header NumPy would suggest unpickling the file: never do that, never say it.
        raise InputError(f"{npy}: not a valid .npy array (no NumPy header); pass the emb.npy file written by hs embed")
    try:
        matrix = np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError) as exc:
        reason = "object arrays are not accepted" if "pickle" in str(exc) else first_line(exc)
        raise InputError(
            f"{npy}: not a valid .npy array ({reason}); pass the emb.npy file written by hs embed"
        ) from None
    if matrix.ndim != 2:
        raise InputError(f"{npy}: expected a 2-D array (n, d), found shape {matrix.shape}")
    if not np.issubdtype(matrix.dtype, np.floating):
        raise InputError(f"{npy}: expected floating-point values, found {matrix.dtype}")
    ids_file = str(ids) if ids else str(ids_path_for(npy))
    if not Path(ids_file).exists():
        raise InputError(
            f"{npy}: its ids file {ids_file} is missing; pass {option_ref('ids')} PATH (one image_id per row)"
        )
    table, _ids_source = read_table(ids_file, role="embedding ids")
    if table.height != matrix.shape[0]:
        raise InputError(
            f"{ids_file}: has {table.height} ids but {npy} has {matrix.shape[0]} rows; they must come from the same hs embed run"
        )
    values = np.asarray(matrix, dtype=np.float32)
    # Checked and hashed in blocks: a million 1,024-wide rows (4 GiB) are never held twice.
    for start in range(0, values.shape[0], _BLOCK_ROWS):
        finite = np.isfinite(values[start : start + _BLOCK_ROWS]).all(axis=1)
        if not finite.all():
            i = start + int(np.flatnonzero(~finite)[0])
            raise InputError(f"{npy}: row {i + 1} (image_id {table[KEY][i]!r}) has NaN or inf values")
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            digest.update(block)
    source = Source(name=npy, sha256=digest.hexdigest(), kind="npy", rows=values.shape[0])
    return table[KEY], values, source


def write_embeddings(npy: str | Path, ids: list[str] | pl.Series, matrix: np.ndarray) -> Path:
    """Write the array and its ids file atomically; returns the ids path."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError("embeddings must be a 2-D array (n, d)")
    return write_embeddings_streamed(npy, ids, [matrix], matrix.shape[1])


def write_embeddings_streamed(
    npy: str | Path, ids: Sequence[str] | pl.Series, blocks: Iterable[np.ndarray], dim: int
) -> Path:
    """Like write_embeddings, for a matrix given as consecutive row blocks (n = len(ids)), so that
    hundreds of thousands of rows never need to be in memory at once. The bytes are those
    np.save would write for the whole matrix. Returns the ids path."""
    ids_series = pl.Series(KEY, list(ids), dtype=pl.String)
    n = len(ids_series)
    ids_file = ids_path_for(npy)
    with atomic_path(ids_file) as tmp:
        ids_series.to_frame().write_csv(tmp)
    with atomic_path(npy) as tmp:
        with open(tmp, "wb") as fh:
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False, "shape": (n, dim)}
            np.lib.format.write_array_header_1_0(fh, header)
            written = 0
            for block in blocks:
                block = np.ascontiguousarray(block, dtype="<f4")
                if block.ndim != 2 or block.shape[1] != dim:
                    raise ValueError(f"embedding block of shape {block.shape}, expected (rows, {dim})")
                fh.write(block.tobytes())
                written += block.shape[0]
        if written != n:
            raise ValueError(f"{written} embedding rows for {n} ids")
    return ids_file
