"""Issue test 1: a torchvision ResNet-18 with a one-logit head (seeded random weights), exported
by a plain torch.onnx.export with no hs metadata, imported with --activation sigmoid and
preprocessing options; hs predict equals PyTorch's sigmoid of the logit and hs embed the
average-pooled 512 features, both computed by the PyTorch model itself."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from onnx_models import write_manifest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from hstool.data.preprocess import Preprocessing, load_batch  # noqa: E402

SIZE = 32  # small images keep the test quick; ResNet-18 pools whatever the size
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
TOL = 1e-4  # the tolerance; onnxruntime and PyTorch float32 differ by about 1e-6 here


@pytest.fixture(scope="module")
def plain_export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resnet")
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=1).eval()
    with torch.no_grad():  # BatchNorm statistics that are not the defaults, as after training
        model.train()
        model(torch.rand(8, 3, SIZE, SIZE) * 2)
        model.eval()
    example = torch.rand(2, 3, SIZE, SIZE)
    # The TorchScript-based exporter: what most ONNX files made elsewhere come from (and quicker here).
    torch.onnx.export(
        model,
        (example,),
        str(folder / "plain.onnx"),
        dynamo=False,
        input_names=["input"],
        output_names=["logit"],
        dynamic_axes={"input": {0: "batch"}, "logit": {0: "batch"}},
    )
    rng = np.random.default_rng(0)
    from PIL import Image

    (folder / "images").mkdir()
    paths = []
    for i in range(10):  # RGB images of another size: resized by hs as for any model
        rel = f"images/rgb_{i}.png"
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(folder / rel)
        paths.append(rel)
    write_manifest(folder, [f"r{i}" for i in range(10)], paths)
    return model, folder


@pytest.mark.slow  # torch import and export: several seconds
def test_plain_resnet18_export_imported_predicts_and_embeds_like_pytorch(run_hs, plain_export, tmp_path):
    model, folder = plain_export
    res = run_hs(
        "import",
        str(folder / "plain.onnx"),
        "-o",
        "model.onnx",
        "--activation",
        "sigmoid",
        "--class-names",
        "normal,pneumonia",
        "--size",
        str(SIZE),
        "--channels",
        "3",
        "--resize",
        "pad",
        "--mean",
        ",".join(map(str, MEAN)),
        "--std",
        ",".join(map(str, STD)),
    )
    assert res.returncode == 0, res.stderr.decode()
    manifest = str(folder / "manifest.csv")
    res = run_hs("predict", "model.onnx", manifest, "-o", "preds.csv", "--workers", "0", "-q")
    assert res.returncode == 0, res.stderr.decode()
    res = run_hs("embed", "model.onnx", manifest, "-o", "emb.npy", "--workers", "0", "-q")
    assert res.returncode == 0, res.stderr.decode()
    preds = pl.read_csv(tmp_path / "preds.csv")
    embedding = np.load(tmp_path / "emb.npy")

    pixels = load_batch(
        [folder / f"images/rgb_{i}.png" for i in range(10)], Preprocessing((SIZE, SIZE), 3, "pad", MEAN, STD)
    )
    x = (torch.from_numpy(pixels) - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    features = torch.nn.Sequential(*list(model.children())[:-1])  # up to and with the average pool
    with torch.no_grad():
        expected_p = torch.sigmoid(model(x))[:, 0].numpy()
        expected_e = torch.flatten(features(x), 1).numpy()
    assert embedding.shape == (10, 512)
    assert np.max(np.abs(preds["score"].to_numpy() - expected_p)) < TOL
    assert np.max(np.abs(embedding - expected_e)) < TOL
    assert preds["pred"].to_list() == [int(p >= 0.5) for p in expected_p]
