"""Every option of `hs train`, as one plain dataclass (no torch), so that Python callers and the
CLI configure training the same way, and a resumed run can be checked against the original."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from hstool.errors import OptionError, UsageError, option_ref, require_choice
from hstool.io.table_format import KEY, TableFormat

OPTIMIZERS = ("adam", "sgd")
METRICS = ("auto", "auc", "accuracy", "loss")
DEVICES = ("auto", "cpu", "cuda")
AMP_MODES = ("auto", "bf16", "fp16", "off")
CACHE_MODES = ("auto", "on", "off")
# Preprocessed images are kept in memory (decoded once) when they take at most this much.
CACHE_LIMIT_BYTES = 2 << 30


@dataclass(frozen=True)
class TrainConfig:
    manifest: str
    out_dir: str
    root: str | None = None
    id_col: str = KEY  # the manifest's id column
    table_format: TableFormat = field(default_factory=TableFormat)
    # Model and input; None means "chosen from the architecture" (docs/training.md).
    arch: str = "auto"
    size: tuple[int, int] | None = None
    channels: int | None = None
    resize: str = "stretch"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    weights: str | None = None
    positive: str | None = None
    # Optimisation.
    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-4
    momentum: float = 0.9
    weight_decay: float = 0.0
    class_weight: bool = False
    # Validation, model selection and stopping.
    val_frac: float | None = None
    metric: str = "auto"
    patience: int | None = None
    # Augmentation (on the training batches only).
    augment: bool = True
    rotation: float = 10.0
    translation: float = 0.05
    zoom: float = 0.1
    hflip: bool = False
    # Controlled experiments: 'COL=VALUE:FRAC' strings.
    subsample: tuple[str, ...] = ()
    label_noise: tuple[str, ...] = ()
    seed: int = 0
    # Hardware and bookkeeping: these do not change what is learnt (on CPU), so a resumed run
    # may use other values.
    device: str = "auto"
    amp: str = "auto"
    channels_last: bool | None = None
    workers: int | None = None
    cache: str = "auto"
    deterministic: bool = False
    epoch_weights: bool = True
    export: bool = True
    resume: bool = False
    force: bool = False

    def __post_init__(self) -> None:
        require_choice("optimizer", self.optimizer, OPTIMIZERS)
        require_choice("metric", self.metric, METRICS)
        require_choice("device", self.device, DEVICES)
        require_choice("amp", self.amp, AMP_MODES)
        require_choice("cache", self.cache, CACHE_MODES)
        for name, value, low in (("epochs", self.epochs, 1), ("batch_size", self.batch_size, 1)):
            if value < low:
                raise OptionError(name, value, f"must be at least {low}")
        if not self.lr > 0:
            raise OptionError("lr", self.lr, "must be positive", quoted=False)
        if self.weight_decay < 0 or not 0 <= self.momentum < 1:
            raise UsageError(f"{option_ref('weight_decay')} must be >= 0 and {option_ref('momentum')} in [0, 1)")
        if self.val_frac is not None and not 0 <= self.val_frac < 1:
            raise OptionError("val_frac", self.val_frac, "must be in [0, 1)", quoted=False)
        if self.patience is not None and self.patience < 1:
            raise OptionError(
                "patience", self.patience, "must be at least 1 (leave it out for no early stopping)", quoted=False
            )
        if self.workers is not None and self.workers < 0:
            raise OptionError("workers", self.workers, "must be 0 or more", quoted=False)
        if self.rotation < 0 or not 0 <= self.translation < 1 or not 0 <= self.zoom < 1:
            raise UsageError(
                f"{option_ref('rotation')} must be >= 0 degrees, {option_ref('translation')} and {option_ref('zoom')} in [0, 1)"
            )
        if self.resume and self.force:
            raise UsageError(
                f"{option_ref('resume')} continues the run in the output folder and {option_ref('force')} starts it again: choose one"
            )

    def fingerprint(self) -> dict[str, Any]:
        """The options that decide what is learnt: a resumed run must match these. Epochs and
        patience may change (to train longer), and so may the hardware options."""
        ignored = {
            "out_dir",
            "epochs",
            "patience",
            "device",
            "amp",
            "channels_last",
            "workers",
            "cache",
            "deterministic",
            "epoch_weights",
            "export",
            "resume",
            "force",
            "manifest",
            "root",
            "id_col",
            "table_format",
        }
        return {k: _plain(v) for k, v in asdict(self).items() if k not in ignored}

    def parameters(self) -> dict[str, Any]:
        """Every option, JSON-friendly, for sidecars."""
        return {k: _plain(v) for k, v in asdict(self).items()}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def parse_floats(text: str | None, flag: str) -> tuple[float, ...] | None:
    """'0.5' or '0.485,0.456,0.406' -> floats, for --mean and --std."""
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(
            f"{flag} {text!r}: expected one number per channel, comma-separated, e.g. 0.5 or 0.485,0.456,0.406"
        ) from None
