"""hs import of PyTorch models: a timm multi-label model (issue test 2), torchvision weights,
TorchScript, and the refusal of pickled model objects. PyTorch itself is the reference."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from onnx_models import write_manifest, write_pngs

torch = pytest.importorskip("torch")

from hstool.data.preprocess import Preprocessing, load_batch  # noqa: E402

TOL = 1e-4  # the tolerance
SIZE = 32


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    paths = write_pngs(folder, np.random.default_rng(1).integers(0, 256, (8, 40, 40), dtype=np.uint8))
    write_manifest(folder, [f"g{i}" for i in range(len(paths))], paths)
    return folder


def run_model(run_hs, images, *import_args: str) -> tuple[pl.DataFrame, np.ndarray, np.ndarray, str]:
    """Import, then predict and embed the test images; also returns the [0, 1] pixels hs fed."""
    res = run_hs("import", *import_args, "-o", "model.onnx")
    assert res.returncode == 0, res.stderr.decode()
    said = res.stderr.decode()
    manifest = str(images / "manifest.csv")
    res = run_hs(
        "predict", "model.onnx", manifest, "-o", "preds.csv", "--embeddings", "emb.npy", "--workers", "0", "-q"
    )
    assert res.returncode == 0, res.stderr.decode()
    import onnx

    meta = {p.key: p.value for p in onnx.load("model.onnx").metadata_props}
    pixels = load_batch(sorted((images / "images").glob("*.png")), Preprocessing.from_metadata(meta))
    return pl.read_csv("preds.csv"), np.load("emb.npy"), pixels, said


@pytest.mark.slow  # timm import and export: several seconds
def test_timm_multilabel_model_with_its_own_normalisation_pick_one_finding(run_hs, images, tmp_path):
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    # timm's test_resnet normalises with mean = std = 0.5 (not ImageNet's); 14 findings, random weights.
    model = timm.create_model("test_resnet", pretrained=False, num_classes=14).eval()
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    findings = [f"f{i}" for i in range(14)]
    preds, emb, pixels, _ = run_model(
        run_hs,
        images,
        "--arch",
        "test_resnet",
        "--weights",
        str(tmp_path / "weights.pt"),
        "--activation",
        "sigmoid",
        "--class-names",
        ",".join(findings),
        "--pick",
        "f5",
        "--size",
        str(SIZE),
        "--channels",
        "3",
    )
    x = (torch.from_numpy(pixels) - 0.5) / 0.5  # the model's own normalisation, from its config
    with torch.no_grad():
        expected_p = torch.sigmoid(model(x)[:, 5]).numpy()
        expected_e = model.forward_head(model.forward_features(x), pre_logits=True).numpy()
    assert emb.shape == expected_e.shape
    assert np.max(np.abs(preds["score"].to_numpy() - expected_p)) < TOL
    assert np.max(np.abs(emb - expected_e)) < TOL


@pytest.mark.slow
def test_torchvision_state_dict(run_hs, images, tmp_path):
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(1)
    model = torchvision.models.resnet18(weights=None, num_classes=1).eval()
    torch.save({"state_dict": model.state_dict()}, tmp_path / "resnet18.pth")
    preds, emb, pixels, err = run_model(
        run_hs,
        images,
        "--arch",
        "resnet18",
        "--weights",
        str(tmp_path / "resnet18.pth"),
        "--activation",
        "sigmoid",
        "--size",
        str(SIZE),
    )
    assert "embedding 512" in err
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])  # hs train's default
    x = (torch.from_numpy(pixels) - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    with torch.no_grad():
        expected_p = torch.sigmoid(model(x)[:, 0]).numpy()
        expected_e = torch.flatten(torch.nn.Sequential(*list(model.children())[:-1])(x), 1).numpy()
    assert np.max(np.abs(preds["score"].to_numpy() - expected_p)) < TOL
    assert np.max(np.abs(emb - expected_e)) < TOL


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x)).mean(dim=(2, 3))


def test_torchscript_file(run_hs, images, tmp_path):
    torch.manual_seed(2)
    net = _Net().eval()
    torch.jit.save(torch.jit.script(net), str(tmp_path / "scripted.pt"))
    preds, emb, pixels, _ = run_model(
        run_hs,
        images,
        str(tmp_path / "scripted.pt"),
        "--activation",
        "softmax",
        "--class-names",
        "a,b,c",
        "--size",
        "16",
        "--channels",
        "1",
    )
    with torch.no_grad():
        x = torch.from_numpy(pixels)
        expected_p = torch.softmax(net(x), dim=1).numpy()
        expected_e = net.features(x).numpy()
    assert np.max(np.abs(preds.select("p_a", "p_b", "p_c").to_numpy() - expected_p)) < TOL
    assert np.max(np.abs(emb - expected_e)) < TOL


class _Boom:
    """Unpickling this would create `marker`: proof that a refused file was never unpickled."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("what", ["whole-model", "code-on-load"])
def test_a_pickled_object_where_a_state_dict_is_expected_is_refused_unopened(run_hs, tmp_path, what):
    marker = tmp_path / "unpickled"
    payload = _Net() if what == "whole-model" else {"fc.weight": _Boom(str(marker))}
    torch.save(payload, tmp_path / "full_model.pt")
    res = run_hs("import", "--arch", "resnet18", "--weights", str(tmp_path / "full_model.pt"), "-o", "model.onnx")
    err = res.stderr.decode()
    assert res.returncode == 1 and err.count("\n") == 1, err
    assert "full_model.pt: holds a pickled Python object" in err and "it was not unpickled" in err
    assert not marker.exists() and not (tmp_path / "model.onnx").exists()


def test_unknown_architecture_and_missing_weights_say_what_to_pass(run_hs, tmp_path):
    torch.save({"w": torch.zeros(1)}, tmp_path / "w.pt")
    res = run_hs("import", "--arch", "no_such_net", "--weights", str(tmp_path / "w.pt"), "-o", "model.onnx")
    assert res.returncode == 2 and "architecture 'no_such_net': not a classification model" in res.stderr.decode()
    res = run_hs("import", "--arch", "resnet18", "--weights", "absent.pt", "-o", "model.onnx")
    assert res.returncode == 1 and "absent.pt: no such file" in res.stderr.decode()
    assert "never downloads" in res.stderr.decode()
    res = run_hs("import", "--arch", "resnet18", "--weights", str(tmp_path / "w.pt"), "-o", "model.onnx")
    assert res.returncode == 1 and "has no 'fc.weight'" in res.stderr.decode()


def test_weights_of_another_shape_are_one_clear_line(run_hs, tmp_path):
    torchvision = pytest.importorskip("torchvision")
    # resnet50 weights given as resnext50: the same keys, tensors of another shape.
    state = torchvision.models.resnet50(weights=None, num_classes=1).state_dict()
    torch.save(state, tmp_path / "r50.pt")
    res = run_hs("import", "--arch", "resnext50_32x4d", "--weights", str(tmp_path / "r50.pt"), "-o", "m.onnx")
    lines = res.stderr.decode().strip().splitlines()
    assert res.returncode == 1 and len(lines) == 1, lines
    assert "does not fit resnext50_32x4d" in lines[0] and "tensors of another shape" in lines[0]
    assert not (tmp_path / "m.onnx").exists()


def test_a_zip_that_is_not_torchscript_is_refused(run_hs, tmp_path):
    np.savez(tmp_path / "arrays.npz", a=np.zeros(3))  # a zip archive, as TorchScript files are
    res = run_hs("import", str(tmp_path / "arrays.npz"), "-o", "model.onnx", "--size", "16")
    err = res.stderr.decode()
    assert res.returncode == 1 and err.count("\n") == 1 and not (tmp_path / "model.onnx").exists()
    assert "arrays.npz: not a TorchScript file readable by torch.jit.load" in err
