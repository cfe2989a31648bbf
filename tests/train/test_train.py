"""hstool.train.training.train: tiny runs of seconds on CPU."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import polars as pl
import pytest
import torch
from PIL import Image
from train_helpers import one_thread, separable_set  # noqa: F401  (one_thread is a fixture)

from hstool.data.images import ImageError
from hstool.data.preprocess import Preprocessing, load_batch
from hstool.train.checkpoints import ResumeState
from hstool.train.config import TrainConfig
from hstool.train.loading import ImageSource
from hstool.train.training import train

pytestmark = pytest.mark.usefixtures("one_thread")
FAST = dict(epochs=2, batch_size=16, lr=3e-3, workers=0, export=False)


@pytest.fixture(scope="module")
def separable(tmp_path_factory):
    return separable_set(tmp_path_factory.mktemp("separable"), n_per_class=40)


def run(manifest, out, **kw):
    return train(TrainConfig(manifest=str(manifest), out_dir=str(out), **{**FAST, **kw}))


def weights(out) -> dict[str, torch.Tensor]:
    return torch.load(out / "model.pt", map_location="cpu", weights_only=True)


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_separable_task_is_learnt_and_exported(separable, tmp_path):
    lines = []
    config = TrainConfig(
        manifest=str(separable),
        out_dir=str(tmp_path / "run"),
        **{**FAST, "epochs": 3, "val_frac": 0.25, "export": True},
    )
    result = train(config, report=lines.append)
    out = tmp_path / "run"
    assert result.metric == "auc" and len(result.history) == 3
    best = result.history[result.best_epoch - 1]
    assert best["val_auc"] == 1.0 and best["val_accuracy"] >= 0.95
    assert lines[0] == "--arch auto: smallcnn (the first training image is 28x28)"
    assert lines[1].startswith("epoch 1/3  train_loss ") and "images/s" in lines[1]
    # The exported model classifies held-out images as PyTorch does, preprocessing from its metadata.
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    prep = Preprocessing.from_metadata(meta)
    assert prep.size == (28, 28) and prep.channels == 1 and meta["hs.architecture"] == "smallcnn"
    table = pl.read_csv(separable, schema_overrides={"label": pl.String})
    paths = [separable.parent / p for p in table["path"]]
    probabilities, embedding = session.run(None, {"image": load_batch(paths, prep)})
    accuracy = np.mean((probabilities[:, 1] >= 0.5) == (table["label"].to_numpy() == "1"))
    assert accuracy >= 0.95 and embedding.shape == (80, 128)
    sidecar = json.loads((out / "model.onnx.meta.json").read_text())
    assert sidecar["schema"] == "hs.model/1" and sidecar["best_epoch"] == result.best_epoch
    assert sidecar["n_train"] == 60 and sidecar["n_val"] == 20 and sidecar["seed"] == 0
    assert (
        sidecar["onnx_parity_max_abs_diff"] < 1e-4
        and meta["hs.train_manifest_sha256"] == sidecar["inputs"][0]["sha256"]
    )
    log = pl.read_csv(out / "train_log.csv")
    assert log.columns == ["epoch", "lr", "train_loss", "val_loss", "val_accuracy", "val_auc", "best"]
    assert log["best"].to_list() == [e == result.best_epoch for e in (1, 2, 3)]
    assert json.loads((out / "train_log.csv.meta.json").read_text())["schema"] == "hs.train-log/1"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "epoch_001.pt",
        "epoch_002.pt",
        "epoch_003.pt",
        "last.pt",
    ]
    # Every file is loadable without unpickling code.
    for path in [out / "model.pt", *(out / "checkpoints").iterdir()]:
        torch.load(path, map_location="cpu", weights_only=True)
    assert same_weights(
        weights(out), torch.load(out / "checkpoints" / f"epoch_{result.best_epoch:03d}.pt", weights_only=True)
    )


def test_same_seed_same_weights_and_another_seed_differs(separable, tmp_path):
    run(separable, tmp_path / "a", seed=5)
    run(separable, tmp_path / "b", seed=5)
    run(separable, tmp_path / "c", seed=6)
    assert same_weights(weights(tmp_path / "a"), weights(tmp_path / "b"))
    assert (tmp_path / "a" / "train_log.csv").read_bytes() == (tmp_path / "b" / "train_log.csv").read_bytes()
    assert not same_weights(weights(tmp_path / "a"), weights(tmp_path / "c"))


def test_resume_equals_an_uninterrupted_run(separable, tmp_path):
    run(separable, tmp_path / "whole", epochs=3, val_frac=0)
    run(separable, tmp_path / "parts", epochs=1, val_frac=0)
    resumed = run(separable, tmp_path / "parts", epochs=3, val_frac=0, resume=True)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    assert same_weights(weights(tmp_path / "whole"), weights(tmp_path / "parts"))
    whole = torch.load(tmp_path / "whole" / "checkpoints" / "last.pt", weights_only=True)
    parts = torch.load(tmp_path / "parts" / "checkpoints" / "last.pt", weights_only=True)
    assert whole["state"] == parts["state"]
    assert (tmp_path / "whole" / "train_log.csv").read_bytes() == (tmp_path / "parts" / "train_log.csv").read_bytes()


def test_cached_and_streamed_images_train_the_same(separable, tmp_path):
    # Streaming decodes in a worker process every epoch; caching decodes in epoch 1 and serves
    # epoch 2 from memory.
    run(separable, tmp_path / "cached", cache="on", epochs=2)
    run(separable, tmp_path / "streamed", cache="off", workers=1, epochs=2)
    assert same_weights(weights(tmp_path / "cached"), weights(tmp_path / "streamed"))


def test_experiments_are_recorded(separable, tmp_path):
    result = run(
        separable,
        tmp_path / "exp",
        epochs=1,
        val_frac=0.25,
        subsample=("subclass=a:0.75",),
        label_noise=("label=1:0.25",),
        seed=2,
    )
    out = tmp_path / "exp"
    meta = json.loads((out / "train_log.csv.meta.json").read_text())
    # 10 'a' images per class; the validation draw (seeded) decides how many train.
    drop, flip = meta["experiments"]
    assert drop["experiment"] == "subsample" and drop["affected"] == int(drop["matching"] * 0.75 + 0.5)
    assert flip["experiment"] == "label_noise" and flip["affected"] == int(flip["matching"] * 0.25 + 0.5)
    assert meta["n_train"] == 60 - drop["affected"]
    affected = pl.read_csv(out / "affected.csv", schema_overrides={"label": pl.String, "new_label": pl.String})
    assert affected.columns == ["image_id", "experiment", "column", "value", "label", "new_label"]
    assert affected["experiment"].to_list() == ["subsample"] * drop["affected"] + ["label_noise"] * flip["affected"]
    noisy = affected.filter(pl.col("experiment") == "label_noise")
    assert (noisy["label"] == "1").all() and (noisy["new_label"] == "0").all()
    assert affected.filter(pl.col("experiment") == "subsample")["new_label"].is_null().all()
    assert json.loads((out / "affected.csv.meta.json").read_text())["schema"] == "hs.train-affected/1"
    assert result.meta["experiments"] == meta["experiments"]


def test_bf16_autocast_and_sgd_with_class_weights_run_on_cpu(separable, tmp_path):
    result = run(separable, tmp_path / "amp", epochs=1, amp="bf16", optimizer="sgd", class_weight=True)
    assert result.meta["amp"] == "bf16" and np.isfinite(result.history[0]["train_loss"])


def test_multiclass_with_early_stopping(tmp_path):
    manifest = separable_set(tmp_path / "three", n_per_class=12, labels=("a", "b", "c"), split=True)
    # One validation image: its accuracy (0 or 1) cannot improve twice, so patience 1 must
    # stop the run by epoch 3 whatever the model learns.
    lines = manifest.read_text().splitlines()
    val = [l for l in lines if l.endswith(",val")]
    manifest.write_text("\n".join([l for l in lines if l not in val[1:]]) + "\n")
    result = run(manifest, tmp_path / "run", epochs=8, patience=1)
    assert result.metric == "accuracy" and result.stopped_early
    assert len(result.history) in (2, 3) and result.history[-1]["epoch"] == result.best_epoch + 1
    assert all(r["val_auc"] is None and r["val_accuracy"] in (0.0, 1.0) for r in result.history)
    assert result.meta["class_names"] == ["a", "b", "c"] and result.meta["n_val"] == 1


def test_patience_rule():
    state = ResumeState(history=[])
    values = [0.5, 0.7, 0.7, 0.6, 0.9]
    improved = [state.record({"epoch": e, "val_auc": v}, "auc") for e, v in enumerate(values, 1)]
    assert improved == [True, True, False, False, True] and state.best_epoch == 5 and state.stale == 0
    assert [r["best"] for r in state.history] == [False, False, False, False, True]
    loss = ResumeState(history=[])
    assert [loss.record({"epoch": e, "val_loss": v}, "loss") for e, v in enumerate([0.5, 0.4, 0.45], 1)] == [
        True,
        True,
        False,
    ]
    assert loss.stale == 1
    none = ResumeState(history=[])
    assert all(none.record({"epoch": e}, None) for e in (1, 2)) and none.best_epoch == 2


def test_an_undecodable_image_stops_training_with_its_message(separable, tmp_path):
    folder = tmp_path / "broken"
    manifest = separable_set(folder, n_per_class=10)
    (folder / "images" / "c1_003.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ImageError, match=r"c1_003.png: corrupt") as err:
        run(manifest, tmp_path / "out", cache="off", workers=1, epochs=1, export=True)
    assert "\n" not in str(err.value) and not (tmp_path / "out" / "model.onnx").exists()


@pytest.mark.slow
def test_dicom_monochrome1_and_16_bit_png_reach_the_model_as_the_data_layer_reads_them(data_dir, tmp_path):
    fixtures = data_dir / "xray-fixtures"
    mono2 = fixtures / "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"
    prep = Preprocessing(size=(64, 64), channels=1)
    source = ImageSource(
        [mono2, fixtures / "Fake_MONOHR1.dcm"], prep, workers=0, cache_on=None, pin_memory=False, seed=0
    )
    ((images, _index),) = source.batches([[0, 1]])
    # The copy differs only in being marked MONOCHROME1 (minimum = white): inverted, it is the
    # negative of the MONOCHROME2 image, here after resizing as well.
    assert torch.allclose(images[1], 1 - images[0], atol=1e-6) and images.std() > 0.05
    values = np.arange(0, 65536, 64, dtype=np.uint16).reshape(32, 32)
    Image.fromarray(values).save(tmp_path / "deep.png")
    deep = ImageSource(
        [tmp_path / "deep.png"],
        Preprocessing(size=(32, 32)),
        workers=0,
        cache_on=torch.device("cpu"),
        pin_memory=False,
        seed=0,
    )
    ((image, _),) = deep.batches([[0]])
    assert torch.equal(image[0, 0], torch.from_numpy(values.astype(np.float32) / np.float32(65535)))
