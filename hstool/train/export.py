"""Export a trained classifier to `model.onnx` (docs/formats.md, "model.onnx"), checked against
PyTorch through onnxruntime before it is put in place.

The graph takes `image`, float32 (N, C, H, W) in [0, 1] (resized, channels converted), and
normalises inside, so no consumer can forget the mean/std or apply them twice. Outputs:
`probabilities` (N, K) in `class_names` order (binary: [1 - p, p] from the single logit, with
p for `class_names[1]`, the positive class) and `embedding` (N, D). The batch axis is dynamic.
`metadata_props` carry the `hs.*` keys that hs predict / hs embed read.

The exporter's records of where each node came from (Python stack traces with absolute source
paths, FX node names) are removed (`plain_proto`): they leak folder names into a file that may be
shared, and would make the same training give different bytes in another checkout.

Written atomically: the file appears only after the parity check passed; a failed check raises
ParityError and leaves nothing (an older file of the same name is left as it was).

Usage from a test, with any module whose forward returns (logits, embedding):

    export_onnx(build_model("smallcnn", n_outputs=1, channels=1), Preprocessing(size=(28, 28)),
                class_names=["0", "1"], task="binary", architecture="smallcnn",
                path=tmp_path / "model.onnx", parity_batch=np.random.rand(4, 1, 28, 28))
"""

from __future__ import annotations

import copy
import io
import json
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hstool import __version__
from hstool.data.preprocess import Preprocessing
from hstool.errors import ParityError, UsageError
from hstool.importer.parity import onnx_parity
from hstool.io.atomic import atomic_path
from hstool.train.architectures import Normalise

SCHEMA = "hs.model/1"
INPUT = "image"
OUTPUTS = ("probabilities", "embedding")
OPSET = 18
TOLERANCE = 1e-4
TASKS = ("binary", "multiclass")


@dataclass(frozen=True)
class Exported:
    path: Path
    max_abs_diff: float  # largest difference from PyTorch over both outputs of the parity batch
    embedding_dim: int
    metadata: dict[str, str]


class _Graph(nn.Module):
    """What model.onnx computes: normalise, classify, turn logits into probabilities."""

    def __init__(self, model: nn.Module, preprocessing: Preprocessing, binary: bool) -> None:
        super().__init__()
        self.normalise = Normalise(preprocessing)
        self.model = model
        self.binary = binary

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, embedding = self.model(self.normalise(image))
        if self.binary:
            # [sigmoid(-z), sigmoid(z)] = [1 - p, p], each computed without cancellation.
            z = logits[:, :1]
            return torch.sigmoid(torch.cat([-z, z], dim=1)), embedding
        return torch.softmax(logits, dim=1), embedding


def export_onnx(
    model: nn.Module,
    preprocessing: Preprocessing,
    *,
    class_names: Sequence[str],
    task: str,
    architecture: str,
    path: str | Path,
    parity_batch: np.ndarray | torch.Tensor,
    positive_class: str | None = None,
    train_manifest_sha256: str = "",
    tolerance: float = TOLERANCE,
) -> Exported:
    """Write `model` as an hs model.onnx at `path` and check it against PyTorch.

    `model`: forward(normalised (N, C, H, W)) -> (logits, embedding); one logit for a binary
    task, len(class_names) otherwise. It is copied (to CPU, float32, eval mode); the caller's
    module is not changed. `parity_batch`: (N, C, H, W) pixels in [0, 1], N >= 1, run through
    both PyTorch and onnxruntime (CPU); a difference of `tolerance` or more on either output
    raises ParityError. `positive_class` defaults to class_names[1] for a binary task (empty
    for multi-class). Returns what was written, with the measured difference.
    """
    if task not in TASKS:
        raise UsageError(f"task {task!r}: choose one of {', '.join(TASKS)}")
    names = [str(c) for c in class_names]
    if task == "binary":
        if len(names) != 2:
            raise UsageError(f"a binary model needs 2 class names, got {len(names)}")
        positive = names[1] if positive_class is None else str(positive_class)
        if positive != names[1]:
            raise UsageError(
                f"positive class {positive!r} must be class_names[1] ({names[1]!r}): order the names [negative, positive]"
            )
    else:
        positive = ""
    graph = _Graph(_cpu_copy(model), preprocessing, binary=task == "binary").eval()
    batch = torch.as_tensor(np.asarray(parity_batch, dtype=np.float32))
    expected_shape = (preprocessing.channels, *preprocessing.size)
    if batch.ndim != 4 or tuple(batch.shape[1:]) != expected_shape or len(batch) == 0:
        raise UsageError(
            f"parity batch of shape {tuple(batch.shape)}: expected (N, {', '.join(map(str, expected_shape))})"
        )
    with torch.no_grad():
        logits, _ = graph.model(graph.normalise(batch))
        reference = [t.numpy() for t in graph(batch)]
    expected = 1 if task == "binary" else len(names)
    if logits.ndim != 2 or logits.shape[1] != expected:
        raise UsageError(
            f"the model gives {tuple(logits.shape[1:])} logits per image; a {task} model with {len(names)} classes needs {expected}"
        )
    embedding_dim = int(reference[1].shape[1])
    metadata = {
        "hs.schema": SCHEMA,
        "hs.version": __version__,
        "hs.task": task,
        "hs.class_names": json.dumps(names),
        "hs.positive_class": positive,
        "hs.architecture": architecture,
        **preprocessing.to_metadata(),
        "hs.embedding_dim": str(embedding_dim),
        "hs.train_manifest_sha256": train_manifest_sha256,
    }
    data = _to_onnx(graph, batch, metadata)
    diff = _parity(data, batch.numpy(), reference)
    if not diff < tolerance:
        raise ParityError(
            f"{path}: the exported model differs from PyTorch by {diff:.3g} (limit {tolerance:g}) on the parity "
            "batch; the model was not written: report this with the architecture and torch/onnx versions"
        )
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Exported(path=Path(path), max_abs_diff=diff, embedding_dim=embedding_dim, metadata=metadata)


def _cpu_copy(model: nn.Module) -> nn.Module:
    module = getattr(model, "module", model)  # unwrap DistributedDataParallel
    # torch's stub lacks the (device, dtype, memory_format) form of Module.to that torch accepts.
    clone: nn.Module = copy.deepcopy(module).to(
        device="cpu", dtype=torch.float32, memory_format=torch.contiguous_format
    )  # type: ignore[call-overload]
    return clone.eval()


def _to_onnx(graph: nn.Module, batch: torch.Tensor, metadata: dict[str, str]) -> bytes:
    import onnx

    proto = plain_proto(graph, batch, input_name=INPUT, output_names=OUTPUTS)
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    buffer = io.BytesIO()
    onnx.save_model(proto, buffer)
    return buffer.getvalue()


def plain_proto(module: nn.Module, batch: torch.Tensor, *, input_name: str, output_names: Sequence[str]) -> Any:
    """`module` (one image batch in, tensors out) as an ONNX ModelProto, opset 18, with a dynamic batch axis,
    without the exporter's records of local source paths (`strip_local_info`). A TorchScript
    module goes through the TorchScript-based exporter, which torch.export cannot read."""
    import onnx

    from hstool.importer.strip import strip_local_info

    # torch.export specialises a dimension seen as 1 (or 0); an example batch of 2 keeps the
    # batch axis symbolic whatever the parity batch holds.
    example = batch[:1].repeat(2, 1, 1, 1)
    scripted = isinstance(module, torch.jit.ScriptModule)
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as folder:
        warnings.simplefilter("ignore")  # exporter chatter about internal decompositions
        if scripted:
            torch.onnx.export(
                module,
                (example,),
                Path(folder) / "model.onnx",
                dynamo=False,
                opset_version=OPSET,
                input_names=[input_name],
                output_names=list(output_names),
                dynamic_axes={name: {0: "batch"} for name in [input_name, *output_names]},
            )
            proto = onnx.load(str(Path(folder) / "model.onnx"))
        else:
            program = torch.onnx.export(
                module,
                (example,),
                None,
                dynamo=True,
                opset_version=OPSET,
                verbose=False,
                input_names=[input_name],
                output_names=list(output_names),
                dynamic_shapes=({0: torch.export.Dim("batch")},),
            )
            assert program is not None  # the dynamo exporter always returns a program
            proto = program.model_proto
    strip_local_info(proto)
    return proto


def _parity(model: bytes, batch: np.ndarray, reference: list[np.ndarray]) -> float:
    return onnx_parity(model, batch, reference, input_name=INPUT, output_names=OUTPUTS)
