"""Architectures (built offline) and --weights loading."""

from __future__ import annotations

import pytest
import torch

from hstool.errors import InputError, OptionError
from hstool.train.architectures import ARCHITECTURES, arch_spec, build_model
from hstool.train.weights import load_weights

EMBEDDING = {
    "smallcnn": 128,
    "densenet121": 1024,
    "densenet169": 1664,
    "resnet18": 512,
    "resnet50": 2048,
    "resnext50_32x4d": 2048,
}


@pytest.mark.slow
@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_architecture_builds_offline_and_returns_logits_and_embedding(arch):
    torch.manual_seed(0)
    channels = arch_spec(arch).default_channels
    model = build_model(arch, n_outputs=3, channels=channels).eval()
    with torch.no_grad():
        logits, embedding = model(torch.rand(2, channels, 32, 32))
    assert logits.shape == (2, 3) and embedding.shape == (2, EMBEDDING[arch]) == (2, model.embedding_dim)


def test_unknown_architecture():
    with pytest.raises(OptionError, match="^arch='vgg16': unknown architecture; choose one of smallcnn, densenet121"):
        arch_spec("vgg16")


def test_torchvision_state_dict_loads_into_the_backbone(tmp_path):
    import torchvision

    torch.manual_seed(1)
    imagenet = torchvision.models.resnet18(weights=None)
    torch.save(imagenet.state_dict(), tmp_path / "resnet18.pth")
    model = build_model("resnet18", n_outputs=1, channels=3)
    note = load_weights(model, str(tmp_path / "resnet18.pth"), "resnet18")
    assert "(new classification head)" in note
    assert torch.equal(model.net.layer4[1].conv2.weight, imagenet.layer4[1].conv2.weight)
    # Grey model: the RGB filters of the first convolution are summed over their inputs.
    grey = build_model("resnet18", n_outputs=1, channels=1)
    load_weights(grey, str(tmp_path / "resnet18.pth"), "resnet18")
    assert torch.allclose(grey.net.conv1.weight, imagenet.conv1.weight.sum(1, keepdim=True))
    # ... which gives the same features for grey input as the RGB model on the grey image x 3.
    imagenet.fc = torch.nn.Identity()
    x = torch.rand(2, 1, 32, 32)
    grey.eval(), imagenet.eval()
    with torch.no_grad():
        assert torch.allclose(grey.net(x), imagenet(x.repeat(1, 3, 1, 1)), atol=1e-5)


def test_old_densenet_key_names_are_renamed(tmp_path):
    import re

    import torchvision

    torch.manual_seed(2)
    source = torchvision.models.densenet121(weights=None)
    # torchvision's published file: 'norm.1'-style names, and no num_batches_tracked (it predates them).
    old = {
        re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", k): v
        for k, v in source.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    assert "features.denseblock1.denselayer1.norm.1.weight" in old
    torch.save(old, tmp_path / "densenet121-old.pth")
    model = build_model("densenet121", n_outputs=3, channels=3)
    load_weights(model, str(tmp_path / "densenet121-old.pth"), "densenet121")
    assert torch.equal(
        model.net.features.denseblock4.denselayer16.norm2.weight, source.features.denseblock4.denselayer16.norm2.weight
    )


def test_hs_weights_keep_their_head_when_the_classes_match(tmp_path):
    torch.manual_seed(3)
    trained = build_model("smallcnn", n_outputs=3, channels=1)
    torch.save({"model": trained.state_dict(), "epoch": 4}, tmp_path / "last.pt")  # a resume checkpoint
    same = build_model("smallcnn", n_outputs=3, channels=1)
    assert "new classification head" not in load_weights(same, str(tmp_path / "last.pt"), "smallcnn")
    assert all(torch.equal(a, b) for a, b in zip(same.state_dict().values(), trained.state_dict().values()))
    binary = build_model("smallcnn", n_outputs=1, channels=1)
    assert "new classification head" in load_weights(binary, str(tmp_path / "last.pt"), "smallcnn")
    assert torch.equal(binary.net[0].weight, trained.net[0].weight)


def test_weights_that_do_not_fit_give_one_line(tmp_path):
    torch.save(build_model("resnet18", n_outputs=1, channels=3).net.state_dict(), tmp_path / "r18.pt")
    with pytest.raises(InputError) as err:
        load_weights(build_model("smallcnn", n_outputs=1, channels=1), str(tmp_path / "r18.pt"), "smallcnn")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(
        f"weights {tmp_path / 'r18.pt'}: does not fit smallcnn: 15 missing keys (net.0.weight, net.1.bias, "
    )
    assert "unexpected keys" in message and message.endswith("pass weights saved from the same architecture")
    with pytest.raises(InputError, match="no such file; pass a local state dict"):
        load_weights(build_model("smallcnn", n_outputs=1, channels=1), str(tmp_path / "nope.pt"), "smallcnn")
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a PyTorch weights file readable with weights_only=True"):
        load_weights(build_model("smallcnn", n_outputs=1, channels=1), str(tmp_path / "junk.pt"), "smallcnn")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(InputError, match="holds no state dict"):
        load_weights(build_model("smallcnn", n_outputs=1, channels=1), str(tmp_path / "list.pt"), "smallcnn")
