"""Turning model outputs into the files of docs/formats.md: preds.csv, emb.npy + emb.ids.csv,
the errors list, and their sidecars.

preds.csv: binary `image_id,score,pred` (score = probability of class_names[1], pred = 1 when
score >= 0.5), multi-class `image_id,pred,p_<class>...` (pred = the class with the highest
probability, the first one on ties). Probabilities are written as the shortest decimal that
reads back as the same float32, so the text is a pure function of the model's output: the same
model and manifest give the same bytes, and each row's text does not depend on any other row
(a file assembled from chunks or shards is byte-identical to one written in one go).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl

from hstool.errors import InputError
from hstool.infer.runtime import EMBEDDING, PROBABILITIES, ModelInfo
from hstool.io.atomic import atomic_path
from hstool.io.tables import KEY

PREDS_SCHEMA = "hs.preds/1"
EMBEDDINGS_SCHEMA = "hs.embeddings/1"
ERRORS_COLUMNS = (KEY, "path", "reason")
THRESHOLD = 0.5
_TOLERANCE = 1e-5  # float rounding a softmax may show just outside [0, 1]


def preds_frame(info: ModelInfo, ids: list[str], probabilities: np.ndarray) -> pl.DataFrame:
    """The preds.csv rows for `ids` (see the module docstring)."""
    probabilities = np.asarray(probabilities, dtype=np.float32).reshape(len(ids), len(info.class_names))
    id_column = pl.Series(KEY, ids, dtype=pl.String)
    if info.task == "binary":
        score = probabilities[:, 1]
        return pl.DataFrame(
            [
                id_column,
                pl.Series("score", score, dtype=pl.Float32),
                pl.Series("pred", (score >= THRESHOLD).astype(np.int8), dtype=pl.Int8),
            ]
        )
    names = np.asarray(info.class_names, dtype=object)
    pred = names[np.argmax(probabilities, axis=1)] if len(ids) else np.array([], dtype=object)
    columns = [id_column, pl.Series("pred", list(pred), dtype=pl.String)]
    columns += [
        pl.Series(f"p_{name}", probabilities[:, j], dtype=pl.Float32) for j, name in enumerate(info.class_names)
    ]
    return pl.DataFrame(columns)


def check_outputs(
    model_path: str, id_of: Callable[[int], str], probabilities: np.ndarray, embedding: np.ndarray
) -> np.ndarray:
    """Refuse outputs that break the contract (NaN, values outside [0, 1]), naming the image
    (`id_of(i)` for row i of the batch); return the probabilities with float rounding just
    outside [0, 1] clipped."""
    for name, values in ((PROBABILITIES, probabilities), (EMBEDDING, embedding)):
        bad = ~np.isfinite(values).all(axis=1)
        if bad.any():
            raise InputError(
                f"{model_path}: output '{name}' is NaN or infinite for image {id_of(int(np.flatnonzero(bad)[0]))!r} "
                f"({int(bad.sum())} images in this batch); check the image and the model"
            )
    outside = (probabilities < -_TOLERANCE) | (probabilities > 1 + _TOLERANCE)
    if outside.any():
        i, j = np.argwhere(outside)[0]
        raise InputError(
            f"{model_path}: output '{PROBABILITIES}' is {probabilities[i, j]:g} for image {id_of(int(i))!r}, outside [0, 1]; "
            "the model must end with a softmax (re-export it with hs train)"
        )
    clipped: np.ndarray = np.clip(probabilities, 0.0, 1.0)
    return clipped


def write_preds_text(fh: BinaryIO, frames: Iterable[pl.DataFrame]) -> None:
    """CSV with one header, then each frame's rows (an empty first frame still gives the header)."""
    header = True
    for frame in frames:
        if header or frame.height:
            buffer = io.BytesIO()
            frame.write_csv(buffer, include_header=header)
            fh.write(buffer.getvalue())
            header = False


def write_preds_file(target: str | Path, frames: Iterable[pl.DataFrame]) -> None:
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            write_preds_text(fh, frames)


def errors_frame(ids: list[str], paths: list[str], reasons: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            KEY: pl.Series(ids, dtype=pl.String),
            "path": pl.Series(paths, dtype=pl.String),
            "reason": pl.Series(reasons, dtype=pl.String),
        }
    )
