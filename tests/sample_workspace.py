"""A folder of hs inputs built from sample_data/ (real PneumoniaMNIST X-rays with a planted
drain), holding the files that the commands' --help examples name, under those names.

Inputs are copied or derived with hs itself (predict, stratify, cluster, calibrate, manifest
dicom, saliency); the only made-up values are seeded demographic columns (sex, age, site, view)
that the examples stratify by, a second rater's labels, and the header tags of a small DICOM
archive of sample images. Models are the tiny ONNX graphs of onnx_models.py: hs models, and
foreign ones (no hs metadata) for hs import. Tables in other tools' layouts are the fixtures of
tests/fixtures/tables, and a workbook of labels.csv.
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
from dicom_archive import small_dicom
from onnx_models import TinyModel, foreign

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
TABLES = ROOT / "tests" / "fixtures" / "tables"

# The DICOM archive: one patient per split, two images each, nested patient/study/series, no
# file extensions (as PACS exports come). hs manifest dicom writes no split; derive_outputs
# joins this one in for hs manifest check --group-col.
ARCHIVE_SPLITS = {"p01": "train", "p02": "val", "p03": "test"}
# The 14 findings of ChestX-ray14 / CheXNet, in its column order (findings.txt).
FINDINGS = [
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
    "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
]  # fmt: skip
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

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
    # Header metadata for hs cluster --describe, as hs manifest dicom --labels-out names it.
    labels.select(
        "image_id",
        pl.col("view").alias("ViewPosition"),
        pl.col("sex").alias("PatientSex"),
        pl.col("age").alias("PatientAge"),
    ).write_csv(folder / "meta.csv")
    # The cases a reviewer looks at (hs saliency --ids): two of each class.
    test.filter(pl.int_range(pl.len()).over("label") < 2).select("image_id").write_csv(folder / "ids.csv")
    # The same as a PACS export names them (hs saliency --id-col Accession, ;-separated).
    test.rename({"image_id": "Accession"}).write_csv(folder / "vendor_manifest.csv", separator=";")
    test.filter(pl.int_range(pl.len()).over("label") < 2).select(pl.col("image_id").alias("Accession")).write_csv(
        folder / "vendor_ids.csv", separator=";"
    )
    # Another tool's tables (ids img0000..., its own column names, a semicolon-and-decimal-comma
    # export) for the examples of --id-col, --score-col, --label-col and --decimal-comma.
    for name in ("vendor_preds.csv", "vendor_labels.csv", "european_semicolon_decimal_comma.csv"):
        shutil.copy(TABLES / name, folder / name)
    # A reading study's workbook: the labels on a sheet named labels, a finding's name as the
    # label column, and sites a reader could not tell written as "unknown".
    import xlsxwriter

    findings = labels.select(
        "image_id",
        pl.col("label").cast(pl.Int64).alias("Pneumothorax"),
        pl.when(pl.Series(rng.random(n) < 0.05)).then(pl.lit("unknown")).otherwise(pl.col("site")).alias("site"),
    )
    with xlsxwriter.Workbook(folder / "findings.xlsx") as book:
        pl.DataFrame({"note": ["Pneumothorax: 1 present, 0 absent; site unknown where not recorded"]}).write_excel(
            book, worksheet="readme"
        )
        findings.write_excel(book, worksheet="labels")

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
    _write_archive(folder, manifest, pixels)

    TinyModel(["0", "1"], size=(28, 28), embedding_dim=16, seed=0).save(folder / "model.onnx")
    TinyModel(["0", "1"], size=(28, 28), embedding_dim=16, seed=1).save(folder / "model_b.onnx")
    # Models made elsewhere, for hs import: a plain export that takes ImageNet-normalised RGB
    # 224 x 224 and gives one logit; a CheXNet-like multi-label model (14 logits, its own
    # normalisation); a torchxrayvision-like grey model expecting [-1024, 1024], probabilities out.
    foreign(TinyModel(["pneumonia"], size=(224, 224), channels=3, mean=[0.0] * 3, std=[1.0] * 3), folder / "plain.onnx")
    foreign(
        TinyModel(FINDINGS, size=(224, 224), channels=3, mean=IMAGENET_MEAN, std=IMAGENET_STD, seed=1),
        folder / "chexnet.onnx",
    )
    foreign(
        TinyModel(FINDINGS, size=(224, 224), seed=2), folder / "xrv.onnx", activation="Sigmoid", scale=(-1024, 1024)
    )
    (folder / "findings.txt").write_text("\n".join(FINDINGS) + "\n")


def _write_archive(folder: Path, manifest: pl.DataFrame, pixels: dict[str, np.ndarray]) -> None:
    """archive/: small uncompressed DICOMs of sample images (one patient per split, one image
    of each class), with the header tags the examples export, and site.key for --key-file."""
    rng = np.random.default_rng(1957)
    i = 0
    for patient, split in ARCHIVE_SPLITS.items():
        rows = manifest.filter(pl.col("split") == split).filter(pl.int_range(pl.len()).over("label") < 1)
        sex, age = str(rng.choice(["F", "M"])), f"{rng.integers(20, 90):03d}Y"
        for n, image_id in enumerate(rows["image_id"], 1):
            i += 1
            small_dicom(
                folder / "archive" / patient / "st1" / "se1" / str(n),
                i,
                patient[1:],
                image=pixels[image_id],
                ViewPosition=str(rng.choice(["AP", "PA"])),
                PatientSex=sex,
                PatientAge=age,
                BodyPartExamined="CHEST",
                Manufacturer=str(rng.choice(["Agfa", "Philips"])),
                KVP="110",
                ImagerPixelSpacing=["0.139", "0.139"],
            )
    # hs manifest dicom --patient-key --key-file: at least 16 bytes, kept next to the archive.
    (folder / "site.key").write_text("5f1c0e7a9b3d42e6a8c1f0b7d2e94a6c" * 2 + "\n")


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
    clusters, a calibration sidecar, saliency maps (maps/) and the archive's manifest."""
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
    # The label-issue examples read `hs train --cross-fit`'s out-of-fold file. The tiny models
    # were never trained, so their predictions are out of sample for every image: a stand-in
    # with the same format (its sidecar cannot say so; hs label-issues warns, -q silences it).
    (folder / "oof").mkdir()
    run("predict", "model.onnx", "manifest.csv", "-o", "oof/preds_oof.csv", "-q")
    run("label-issues", "oof/preds_oof.csv", "manifest.csv", "-o", "ranked.csv", "-q")
    run("saliency", "model.onnx", "manifest.csv", "--ids", "ids.csv", "-o", "maps/", "-q")
    # hs manifest check --group-col needs a split column, which hs manifest dicom does not
    # write: the one each patient's images came from is joined in, as a user would (docs/data.md).
    # hs's sidecar described the file before the join, so it goes.
    dicom = folder / "archive" / "manifest.csv"
    run("manifest", "dicom", "archive/", "-o", "archive/manifest.csv", "--patient-key", "--key-file", "site.key", "-q")
    patient = pl.col("path").str.split("/").list.first()
    pl.read_csv(dicom, infer_schema=False).with_columns(
        patient.replace_strict(ARCHIVE_SPLITS).alias("split")
    ).write_csv(dicom)
    Path(f"{dicom}.meta.json").unlink()


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
