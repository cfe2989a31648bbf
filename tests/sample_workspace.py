"""A folder of hs inputs built from sample_data/ (real PneumoniaMNIST X-rays with a planted
drain), holding the files that the commands' --help examples name, under those names.

Inputs are copied or derived with hs itself (predict, stratify, cluster, calibrate); the only
made-up values are seeded demographic columns (sex, age, site, view) that the examples
stratify by, and a second rater's labels. Models are the tiny ONNX graphs of onnx_models.py.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
from onnx_models import TinyModel

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"

Run = Callable[..., None]  # run("predict", "model.onnx", ...): hs in the workspace, must succeed


def build_inputs(folder: Path) -> None:
    """The files no hs command makes: manifests, labels, models, images in the layouts shown."""
    manifest = pl.read_csv(SAMPLE / "manifest.csv", infer_schema=False)
    # 100 test images of each class: enough for every statistic, small enough to keep tests fast.
    test = manifest.filter(pl.col("split") == "test").filter(pl.int_range(pl.len()).over("label") < 100)
    # Real files, not symbolic links: hs refuses image paths that resolve outside the manifest's folder.
    (folder / "images").mkdir(parents=True)
    for path in test["path"]:
        shutil.copy(SAMPLE / path, folder / path)
    test.write_csv(folder / "manifest.csv")
    for sub in ("test", "cxr"):  # the same images, as other examples name them
        shutil.copytree(folder / "images", folder / sub / "images", copy_function=link_or_copy)
        shutil.copy(folder / "manifest.csv", folder / sub / "manifest.csv")
    shutil.copy(folder / "manifest.csv", folder / "m.csv")

    labels = pl.read_csv(SAMPLE / "labels_test.csv", infer_schema=False).join(
        test.select("image_id"), on="image_id", how="semi", maintain_order="left"
    )
    rng = np.random.default_rng(2019)
    n = labels.height
    labels = labels.with_columns(
        pl.Series("sex", rng.choice(["F", "M"], n)),
        pl.Series("age", rng.integers(20, 90, n)),
        pl.Series("site", rng.choice(["A", "B", "C"], n)),
        pl.Series("view", rng.choice(["AP", "PA"], n)),
    )
    labels.write_csv(folder / "labels.csv")
    shutil.copy(folder / "labels.csv", folder / "val_labels.csv")
    # Two label sources for hs agree: the expert's labels, and an NLP labeller that flips 10%.
    expert = labels.select("image_id", pl.col("label").alias("pneumothorax"), "view", "age")
    expert.write_csv(folder / "expert_labels.csv")
    flip = rng.random(n) < 0.1
    truth = expert["pneumothorax"].to_numpy()
    expert.with_columns(pl.Series("pneumothorax", np.where(flip, np.where(truth == "1", "0", "1"), truth))).write_csv(
        folder / "nlp_labels.csv"
    )
    labels.select("image_id", "label").write_csv(folder / "radiologist.csv")

    # Image folders for hs manifest folder (with split and class folders) and a MedMNIST-style .npz.
    pixels = _sample_pixels(manifest)
    for split_dir, klass in (("train", "NORMAL"), ("train", "PNEUMONIA"), ("test", "NORMAL"), ("test", "PNEUMONIA")):
        target = folder / "chest_xray" / split_dir / klass
        target.mkdir(parents=True)
        for row in (
            manifest.filter((pl.col("split") == split_dir) & (pl.col("label") == str(int(klass == "PNEUMONIA"))))
            .head(3)
            .iter_rows(named=True)
        ):
            shutil.copy(SAMPLE / row["path"], target / Path(row["path"]).name)
    (folder / "scans").mkdir()
    for row in manifest.head(4).iter_rows(named=True):
        shutil.copy(SAMPLE / row["path"], folder / "scans" / Path(row["path"]).name)
    arrays = {}
    for split in ("train", "val", "test"):
        rows = manifest.filter(pl.col("split") == split) if split != "test" else test
        arrays[f"{split}_images"] = np.stack([pixels[i] for i in rows["image_id"]])
        arrays[f"{split}_labels"] = rows["label"].cast(pl.Int64).to_numpy().reshape(-1, 1)
    np.savez(folder / "pneumoniamnist.npz", **arrays)
    _write_idx(folder, "train", arrays["train_images"][:20], arrays["train_labels"][:20, 0])
    _write_idx(folder, "t10k", arrays["test_images"][:20], arrays["test_labels"][:20, 0])
    (folder / "review").mkdir()  # hs audit -o review/sheet.csv writes into an existing folder

    TinyModel(["0", "1"], size=(28, 28), embedding_dim=16, seed=0).save(folder / "model.onnx")
    TinyModel(["0", "1"], size=(28, 28), embedding_dim=16, seed=1).save(folder / "model_b.onnx")


def _write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    """MNIST idx files (big-endian magic 0x803 / 0x801, then the sizes, then the bytes), gzipped."""
    n, h, w = images.shape
    with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">IIII", 0x803, n, h, w) + images.astype(np.uint8).tobytes())
    with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes())


def link_or_copy(source: str, target: str) -> None:
    """Images are hard-linked (hs never writes them); every other file is copied, so that a
    command that rewrites it in one copy of a workspace leaves the others alone."""
    if source.endswith(".png"):
        try:
            os.link(source, target)
            return
        except OSError:  # another file system
            pass
    shutil.copy2(source, target)


def _sample_pixels(manifest: pl.DataFrame) -> dict[str, np.ndarray]:
    from PIL import Image

    return {
        row["image_id"]: np.asarray(Image.open(SAMPLE / row["path"]).convert("L"))
        for row in manifest.iter_rows(named=True)
    }


def derive_outputs(folder: Path, run: Run) -> None:
    """The files hs writes that the examples read: predictions, embeddings, shards, strata,
    clusters and a calibration sidecar."""
    run("predict", "model.onnx", "manifest.csv", "-o", "preds.csv", "--embeddings", "emb.npy", "-q")
    run("predict", "model_b.onnx", "manifest.csv", "-o", "preds_b.csv", "-q")
    for name in ("preds_a.csv", "val_preds.csv", "test_preds.csv"):
        shutil.copy(folder / "preds.csv", folder / name)
    for i in range(4):
        run("predict", "model.onnx", "manifest.csv", "-o", f"preds.{i}.csv", "--shard", f"{i}/4", "-q")
    for i in range(2):
        run("embed", "model.onnx", "manifest.csv", "-o", f"emb.{i}.npy", "--shard", f"{i}/2", "-q")
    run("stratify", "preds.csv", "labels.csv", "-o", "strata.csv", "-q")
    run("cluster", "emb.npy", "preds.csv", "labels.csv", "-o", "clusters.csv", "-q")
    run("calibrate", "preds.csv", "labels.csv", "-o", "preds_cal.csv", "-q")


def in_process_runner(folder: Path) -> Run:
    """hs ARGS in `folder`, in this process; raises with the command's stderr if it fails."""
    from typer.testing import CliRunner

    from hstool.cli.app import app

    def run(*args: str) -> None:
        here = Path.cwd()
        argv = sys.argv
        try:
            os.chdir(folder)
            sys.argv = ["hs", *args]
            result = CliRunner().invoke(app, list(args))
        finally:
            os.chdir(here)
            sys.argv = argv
        if result.exit_code != 0:
            raise AssertionError(f"hs {' '.join(args)} failed ({result.exit_code}): {result.stderr}")

    return run
