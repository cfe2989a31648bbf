"""The saliency folder (docs/formats.md, "Saliency maps"): one heat map per image and method
as float32 .npy in the model's input geometry, its overlay PNG, and `index.csv` naming them.

    DIR/index.csv (+ .meta.json, hs.saliency/1)
        image_id,method,class,score,map,overlay,peak_y,peak_x
    DIR/<method>/<image_id>.npy, DIR/<method>/<image_id>.png

`map` and `overlay` are relative to DIR; `class` is the explained class, `score` the model's
probability for it on the unoccluded image (float32 text, as in preds.csv); `peak_y`, `peak_x` the pixel of the map's largest
value (the first in row order on ties).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from hstool.errors import InputError
from hstool.io.tables import KEY, Source, read_table
from hstool.saliency.overlay import overlay, png_bytes

INDEX_NAME = "index.csv"
SCHEMA = "hs.saliency/1"
METHODS = ("occlusion", "gradcam")
COLUMNS = (KEY, "method", "class", "score", "map", "overlay", "peak_y", "peak_x")


def write_maps(
    folder: Path,
    method: str,
    ids: list[str],
    greys: np.ndarray,
    maps: np.ndarray,
    classes: list[str],
    scores: np.ndarray,
) -> list[dict[str, object]]:
    """Write `<method>/<image_id>.npy` and `.png` for each image; return their index rows."""
    rows = []
    for image_id, grey, heat, klass, score in zip(ids, greys, maps, classes, scores):
        stem = f"{method}/{image_id}"
        target = folder / stem
        target.parent.mkdir(parents=True, exist_ok=True)
        np.save(f"{target}.npy", np.ascontiguousarray(heat, dtype=np.float32))
        Path(f"{target}.png").write_bytes(png_bytes(overlay(grey, heat)))
        peak_y, peak_x = np.unravel_index(int(np.argmax(heat)), heat.shape)
        rows.append(
            {
                KEY: image_id,
                "method": method,
                "class": klass,
                "score": float(score),
                "map": f"{stem}.npy",
                "overlay": f"{stem}.png",
                "peak_y": int(peak_y),
                "peak_x": int(peak_x),
            }
        )
    return rows


def index_table(rows: list[dict[str, object]]) -> pl.DataFrame:
    """The index: rows as written (method by method, images in manifest order)."""
    if not rows:
        return pl.DataFrame(schema=dict.fromkeys(COLUMNS, pl.String))
    # score as float32 text (the shortest decimal that reads back as the model's float32), as in preds.csv
    schema = {KEY: pl.String, "class": pl.String, "score": pl.Float32}
    return pl.DataFrame(rows, schema_overrides=schema).select(COLUMNS)


@dataclass(frozen=True)
class SaliencyIndex:
    """A saliency folder as read back: the index table and where its files lie."""

    table: pl.DataFrame
    folder: Path
    source: Source

    @property
    def methods(self) -> list[str]:
        present = set(self.table["method"].to_list())
        return [m for m in METHODS if m in present]

    def files(self, method: str, column: str) -> dict[str, Path]:
        """image_id -> absolute path of its `map` or `overlay` for one method."""
        part = self.table.filter(pl.col("method") == method)
        return {i: self.folder / p for i, p in zip(part[KEY].to_list(), part[column].to_list())}

    def load_map(self, path: Path) -> np.ndarray:
        try:
            heat = np.asarray(np.load(path, allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read this saliency map ({exc}); rerun hs saliency") from None
        if heat.ndim != 2 or not np.isfinite(heat).all():
            raise InputError(f"{path}: a saliency map must be a finite 2-D array, found shape {heat.shape}")
        return heat


def read_index(path: str) -> SaliencyIndex:
    """A saliency folder (or its index.csv); InputError naming the file on a broken contract."""
    folder = Path(path)
    csv = folder / INDEX_NAME if folder.is_dir() else folder
    if not csv.is_file():
        raise InputError(f"{path}: no {INDEX_NAME} there; pass the folder hs saliency -o wrote")
    table, source = read_table(
        str(csv), role="saliency index", required=COLUMNS, key=None, string_columns=(KEY, "class")
    )
    unknown = sorted(set(table["method"].cast(pl.String).to_list()) - set(METHODS))
    if unknown:
        raise InputError(
            f"{source.name}, column 'method': unknown method {unknown[0]!r}; expected {' or '.join(METHODS)}"
        )
    duplicated = table.filter(pl.struct(KEY, "method").is_duplicated())
    if duplicated.height:
        first = duplicated.row(0, named=True)
        raise InputError(
            f"{source.name}: image_id {first[KEY]!r} has two {first['method']} rows; keep one per image and method"
        )
    return SaliencyIndex(table, csv.parent, source)
