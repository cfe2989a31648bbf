"""Opening an hs `model.onnx` with ONNX Runtime: the model's contract, and the execution provider.

The contract (docs/formats.md, "model.onnx"): input `image` float32 (N, C, H, W) in [0, 1];
outputs `probabilities` (N, K), in `hs.class_names` order, and `embedding` (N, D); `hs.*`
metadata_props with `hs.schema` = `hs.model/1`. A model without that metadata is refused: hs
cannot know how to preprocess its inputs or name its classes.

Providers: `auto` asks for CUDA when this onnxruntime build has it, then CPU. A build listing
CUDA is not proof of a usable GPU (onnxruntime-gpu lists it on machines without one, or without
the CUDA libraries) and ONNX Runtime then silently falls back to CPU; so the provider actually
running is read back from the session, logged and recorded, and `--device cuda` that ends up on
CPU is an error, never a silent slowdown.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hstool.data.preprocess import Preprocessing
from hstool.errors import InputError, OptionError, UsageError, option_ref
from hstool.io.sidecar import file_sha256

SCHEMA = "hs.model/1"
INPUT = "image"
PROBABILITIES = "probabilities"
EMBEDDING = "embedding"
TASKS = ("binary", "multiclass")
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
IMPORT_KEY = "hs.import"  # set by hs import: the source file (name, sha256) and the import options
_NEEDED = "hs.schema=hs.model/1, hs.task, hs.class_names, hs.input_size, hs.channels, hs.resize, hs.mean, hs.std"


# -- provider selection (pure logic, unit-tested without a GPU) --------------------------------
@dataclass(frozen=True)
class Device:
    """What --device asked for: `auto`, `cpu`, or `cuda` (with a GPU index)."""

    kind: str
    gpu: int = 0

    @classmethod
    def parse(cls, text: str) -> Device:
        """'auto', 'cpu', 'cuda' or 'cuda:N'."""
        value = text.strip().lower()
        if value in ("auto", "cpu", "cuda"):
            return cls(value)
        if value.startswith("cuda:") and value[5:].isdigit():
            return cls("cuda", int(value[5:]))
        raise OptionError("device", text, "choose auto, cpu, cuda or cuda:N (GPU index)")

    def __str__(self) -> str:
        return f"cuda:{self.gpu}" if self.kind == "cuda" and self.gpu else self.kind


def provider_plan(device: Device, available: Sequence[str]) -> list[str]:
    """Execution providers to request, in order of preference."""
    if device.kind == "cpu":
        return [CPU]
    if CUDA in available:
        return [CUDA, CPU]
    if device.kind == "cuda":
        raise UsageError(
            f"{option_ref('device')} cuda: this onnxruntime has no CUDA provider (it has {', '.join(available)}); "
            f"install onnxruntime-gpu, or use {option_ref('device')} cpu"
        )
    return [CPU]


def provider_used(device: Device, session_providers: Sequence[str]) -> str:
    """The provider that really runs the model; `--device cuda` without CUDA is an error."""
    used = session_providers[0] if session_providers else CPU
    if device.kind == "cuda" and used != CUDA:
        raise UsageError(
            f"{option_ref('device')} cuda: the CUDA provider could not start (no usable GPU, or missing CUDA/cuDNN "
            f"libraries for onnxruntime-gpu); re-run with {option_ref('verbose')} to see onnxruntime's reason, or use {option_ref('device')} cpu"
        )
    return used


def cuda_options(device: Device) -> dict[str, str]:
    """CUDA provider settings: the chosen GPU; exhaustive cuDNN convolution search (the first
    batch of each shape is slower, every later one faster: right for long runs of one shape);
    TF32 tensor cores, as PyTorch allows for convolutions by default."""
    return {"device_id": str(device.gpu), "cudnn_conv_algo_search": "EXHAUSTIVE", "use_tf32": "1"}


# -- the model --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelInfo:
    """What hs needs to know about a model: its identity, classes and preprocessing."""

    path: str
    sha256: str
    task: str
    class_names: tuple[str, ...]
    positive_class: str | None
    architecture: str | None
    embedding_dim: int
    preprocessing: Preprocessing
    metadata: dict[str, str]

    def describe(self) -> dict[str, Any]:
        """The model's part of a sidecar."""
        return {
            "sha256": self.sha256,
            "architecture": self.architecture,
            "task": self.task,
            "class_names": list(self.class_names),
            "positive_class": self.positive_class,
            "embedding_dim": self.embedding_dim,
            "input_size": list(self.preprocessing.size),
            "channels": self.preprocessing.channels,
            "resize": self.preprocessing.resize,
            "hs_version": self.metadata.get("hs.version"),
            **({"import": _import_record(self.metadata)} if IMPORT_KEY in self.metadata else {}),
            # sha256 of the manifest the model was trained on: hs label-issues compares it with
            # the predicted manifest's to tell in-sample probabilities.
            "train_manifest_sha256": self.metadata.get("hs.train_manifest_sha256") or None,
        }


def _import_record(metadata: dict[str, str]) -> Any:
    """hs import's record of the source and options (JSON), shown as text when it is not JSON."""
    try:
        return json.loads(metadata[IMPORT_KEY])
    except ValueError:
        return metadata[IMPORT_KEY]


@dataclass
class LoadedModel:
    """A ready session with its model information and the provider it runs on."""

    session: Any  # onnxruntime.InferenceSession
    info: ModelInfo
    provider: str
    threads: int

    def run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities (N, K), embeddings (N, D)), float32, for images (N, C, H, W) in [0, 1]."""
        probs, emb = self.session.run([PROBABILITIES, EMBEDDING], {INPUT: images})
        return np.asarray(probs, dtype=np.float32), np.asarray(emb, dtype=np.float32)


def load_model(path: str, *, device: str = "auto", threads: int = 0, verbose: bool = False) -> LoadedModel:
    """Open `path` on the best provider `device` allows and check it is an hs model."""
    chosen = Device.parse(device)
    if threads < 0:
        raise OptionError("threads", threads, "must be 0 (onnxruntime's default) or more", quoted=False)
    model_file = Path(path)
    if not model_file.is_file():
        raise InputError(f"{path}: no such model file; pass the model.onnx written by hs train")
    session = _open_session(path, chosen, threads, verbose)
    provider = provider_used(chosen, session.get_providers())
    info = model_info(path, session)
    return LoadedModel(session=session, info=info, provider=provider, threads=threads)


def _open_session(path: str, device: Device, threads: int, verbose: bool) -> Any:  # an InferenceSession
    import onnxruntime as ort

    plan = provider_plan(device, ort.get_available_providers())
    options = ort.SessionOptions()
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = threads
    # Idle onnxruntime threads spin by default, burning the cores the image decoders need (on a
    # 2-core machine a 28 x 28 run went from about 800 to 2,000 images/s without spinning).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers: list[str | tuple[str, dict[str, str]]] = [(CUDA, cuda_options(device)) if p == CUDA else p for p in plan]
    if CUDA in plan and hasattr(ort, "preload_dlls"):
        # CUDA and cuDNN may come from pip wheels (nvidia-*) that the loader cannot find on its own.
        with contextlib.suppress(Exception):
            ort.preload_dlls()
    try:
        with _quiet_onnxruntime(ort, not verbose):
            return ort.InferenceSession(path, options, providers=providers)
    except Exception as exc:  # onnxruntime's own exception types (InvalidProtobuf, Fail, ...)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(
            f"{path}: not a readable ONNX model ({first}); pass the model.onnx written by hs train"
        ) from None


@contextlib.contextmanager
def _quiet_onnxruntime(ort: Any, quiet: bool) -> Iterator[None]:  # onnxruntime is untyped
    """Without --verbose, hide onnxruntime's own log lines (e.g. the CUDA library warnings of an
    `auto` run on a machine without a GPU): hs reports the provider it actually got."""
    if not quiet:
        yield
        return
    ort.set_default_logger_severity(4)
    try:
        yield
    finally:
        ort.set_default_logger_severity(2)


def model_info(path: str, session: Any) -> ModelInfo:
    """Read and check the hs metadata and the inputs/outputs of an open session."""
    props = dict(session.get_modelmeta().custom_metadata_map)
    if props.get("hs.schema") != SCHEMA:
        found = f"hs.schema={props['hs.schema']!r}" if "hs.schema" in props else "no hs.schema"
        raise InputError(
            f"{path}: not an hs model ({found}): it was not exported by hs train, so hs cannot tell how to "
            f"preprocess images or name classes; predict and embed need the metadata {_NEEDED} (export the model with hs train, or make one with hs import)"
        )
    task = props.get("hs.task")
    if task not in TASKS:
        raise InputError(f"{path}: metadata hs.task is {task!r}, expected binary or multiclass; re-export the model")
    class_names = _class_names(path, props)
    if task == "binary" and len(class_names) != 2:
        raise InputError(
            f"{path}: a binary model needs 2 class names in hs.class_names, found {len(class_names)}; re-export the model"
        )
    preprocessing = Preprocessing.from_metadata(props, source=path)
    embedding_dim = _check_signature(path, session, preprocessing, len(class_names), props)
    return ModelInfo(
        path=path,
        sha256=file_sha256(path),
        task=task,
        class_names=class_names,
        positive_class=props.get("hs.positive_class"),
        architecture=props.get("hs.architecture"),
        embedding_dim=embedding_dim,
        preprocessing=preprocessing,
        metadata=props,
    )


def _class_names(path: str, props: dict[str, str]) -> tuple[str, ...]:
    try:
        names = json.loads(props["hs.class_names"])
    except (KeyError, ValueError):
        names = None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise InputError(f"{path}: metadata hs.class_names must be a JSON list of class names; re-export the model")
    if len(set(names)) != len(names):
        raise InputError(f"{path}: metadata hs.class_names repeats a name; class names must be unique")
    return tuple(names)


def _check_signature(
    path: str, session: Any, preprocessing: Preprocessing, n_classes: int, props: dict[str, str]
) -> int:
    """Check input and output names and static dimensions; return the embedding width."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    if INPUT not in inputs:
        raise InputError(
            f"{path}: the model has no input named '{INPUT}' (it has {', '.join(inputs)}); re-export it with hs train"
        )
    missing = [name for name in (PROBABILITIES, EMBEDDING) if name not in outputs]
    if missing:
        raise InputError(
            f"{path}: the model has no output named '{missing[0]}' (it has {', '.join(outputs)}); re-export it with hs train"
        )
    expected = [None, preprocessing.channels, *preprocessing.size]
    shape = inputs[INPUT].shape
    if len(shape) != 4 or any(isinstance(d, int) and e is not None and d != e for d, e in zip(shape, expected)):
        raise InputError(
            f"{path}: input '{INPUT}' has shape {shape}, but the metadata says (N, {preprocessing.channels}, "
            f"{preprocessing.size[0]}, {preprocessing.size[1]}); re-export the model"
        )
    k = outputs[PROBABILITIES].shape[-1] if outputs[PROBABILITIES].shape else None
    if isinstance(k, int) and k != n_classes:
        raise InputError(
            f"{path}: output '{PROBABILITIES}' has {k} columns but hs.class_names names {n_classes} classes; re-export the model"
        )
    d = outputs[EMBEDDING].shape[-1] if outputs[EMBEDDING].shape else None
    declared = props.get("hs.embedding_dim")
    if declared is not None:
        if not declared.strip().isdigit() or (isinstance(d, int) and int(declared) != d):
            raise InputError(
                f"{path}: metadata hs.embedding_dim {declared!r} does not match output '{EMBEDDING}' {outputs[EMBEDDING].shape}"
            )
        return int(declared)
    if not isinstance(d, int):
        raise InputError(
            f"{path}: output '{EMBEDDING}' has no fixed width and hs.embedding_dim is missing; re-export the model"
        )
    return d
