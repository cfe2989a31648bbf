"""`hs synth` records where it planted each drain (regions.csv + masks): the mask holds every
pixel the planting changed, the box and area describe the mask, one row per drained image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from hstool.synth.base import BaseSource
from hstool.synth.regions import read_region_masks
from hstool.synth.run import run_synth
from hstool.synth.spec import SynthSpec


@pytest.fixture(scope="module")
def synthesised(tmp_path_factory) -> tuple[Path, Path]:
    rng = np.random.default_rng(3)
    base = tmp_path_factory.mktemp("base") / "base.npz"
    labels = np.r_[np.zeros(20, np.uint8), np.ones(20, np.uint8)]
    np.savez(base, train_images=rng.integers(40, 201, (40, 28, 28), dtype=np.uint8), train_labels=labels[:, None])
    out = tmp_path_factory.mktemp("synth")
    spec = SynthSpec.from_options(seed=2, spurious="drain:pos=0.5,neg=0.25")
    run_synth(BaseSource(npz=str(base), splits=("train",)), spec, str(out), force=True)
    return base, out


def test_one_region_per_drain_and_the_mask_holds_every_changed_pixel(synthesised) -> None:
    base, out = synthesised
    labels = pl.read_csv(out / "labels.csv", infer_schema=False)
    regions = pl.read_csv(out / "regions.csv", schema_overrides={"image_id": pl.String})
    drained = labels.filter(pl.col("drain") == "yes")["image_id"].to_list()
    assert regions["image_id"].to_list() == drained and len(drained) == 15  # 10 of 20 pos + 5 of 20 neg
    masks = read_region_masks(str(out / "regions.csv"))
    with np.load(base) as data:
        originals = data["train_images"]
    for row in regions.iter_rows(named=True):
        image_id = row["image_id"]
        with Image.open(out / "images" / f"{image_id}.png") as im:
            pixels = np.asarray(im)
        changed = pixels != originals[int(image_id.rsplit("_", 1)[1])]
        mask = masks[image_id]
        assert changed.any() and not (changed & ~mask).any()  # nothing changed outside the region
        ys, xs = np.nonzero(mask)
        assert (row["y0"], row["x0"], row["y1"], row["x1"]) == (ys.min(), xs.min(), ys.max() + 1, xs.max() + 1)
        assert row["area"] == pytest.approx(mask.sum() / mask.size)
        assert 0 < row["area"] < 0.5
    for image_id in set(labels["image_id"]) - set(drained):  # undrained images are unchanged
        with Image.open(out / "images" / f"{image_id}.png") as im:
            assert np.array_equal(np.asarray(im), originals[int(image_id.rsplit("_", 1)[1])])


def test_regions_sidecar_and_no_file_without_a_drain(synthesised, tmp_path) -> None:
    base, out = synthesised
    meta = json.loads((out / "regions.csv.meta.json").read_text())
    assert meta["schema"] == "hs.synth-regions/1" and meta["rows"] == 15 and meta["seed"] == 2
    run_synth(BaseSource(npz=str(base), splits=("train",)), SynthSpec.from_options(seed=2), str(tmp_path / "plain"))
    assert not (tmp_path / "plain" / "regions.csv").exists()
