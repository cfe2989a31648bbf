"""export_onnx: the model.onnx contract of docs/formats.md, checked with onnxruntime."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from hstool import __version__
from hstool.data.preprocess import Preprocessing
from hstool.errors import UsageError
from hstool.train import export as export_module
from hstool.train.architectures import build_model
from hstool.train.export import ParityError, export_onnx

PREP = Preprocessing(size=(28, 28), channels=1, resize="pad", mean=(0.4,), std=(0.2,))
KEYS = {
    "hs.schema",
    "hs.version",
    "hs.task",
    "hs.class_names",
    "hs.positive_class",
    "hs.architecture",
    "hs.input_size",
    "hs.channels",
    "hs.resize",
    "hs.mean",
    "hs.std",
    "hs.embedding_dim",
    "hs.train_manifest_sha256",
}


def trained_like(n_outputs: int) -> torch.nn.Module:
    """A small CNN whose BatchNorm statistics are not the defaults (as after training)."""
    torch.manual_seed(0)
    model = build_model("smallcnn", n_outputs=n_outputs, channels=1)
    model.train()
    with torch.no_grad():
        model(torch.rand(16, 1, 28, 28) * 3)
    return model.eval()


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    model = trained_like(1)
    path = tmp_path_factory.mktemp("export") / "model.onnx"
    result = export_onnx(
        model,
        PREP,
        class_names=["normal", "pneumonia"],
        task="binary",
        architecture="smallcnn",
        path=path,
        parity_batch=np.random.default_rng(0).random((3, 1, 28, 28)),
        train_manifest_sha256="ab" * 32,
    )
    return model, result


def test_binary_outputs_and_metadata(binary):
    model, result = binary
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    assert [(i.name, i.shape) for i in session.get_inputs()] == [("image", ["batch", 1, 28, 28])]
    assert [o.name for o in session.get_outputs()] == ["probabilities", "embedding"]
    meta = session.get_modelmeta().custom_metadata_map
    assert set(meta) == KEYS
    assert meta["hs.schema"] == "hs.model/1" and meta["hs.version"] == __version__ and meta["hs.task"] == "binary"
    assert json.loads(meta["hs.class_names"]) == ["normal", "pneumonia"] and meta["hs.positive_class"] == "pneumonia"
    assert meta["hs.embedding_dim"] == "128" and meta["hs.train_manifest_sha256"] == "ab" * 32
    assert Preprocessing.from_metadata(meta, source="model.onnx") == PREP
    assert result.max_abs_diff < 1e-4 and result.embedding_dim == 128
    for n in (1, 5):  # dynamic batch axis
        images = np.random.default_rng(n).random((n, 1, 28, 28), dtype=np.float32)
        probabilities, embedding = session.run(None, {"image": images})
        # Independent reference: normalise by hand, run the PyTorch module, sigmoid the logit.
        with torch.no_grad():
            logits, features = model(torch.from_numpy((images - 0.4) / 0.2))
        p = torch.sigmoid(logits[:, 0]).numpy()
        assert probabilities.shape == (n, 2) and embedding.shape == (n, 128)
        assert np.allclose(probabilities[:, 1], p, atol=1e-5) and np.allclose(probabilities[:, 0], 1 - p, atol=1e-5)
        assert np.allclose(embedding, features.numpy(), atol=1e-4)
    assert (
        model.training is False and next(model.parameters()).dtype == torch.float32
    )  # the caller's module is untouched


def test_multiclass_softmax(tmp_path):
    model = trained_like(3)
    result = export_onnx(
        model,
        PREP,
        class_names=["a", "b", "c"],
        task="multiclass",
        architecture="smallcnn",
        path=tmp_path / "m.onnx",
        parity_batch=np.random.default_rng(1).random((2, 1, 28, 28)),
    )
    proto = onnx.load(str(result.path))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert (
        meta["hs.task"] == "multiclass" and meta["hs.positive_class"] == "" and meta["hs.train_manifest_sha256"] == ""
    )
    images = np.random.default_rng(2).random((4, 1, 28, 28), dtype=np.float32)
    probabilities, _ = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"]).run(
        None, {"image": images}
    )
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy((images - 0.4) / 0.2))[0], 1).numpy()
    assert np.allclose(probabilities, expected, atol=1e-5) and np.allclose(probabilities.sum(1), 1, atol=1e-6)


def test_parity_failure_leaves_no_file(tmp_path, binary, monkeypatch):
    model, first = binary
    target = tmp_path / "model.onnx"
    target.write_bytes(b"older model")
    monkeypatch.setattr(export_module, "_to_onnx", lambda graph, batch, metadata: first.path.read_bytes())
    monkeypatch.setattr(export_module, "_parity", lambda path, batch, reference: 3e-3)
    with pytest.raises(ParityError, match=r"differs from PyTorch by 0.003 \(limit 0.0001\).*was not written"):
        export_onnx(
            model,
            PREP,
            class_names=["0", "1"],
            task="binary",
            architecture="smallcnn",
            path=target,
            parity_batch=np.zeros((1, 1, 28, 28)),
        )
    assert target.read_bytes() == b"older model" and [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_inconsistent_arguments(tmp_path):
    model = trained_like(1)
    batch = np.zeros((2, 1, 28, 28))
    common = dict(architecture="smallcnn", path=tmp_path / "m.onnx", parity_batch=batch)
    with pytest.raises(UsageError, match=r"gives \(3,\) logits per image; a binary model with 2 classes needs 1"):
        export_onnx(trained_like(3), PREP, class_names=["a", "b"], task="binary", **common)
    with pytest.raises(UsageError, match="2 class names"):
        export_onnx(model, PREP, class_names=["a", "b", "c"], task="binary", **common)
    with pytest.raises(UsageError, match="must be class_names"):
        export_onnx(model, PREP, class_names=["a", "b"], task="binary", positive_class="a", **common)
    with pytest.raises(UsageError, match=r"gives \(1,\) logits per image; a multiclass model with 3 classes needs 3"):
        export_onnx(model, PREP, class_names=["a", "b", "c"], task="multiclass", **common)
    with pytest.raises(UsageError, match=r"expected \(N, 1, 28, 28\)"):
        export_onnx(
            model, PREP, class_names=["a", "b"], task="binary", **{**common, "parity_batch": np.zeros((2, 3, 28, 28))}
        )
    assert not (tmp_path / "m.onnx").exists()


_EXPORT_SCRIPT = """
import sys
import numpy as np
import torch
from hstool.data.preprocess import Preprocessing
from hstool.train.architectures import build_model
from hstool.train.export import export_onnx

torch.manual_seed(0)
model = build_model("smallcnn", n_outputs=1, channels=1).eval()
export_onnx(model, Preprocessing(size=(28, 28)), class_names=["0", "1"], task="binary", architecture="smallcnn",
            path=sys.argv[1], parity_batch=np.random.default_rng(0).random((2, 1, 28, 28)))
"""


@pytest.mark.slow  # a fresh interpreter imports torch and exports
def test_two_checkouts_export_byte_identical_models_without_their_paths(tmp_path, monkeypatch):
    """The exporter records a Python stack trace with absolute source paths for every node;
    hs strips them, so the same seeded export from this checkout and from a copy of the
    package elsewhere gives the same bytes, which name neither folder."""
    import shutil
    import subprocess
    import sys

    from conftest import ROOT

    copy = tmp_path / "bob" / "elsewhere" / "hs"
    shutil.copytree(ROOT / "hstool", copy / "hstool", ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(copy), "HOME": str(copy)}
    command = [sys.executable, "-c", _EXPORT_SCRIPT, str(copy / "model.onnx")]
    process = subprocess.Popen(command, cwd=copy, env=env, stderr=subprocess.PIPE)
    monkeypatch.setattr(sys, "argv", ["-c", str(tmp_path / "model.onnx")])
    exec(_EXPORT_SCRIPT, {})  # the same export in this process, from this checkout
    assert process.wait() == 0, process.stderr.read().decode() if process.stderr else ""
    here, there = (tmp_path / "model.onnx").read_bytes(), (copy / "model.onnx").read_bytes()
    for data in (here, there):
        assert str(ROOT).encode() not in data and str(copy).encode() not in data
        assert b"hstool/train" not in data and b"stack_trace" not in data
    assert here == there
