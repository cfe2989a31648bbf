"""`hs train --cross-fit K`: folds, out-of-fold predictions, and refusals."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from train_helpers import one_thread, separable_set  # noqa: F401  (one_thread is a fixture)

from hstool.train.cross_fit import assign_folds

pytestmark = pytest.mark.usefixtures("one_thread")
QUICK = ("--epochs", "1", "--workers", "0", "--batch-size", "16", "--no-epoch-weights", "--lr", "1e-2")


@pytest.mark.parametrize(("counts", "folds"), [((10, 7, 3), 3), ((50, 50), 5), ((4, 9), 4)])
def test_folds_are_stratified_balanced_and_seeded(counts, folds):
    labels = [c for c, n in zip("abc", counts) for _ in range(n)]
    fold = assign_folds(labels, folds, seed=1)
    sizes = np.bincount(fold, minlength=folds)
    assert sizes.max() - sizes.min() <= 1
    for klass, n in zip("abc", counts):
        per_fold = np.bincount(fold[np.array(labels) == klass], minlength=folds)
        assert per_fold.max() - per_fold.min() <= 1 and per_fold.sum() == n
    assert (assign_folds(labels, folds, seed=1) == fold).all()
    assert not (assign_folds(labels, folds, seed=2) == fold).all()


@pytest.mark.slow
def test_every_training_image_gets_a_prediction_from_a_model_that_never_saw_it(run_hs, tmp_path):
    manifest = separable_set(tmp_path / "data", n_per_class=12, split=True)
    table = pl.read_csv(manifest)
    # A test row: left out of the cross-fit.
    manifest.write_text(manifest.read_text() + "t0,images/c0_000.png,0,a,test\n")
    out = tmp_path / "oof"
    # Two folds without validation rows: each fold is a full training run and ONNX export.
    res = run_hs("train", str(manifest), "-o", str(out), "--cross-fit", "2", "--val-frac", "0", *QUICK)
    assert res.returncode == 0, res.stderr
    preds = pl.read_csv(out / "preds_oof.csv")
    assert preds.columns == ["image_id", "score", "pred"]
    assert preds["image_id"].to_list() == table["image_id"].to_list()  # train and val rows, manifest order
    meta = json.loads((out / "preds_oof.csv.meta.json").read_text())
    assert meta["schema"] == "hs.preds/1" and meta["out_of_sample"] is True
    assert meta["cross_fit"]["fold_sizes"] == [12, 12] and meta["rows"] == 24
    held_out_by = {}
    for i in range(2):
        fold = pl.read_csv(out / f"fold_{i}" / "manifest.csv")
        assert set(fold["split"]) == {"train", "test"}
        held = pl.read_csv(out / f"fold_{i}" / "heldout_preds.csv")
        assert set(held["image_id"]) == set(fold.filter(pl.col("split") == "test")["image_id"])
        held_out_by.update({image_id: i for image_id in held["image_id"]})
        # The fold's model (a plain hs train run) trained on the other folds only.
        model_meta = json.loads((out / f"fold_{i}" / "model.onnx.meta.json").read_text())
        assert (model_meta["n_train"], model_meta["n_val"]) == (12, 0)
        joined = held.join(preds, on="image_id", suffix="_oof")
        assert (joined["score"] == joined["score_oof"]).all()
    assert sorted(held_out_by) == sorted(table["image_id"].to_list())
    # hs label-issues takes it as out of sample: no warning.
    ranked = run_hs("label-issues", str(out / "preds_oof.csv"), str(manifest), "-o", str(tmp_path / "r.csv"))
    assert ranked.returncode == 0, ranked.stderr
    assert "warning" not in ranked.stderr.decode()
    again = run_hs("train", str(manifest), "-o", str(out), "--cross-fit", "2", *QUICK)
    assert again.returncode == 1 and "holds an earlier cross-fit; pass --force" in again.stderr.decode()


def test_cross_fit_reads_the_manifest_with_the_table_options(run_hs, tmp_path):
    """A manifest with its own id column name and separator: the folds (written by hs) still read."""
    manifest = separable_set(tmp_path / "data", n_per_class=8, split=True)
    table = pl.read_csv(manifest)
    theirs = manifest.with_name("theirs.csv")
    table.rename({"image_id": "case"}).write_csv(theirs, separator=";")
    out = tmp_path / "oof"
    args = ("--cross-fit", "2", "--val-frac", "0", "--id-col", "case", "--delimiter", ";", *QUICK)
    res = run_hs("train", str(theirs), "-o", str(out), *args)
    assert res.returncode == 0, res.stderr
    assert pl.read_csv(out / "preds_oof.csv")["image_id"].to_list() == table["image_id"].to_list()


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (("--cross-fit", "1"), 2, "--cross-fit 1: needs at least 2 folds"),
        (("--cross-fit", "3", "--label-noise", "label=0:0.5"), 2, "hs synth --noisy"),
        (("--cross-fit", "3", "--resume"), 2, "--cross-fit cannot --resume"),
        (("--cross-fit", "13"), 1, "fewer training images than --cross-fit 13 folds"),
    ],
)
def test_refusals_come_before_any_training(run_hs, tmp_path, extra, code, message):
    manifest = separable_set(tmp_path / "data", n_per_class=12)
    res = run_hs("train", str(manifest), "-o", str(tmp_path / "oof"), *QUICK, *extra)
    err = res.stderr.decode()
    assert res.returncode == code, err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "oof" / "fold_0").exists()


def test_torchrun_is_refused(run_hs, tmp_path, monkeypatch):
    manifest = separable_set(tmp_path / "data", n_per_class=12)
    monkeypatch.setenv("WORLD_SIZE", "2")
    res = run_hs("train", str(manifest), "-o", str(tmp_path / "oof"), "--cross-fit", "2", *QUICK)
    assert res.returncode == 2 and "--cross-fit runs in one process" in res.stderr.decode()
