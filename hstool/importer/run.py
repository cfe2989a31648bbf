"""`hs import` of an ONNX graph: read the source, add the contract's input, outputs and
metadata, check the result against the source, write it (docs/inference.md, "Bring your own
model").

The check: a seeded batch of random [0, 1] images goes through the source (onnxruntime on the
original graph, or PyTorch for `hstool.train.import_torch`) and through the imported model; a
difference of `tolerance` or more in the probabilities (computed from the source's scores in
float64) or the embeddings means no file is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hstool import __version__
from hstool.data.preprocess import Preprocessing
from hstool.errors import InputError, ParityError, UsageError
from hstool.importer.graph import (
    Affine,
    SourceGraph,
    build,
    check_tensor,
    choose_output,
    default_embedding,
    load_source,
    resolve_activation,
    source_graph,
    with_outputs,
)
from hstool.importer.head import MULTICLASS, Head, resolve_head
from hstool.importer.options import ImportOptions
from hstool.importer.parity import Reference, onnx_parity, onnx_reference
from hstool.importer.strip import strip_local_info
from hstool.infer.runtime import IMPORT_KEY
from hstool.io.atomic import atomic_path, check_writable, refuse_overwriting_inputs
from hstool.io.sidecar import build_sidecar, file_sha256, write_sidecar

SCHEMA = "hs.model/1"
_SUM_TOLERANCE = 1e-3  # probabilities of exclusive classes must sum to 1 within this


@dataclass(frozen=True)
class Source:
    """The file imported, as provenance records it (its name only: no local path)."""

    path: str
    format: str  # onnx, torchscript or state-dict
    sha256: str

    def describe(self) -> dict[str, str]:
        return {"file": Path(self.path).name, "format": self.format, "sha256": self.sha256}


@dataclass(frozen=True)
class Imported:
    path: Path
    max_abs_diff: float
    head: Head
    output: str  # the source's output read as scores
    embedding: str  # the source's tensor exposed as `embedding`
    embedding_dim: int
    metadata: dict[str, str]


def source_format(path: str) -> str:
    """`torchscript` for a zip archive (how torch.jit.save writes), else `onnx` (checked when read)."""
    import zipfile

    return "torchscript" if Path(path).is_file() and zipfile.is_zipfile(path) else "onnx"


def import_onnx(source_path: str, out: str, options: ImportOptions) -> Imported:
    """Import the ONNX model in `source_path` to an hs model.onnx at `out`."""
    refuse_overwriting_inputs([out], [source_path])
    check_writable(out)
    source = source_graph(load_source(source_path), source_path)
    return import_graph(source, Source(source_path, "onnx", file_sha256(source_path)), out, options)


def import_graph(
    source: SourceGraph,
    origin: Source,
    out: str,
    options: ImportOptions,
    *,
    reference: Reference | None = None,
    extra: dict[str, Any] | None = None,
) -> Imported:
    """Turn `source` into an hs model at `out`. `reference` computes the source's (scores,
    embedding) for a batch (default: onnxruntime on `source`); `extra` goes into the sidecar."""
    output = choose_output(source, options.output)
    activation, independent = resolve_activation(source, output, options.activation)
    if options.embedding is not None:
        check_tensor(source, options.embedding)
    embedding = options.embedding or default_embedding(source, output)
    preprocessing, affine = resolve_preprocessing(source, options)
    run_source = reference or onnx_reference(
        with_outputs(source, [output, embedding]), source.label, source.input, source.batch_one
    )
    images = _parity_images(preprocessing, options)
    scores, raw_embedding = (np.asarray(a, dtype=np.float32) for a in run_source(affine.apply(images)))
    if scores.ndim != 2:
        raise InputError(
            f"{source.label}: output '{output}' has shape {scores.shape} for {len(images)} images; hs needs "
            "(N, K) scores, one row per image; choose another output"
        )
    head = resolve_head(
        scores.shape[1],
        activation,
        independent=independent,
        class_names=options.class_names,
        positive=options.positive,
        pick=options.pick,
        output=output,
    )
    _check_probabilities(scores, head, output, source.label)
    expected = (head.probabilities(scores), raw_embedding.reshape(len(images), -1).astype(np.float64))
    embedding_dim = expected[1].shape[1]
    described = {
        "source": origin.describe(),
        "options": options.parameters(),
        "output": output,
        "embedding": embedding,
        "activation": head.activation,
        "findings": list(head.findings),
    }
    metadata = {
        "hs.schema": SCHEMA,
        "hs.version": __version__,
        "hs.task": head.task,
        "hs.class_names": json.dumps(list(head.class_names)),
        "hs.positive_class": head.positive,
        "hs.architecture": options.architecture or Path(origin.path).stem,
        **preprocessing.to_metadata(),
        "hs.embedding_dim": str(embedding_dim),
        "hs.train_manifest_sha256": "",
        IMPORT_KEY: json.dumps(described, sort_keys=True),
    }
    model = build(
        source,
        output=output,
        embedding=embedding,
        head=head,
        affine=affine,
        channels=preprocessing.channels,
        size=preprocessing.size,
        embedding_dim=embedding_dim,
        metadata=metadata,
    )
    strip_local_info(model)
    with atomic_path(out) as tmp:
        tmp.write_bytes(model.SerializeToString())
        diff = onnx_parity(tmp, images, expected)
        if not diff < options.tolerance:
            raise ParityError(
                f"{out}: the imported model differs from {source.label} by {diff:.3g} (limit {options.tolerance:g}) "
                "on the parity batch; the model was not written: report this with the source's opset and producer"
            )
    write_sidecar(
        out,
        build_sidecar(
            schema=SCHEMA,
            parameters=options.parameters(),
            inputs=[{"path": origin.path, "sha256": origin.sha256, "rows": None}],
            rows=None,
            seed=options.seed,
            extra={
                "task": head.task,
                "class_names": list(head.class_names),
                "positive_class": head.positive,
                "preprocessing": preprocessing.to_metadata(),
                "embedding_dim": embedding_dim,
                "import": described,
                "onnx_parity_max_abs_diff": diff,
                **(extra or {}),
            },
        ),
    )
    return Imported(Path(out), diff, head, output, embedding, embedding_dim, metadata)


def resolve_preprocessing(source: SourceGraph, options: ImportOptions) -> tuple[Preprocessing, Affine]:
    """The contract's preprocessing (hs.* metadata) and the steps inserted into the graph.

    The graph maps [0, 1] pixels x to the source's input: x (hi - lo) + lo, then (. - mean) / std.
    That is one per-channel normalisation of x, so the metadata's hs.mean / hs.std hold its
    equivalent on [0, 1] pixels, (mean - lo) / (hi - lo) and std / (hi - lo): the contract is
    unchanged, and hs.import keeps the values as given."""
    _, c, h, w = source.input_shape
    channels = options.channels if options.channels is not None else c if isinstance(c, int) else None
    if channels is None:
        raise UsageError(f"{source.label}: its input has no fixed channel count; give the channels (1 or 3)")
    if isinstance(c, int) and channels != c:
        raise UsageError(f"channels {channels}: input '{source.input}' of {source.label} takes {c} channel(s)")
    fixed = (h, w) if isinstance(h, int) and isinstance(w, int) else None
    size = options.size or fixed
    if size is None:
        raise UsageError(f"{source.label}: its input has no fixed height and width; give the size (e.g. 224)")
    if fixed is not None and tuple(size) != fixed:
        raise UsageError(
            f"size {size[0]}x{size[1]}: input '{source.input}' of {source.label} takes {fixed[0]}x{fixed[1]} images"
        )
    given = Preprocessing(size, channels, options.resize, options.mean or (), options.std or ())
    low, high = options.input_range
    span = high - low
    steps: list[tuple[str, tuple[float, ...]]] = []
    if (low, high) != (0.0, 1.0):
        steps += [("mul", (span,) * channels), ("add", (low,) * channels)]
    if any(m != 0 for m in given.mean):
        steps.append(("sub", given.mean))
    if any(s != 1 for s in given.std):
        steps.append(("div", given.std))
    effective = Preprocessing(
        given.size,
        channels,
        given.resize,
        tuple((m - low) / span for m in given.mean),
        tuple(s / span for s in given.std),
    )
    return effective, Affine(tuple(steps))


def _parity_images(preprocessing: Preprocessing, options: ImportOptions) -> np.ndarray:
    shape = (options.parity_images, preprocessing.channels, *preprocessing.size)
    return np.random.default_rng(options.seed).random(shape, dtype=np.float32)


def _check_probabilities(scores: np.ndarray, head: Head, output: str, label: str) -> None:
    """Scores taken as probabilities (activation none) must look like them."""
    if not np.all(np.isfinite(scores)):
        raise InputError(f"{label}: output '{output}' gives NaN or infinite scores on random images")
    if head.activation != "none":
        return
    if scores.min() < 0 or scores.max() > 1:
        raise UsageError(
            f"output '{output}' of {label} gives scores outside [0, 1] ({scores.min():.3g} to {scores.max():.3g}): "
            "they are logits; import with activation sigmoid or softmax"
        )
    exclusive = head.column is None and head.width > 1 and (head.task == MULTICLASS or head.width == 2)
    sums = scores.sum(axis=1)
    if exclusive and np.max(np.abs(sums - 1)) > _SUM_TOLERANCE:
        raise UsageError(
            f"output '{output}' of {label}: the {head.width} probabilities of an image do not sum to 1 "
            f"(from {sums.min():.3g} to {sums.max():.3g}): independent findings; pick one to audit"
        )
