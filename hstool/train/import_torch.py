"""`hs import` of PyTorch models (docs/inference.md, "Bring your own model"):

- `--arch NAME --weights FILE`: a torchvision architecture, or a timm one when timm is installed,
  built with random weights (nothing is downloaded) and loaded from a local state dict read with
  `torch.load(weights_only=True)`: a file holding a pickled model object is refused, never
  unpickled. The classification head is the last `nn.Linear`; its input is the embedding, and
  the split is checked (the head applied to the embedding must give the model's own output).
- a TorchScript file: its one output holds the scores; the embedding is found in the exported
  graph as for any ONNX model (the input of the last Gemm/MatMul).

Both are exported by `plain_proto` (hs train's exporter) and imported by
`hstool.importer.run.import_graph`. A state dict's import is checked against PyTorch itself on
both outputs (the export's parity check and the import's in one); a TorchScript export is checked
against PyTorch on the scores, and its import against the export.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from hstool.errors import InputError, ParityError, UsageError, first_line
from hstool.importer.graph import source_graph
from hstool.importer.options import TOLERANCE, ImportOptions
from hstool.importer.parity import onnx_parity
from hstool.importer.run import Imported, Source, import_graph
from hstool.io.atomic import check_writable, refuse_overwriting_inputs
from hstool.io.sidecar import file_sha256
from hstool.train.export import plain_proto
from hstool.train.training import IMAGENET_MEAN, IMAGENET_STD
from hstool.train.weights import mismatch, read_state_dict

INPUT = "input"
SCORES = "scores"
FEATURES = "features"
_SIZE = 224  # torchvision's classification models are trained at 224 x 224


class _ScoresAndFeatures(nn.Module):
    """The model cut before its last linear layer: (scores, features)."""

    def __init__(self, body: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.head = head

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return self.head(features), features


def import_state_dict(
    arch: str, weights: str, out: str, options: ImportOptions, *, num_classes: int | None = None
) -> Imported:
    """Import architecture `arch` with the state dict in `weights`."""
    refuse_overwriting_inputs([out], [weights])
    check_writable(out)
    state = read_state_dict(weights)
    model, defaults = _build(arch, state, num_classes, weights)
    own = model.state_dict()
    problem = mismatch(state, own, set(own))
    if problem:  # checked before loading: torch raises on a tensor of another shape
        raise InputError(f"{weights}: does not fit {arch}: {problem}; pass weights saved from {arch}")
    model.load_state_dict(state, strict=False)
    options = dataclasses.replace(
        options,
        size=options.size or defaults.size,
        channels=options.channels or defaults.channels,
        mean=options.mean or defaults.mean,
        std=options.std or defaults.std,
        architecture=arch,
    )
    module = _split(model.eval(), arch, options)
    return _import(module, Source(weights, "state-dict", file_sha256(weights)), out, options, with_features=True)


def import_torchscript(path: str, out: str, options: ImportOptions) -> Imported:
    """Import the TorchScript module in `path` (one image batch in, scores out)."""
    refuse_overwriting_inputs([out], [path])
    check_writable(out)
    try:
        # torch leaves torch.jit.load unannotated.
        module: nn.Module = torch.jit.load(path, map_location="cpu").eval()  # type: ignore[no-untyped-call]
    except Exception as exc:  # a zip that is not TorchScript, a version torch cannot read
        raise InputError(f"{path}: not a TorchScript file readable by torch.jit.load ({first_line(exc)})") from None
    if options.size is None:
        raise UsageError(f"{path}: a TorchScript file does not record its input size; give the size (e.g. 224)")
    options = dataclasses.replace(options, channels=options.channels or 3)
    return _import(module, Source(path, "torchscript", file_sha256(path)), out, options, with_features=False)


def _import(module: nn.Module, origin: Source, out: str, options: ImportOptions, *, with_features: bool) -> Imported:
    """Export `module` to ONNX, check it against PyTorch, and import the export."""
    assert options.size is not None and options.channels is not None
    if with_features and options.embedding not in (None, FEATURES):
        raise UsageError(
            f"embedding {options.embedding!r}: with an architecture and weights, the embedding is the input of the "
            "last linear layer; to expose another tensor, export the model to ONNX and import that"
        )
    rng = np.random.default_rng(options.seed)
    probe = torch.from_numpy(rng.random((options.parity_images, options.channels, *options.size), dtype=np.float32))
    names = (SCORES, FEATURES) if with_features else (SCORES,)
    try:
        proto = plain_proto(module, probe, input_name=INPUT, output_names=names)
    except Exception as exc:  # torch.export and the ONNX exporter raise many types
        raise InputError(
            f"{origin.path}: PyTorch could not export it to ONNX ({first_line(exc)}); export it yourself and import the .onnx"
        ) from None
    source = source_graph(proto, f"the exported {origin.format} model")

    def run_torch(batch: np.ndarray) -> list[np.ndarray]:
        with torch.no_grad():
            result = module(torch.from_numpy(np.ascontiguousarray(batch)))
        outputs = result if isinstance(result, (tuple, list)) else (result,)
        return [t.detach().float().numpy() for t in outputs]

    if with_features:
        # The import's check runs PyTorch itself as the reference, on both outputs: the
        # exporter's parity check and the import's are one (a DenseNet-121 forward pass less).
        options = dataclasses.replace(options, output=SCORES, embedding=FEATURES)
        reference: Any = lambda batch: tuple(run_torch(batch))  # noqa: E731
        return import_graph(source, origin, out, options, reference=reference)
    # TorchScript: the embedding is found inside the export, so the export is checked against
    # PyTorch on the scores, and the import against the export.
    # Serialised before import_graph rewrites the graph: the export as PyTorch wrote it.
    diff = onnx_parity(
        proto.SerializeToString(), probe.numpy(), run_torch(probe.numpy()), input_name=INPUT, output_names=names
    )
    if not diff < TOLERANCE:
        raise ParityError(
            f"{origin.path}: the ONNX export differs from PyTorch by {diff:.3g} (limit {TOLERANCE:g}); nothing was "
            "written: report this with the model's torch and onnx versions"
        )
    return import_graph(source, origin, out, options, extra={"torch_export_max_abs_diff": diff})


@dataclass(frozen=True)
class _Defaults:
    """An architecture's own input: what it was designed (or pretrained) for."""

    size: tuple[int, int]
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


def _build(
    arch: str, state: dict[str, torch.Tensor], num_classes: int | None, weights: str
) -> tuple[nn.Module, _Defaults]:
    """A randomly initialised `arch` with the head size of `state` (or `num_classes`), and its
    default preprocessing (torchvision: 224 x 224 RGB, ImageNet mean/std as hs train; timm: its
    pretrained_cfg)."""
    import importlib.util

    import torchvision

    if arch in torchvision.models.list_models(module=torchvision.models):
        k = num_classes or _head_width(torchvision.models.get_model(arch, weights=None), state, weights)
        model = torchvision.models.get_model(arch, weights=None, num_classes=k)
        return model, _Defaults((_SIZE, _SIZE), 3, IMAGENET_MEAN, IMAGENET_STD)
    has_timm = importlib.util.find_spec("timm") is not None
    if has_timm:
        import timm
    if not has_timm or not timm.is_model(arch):
        where = "torchvision or timm" if has_timm else "torchvision (timm is not installed)"
        raise UsageError(f"architecture {arch!r}: not a classification model of {where}; e.g. resnet18, densenet121")
    k = num_classes or _head_width(timm.create_model(arch, pretrained=False), state, weights)
    model = timm.create_model(arch, pretrained=False, num_classes=k)
    cfg: dict[str, Any] = dict(getattr(model, "pretrained_cfg", {}))
    channels, height, width = cfg.get("input_size", (3, _SIZE, _SIZE))
    mean = tuple(cfg.get("mean", IMAGENET_MEAN))
    std = tuple(cfg.get("std", IMAGENET_STD))
    return model, _Defaults((int(height), int(width)), int(channels), mean, std)


def _head_width(model: nn.Module, state: dict[str, torch.Tensor], weights: str) -> int:
    name = _last_linear(model)
    tensor = state.get(f"{name}.weight")
    if tensor is None or tensor.ndim != 2:
        raise InputError(f"{weights}: has no '{name}.weight' for the classification head; pass the number of classes")
    return int(tensor.shape[0])


def _last_linear(model: nn.Module) -> str:
    linear = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linear:
        raise UsageError("the architecture has no linear classification layer; export it to ONNX and import that")
    return str(linear[-1])


def _split(model: nn.Module, arch: str, options: ImportOptions) -> _ScoresAndFeatures:
    """Cut `model` before its last linear layer, and check that the cut computes the same."""
    name = _last_linear(model)
    head = model.get_submodule(name)
    probe = torch.from_numpy(
        np.random.default_rng(options.seed).random(
            (1, options.channels or 3, *(options.size or (_SIZE, _SIZE))), dtype=np.float32
        )
    )
    with torch.no_grad():
        whole = model(probe)
    model.set_submodule(name, nn.Identity())
    split = _ScoresAndFeatures(model, head).eval()
    with torch.no_grad():
        scores, _ = split(probe)
    if not torch.allclose(scores, whole, atol=TOLERANCE, rtol=0):
        raise UsageError(
            f"architecture {arch!r}: its last linear layer '{name}' is not the last step of its forward, so its input "
            "is not the penultimate features; export the model to ONNX and import that with the embedding tensor named"
        )
    return split
