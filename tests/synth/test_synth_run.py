"""`hs synth` end to end on small array files: exact counts, ground truth that matches the
pixels, byte-identical reruns, and errors that write nothing."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from hstool.data.manifest import read_manifest
from hstool.errors import InputError, OptionError, OutputError, UsageError
from hstool.synth.base import BaseSource
from hstool.synth.run import run_synth
from hstool.synth.spec import SynthSpec

SIZES = {"train": (30, 20), "val": (6, 4), "test": (12, 18)}  # (negatives, positives) per split


@pytest.fixture(scope="module")
def npz(tmp_path_factory) -> Path:
    """Binary 0/1 images in three splits; pixels in [40, 200] so a drain always shows."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, (neg, pos) in SIZES.items():
        labels = rng.permutation(np.r_[np.zeros(neg, np.uint8), np.ones(pos, np.uint8)])
        arrays[f"{split}_images"] = rng.integers(40, 201, (neg + pos, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = labels[:, None]
    path = tmp_path_factory.mktemp("base") / "base.npz"
    np.savez(path, **arrays)
    return path


def synth(npz: Path, out: Path, **options) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    source_options = {k: options.pop(k) for k in ("splits", "limit") if k in options}
    run_synth(BaseSource(npz=str(npz), **source_options), SynthSpec.from_options(**options), str(out))
    manifest = pl.read_csv(out / "manifest.csv", infer_schema=False)
    labels = pl.read_csv(out / "labels.csv", infer_schema=False)
    return manifest, labels, json.loads((out / "labels.csv.meta.json").read_text())


def base_pixels(npz: Path, image_id: str) -> np.ndarray:
    split, index = image_id.rsplit("_", 1)
    with np.load(npz) as data:
        return data[f"{split}_images"][int(index)]


def png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


DEMO = {"spurious": "drain:pos=0.9,neg=0.1,test.pos=0.5,test.neg=0.25", "seed": 5}


def test_drain_counts_columns_and_pixels(npz, tmp_path):
    manifest, labels, meta = synth(npz, tmp_path / "out", **DEMO)
    assert manifest.columns == ["image_id", "path", "label", "split", "drain", "drain_pos"]
    assert labels.columns == ["image_id", "label", "split", "drain", "drain_pos"]
    assert manifest["image_id"].to_list() == labels["image_id"].to_list()
    # round(F * n), halves up: train 0.9 * 20 = 18 and 0.1 * 30 = 3; val 0.9 * 4 = 3.6 -> 4 and
    # 0.1 * 6 = 0.6 -> 1; test 0.5 * 18 = 9 and 0.25 * 12 = 3.
    expected = {"train": (18, 3), "val": (4, 1), "test": (9, 3)}
    for split, (pos, neg) in expected.items():
        rows = labels.filter(pl.col("split") == split)
        assert rows.filter((pl.col("label") == "1") & (pl.col("drain") == "yes")).height == pos
        assert rows.filter((pl.col("label") == "0") & (pl.col("drain") == "yes")).height == neg
        assert meta["counts"][split]["drain"] == {
            "pos": {"planted": pos, "of": SIZES[split][1]},
            "neg": {"planted": neg, "of": SIZES[split][0]},
        }
        assert meta["counts"][split]["classes"] == {"0": SIZES[split][0], "1": SIZES[split][1]}
    # drain_pos is the drain of positives and empty for every negative.
    for row in labels.iter_rows(named=True):
        assert row["drain_pos"] == (row["drain"] if row["label"] == "1" else None)
    # The pixels: a drain image differs from its base image along a line of bright pixels,
    # every other image is the base image, byte for byte.
    for row in manifest.iter_rows(named=True):
        out = png(tmp_path / "out" / row["path"]).astype(int)
        base = base_pixels(npz, row["image_id"]).astype(int)
        diff = out - base
        assert diff.min() >= 0
        if row["drain"] == "yes":
            assert (diff >= 20).sum() >= 15, row["image_id"]
            # Each pixel moved strength x coverage of the way to white; summed, that is the
            # tube's area times its strength. The shortest tube inside the image runs from
            # y >= 0.55 H to y <= 0.30 H and from x <= 0.04 W to x >= 0.20 W: about 8 pixels.
            assert (diff / (255 - base)).sum() >= 0.85 * 8 * 1.4 - 1, row["image_id"]
        else:
            assert diff.max() == 0, row["image_id"]
    assert meta["schema"] == "hs.synth/1" and meta["seed"] == 5 and meta["positive_class"] == "1"
    assert meta["inputs"][0]["rows"] == 90 and len(meta["inputs"][0]["sha256"]) == 64
    assert meta["parameters"]["spurious"]["fractions"] == {"pos": 0.9, "neg": 0.1, "test.pos": 0.5, "test.neg": 0.25}
    manifest_meta = json.loads((tmp_path / "out" / "manifest.csv.meta.json").read_text())
    assert manifest_meta["schema"] == "hs.manifest/1" and manifest_meta["counts"] == meta["counts"]
    read_manifest(str(tmp_path / "out" / "manifest.csv"), require_label=True).check_files()


def test_per_split_labels_files(npz, tmp_path):
    _, labels, _ = synth(npz, tmp_path / "out", **DEMO)
    for split in ("train", "val", "test"):
        part = pl.read_csv(tmp_path / "out" / f"labels_{split}.csv", infer_schema=False)
        assert part.columns == ["image_id", "label", "drain", "drain_pos"]
        assert part.equals(labels.filter(pl.col("split") == split).drop("split"))
        meta = json.loads((tmp_path / "out" / f"labels_{split}.csv.meta.json").read_text())
        assert meta["schema"] == "hs.synth/1" and meta["rows"] == part.height


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(npz, tmp_path):
    options = {**DEMO, "subtle": "1:0.5", "noisy": ["0:0.2"], "rare": ["1:0.5"], "per_class": "15"}
    _, labels, _ = synth(npz, tmp_path / "a", **options)
    synth(npz, tmp_path / "b", **options)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    # train 15 negatives + 8 of 15 positives (rare 0.5, 7.5 rounds up), val 6 + 4, test 12 + 15.
    # images, manifest and 4 labels files, sidecars; regions.csv + sidecar and one mask per drain
    drains = labels.filter(pl.col("drain") == "yes").height
    assert labels.height == 60 and len(files) == 60 + 10 + 2 + drains
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    synth(npz, tmp_path / "c", **{**options, "seed": 6})
    assert (tmp_path / "a" / "labels.csv").read_bytes() != (tmp_path / "c" / "labels.csv").read_bytes()


def test_adding_a_stratum_leaves_the_others_alone(npz, tmp_path):
    """Each step has its own random stream: adding --subtle does not move the drains."""
    _, plain, _ = synth(npz, tmp_path / "a", **DEMO)
    _, more, _ = synth(npz, tmp_path / "b", **DEMO, subtle="1:0.3")
    assert plain["drain"].to_list() == more["drain"].to_list()


def test_rare_noisy_and_per_class(npz, tmp_path):
    manifest, labels, meta = synth(
        npz, tmp_path / "out", per_class="train=16,test=10", rare=["1:0.25"], noisy=["0:0.5"], seed=1
    )
    counts = labels.group_by("split", "label").len().sort("split", "label").rows()
    # train: 16 negatives, 16 positives of which a quarter kept (4); val untouched (6 + 4); test 10 + 10.
    assert counts == [
        ("test", "0", 10),
        ("test", "1", 10),
        ("train", "0", 16),
        ("train", "1", 4),
        ("val", "0", 6),
        ("val", "1", 4),
    ]
    assert manifest.columns == ["image_id", "path", "label", "split", "label_true", "label_noisy"]
    assert labels.columns == ["image_id", "label", "split", "label_noisy"]
    flipped = manifest.filter(pl.col("label_noisy") == "yes")
    # Half of the 16 train negatives now say 1; nothing else changed.
    assert flipped.height == 8 and set(flipped["split"]) == {"train"} and set(flipped["label_true"]) == {"0"}
    assert (flipped["label"] == "1").all()
    same = manifest.filter(pl.col("label_noisy") == "no")
    assert (same["label"] == same["label_true"]).all()
    assert labels["label"].to_list() == manifest["label_true"].to_list()  # labels.csv holds the truth
    assert meta["counts"]["train"]["rare"] == {"1": {"kept": 4, "of": 16}}
    assert meta["counts"]["train"]["noisy"] == {"0": {"flipped": 8, "of": 16}}
    assert "rare" not in meta["counts"]["test"] and "noisy" not in meta["counts"]["val"]


def test_superclasses_and_noise_to_another_superclass(tmp_path):
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(6, dtype=np.uint8), 10)
    np.savez(
        tmp_path / "six.npz",
        train_images=rng.integers(0, 256, (60, 8, 8), dtype=np.uint8),
        train_labels=labels[:, None],
        test_images=rng.integers(0, 256, (60, 8, 8), dtype=np.uint8),
        test_labels=labels[:, None],
    )
    manifest, table, meta = synth(
        tmp_path / "six.npz",
        tmp_path / "out",
        superclass=["a=0,1", "b=2,3", "c=4,5"],
        rare=["5:0.3"],
        noisy=["1:0.4"],
        seed=2,
    )
    assert table.columns == ["image_id", "label", "split", "subclass", "label_noisy"]
    mapping = {"0": "a", "1": "a", "2": "b", "3": "b", "4": "c", "5": "c"}
    assert all(mapping[s] == lab for s, lab in table.select("subclass", "label").rows())
    train = manifest.filter(pl.col("split") == "train")
    assert train.filter(pl.col("subclass") == "5").height == 3
    assert manifest.filter((pl.col("split") == "test") & (pl.col("subclass") == "5")).height == 10
    noisy = train.filter(pl.col("label_noisy") == "yes")
    assert noisy.height == 4 and set(noisy["subclass"]) == {"1"}
    assert set(noisy["label"]) <= {"b", "c"}  # another superclass, never the true one
    assert meta["positive_class"] is None and meta["counts"]["train"]["classes"] == {"a": 20, "b": 20, "c": 13}


def test_subtle_lesions_are_fainter(npz, tmp_path):
    manifest, labels, meta = synth(npz, tmp_path / "out", subtle="1:0.5:0.1", seed=3)
    assert labels.columns == ["image_id", "label", "split", "subtle"]
    assert meta["counts"]["train"]["subtle"] == {"faint": 10, "of": 20}
    peaks = {"yes": [], "no": []}
    for row in manifest.iter_rows(named=True):
        diff = png(tmp_path / "out" / row["path"]).astype(int) - base_pixels(npz, row["image_id"]).astype(int)
        if row["label"] == "0":
            assert row["subtle"] is None and diff.max() == 0
        else:
            peaks[row["subtle"]].append(diff.max())
    # At its centre a lesion moves a pixel 0.1 (faint) or 0.6 (clear) of the way to white; base
    # pixels are at most 200, so a clear lesion adds at least 0.6 * 55 = 33 levels.
    assert min(peaks["no"]) >= 30 and max(peaks["yes"]) < min(peaks["no"])
    assert min(peaks["yes"]) > 0


def test_named_binary_classes_need_positive_and_write_0_1(tmp_path):
    rng = np.random.default_rng(2)
    np.savez(
        tmp_path / "b.npz",
        train_images=rng.integers(0, 256, (10, 8, 8), dtype=np.uint8),
        train_labels=np.arange(10)[:, None] % 2,
    )
    source = BaseSource(npz=str(tmp_path / "b.npz"), class_names=("normal", "pneumonia"))
    with pytest.raises(UsageError, match="the classes are 'normal' and 'pneumonia': pass positive"):
        run_synth(source, SynthSpec(), str(tmp_path / "x"))
    with pytest.raises(OptionError, match="^positive='sick': not a class"):
        run_synth(source, SynthSpec(positive="sick"), str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()
    run_synth(source, SynthSpec.from_options(positive="pneumonia", spurious="drain:pos=1"), str(tmp_path / "out"))
    manifest = pl.read_csv(tmp_path / "out" / "manifest.csv", infer_schema=False)
    labels = pl.read_csv(tmp_path / "out" / "labels.csv", infer_schema=False)
    assert manifest["label"].to_list()[:2] == ["normal", "pneumonia"] and labels["label"].to_list()[:2] == ["0", "1"]
    assert labels.filter(pl.col("label") == "1")["drain"].to_list() == ["yes"] * 5


def test_idx_sources_and_manifest_sources(npz, tmp_path):
    def idx(path: Path, array: np.ndarray) -> str:
        header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
        path.write_bytes(gzip.compress(header + array.astype(">u1").tobytes()))
        return str(path)

    rng = np.random.default_rng(4)
    pairs = tuple(
        (
            split,
            idx(tmp_path / f"{split}-images.gz", rng.integers(0, 256, (8, 10, 10), dtype=np.uint8)),
            idx(tmp_path / f"{split}-labels.gz", np.arange(8, dtype=np.uint8) % 2),
        )
        for split in ("train", "test")
    )
    run_synth(BaseSource(idx=pairs), SynthSpec.from_options(spurious="drain:train.pos=1"), str(tmp_path / "from_idx"))
    labels = pl.read_csv(tmp_path / "from_idx" / "labels.csv", infer_schema=False)
    assert labels.height == 16 and labels.filter(pl.col("drain") == "yes")["image_id"].to_list() == [
        f"train_{i:05d}" for i in (1, 3, 5, 7)
    ]
    # A manifest as the base: its metadata columns are carried; --size resizes first.
    run_synth(
        BaseSource(manifest=str(tmp_path / "from_idx" / "manifest.csv"), splits=("test",), limit=5),
        SynthSpec.from_options(subtle="1:0.5", size="16x12"),
        str(tmp_path / "from_manifest"),
    )
    manifest = pl.read_csv(tmp_path / "from_manifest" / "manifest.csv", infer_schema=False)
    assert manifest.columns == ["image_id", "path", "label", "split", "drain", "drain_pos", "subtle"]
    assert manifest.height == 5 and png(tmp_path / "from_manifest" / manifest["path"][0]).shape == (16, 12)
    with pytest.raises(InputError, match="already has a column 'drain', which this hs synth run writes"):
        run_synth(
            BaseSource(manifest=str(tmp_path / "from_idx" / "manifest.csv")),
            SynthSpec.from_options(spurious="drain:pos=1"),
            str(tmp_path / "clash"),
        )


def test_errors_write_nothing(npz, tmp_path, run_hs):
    cases = [
        (["--rare", "7:0.5"], "hs: error: --rare 7: no class '7' in the base images (classes: 0, 1)"),
        (["--spurious", "drain:dev.pos=1"], "hs: error: --spurious 'drain:dev.pos=1': 'dev' is not a split"),
        (
            ["--splits", "train,test", "--spurious", "drain:val.pos=1"],
            "hs: error: --spurious names the split 'val', which the base images do not have",
        ),
        (
            ["--splits", "test", "--per-class", "train=5"],
            "hs: error: --per-class names the split 'train', which the base images do not have",
        ),
        (["--superclass", "a=0"], "hs: error: --superclass: class '1' is in no superclass"),
        (
            ["--superclass", "a=0", "--superclass", "b=1,2"],
            "hs: error: --superclass: class '2' is not in the base images",
        ),
        (
            ["--superclass", "a=0", "--superclass", "b=1", "--positive", "c"],
            "hs: error: --positive 'c': not a class (classes: a, b)",
        ),
    ]
    for args, start in cases:
        result = run_hs("synth", "--from-npz", str(npz), "--out-dir", "out", *args)
        err = result.stderr.decode()
        assert result.returncode == 2 and err.startswith(start) and err.count("\n") == 1, err
    six = tmp_path / "three.npz"
    np.savez(six, train_images=np.zeros((3, 4, 4), np.uint8), train_labels=np.arange(3)[:, None])
    result = run_hs("synth", "--from-npz", str(six), "--out-dir", "out", "--spurious", "drain:pos=1")
    assert result.returncode == 2 and b"--spurious needs a two-class task" in result.stderr
    assert not (tmp_path / "out").exists()


def test_out_dir_rules(npz, tmp_path, run_hs):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "README.md").write_text("mine")
    result = run_hs("synth", "--from-npz", str(npz), "--out-dir", "out", "--splits", "test,val")
    assert result.returncode == 1 and b"is not empty; choose a new folder, or pass --force" in result.stderr
    assert run_hs("synth", "--from-npz", str(npz), "--out-dir", "out", "--force", "-q").returncode == 0
    assert (tmp_path / "out" / "labels_val.csv").exists()
    result = run_hs("synth", "--from-npz", str(npz), "--out-dir", "out", "--force", "--splits", "test")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "README.md").read_text() == "mine"
    assert not (tmp_path / "out" / "labels_val.csv").exists()  # stale labels of the earlier run are gone
    assert result.stderr.decode().startswith("30 images; label 0: 12, 1: 18; split test: 30 -> out/manifest.csv")
    with pytest.raises(OutputError, match="it is one of the inputs"):
        run_synth(BaseSource(manifest=str(tmp_path / "out" / "manifest.csv")), SynthSpec(), str(tmp_path / "out"))
