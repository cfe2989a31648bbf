"""scripts/perturb_sweep_table.py, the last step of `make perturb-sweep`, on stratify outputs of
perturbed manifests (the predictions are a stand-in: mean brightness of each image)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import polars as pl
from conftest import ROOT
from PIL import Image

from hstool.audit.strata_table import StratifyOptions
from hstool.audit.stratify import run_stratify
from hstool.data.images import load_image
from hstool.data.manifest import read_manifest
from hstool.io.render import emit
from hstool.synth.perturb import Perturbation
from hstool.synth.perturbed import run_perturb


def _stratify_brightness(manifest, labels, run_dir):
    m = read_manifest(str(manifest))
    preds = run_dir / "preds.csv"
    pl.DataFrame({"image_id": m.ids, "score": [float(load_image(p).mean()) for p in m.paths]}).write_csv(preds)
    result = run_stratify(str(preds), str(labels), StratifyOptions(threshold="youden"))
    emit(result.table, fmt="csv", output=str(run_dir / "strata.csv"), meta=result.meta)


def test_table_of_auc_by_value(tmp_path):
    rng = np.random.default_rng(1)
    src = tmp_path / "src"
    src.mkdir()
    rows = []
    for i in range(40):
        label = i % 2
        pixels = np.clip(rng.normal(100 + 40 * label, 30, (16, 16)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(src / f"i{i}.png")
        rows.append({"image_id": f"i{i}", "path": f"i{i}.png", "label": label})
    pl.DataFrame(rows).write_csv(src / "manifest.csv")
    labels = tmp_path / "labels.csv"
    pl.DataFrame(rows).drop("path").write_csv(labels)
    out = tmp_path / "sweep"
    (out / "original").mkdir(parents=True)
    _stratify_brightness(src / "manifest.csv", labels, out / "original")
    for d in (1, 30):
        run_perturb(str(src / "manifest.csv"), str(out / f"lowpass_{d}"), Perturbation("lowpass", d))
        _stratify_brightness(out / f"lowpass_{d}" / "manifest.csv", labels, out / f"lowpass_{d}")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "perturb_sweep_table.py"), str(out)], check=True)
    table = pl.read_csv(out / "auc_by_value.csv")
    assert table["run"].to_list() == ["original", "lowpass_1", "lowpass_30"]
    assert table["value"].to_list() == [None, 1.0, 30.0]
    auc = dict(zip(table["run"], table["auc"]))
    # Diameter 1 keeps each image's mean, and the stand-in score is the mean: nothing changes.
    # Diameter 30 exceeds the 16 x 16 diagonal: the identity.
    assert auc["lowpass_1"] == auc["original"] == auc["lowpass_30"]
    assert "| original | original |" in (out / "auc_by_value.md").read_text()
