"""`hs predict` and `hs embed`: parity with an independent NumPy model, formats, order, errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from conftest import ROOT
from onnx_models import TinyModel, write_manifest, write_pngs
from PIL import Image
from test_infer_runtime import cuda_really_works

from hstool.data.preprocess import Preprocessing, load_batch
from hstool.infer.inference import InferenceOptions, Targets, run_inference

# ONNX Runtime (float32) against the float64 NumPy twin: softmax outputs and embeddings of the
# tiny model agree to a few float32 ulps; 1e-5 leaves room for summation order, nothing more.
TOL = 1e-5
N = 40


@pytest.fixture
def case(tmp_path):
    """40 grey PNGs of varying sizes, ids with leading zeros, in a shuffled (non-sorted) order."""
    rng = np.random.default_rng(7)
    images = [rng.integers(0, 256, (10 + i % 4, 12 + i % 3), dtype=np.uint8) for i in range(N)]
    paths = []
    (tmp_path / "images").mkdir()
    for i, image in enumerate(images):
        paths.append(f"images/{i:03d}.png")
        Image.fromarray(image).save(tmp_path / paths[-1])
    ids = [f"{i:05d}" for i in rng.permutation(N)]
    manifest = write_manifest(tmp_path, ids, paths)
    binary = TinyModel(["normal", "pneumonia"], size=(8, 8))
    binary.save(tmp_path / "model.onnx")
    return tmp_path, manifest, ids, paths, binary


def expected(model: TinyModel, folder, paths):
    prep = Preprocessing.from_metadata(model.metadata())
    return model.numpy_outputs(load_batch([folder / p for p in paths], prep))


def test_binary_predictions_match_the_numpy_model(run_hs, case):
    folder, _manifest, ids, paths, model = case
    res = run_hs("predict", "model.onnx", "manifest.csv", "-o", "preds.csv", "--workers", "0", "--batch-size", "7")
    assert res.returncode == 0, res.stderr
    assert res.stdout == b""
    preds = pl.read_csv(folder / "preds.csv", schema_overrides={"image_id": pl.String})
    assert preds.columns == ["image_id", "score", "pred"]
    assert preds["image_id"].to_list() == ids  # manifest order, ids kept as text
    probs, _ = expected(model, folder, paths)
    np.testing.assert_allclose(preds["score"].to_numpy(), probs[:, 1], atol=TOL)
    assert preds["pred"].to_list() == (preds["score"].to_numpy() >= 0.5).astype(int).tolist()
    assert 0 < preds["pred"].sum() < N  # both classes occur, so the threshold is exercised
    meta = json.loads((folder / "preds.csv.meta.json").read_text())
    assert meta["schema"] == "hs.preds/1" and meta["rows"] == N
    assert meta["provider"] == "CPUExecutionProvider"
    assert meta["model"]["class_names"] == ["normal", "pneumonia"] and meta["model"]["architecture"] == "tiny-test-cnn"
    assert meta["model"]["train_manifest_sha256"] == "0" * 64  # from the model's metadata, for hs label-issues
    assert meta["inputs"][1]["sha256"] and meta["images"] == {"selected": N, "written": N, "skipped": 0}
    assert "CPUExecutionProvider" in res.stderr.decode()  # the provider is logged


def test_multiclass_rgb_model(run_hs, case):
    folder, _manifest, _ids, paths, _ = case
    model = TinyModel(["cat", "dog", "T-shirt/top"], size=(6, 9), channels=3, resize="pad", seed=4)
    model.save(folder / "mc.onnx")
    res = run_hs("predict", "mc.onnx", "manifest.csv", "--workers", "0")  # to stdout
    assert res.returncode == 0, res.stderr
    preds = pl.read_csv(res.stdout, schema_overrides={"image_id": pl.String})
    assert preds.columns == ["image_id", "pred", "p_cat", "p_dog", "p_T-shirt/top"]
    probs, _ = expected(model, folder, paths)
    got = preds.select("p_cat", "p_dog", "p_T-shirt/top").to_numpy()
    np.testing.assert_allclose(got, probs, atol=TOL)
    np.testing.assert_allclose(got.sum(axis=1), 1, atol=1e-6)
    assert preds["pred"].to_list() == [model.class_names[j] for j in probs.argmax(axis=1)]


def test_embeddings_match_and_one_pass_writes_both(run_hs, case):
    folder, _manifest, ids, paths, model = case
    assert run_hs("embed", "model.onnx", "manifest.csv", "-o", "emb.npy", "--workers", "0").returncode == 0
    assert run_hs("predict", "model.onnx", "manifest.csv", "-o", "preds.csv", "--workers", "0").returncode == 0
    res = run_hs("embed", "model.onnx", "manifest.csv", "-o", "both.npy", "--preds", "both.csv", "--workers", "2")
    assert res.returncode == 0, res.stderr
    emb = np.load(folder / "emb.npy")
    assert emb.dtype == np.float32 and emb.shape == (N, model.embedding_dim)
    _, expected_emb = expected(model, folder, paths)
    np.testing.assert_allclose(emb, expected_emb, atol=TOL)
    assert pl.read_csv(folder / "emb.ids.csv", schema_overrides={"image_id": pl.String})["image_id"].to_list() == ids
    # One pass (with decoding workers) writes the same bytes as two separate in-process passes.
    assert (folder / "both.npy").read_bytes() == (folder / "emb.npy").read_bytes()
    assert (folder / "both.ids.csv").read_bytes() == (folder / "emb.ids.csv").read_bytes()
    assert (folder / "both.csv").read_bytes() == (folder / "preds.csv").read_bytes()
    meta = json.loads((folder / "emb.npy.meta.json").read_text())
    assert meta["schema"] == "hs.embeddings/1" and meta["model"]["embedding_dim"] == model.embedding_dim
    assert not list(folder.glob(".*.parts"))  # the work folder is removed at the end


def test_same_inputs_give_identical_bytes(run_hs, case):
    folder = case[0]
    for name in ("a", "b"):
        assert run_hs("predict", "model.onnx", "manifest.csv", "-o", f"{name}.csv", "--workers", "0").returncode == 0
    assert (folder / "a.csv").read_bytes() == (folder / "b.csv").read_bytes()
    meta_a = json.loads((folder / "a.csv.meta.json").read_text())
    meta_b = json.loads((folder / "b.csv.meta.json").read_text())
    for meta in (meta_a, meta_b):
        meta.pop("command"), meta.pop("outputs")
    assert meta_a == meta_b


def test_model_without_metadata_is_refused(run_hs, case):
    folder = case[0]
    TinyModel(["a", "b"]).save(folder / "plain.onnx", metadata={})
    res = run_hs("predict", "plain.onnx", "manifest.csv", "-o", "preds.csv")
    assert res.returncode == 1
    err = res.stderr.decode().strip()
    assert err.startswith("hs: error: plain.onnx: not an hs model") and "hs train" in err and len(err.splitlines()) == 1
    assert not (folder / "preds.csv").exists()


def test_logits_instead_of_probabilities_are_refused(run_hs, case):
    folder = case[0]
    TinyModel(["a", "b"], size=(8, 8), seed=1).save(folder / "logits.onnx", logits=True)
    res = run_hs("predict", "logits.onnx", "manifest.csv", "-o", "p.csv", "--workers", "0")
    assert res.returncode == 1 and b"softmax" in res.stderr
    assert not (folder / "p.csv").exists()


def _break_images(folder, paths):
    (folder / paths[5]).write_bytes((folder / paths[5]).read_bytes()[:50])  # truncated
    (folder / paths[9]).unlink()  # missing


def test_bad_images_fail_by_default_with_one_line(run_hs, case):
    folder, _, ids, paths, _ = case
    _break_images(folder, paths)
    res = run_hs("predict", "model.onnx", "manifest.csv", "-o", "preds.csv", "--workers", "0")
    assert res.returncode == 1
    err = res.stderr.decode().strip()
    # Missing files are found before any inference, all at once.
    assert "1 of 40 image files are missing" in err and ids[9] in err and len(err.splitlines()) == 1
    (folder / paths[9]).write_bytes((folder / paths[0]).read_bytes())
    res = run_hs("predict", "model.onnx", "manifest.csv", "-o", "preds.csv", "--workers", "0", "-q")
    err = res.stderr.decode().strip()
    assert res.returncode == 1 and len(err.splitlines()) == 1 and err.startswith("hs: error: ")
    assert (
        "line 7, column 'path'" in err
        and ids[5] in err
        and paths[5] in err
        and "corrupt" in err
        and "--on-error skip" in err
    )
    assert not (folder / "preds.csv").exists()


def test_skip_lists_bad_images_and_goes_on(run_hs, case):
    folder, _, ids, paths, model = case
    _break_images(folder, paths)
    res = run_hs(
        "predict",
        "model.onnx",
        "manifest.csv",
        "-o",
        "preds.csv",
        "--embeddings",
        "emb.npy",
        "--on-error",
        "skip",
        "--workers",
        "2",
        "--batch-size",
        "4",
    )
    assert res.returncode == 0, res.stderr
    keep = [i for i in range(N) if i not in (5, 9)]
    preds = pl.read_csv(folder / "preds.csv", schema_overrides={"image_id": pl.String})
    assert preds["image_id"].to_list() == [ids[i] for i in keep]
    probs, emb = expected(model, folder, [paths[i] for i in keep])
    np.testing.assert_allclose(preds["score"].to_numpy(), probs[:, 1], atol=TOL)
    np.testing.assert_allclose(np.load(folder / "emb.npy"), emb, atol=TOL)
    for errors_file in ("preds.csv.errors.csv", "emb.npy.errors.csv"):
        errors = pl.read_csv(folder / errors_file, schema_overrides={"image_id": pl.String})
        assert errors.columns == ["image_id", "path", "reason"]
        assert errors["image_id"].to_list() == [ids[5], ids[9]] and errors["path"].to_list() == [paths[5], paths[9]]
        assert errors["reason"][0].startswith("corrupt") and errors["reason"][1].startswith("no such file")
    meta = json.loads((folder / "preds.csv.meta.json").read_text())
    assert meta["images"] == {"selected": N, "written": N - 2, "skipped": 2} and meta["rows"] == N - 2
    assert "2 skipped" in res.stderr.decode()


def test_output_checks(run_hs, case):
    folder = case[0]
    res = run_hs("predict", "model.onnx", "manifest.csv", "-o", "manifest.csv")
    assert res.returncode == 1 and b"one of the inputs" in res.stderr
    assert run_hs("predict", "model.onnx", "manifest.csv", "-o", "p.parquet").returncode == 2
    assert run_hs("embed", "model.onnx", "manifest.csv").returncode == 2  # -o is required
    assert run_hs("embed", "model.onnx", "manifest.csv", "-o", "-").returncode == 2
    assert run_hs("predict", "model.onnx", "manifest.csv", "--resume").returncode == 2  # nothing to resume into
    assert run_hs("predict", "model.onnx", "manifest.csv", "-o", "x.csv", "--on-error", "ignore").returncode == 2
    assert run_hs("predict", "model.onnx", "manifest.csv", "-o", "no/such/dir/p.csv").returncode == 1
    assert run_hs("predict", "model.onnx", "manifest.csv", "-o", "x.csv", "--device", "tpu").returncode == 2
    assert not (folder / "x.csv").exists()


def test_device_cuda_without_gpu(run_hs, case):
    if cuda_really_works():
        pytest.skip("this machine has a working CUDA provider")
    res = run_hs("predict", "model.onnx", "manifest.csv", "-o", "p.csv", "--device", "cuda", "-q")
    assert res.returncode == 2 and b"--device cuda" in res.stderr and len(res.stderr.decode().strip().splitlines()) == 1


def test_progress_reports_every_image(case):
    folder, manifest, *_ = case
    seen = []
    run_inference(
        str(folder / "model.onnx"),
        str(manifest),
        Targets(preds=str(folder / "p.csv")),
        InferenceOptions(workers=0, batch_size=6, chunk_size=12),
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen[0] == (0, N) and seen[-1] == (N, N)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_real_pneumoniamnist_images(run_hs, tmp_path, data_dir):
    """Real chest X-ray PNGs (PneumoniaMNIST test split), through hs manifest, predicted and embedded."""
    res = run_hs(
        "manifest",
        "npz",
        str(data_dir / "pneumoniamnist" / "pneumoniamnist.npz"),
        "--out-dir",
        "pm",
        "--splits",
        "test",
        "--limit",
        "96",
    )
    assert res.returncode == 0, res.stderr
    model = TinyModel(["normal", "pneumonia"], size=(28, 28), embedding_dim=12, seed=11)
    model.save(tmp_path / "m.onnx")
    res = run_hs("predict", "m.onnx", "pm/manifest.csv", "-o", "p.csv", "--embeddings", "e.npy", "--workers", "2")
    assert res.returncode == 0, res.stderr
    manifest = pl.read_csv(tmp_path / "pm" / "manifest.csv")
    probs, emb = expected(model, tmp_path / "pm", manifest["path"].to_list())
    preds = pl.read_csv(tmp_path / "p.csv")
    assert preds["image_id"].to_list() == manifest["image_id"].to_list()
    np.testing.assert_allclose(preds["score"].to_numpy(), probs[:, 1], atol=TOL)
    np.testing.assert_allclose(np.load(tmp_path / "e.npy"), emb, atol=TOL)


def test_write_pngs_helper_round_trips(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    paths = write_pngs(tmp_path, images)
    assert np.array_equal(np.asarray(Image.open(tmp_path / paths[1])), images[1])
    shutil.rmtree(tmp_path / "images")


def test_inference_never_imports_torch(case):
    """predict/embed must run where PyTorch is not installed."""
    folder = case[0]
    probe = (
        "import sys\nfrom hstool.cli.app import app\nsys.argv = ['hs', 'predict', 'model.onnx', 'manifest.csv', '-o', 'p.csv', '-q']\n"
        "try:\n    app()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "print(sorted(m for m in ('torch', 'torchvision') if m in sys.modules))"
    )
    res = subprocess.run(
        [sys.executable, "-c", probe], cwd=folder, capture_output=True, env=dict(os.environ, PYTHONPATH=str(ROOT))
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().strip().splitlines()[-1] == "[]"
    assert (folder / "p.csv").exists()


def test_check_outputs():
    from hstool.errors import InputError
    from hstool.infer.preds_format import check_outputs

    ids = ["a", "b"].__getitem__
    emb = np.zeros((2, 3), np.float32)
    probs = np.array([[1 + 1e-7, -1e-7], [0.25, 0.75]], np.float32)
    np.testing.assert_array_equal(check_outputs("m.onnx", ids, probs, emb), [[1, 0], [0.25, 0.75]])
    with pytest.raises(InputError, match="'embedding' is NaN or infinite for image 'b'"):
        check_outputs("m.onnx", ids, probs, np.array([[0, 0, 0], [0, np.nan, 0]], np.float32))
    with pytest.raises(InputError, match="is -0.5 for image 'b', outside"):
        check_outputs("m.onnx", ids, np.array([[0.5, 0.5], [-0.5, 1.5]], np.float32), emb)
