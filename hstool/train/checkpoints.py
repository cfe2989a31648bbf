"""What `hs train` keeps on disk between epochs, all readable with `torch.load(weights_only=True)`
(plain dicts, lists, numbers, strings and tensors; no pickled code):

- `model.pt`: the best weights so far (a state dict of `Classifier`), replaced when the
  validation metric improves (every epoch without validation);
- `checkpoints/epoch_NNN.pt`: the weights after each epoch (unless turned off);
- `checkpoints/last.pt`: everything `--resume` needs: weights, optimiser and gradient-scaler
  state, the epoch, the log so far, the best epoch, and the options and manifest digest the run
  started with. Batch order, augmentation and dropout are functions of (seed, epoch), so no
  random-generator state has to be saved for a resumed run to equal an uninterrupted one.

Every file is written atomically (temporary file, then rename).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import torch

from hstool.errors import InputError, UsageError, option_ref
from hstool.io.atomic import atomic_path

FORMAT = "hs.train-checkpoint/1"
MODEL = "model.pt"
FOLDER = "checkpoints"
LAST = "last.pt"


def epoch_name(epoch: int) -> str:
    return f"epoch_{epoch:03d}.pt"


def weights_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict on the CPU, unwrapped from DistributedDataParallel."""
    module = getattr(model, "module", model)
    return {k: v.detach().to("cpu") for k, v in module.state_dict().items()}


def save(obj: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


@dataclass
class ResumeState:
    """The progress of a run; saved every epoch inside checkpoints/last.pt."""

    epoch: int = 0  # last completed epoch
    history: list[dict[str, Any]] = field(default_factory=list)  # train_log.csv rows so far
    best_epoch: int | None = None
    best_value: float | None = None
    stale: int = 0  # epochs since the best one

    def record(self, row: dict[str, Any], metric: str | None) -> bool:
        """Add an epoch's log row; returns whether it is the new best. Higher is better for
        AUC and accuracy, lower for loss; a tie keeps the earlier epoch. Without validation
        (metric None) every epoch is the best so far, i.e. the last one is kept."""
        value = row.get(f"val_{metric}") if metric else None
        if metric is None:
            improved = True
        elif value is None:
            improved = False
        else:
            improved = self.best_value is None or (
                value < self.best_value if metric == "loss" else value > self.best_value
            )
        if improved:
            self.best_epoch, self.best_value, self.stale = row["epoch"], value, 0
        else:
            self.stale += 1
        self.epoch = row["epoch"]
        self.history = [*self.history, row]
        for r in self.history:
            r["best"] = r["epoch"] == self.best_epoch
        return improved

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "history": self.history,
            "best_epoch": self.best_epoch,
            "best_value": self.best_value,
            "stale": self.stale,
        }


class LastCheckpoint(TypedDict):
    """What checkpoints/last.pt holds."""

    format: str  # FORMAT
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    scaler: dict[str, Any]
    state: dict[str, Any]  # ResumeState.to_dict()
    fingerprint: str  # TrainConfig.fingerprint() as JSON
    manifest_sha256: str


def save_last(
    path: Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    state: ResumeState,
    fingerprint: dict[str, Any],
    manifest_sha256: str,
) -> None:
    checkpoint: LastCheckpoint = {
        "format": FORMAT,
        "model": weights_of(model),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict(),
        "state": state.to_dict(),
        "fingerprint": json.dumps(fingerprint, sort_keys=True),
        "manifest_sha256": manifest_sha256,
    }
    save(checkpoint, path)


def load_last(path: Path, *, fingerprint: dict[str, Any], manifest_sha256: str) -> tuple[LastCheckpoint, ResumeState]:
    """Read checkpoints/last.pt and check it belongs to this run (same options that decide
    what is learnt, same manifest); returns the raw checkpoint and the progress."""
    if not path.is_file():
        raise UsageError(
            f"{option_ref('resume')}: {path} does not exist; nothing to resume (drop {option_ref('resume')} to start a new run)"
        )
    try:
        # torch.load returns Any; what the file holds is checked below (a dict of FORMAT).
        checkpoint: LastCheckpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise InputError(
            f"{path}: not a readable hs checkpoint ({type(exc).__name__}); start again with {option_ref('force')}"
        ) from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise InputError(f"{path}: not an hs training checkpoint ({FORMAT}); start again with {option_ref('force')}")
    saved = json.loads(checkpoint["fingerprint"])
    differ = sorted(k for k in set(saved) | set(fingerprint) if saved.get(k) != fingerprint.get(k))
    if differ:
        shown = ", ".join(f"{k}: {saved.get(k)!r} then, {fingerprint.get(k)!r} now" for k in differ[:3])
        raise UsageError(
            f"{option_ref('resume')}: options differ from the run being resumed ({shown}); use the same options, or {option_ref('force')} to start again"
        )
    if checkpoint["manifest_sha256"] != manifest_sha256:
        raise UsageError(
            f"{option_ref('resume')}: the manifest changed since the run started (sha256 differs); use the same manifest, or {option_ref('force')} to start again"
        )
    return checkpoint, ResumeState(**checkpoint["state"])
