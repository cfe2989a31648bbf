"""`hs saliency` end to end with a tiny ONNX model: the folder's contract, maps equal to the
library's, determinism, --ids, and every bad input as one line with nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from conftest import ROOT
from onnx_models import TinyModel, write_manifest, write_pngs
from PIL import Image

from hstool.data.preprocess import Preprocessing, load_batch
from hstool.saliency.occlusion import Occlusion, occlusion_maps

N = 6


@pytest.fixture
def case(tmp_path):
    rng = np.random.default_rng(11)
    paths = write_pngs(tmp_path, rng.integers(0, 256, (N, 12, 12), dtype=np.uint8))
    ids = [f"{i:03d}" for i in rng.permutation(N)]
    manifest = write_manifest(tmp_path, ids, paths)
    model = TinyModel(["normal", "pneumonia"], size=(12, 12))
    model.save(tmp_path / "model.onnx")
    return tmp_path, manifest, ids, paths, model


def test_maps_index_and_overlays(run_hs, case):
    folder, _, ids, paths, model = case
    res = run_hs("saliency", "model.onnx", "manifest.csv", "-o", "maps", "--patch", "4", "--stride", "2", "--fill", "0")
    assert res.returncode == 0, res.stderr
    assert (
        res.stdout == b""
        and b"6 images, occlusion (patch 4, stride 2, fill 0.0, probability); wrote maps/index.csv" in res.stderr
    )
    index = pl.read_csv(folder / "maps" / "index.csv", schema_overrides={"image_id": pl.String, "class": pl.String})
    assert index.columns == ["image_id", "method", "class", "score", "map", "overlay", "peak_y", "peak_x"]
    assert index["image_id"].to_list() == ids and set(index["method"]) == {"occlusion"}
    assert set(index["class"]) == {"pneumonia"}
    images = load_batch([folder / p for p in paths], Preprocessing.from_metadata(model.metadata()))
    probs = model.numpy_outputs(images)[0]

    def numpy_model(x):
        return model.numpy_outputs(x)[0]

    expected, _ = occlusion_maps(numpy_model, images, np.ones(N, int), Occlusion(4, 2, 0.0), batch=1000)
    for i, row in enumerate(index.iter_rows(named=True)):
        heat = np.load(folder / "maps" / row["map"])
        assert heat.dtype == np.float32 and heat.shape == (12, 12)
        np.testing.assert_allclose(heat, expected[i], atol=1e-5)  # onnxruntime float32 vs the float64 twin
        assert row["score"] == pytest.approx(probs[i, 1], abs=1e-5)
        assert (row["peak_y"], row["peak_x"]) == np.unravel_index(np.argmax(heat), heat.shape)
        with Image.open(folder / "maps" / row["overlay"]) as im:
            assert (im.mode, im.size) == ("RGB", (12, 12))
    meta = json.loads((folder / "maps" / "index.csv.meta.json").read_text())
    assert meta["schema"] == "hs.saliency/1" and meta["rows"] == N and meta["images"] == N
    assert meta["parameters"]["occlusion"] == {"patch": 4, "stride": 2, "fill": 0.0, "scale": "probability"}


def test_same_inputs_give_identical_bytes_and_ids_select(run_hs, case):
    folder, _, ids, _, _ = case
    (folder / "ids.csv").write_text(f"image_id\n{ids[4]}\n{ids[1]}\n")
    for out in ("a", "b"):
        assert run_hs("saliency", "model.onnx", "manifest.csv", "--ids", "ids.csv", "-o", out, "-q").returncode == 0
    files = sorted(p.relative_to(folder / "a") for p in (folder / "a").rglob("*") if p.is_file())
    assert len(files) == 2 + 2 * 2  # index + sidecar, npy + png per image
    for rel in files:
        if rel.name != "index.csv.meta.json":  # the sidecar holds the command line, which names -o
            assert (folder / "a" / rel).read_bytes() == (folder / "b" / rel).read_bytes(), rel
    index = pl.read_csv(folder / "a" / "index.csv", schema_overrides={"image_id": pl.String})
    assert index["image_id"].to_list() == [ids[1], ids[4]]  # manifest order


def test_renamed_id_column_and_table_format_give_the_canonical_maps(run_hs, case):
    """Issue 13's table options: a manifest and an ids file that call the id column Accession,
    ;-separated with a missing-value marker, give byte-identical maps to the canonical files."""
    folder, _, ids, paths, _ = case
    (folder / "ids.csv").write_text(f"image_id\n{ids[4]}\n{ids[1]}\n")
    rows = [f"{i};{p};{'n/a' if k == 0 else 'site' + str(k)}" for k, (i, p) in enumerate(zip(ids, paths))]
    (folder / "vendor_manifest.csv").write_text("Accession;path;site\n" + "\n".join(rows) + "\n")
    (folder / "vendor_ids.csv").write_text(f"Accession\n{ids[4]}\n{ids[1]}\n")
    assert run_hs("saliency", "model.onnx", "manifest.csv", "--ids", "ids.csv", "-o", "a", "-q").returncode == 0
    res = run_hs(
        "saliency", "model.onnx", "vendor_manifest.csv", "--ids", "vendor_ids.csv", "-o", "b", "-q",
        "--id-col", "Accession", "--delimiter", ";", "--na-values", "n/a",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    files = sorted(p.relative_to(folder / "a") for p in (folder / "a").rglob("*") if p.is_file())
    assert len(files) == 2 + 2 * 2
    for rel in files:
        if rel.name != "index.csv.meta.json":
            assert (folder / "a" / rel).read_bytes() == (folder / "b" / rel).read_bytes(), rel
    meta = json.loads((folder / "b" / "index.csv.meta.json").read_text())
    assert meta["parameters"]["id_col"] == "Accession"
    assert meta["parameters"]["table_format"]["delimiter"] == ";"
    assert meta["parameters"]["table_format"]["na_values"] == ["n/a"]
    assert meta["inputs"][1]["columns"] == {"image_id": "Accession"}
    # Without --id-col, the message names the flag to pass.
    one_error(run_hs("saliency", "model.onnx", "vendor_manifest.csv", "-o", "c", "--delimiter", ";"), "--id-col")
    assert not (folder / "c").exists()


def one_error(res, *fragments: str) -> None:
    err = res.stderr.decode().strip()
    assert res.returncode != 0 and len(err.splitlines()) == 1 and err.startswith("hs: error: "), err
    for fragment in fragments:
        assert fragment in err, err


def test_bad_inputs_are_one_line_and_write_nothing(run_hs, case):
    folder, _, ids, _, _ = case
    (folder / "ids.csv").write_text(f"image_id\n{ids[0]}\nnot_there\nalso_missing\n")
    one_error(
        run_hs("saliency", "model.onnx", "manifest.csv", "--ids", "ids.csv", "-o", "m"),
        "ids.csv",
        "'not_there'",
        "2 id(s)",
    )
    one_error(
        run_hs("saliency", "model.onnx", "manifest.csv", "--patch", "13", "-o", "m"), "patch 13 is larger", "12x12"
    )
    one_error(run_hs("saliency", "model.onnx", "manifest.csv", "--patch", "2", "--stride", "3", "-o", "m"), "stride 3")
    one_error(
        run_hs(
            "saliency", "model.onnx", "manifest.csv", "--patch", "1", "--stride", "1", "--max-patches", "100", "-o", "m"
        ),
        "144 occluded copies per image, above the cap of 100",
    )
    one_error(
        run_hs("saliency", "model.onnx", "manifest.csv", "--max-pixels", "100", "-o", "m"), "too large", "144 pixels"
    )
    one_error(run_hs("saliency", "model.onnx", "manifest.csv", "--method", "gradcam", "-o", "m"), "checkpoint")
    one_error(
        run_hs("saliency", "model.onnx", "manifest.csv", "--class", "cancer", "-o", "m"),
        "'cancer'",
        "normal, pneumonia",
    )
    (folder / "model.pt").write_bytes(b"not a checkpoint")
    # The tiny ONNX model is no hs train architecture: Grad-CAM is refused with the reason...
    one_error(
        run_hs("saliency", "model.onnx", "manifest.csv", "--checkpoint", "model.pt", "-o", "m"),
        "tiny-test-cnn",
        "occlusion",
    )
    assert not any(p.name == "m" or p.name.startswith(".m.") for p in folder.iterdir())  # not even a partial folder
    # ...and occlusion still works.
    assert run_hs("saliency", "model.onnx", "manifest.csv", "-o", "m", "-q").returncode == 0
    one_error(run_hs("saliency", "model.onnx", "manifest.csv", "-o", "m"), "is not empty", "--force")
    assert run_hs("saliency", "model.onnx", "manifest.csv", "-o", "m", "--force", "-q").returncode == 0
    (folder / "other").mkdir()
    (folder / "other" / "keep.txt").write_text("x")
    one_error(run_hs("saliency", "model.onnx", "manifest.csv", "-o", "other", "--force"), "not one")
    assert (folder / "other" / "keep.txt").exists()


def test_a_failure_midway_leaves_no_folder(case, monkeypatch):
    folder, manifest, *_ = case
    from hstool.saliency import run as run_module

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "occlusion_maps", broken)
    with pytest.raises(KeyboardInterrupt):
        run_module.run_saliency(
            str(folder / "model.onnx"), str(manifest), str(folder / "maps"), run_module.SaliencyOptions()
        )
    assert sorted(p.name for p in folder.iterdir()) == ["images", "manifest.csv", "model.onnx"]


def test_occlusion_never_imports_torch(case):
    probe = (
        "import sys\nfrom hstool.cli.app import app\nsys.argv = ['hs', 'saliency', 'model.onnx', 'manifest.csv', '-o', 'maps', '-q']\n"
        "try:\n    app()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "print(sorted(m for m in ('torch', 'torchvision') if m in sys.modules))"
    )
    res = subprocess.run(
        [sys.executable, "-c", probe], cwd=case[0], capture_output=True, env=dict(os.environ, PYTHONPATH=str(ROOT))
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().strip().splitlines()[-1] == "[]" and (case[0] / "maps" / "index.csv").exists()


def test_default_call_size_follows_the_input():
    from hstool.saliency.run import SaliencyOptions

    assert SaliencyOptions().copies_per_call((1, 28, 28)) == 16 and SaliencyOptions().copies_per_call((1, 64, 64)) == 3
    assert SaliencyOptions().copies_per_call((1, 224, 224)) == SaliencyOptions().copies_per_call((3, 512, 512)) == 1
    assert SaliencyOptions(batch_size=500).copies_per_call((1, 224, 224)) == 500


def test_multiclass_explains_the_predicted_class_unless_told(run_hs, case):
    folder, _, _, paths, _ = case
    model = TinyModel(["a", "b", "c"], size=(12, 12), seed=3)
    model.save(folder / "multi.onnx")
    images = load_batch([folder / p for p in paths], Preprocessing.from_metadata(model.metadata()))
    probs = model.numpy_outputs(images)[0]
    for extra, targets in (([], probs.argmax(axis=1)), (["--class", "c"], np.full(N, 2))):
        out = f"maps{len(extra)}"
        assert run_hs("saliency", "multi.onnx", "manifest.csv", "-o", out, "-q", *extra).returncode == 0
        index = pl.read_csv(folder / out / "index.csv", schema_overrides={"image_id": pl.String})
        assert index["class"].to_list() == [model.class_names[t] for t in targets]
        expected, _ = occlusion_maps(
            lambda x: model.numpy_outputs(x)[0], images, targets, Occlusion(2, 1), batch=10_000
        )  # 12 x 12 input: default patch round(12 / 7) = 2, stride 1
        for i, row in enumerate(index.iter_rows(named=True)):
            np.testing.assert_allclose(np.load(folder / out / row["map"]), expected[i], atol=1e-5)
            assert row["score"] == pytest.approx(probs[i, targets[i]], abs=1e-5)
