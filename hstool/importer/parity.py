"""Running ONNX models on the CPU for the import's checks: the source (for the reference) and
the imported model, or hs train's export, for parity)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hstool.errors import InputError, first_line

# A function from a batch in the source's input space (after the inserted preprocessing) to the
# source's (scores, embedding) for it.
Reference = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def cpu_session(model: bytes | str | Path, label: str) -> Any:
    """An onnxruntime session on the CPU, its log quiet; InputError naming `label` when the
    model cannot be loaded."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    source = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own exception types (InvalidGraph, Fail, ...)
        raise InputError(f"{label}: onnxruntime cannot load it ({first_line(exc)})") from None


def onnx_reference(model: bytes, label: str, input_name: str, batch_one: bool) -> Reference:
    """The source run by onnxruntime, one image at a time when its batch is fixed at 1."""
    session = cpu_session(model, label)

    def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts = [batch[i : i + 1] for i in range(len(batch))] if batch_one else [batch]
        try:
            results = [session.run(None, {input_name: part}) for part in parts]
        except Exception as exc:  # a shape the source does not accept, a failing kernel
            raise InputError(
                f"{label}: onnxruntime could not run it on images of shape {tuple(batch.shape[1:])} "
                f"({first_line(exc)}); check the size and channels"
            ) from None
        scores, embedding = (np.concatenate([r[i] for r in results]) for i in (0, 1))
        return scores, embedding

    return run


def onnx_parity(
    model: Path | bytes,
    batch: np.ndarray,
    expected: Sequence[np.ndarray],
    *,
    input_name: str = "image",
    output_names: Sequence[str] = ("probabilities", "embedding"),
) -> float:
    """Largest absolute difference between onnxruntime's outputs for `batch` and `expected`
    (hs train's export and hs import check their models with it); inf when a shape differs."""
    label = "the exported model" if isinstance(model, bytes) else str(model)
    produced = cpu_session(model, label).run(list(output_names), {input_name: batch})
    if any(p.shape != e.shape for p, e in zip(produced, expected)):
        return float("inf")
    return max(float(np.max(np.abs(p.astype(np.float64) - e))) for p, e in zip(produced, expected))
