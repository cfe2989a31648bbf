"""Reading the idx format of MNIST and Fashion-MNIST (gzip-compressed or not).

Layout: two zero bytes, a type code, the number of dimensions, each dimension as a big-endian
uint32, then the values in C order, big-endian. With `limit`, only the first `limit` items are
read (and decompressed), so a quick look at the 60,000-image training file stays quick.
"""

from __future__ import annotations

import gzip
import io
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from hstool.errors import InputError

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path, *, limit: int | None = None) -> np.ndarray:
    """The array stored in an idx file (first `limit` items of axis 0 when given)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such idx file; pass the MNIST-style .gz (or uncompressed) file")
    with open(path, "rb") as fh:
        compressed = fh.read(2) == b"\x1f\x8b"
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as fh:
            return _read(fh, path, limit)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: corrupt gzip stream ({exc}); re-download the file") from None


def _read(fh: io.BufferedIOBase, path: Path, limit: int | None) -> np.ndarray:
    head = fh.read(4)
    if len(head) < 4 or head[:2] != b"\x00\x00" or head[2] not in _TYPES or head[3] == 0:
        raise InputError(f"{path}: not an idx file (bad magic number); pass MNIST-style idx files")
    ndim = head[3]
    raw_dims = fh.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise InputError(f"{path}: truncated idx header")
    dims = list(struct.unpack(f">{ndim}I", raw_dims))
    if limit is not None:
        dims[0] = min(dims[0], limit)
    dtype = np.dtype(_TYPES[head[2]])
    wanted = math.prod(dims) * dtype.itemsize
    data = fh.read(wanted)
    if len(data) < wanted:
        raise InputError(f"{path}: truncated: the header announces {dims[0]} items but the data stops early")
    return np.frombuffer(data, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))
