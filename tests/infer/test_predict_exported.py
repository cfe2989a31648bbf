"""hs predict/embed on a model exported by hs train's exporter equal the PyTorch model itself.

hs train's small CNN (seeded random weights), binary and multi-class, on real PneumoniaMNIST
PNGs; PyTorch runs on the same preprocessed pixels (`load_batch`), so the comparison is of the
model, not of decoding. (DenseNet-121 is compared in benchmarks/infer_speed.py, which prints the
largest difference: its export takes over a minute.)
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

torch = pytest.importorskip("torch")

from hstool.data.preprocess import Preprocessing, load_batch  # noqa: E402
from hstool.train.architectures import Normalise, build_model  # noqa: E402
from hstool.train.export import export_onnx  # noqa: E402

# ONNX Runtime and PyTorch (both float32 on CPU) sum in different orders; over the few hundred
# terms of these layers that moves the results by about 1e-6. The exporter itself refuses a
# model that differs by 1e-4; the tolerance here is tighter.
PROB_TOL = 1e-5
EMB_TOL = 1e-5


def torch_outputs(model, prep: Preprocessing, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        logits, embedding = model(Normalise(prep)(torch.from_numpy(pixels)))
        if logits.shape[1] == 1:  # binary: one logit, probabilities [1 - p, p]
            probs = torch.sigmoid(torch.cat([-logits, logits], dim=1))
        else:
            probs = torch.softmax(logits, dim=1)
    return probs.numpy(), embedding.numpy()


def _export(model, prep, path, class_names, task):
    parity = torch.rand(2, prep.channels, *prep.size, generator=torch.Generator().manual_seed(1))
    export_onnx(model, prep, class_names=class_names, task=task, architecture="test", path=path, parity_batch=parity)


@pytest.fixture(scope="module")
def pneumonia(tmp_path_factory, data_dir):
    from hstool.data.build import manifest_from_npz

    folder = tmp_path_factory.mktemp("pm")
    manifest_from_npz(str(data_dir / "pneumoniamnist" / "pneumoniamnist.npz"), str(folder), splits=["test"], limit=80)
    return folder


@pytest.mark.slow  # torch import and export: several seconds
@pytest.mark.parametrize("task, classes", [("binary", ["normal", "pneumonia"]), ("multiclass", ["a", "b", "c"])])
def test_small_cnn_exported_by_hs_train(run_hs, pneumonia, task, classes):
    torch.manual_seed(0)
    prep = Preprocessing(size=(28, 28), channels=1, mean=(0.5,), std=(0.25,))
    model = build_model("smallcnn", n_outputs=1 if task == "binary" else len(classes), channels=1).eval()
    _export(model, prep, pneumonia / f"{task}.onnx", classes, task)
    res = run_hs(
        "predict",
        f"{task}.onnx",
        "manifest.csv",
        "-o",
        f"{task}.csv",
        "--embeddings",
        f"{task}.npy",
        "--batch-size",
        "16",
        "--workers",
        "0",
        cwd=pneumonia,
    )
    assert res.returncode == 0, res.stderr
    manifest = pl.read_csv(pneumonia / "manifest.csv")
    probs, emb = torch_outputs(model, prep, load_batch([pneumonia / p for p in manifest["path"]], prep))
    preds = pl.read_csv(pneumonia / f"{task}.csv")
    assert preds["image_id"].to_list() == manifest["image_id"].to_list()
    got = preds["score"].to_numpy() if task == "binary" else preds.select([f"p_{c}" for c in classes]).to_numpy()
    np.testing.assert_allclose(got, probs[:, 1] if task == "binary" else probs, atol=PROB_TOL)
    np.testing.assert_allclose(np.load(pneumonia / f"{task}.npy"), emb, atol=EMB_TOL)
