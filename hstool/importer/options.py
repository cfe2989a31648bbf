"""Every option of `hs import`, as one plain dataclass: the one home of their defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hstool.errors import InputError, UsageError, require_choice

# What the chosen output holds: logits for a sigmoid (one or several independent findings) or a
# softmax, probabilities already ("none"), or "auto": read from the node that produces it.
ACTIVATIONS = ("auto", "sigmoid", "softmax", "none")
# The largest difference allowed between the source and the imported model (probabilities and
# embeddings, absolute), as for hs train's export.
TOLERANCE = 1e-4
# Images in the seeded random batch that the source and the imported model both run.
PARITY_IMAGES = 4


@dataclass(frozen=True)
class ImportOptions:
    """How to read the source's output and what input it expects. None means "from the source"
    (its static input shape, its only output, names 0..K-1) or "not used"."""

    output: str | None = None  # graph output holding the scores: a name or an index
    activation: str = "auto"
    class_names: tuple[str, ...] | None = None
    positive: str | None = None
    pick: str | None = None  # one finding of a multi-label (or one class of a softmax) output
    embedding: str | None = None  # tensor exposed as `embedding`; default: input of the last Gemm/MatMul
    size: tuple[int, int] | None = None
    channels: int | None = None
    resize: str = "stretch"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    # The pixel values the source expects for black and white: [0, 1] pixels are mapped onto it
    # before mean/std (torchxrayvision models expect [-1024, 1024]).
    input_range: tuple[float, float] = (0.0, 1.0)
    architecture: str | None = None  # hs.architecture; default: the source's file name or --arch
    seed: int = 0
    parity_images: int = PARITY_IMAGES
    tolerance: float = TOLERANCE

    def __post_init__(self) -> None:
        require_choice("activation", self.activation, ACTIVATIONS)
        low, high = self.input_range
        if not low < high:
            raise UsageError(f"input range {low:g},{high:g}: the first value (black) must be below the second (white)")
        if self.parity_images < 1:
            raise UsageError(f"parity images {self.parity_images}: must be at least 1")
        if self.class_names is not None and (
            len(set(self.class_names)) != len(self.class_names) or not all(self.class_names)
        ):
            raise UsageError(f"class names {','.join(self.class_names)}: must be distinct and non-empty")

    def parameters(self) -> dict[str, Any]:
        """JSON-friendly, for the model's metadata and sidecar."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def parse_names(text: str | None) -> tuple[str, ...] | None:
    """'a,b,c' -> ('a', 'b', 'c') for --class-names (spaces around names are dropped)."""
    if text is None:
        return None
    return tuple(name.strip() for name in text.split(","))


def read_names(path: str) -> tuple[str, ...]:
    """Class names from a text file, one per line (blank lines ignored), for --class-names-file."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path}: cannot read the class names ({exc.__class__.__name__}); give a UTF-8 text file, one name per line"
        ) from None
    names = tuple(line.strip() for line in lines if line.strip())
    if not names:
        raise InputError(f"{path}: holds no class names; write one name per line")
    return names


def parse_range(text: str | None) -> tuple[float, float] | None:
    """'-1024,1024' -> (-1024.0, 1024.0) for --input-range."""
    if text is None:
        return None
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"input range {text!r}: expected two numbers LOW,HIGH, e.g. -1024,1024") from None
    return low, high
