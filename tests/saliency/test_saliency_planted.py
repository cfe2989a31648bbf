"""The measured check in small (benchmarks/saliency_check.py is the full one): on real chest
X-rays with a planted drain and a model that learned it, occlusion points at the drain.

The model is a logistic regression on raw pixels (scikit-learn), trained where drains mark
every training positive and no negative, so the drain is the easiest signal there is. Its
occlusion maps, on test positives with a drain that it scores positive, must put their maximum
inside the planted region far more often than chance (the region's share of the image), and
more of their positive mass there than a flat map would."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from PIL import Image

from hstool.saliency.occlusion import Occlusion, occlusion_maps
from hstool.saliency.pointing import score_region
from hstool.synth.base import BaseSource
from hstool.synth.regions import read_region_masks
from hstool.synth.run import run_synth
from hstool.synth.spec import SynthSpec


def test_occlusion_points_at_a_learned_drain(data_dir, tmp_path):
    sklearn = pytest.importorskip("sklearn.linear_model")
    npz = data_dir / "pneumoniamnist" / "pneumoniamnist.npz"
    spec = SynthSpec.from_options(seed=4, per_class="train=150,test=15", spurious="drain:pos=1,neg=0")
    run_synth(BaseSource(npz=str(npz), splits=("train", "test")), spec, str(tmp_path))
    manifest = pl.read_csv(tmp_path / "manifest.csv", infer_schema=False)
    pixels = np.stack([np.asarray(Image.open(tmp_path / p), dtype=np.float64) / 255 for p in manifest["path"]])
    train = (manifest["split"] == "train").to_numpy()
    positive = (manifest["label"] == "1").to_numpy()
    model = sklearn.LogisticRegression(C=0.1, max_iter=5000).fit(
        pixels[train].reshape(train.sum(), -1), positive[train]
    )

    def probabilities(images: np.ndarray) -> np.ndarray:
        return model.predict_proba(images.reshape(len(images), -1))

    test = ~train & positive
    images = pixels[test][:, None].astype(np.float32)
    maps, scores = occlusion_maps(probabilities, images, np.ones(len(images), int), Occlusion(4, 2), batch=64)
    masks = read_region_masks(str(tmp_path / "regions.csv"))
    ids = manifest["image_id"].filter(pl.Series(test)).to_list()
    results = [score_region(heat, masks[i]) for i, heat, s in zip(ids, maps, scores) if s >= 0.5]
    assert len(results) >= 10
    hit = np.mean([r.hit for r in results])
    mass = np.mean([r.mass for r in results])
    chance = np.mean([r.chance for r in results])
    assert chance < 0.1 and hit > 3 * chance and mass > 2 * chance, (hit, mass, chance)
