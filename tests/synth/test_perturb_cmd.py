"""`hs perturb`: files, manifest, identity, determinism, workers, errors."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from PIL import Image

from hstool.data.images import load_image
from hstool.data.manifest import read_manifest
from hstool.errors import InputError, OutputError
from hstool.synth.perturb import Perturbation, lowpass
from hstool.synth.perturbed import file_name, run_perturb


@pytest.fixture
def source(tmp_path):
    """Six 8-bit grey 28 x 28 PNGs and one RGB PNG, with a manifest in the same folder."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "src"
    (folder / "img").mkdir(parents=True)
    rows = []
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / "img" / f"g{i}.png")
        rows.append({"image_id": f"g{i}", "path": f"img/g{i}.png", "label": str(i % 2), "sex": "FM"[i % 2]})
    Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(folder / "img" / "c.png")
    rows.append({"image_id": "c", "path": "img/c.png", "label": "1", "sex": "F"})
    pl.DataFrame(rows).write_csv(folder / "manifest.csv")
    return folder / "manifest.csv"


def _pixels(manifest_path):
    m = read_manifest(str(manifest_path))
    return {i: load_image(p) for i, p in zip(m.ids, m.paths)}


def test_manifest_keeps_rows_and_points_at_new_files(source, tmp_path):
    built = run_perturb(str(source), str(tmp_path / "out"), Perturbation("lowpass", 5))
    original = pl.read_csv(source)
    table = pl.read_csv(tmp_path / "out" / "manifest.csv", schema_overrides={"label": pl.String})
    assert table["image_id"].to_list() == original["image_id"].to_list()
    assert table.columns == original.columns + ["perturbation"]
    assert set(table["perturbation"]) == {"lowpass_d5"}
    assert table.drop("path", "perturbation").equals(
        original.drop("path").with_columns(pl.col("label").cast(pl.String))
    )
    new, old = _pixels(tmp_path / "out" / "manifest.csv"), _pixels(source)
    for image_id, pixels in new.items():
        assert pixels.shape == old[image_id].shape
        np.testing.assert_allclose(
            pixels, lowpass(old[image_id], 5), atol=0.6 / 255 if image_id == "c" else 0.6 / 65535
        )
    assert Image.open(tmp_path / "out" / "images" / "g0.png").mode == "I;16"
    assert Image.open(tmp_path / "out" / "images" / "c.png").mode == "RGB"
    meta = json.loads((tmp_path / "out" / "manifest.csv.meta.json").read_text())
    assert meta["schema"] == "hs.manifest/1" and meta["perturbation"]["name"] == "lowpass_d5"
    assert built.table.height == 7


def test_wide_lowpass_is_the_identity(source, tmp_path):
    run_perturb(str(source), str(tmp_path / "out"), Perturbation("lowpass", 1000))
    new, old = _pixels(tmp_path / "out" / "manifest.csv"), _pixels(source)
    for image_id in old:
        np.testing.assert_array_equal(new[image_id], old[image_id])


def test_deterministic_across_runs_and_workers(source, tmp_path):
    for name, workers in (("one", 1), ("two", 1), ("par", 2)):
        run_perturb(str(source), str(tmp_path / name), Perturbation("noise", 0.1), seed=3, workers=workers)
    for folder in ("two", "par"):
        for image in (tmp_path / "one" / "images").iterdir():
            assert image.read_bytes() == (tmp_path / folder / "images" / image.name).read_bytes()
        assert (tmp_path / folder / "manifest.csv").read_bytes() == (tmp_path / "one" / "manifest.csv").read_bytes()
    run_perturb(str(source), str(tmp_path / "seed4"), Perturbation("noise", 0.1), seed=4)
    assert (tmp_path / "seed4" / "images" / "g0.png").read_bytes() != (
        tmp_path / "one" / "images" / "g0.png"
    ).read_bytes()


def test_chaining_and_eight_bits(source, tmp_path):
    run_perturb(str(source), str(tmp_path / "a"), Perturbation("resolution", 7), bits=8)
    assert Image.open(tmp_path / "a" / "images" / "g0.png").mode == "L"
    run_perturb(str(tmp_path / "a" / "manifest.csv"), str(tmp_path / "b"), Perturbation("highpass", 3))
    assert set(pl.read_csv(tmp_path / "b" / "manifest.csv")["perturbation"]) == {"resolution_7+highpass_d3"}


def test_refusals(source, tmp_path):
    run_perturb(str(source), str(tmp_path / "out"), Perturbation("noise", 0.0))
    with pytest.raises(OutputError, match="not empty"):
        run_perturb(str(source), str(tmp_path / "out"), Perturbation("noise", 0.0))
    # Writing into the source folder would overwrite its manifest.
    with pytest.raises(OutputError, match="one of the inputs"):
        run_perturb(str(source), str(source.parent), Perturbation("noise", 0.0), force=True)
    # A manifest of another name whose images lie where the outputs would go.
    other = source.parent / "list.csv"
    (source.parent / "images").mkdir()
    (source.parent / "images" / "g0.png").write_bytes((source.parent / "img" / "g0.png").read_bytes())
    pl.DataFrame({"image_id": ["g0"], "path": ["images/g0.png"]}).write_csv(other)
    with pytest.raises(OutputError, match="input images"):
        run_perturb(str(other), str(source.parent), Perturbation("noise", 0.0), force=True)
    (source.parent / "img" / "g3.png").unlink()
    with pytest.raises(InputError, match="missing"):
        run_perturb(str(source), str(tmp_path / "new"), Perturbation("noise", 0.0))
    assert not (tmp_path / "new").exists()


def test_file_names_are_safe():
    assert file_name("00000001_000.png") == "00000001_000.png.png"
    unsafe = file_name("../etc/passwd")
    assert "/" not in unsafe and unsafe.endswith(".png") and not unsafe.startswith(".")
    assert file_name("a/b") != file_name("a_b")


def test_cli(source, run_hs, tmp_path):
    done = run_hs("perturb", str(source), "-o", "hp", "--highpass", "10")
    assert done.returncode == 0, done.stderr
    assert b"highpass_d10: 7 images" in done.stderr and done.stdout == b""
    two = run_hs("perturb", str(source), "-o", "x", "--highpass", "10", "--noise", "0.1")
    assert two.returncode == 2 and b"exactly one" in two.stderr
    bad = run_hs("perturb", str(source), "-o", "y", "--resolution", "0")
    assert bad.returncode == 2 and b"--resolution" in bad.stderr
