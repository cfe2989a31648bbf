"""Where `hs synth` planted each shortcut: a mask and a box per image, so that a saliency map
can be scored against the truth (docs/synth.md, "regions.csv").

`OUT/regions.csv`: `image_id,kind,mask,y0,x0,y1,x1,area`, one row per planted drain, in
manifest order. `mask` is `regions/<image_id>.png` (8-bit, 255 inside the region, 0 outside, at
the image's own size); the region is every pixel the drain changed (coverage above 0), so
nothing the planting touched lies outside it. The box is the mask's bounding box in pixel
indices (rows y0..y1-1, columns x0..x1-1); `area` is the mask's share of the image's pixels,
which is also the chance level of a pointing game on that image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from PIL import Image

from hstool.data.build import save_png
from hstool.errors import InputError
from hstool.io.atomic import write_text
from hstool.io.sidecar import write_sidecar
from hstool.io.tables import KEY, read_table

REGIONS_NAME = "regions.csv"
REGIONS_SCHEMA = "hs.synth-regions/1"
REGIONS_FOLDER = "regions"
COLUMNS = (KEY, "kind", "mask", "y0", "x0", "y1", "x1", "area")


@dataclass(frozen=True)
class Region:
    """One planted shortcut: its kind, its mask file (relative to the synth folder) and box."""

    image_id: str
    kind: str
    mask: str
    box: tuple[int, int, int, int]  # y0, x0, y1, x1 (end excluded)
    area: float

    def row(self) -> dict[str, Any]:
        y0, x0, y1, x1 = self.box
        return {
            KEY: self.image_id,
            "kind": self.kind,
            "mask": self.mask,
            "y0": y0,
            "x0": x0,
            "y1": y1,
            "x1": x1,
            "area": self.area,
        }


def save_region(folder: Path, image_id: str, kind: str, coverage: np.ndarray) -> Region:
    """Write the mask of `coverage > 0` as `regions/<image_id>.png` and describe it."""
    mask = coverage > 0
    name = f"{REGIONS_FOLDER}/{image_id}.png"
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    save_png(target, mask.astype(np.uint8) * 255)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    box = (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1) if rows.size else (0, 0, 0, 0)
    return Region(image_id, kind, name, box, float(mask.mean()))


def write_regions(folder: Path, regions: list[Region], record: dict[str, Any]) -> None:
    """regions.csv with its sidecar (`record` is the labels' hs.synth/1 record, re-labelled)."""
    text = pl.DataFrame([r.row() for r in regions]).select(COLUMNS).write_csv() if regions else ",".join(COLUMNS) + "\n"
    path = folder / REGIONS_NAME
    write_text(path, text)
    columns = {
        "kind": "what was planted (drain)",
        "mask": "regions/<image_id>.png: 255 where the planting changed the pixel, else 0",
        "y0, x0, y1, x1": "the mask's bounding box in pixel indices (end excluded)",
        "area": "the mask's share of the image (the chance level of a pointing game)",
    }
    write_sidecar(path, {**record, "schema": REGIONS_SCHEMA, "rows": len(regions), "columns": columns})


def read_region_masks(path: str) -> dict[str, np.ndarray]:
    """image_id -> boolean mask, from a regions.csv and the mask files next to it."""
    table, source = read_table(path, role="regions", required=(KEY, "mask"), string_columns=("mask",))
    folder = Path(path).parent
    masks = {}
    for image_id, name in zip(table[KEY].to_list(), table["mask"].to_list()):
        try:
            with Image.open(folder / name) as im:
                masks[image_id] = np.asarray(im.convert("L")) > 127
        except OSError as exc:
            raise InputError(
                f"{source.name}: mask {name!r} of {image_id!r} cannot be read ({exc}); rerun hs synth"
            ) from None
    return masks
