"""sample_data/: the committed files agree with their manifest and README, and `make sample-data`
regenerates them byte for byte."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
from conftest import ROOT
from PIL import Image

from hstool.data.manifest import read_manifest

SAMPLE = ROOT / "sample_data"
COUNTS = {
    "train": (200, 200, 180, 20),
    "val": (50, 50, 45, 5),
    "test": (200, 200, 100, 20),
}  # neg, pos, drained pos, drained neg


def read(name: str) -> pl.DataFrame:
    return pl.read_csv(SAMPLE / name, infer_schema=False)


def test_files_match_the_manifest_and_the_readme():
    manifest = read_manifest(str(SAMPLE / "manifest.csv"), require_label=True)
    manifest.check_files()
    assert manifest.table.columns == ["image_id", "path", "label", "split", "drain", "drain_pos"]
    assert sorted(p.name for p in (SAMPLE / "images").iterdir()) == sorted(Path(p).name for p in manifest.table["path"])
    labels = read("labels.csv")
    assert (
        labels["image_id"].to_list() == manifest.ids and labels["label"].to_list() == manifest.table["label"].to_list()
    )
    for split, (neg, pos, drained_pos, drained_neg) in COUNTS.items():
        part = read(f"labels_{split}.csv")
        assert part.equals(labels.filter(pl.col("split") == split).drop("split"))
        assert part.filter(pl.col("label") == "0").height == neg and part.filter(pl.col("label") == "1").height == pos
        assert part.filter((pl.col("label") == "1") & (pl.col("drain") == "yes")).height == drained_pos
        assert part.filter((pl.col("label") == "0") & (pl.col("drain") == "yes")).height == drained_neg
        assert part.filter(pl.col("label") == "0")["drain_pos"].null_count() == neg
    for path in manifest.paths:
        with Image.open(path) as im:
            assert (im.format, im.mode, im.size) == ("PNG", "L", (28, 28))
    size = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert size < 2_000_000
    readme = (SAMPLE / "README.md").read_text()
    assert "CC BY 4.0" in readme and "Yang" in readme and "Kermany" in readme
    assert sample_command() in " ".join(readme.replace("\\\n", " ").split())


def sample_command() -> str:
    """The `hs synth ...` line of `make sample-data`, as make prints it."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry = subprocess.run(
        ["make", "-n", "sample-data", "HS=hs", "STAMP="], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return next(line for line in dry.stdout.splitlines() if line.startswith("hs synth "))


@pytest.mark.slow
def test_make_sample_data_regenerates_identical_files(data_dir, tmp_path, run_hs, monkeypatch):
    args = shlex.split(sample_command())[1:]
    npz = args.index("--from-npz") + 1
    args[npz] = str(data_dir / "pneumoniamnist" / "pneumoniamnist.npz")
    args[args.index("--out-dir") + 1] = str(tmp_path / "again")
    result = run_hs(*args, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    committed = sorted(p.relative_to(SAMPLE) for p in SAMPLE.rglob("*") if p.is_file() and p.name != "README.md")
    assert committed == sorted(
        p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file()
    )
    for rel in committed:
        ours, theirs = (SAMPLE / rel).read_bytes(), (tmp_path / "again" / rel).read_bytes()
        if rel.name.endswith(".meta.json"):
            # The command line and the input path name this run's folders; everything else
            # (parameters, seed, counts, the input's sha256) must be the same.
            ours, theirs = (_without_paths(json.loads(b)) for b in (ours, theirs))
        assert ours == theirs, rel


def _without_paths(meta: dict) -> dict:
    meta.pop("command")
    meta["parameters"]["source"].pop("path")
    for item in meta["inputs"]:
        item.pop("path")
    return meta
