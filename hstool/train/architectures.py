"""The classifiers `hs train` builds: torchvision's DenseNet/ResNet/ResNeXt and a small CNN for
28 x 28 inputs, all wrapped in `Classifier`, whose forward returns (logits, embedding).

Nothing is downloaded: torchvision models are built with `weights=None` (random
initialisation, seeded by the caller); `hstool.train.weights.load_weights` reads a local file.
A 1-channel model gets a 1-channel first convolution (pretrained RGB filters are summed over
their input channels when loaded, see weights.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from hstool.data.preprocess import Preprocessing
from hstool.errors import OptionError

SMALL_CNN = "smallcnn"


@dataclass(frozen=True)
class ArchSpec:
    """What hs needs to know of an architecture: its default input and, for torchvision
    models, where the first convolution and the ImageNet head are."""

    default_size: int
    default_channels: int
    first_conv: str | None = None  # attribute path in the torchvision model
    head: str | None = None  # the ImageNet classifier replaced by hs's own head


ARCHITECTURES: dict[str, ArchSpec] = {
    SMALL_CNN: ArchSpec(default_size=28, default_channels=1),
    "densenet121": ArchSpec(224, 3, "features.conv0", "classifier"),
    "densenet169": ArchSpec(224, 3, "features.conv0", "classifier"),
    "resnet18": ArchSpec(224, 3, "conv1", "fc"),
    "resnet50": ArchSpec(224, 3, "conv1", "fc"),
    "resnext50_32x4d": ArchSpec(224, 3, "conv1", "fc"),
}
# `--arch auto`: the small CNN for images at most this many pixels on each side, else DenseNet-121
# (the architecture of CheXNet and of the hidden-stratification paper's radiograph models).
SMALL_IMAGE_MAX = 64
DEFAULT_LARGE = "densenet121"


def arch_spec(name: str) -> ArchSpec:
    if name not in ARCHITECTURES:
        raise OptionError("arch", name, f"unknown architecture; choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


class Classifier(nn.Module):
    """`net` maps normalised images (N, C, H, W) to the embedding (N, D); `head` maps that to
    logits: one for a binary task, K for K classes."""

    def __init__(self, net: nn.Module, embedding_dim: int, n_outputs: int) -> None:
        super().__init__()
        self.net = net
        self.head = nn.Linear(embedding_dim, n_outputs)
        self.embedding_dim = embedding_dim

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.net(x)
        return self.head(embedding), embedding


class Normalise(nn.Module):
    """(x - mean) / std per channel with the preprocessing's values held as buffers: the same
    arithmetic as `Preprocessing.normalise`, on the model's device without a host copy per
    batch, and part of the exported ONNX graph."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, preprocessing: Preprocessing) -> None:
        super().__init__()
        shape = (1, preprocessing.channels, 1, 1)
        self.register_buffer("mean", torch.tensor(preprocessing.mean, dtype=torch.float32).reshape(shape))
        self.register_buffer("std", torch.tensor(preprocessing.std, dtype=torch.float32).reshape(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def build_model(arch: str, *, n_outputs: int, channels: int) -> Classifier:
    """A randomly initialised classifier (seed torch before calling for repeatable weights)."""
    spec = arch_spec(arch)
    if arch == SMALL_CNN:
        return Classifier(_small_cnn(channels), 128, n_outputs)
    import torchvision

    model = getattr(torchvision.models, arch)(weights=None)
    assert spec.head is not None and spec.first_conv is not None  # every torchvision ArchSpec names both
    head = getattr(model, spec.head)
    setattr(model, spec.head, nn.Identity())  # the forward then ends at the pooled features
    if channels != 3:
        _replace_first_conv(model, spec.first_conv, channels)
    return Classifier(model, head.in_features, n_outputs)


def _small_cnn(channels: int) -> nn.Sequential:
    """Three 3x3 conv-BN-ReLU layers (32, 64, 128 filters) with 2x2 max-pooling between them and
    global average pooling: about 93,000 parameters and 7.4 M multiply-adds for a 28 x 28 image,
    so that CPU training is quick; 128-d embedding. Any input size works; it is meant for
    28 x 28 images (MedMNIST, Fashion-MNIST)."""

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *block(channels, 32),
        nn.MaxPool2d(2),
        *block(32, 64),
        nn.MaxPool2d(2),
        *block(64, 128),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


def _replace_first_conv(model: nn.Module, path: str, channels: int) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    old: nn.Conv2d = getattr(parent, name)
    setattr(
        parent,
        name,
        nn.Conv2d(
            channels,
            old.out_channels,
            cast(tuple[int, int], old.kernel_size),  # a Conv2d's are 2-tuples; the stub says tuple[int, ...]
            cast(tuple[int, int], old.stride),
            cast("str | tuple[int, int]", old.padding),
            bias=old.bias is not None,
        ),
    )
