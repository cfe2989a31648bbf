"""Grad-CAM against its closed form (CAM, Zhou et al. 2016: for conv -> global average pooling
-> linear, Grad-CAM equals ReLU(sum_k w_k A_k) / (h w)), the target layer of each architecture,
checkpoint loading, and `hs saliency --checkpoint` end to end on an exported model."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import torch
from onnx_models import write_manifest, write_pngs
from PIL import Image
from torch import nn
from train_helpers import one_thread  # noqa: F401 (fixture)

from hstool.data.preprocess import Preprocessing
from hstool.errors import InputError, UsageError
from hstool.train.architectures import Classifier, build_model
from hstool.train.export import export_onnx
from hstool.train.gradcam import GradCam, class_activation, load_classifier, target_layer


def small(seed: int = 0, n_outputs: int = 1) -> Classifier:
    torch.manual_seed(seed)
    model = build_model("smallcnn", n_outputs=n_outputs, channels=1)
    for m in model.modules():  # non-trivial batch-norm statistics, so eval mode matters
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_gradcam_equals_cam_for_global_average_pooling(one_thread, n_outputs):  # noqa: F811
    model = small(n_outputs=n_outputs)
    x = torch.rand(5, 1, 28, 28)
    targets = np.array([1, 0, 1, 0, 1]) if n_outputs == 1 else np.array([0, 1, 2, 2, 1])
    layer = target_layer(model, x[:1])
    assert layer is model.net[10]  # the ReLU of the third block
    cams, _ = class_activation(model, layer, x, targets)
    with torch.no_grad():
        activations = model.net[:11](x)  # (N, 128, 7, 7)
        weight = model.head.weight
        if n_outputs == 1:
            w = weight[0][None] * torch.as_tensor(2.0 * targets - 1.0, dtype=torch.float32)[:, None]
        else:
            w = weight[torch.as_tensor(targets)]
        expected = torch.relu(torch.einsum("nk,nkhw->nhw", w, activations)) / (7 * 7)
    torch.testing.assert_close(cams, expected, atol=1e-6, rtol=1e-4)


def test_target_layers_of_other_architectures_and_none_without_convolutions():
    torch.manual_seed(0)
    resnet = build_model("resnet18", n_outputs=1, channels=1).eval()
    layer = target_layer(resnet, torch.rand(1, 1, 64, 64))
    assert any(layer is m for m in resnet.net.layer4[-1].modules())  # inside the last block
    flat = Classifier(nn.Sequential(nn.Flatten(), nn.Linear(16, 4)), 4, 1)
    with pytest.raises(UsageError, match="has none: use occlusion"):
        target_layer(flat, torch.rand(1, 1, 4, 4))


def test_checkpoints_load_and_foreign_ones_are_refused(tmp_path):
    model = small(seed=3)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    loaded = load_classifier(str(tmp_path / "model.pt"), architecture="smallcnn", n_classes=2, channels=1)
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)[0], model(x)[0])
    with pytest.raises(InputError, match="does not hold the weights of a resnet18"):
        load_classifier(str(tmp_path / "model.pt"), architecture="resnet18", n_classes=2, channels=1)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(InputError, match="not a readable PyTorch checkpoint"):
        load_classifier(str(tmp_path / "junk.pt"), architecture="smallcnn", n_classes=2, channels=1)
    with pytest.raises(UsageError, match="'mlp'"):
        load_classifier(str(tmp_path / "model.pt"), architecture="mlp", n_classes=2, channels=1)


def test_hs_saliency_with_a_checkpoint(run_hs, tmp_path, one_thread):  # noqa: F811
    rng = np.random.default_rng(0)
    paths = write_pngs(tmp_path, rng.integers(0, 256, (4, 28, 28), dtype=np.uint8))
    write_manifest(tmp_path, [f"i{k}" for k in range(4)], paths)
    preprocessing = Preprocessing(size=(28, 28), mean=(0.5,), std=(0.25,))
    model = small(seed=1)
    export_onnx(
        model, preprocessing, class_names=["0", "1"], task="binary", architecture="smallcnn",
        path=tmp_path / "model.onnx", parity_batch=np.random.default_rng(1).random((2, 1, 28, 28), dtype=np.float32),
    )  # fmt: skip
    torch.save(model.state_dict(), tmp_path / "model.pt")
    res = run_hs("saliency", "model.onnx", "manifest.csv", "--checkpoint", "model.pt", "-o", "maps")
    assert res.returncode == 0, res.stderr
    index = pl.read_csv(tmp_path / "maps" / "index.csv")
    assert index.group_by("method").len().sort("method").rows() == [("gradcam", 4), ("occlusion", 4)]
    images = np.stack([np.asarray(Image.open(tmp_path / p), np.float32)[None] / 255 for p in paths])
    expected, _ = GradCam(model, preprocessing)(images, np.ones(4, int))
    for row in index.filter(pl.col("method") == "gradcam").iter_rows(named=True):
        heat = np.load(tmp_path / "maps" / row["map"])
        assert heat.shape == (28, 28) and heat.min() >= 0
        np.testing.assert_allclose(heat, expected[int(row["image_id"][1])], atol=1e-5)
    assert json.loads((tmp_path / "maps" / "index.csv.meta.json").read_text())["parameters"]["methods"] == [
        "occlusion",
        "gradcam",
    ]
    torch.save(small(seed=2).state_dict(), tmp_path / "other.pt")  # another model's weights
    res = run_hs("saliency", "model.onnx", "manifest.csv", "--checkpoint", "other.pt", "-o", "maps2")
    err = res.stderr.decode().strip()
    assert res.returncode == 1 and len(err.splitlines()) == 1 and "not this model's checkpoint" in err
    assert not (tmp_path / "maps2").exists()
