"""Embedding arrays: the write/read round trip, NaN rows, provenance hash."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from hstool.errors import InputError
from hstool.io import arrays
from hstool.io.arrays import read_embeddings, write_embeddings


def test_round_trip_and_hash(tmp_path):
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    ids_file = write_embeddings(tmp_path / "e.npy", ["a", "b", "c", "007"], x)
    assert ids_file.name == "e.ids.csv"
    ids, values, source = read_embeddings(str(tmp_path / "e.npy"))
    assert ids.to_list() == ["a", "b", "c", "007"] and np.array_equal(values, x)
    assert source.sha256 == hashlib.sha256((tmp_path / "e.npy").read_bytes()).hexdigest()


def test_nan_row_is_named_in_any_block(tmp_path, monkeypatch):
    monkeypatch.setattr(arrays, "_BLOCK_ROWS", 2)  # the check runs block by block
    x = np.zeros((5, 2), dtype=np.float32)
    x[3, 1] = np.nan
    write_embeddings(tmp_path / "e.npy", list("abcde"), x)
    with pytest.raises(InputError, match="row 4 \\(image_id 'd'\\) has NaN"):
        read_embeddings(str(tmp_path / "e.npy"))
