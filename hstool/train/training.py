"""`hs train`: from a manifest to model.onnx, with checkpoints, a log and provenance.

    result = train(TrainConfig(manifest="manifest.csv", out_dir="run/"), progress=..., report=...)

Order of work: read and check everything that can be wrong (manifest, images present, options,
output folder) before any model exists; train epoch by epoch, saving the log, the best weights
and a resume checkpoint after each; export the best weights to model.onnx last (checked against
PyTorch). See docs/training.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hstool.data.images import load_image
from hstool.data.preprocess import Preprocessing, load_batch
from hstool.io.sidecar import build_sidecar, file_sha256, write_sidecar
from hstool.train import checkpoints, distributed
from hstool.train.architectures import (
    DEFAULT_LARGE,
    SMALL_CNN,
    SMALL_IMAGE_MAX,
    Classifier,
    Normalise,
    arch_spec,
    build_model,
)
from hstool.train.augment import Augmentation
from hstool.train.checkpoints import ResumeState
from hstool.train.config import CACHE_LIMIT_BYTES, TrainConfig
from hstool.train.export import OPSET, SCHEMA, Exported, export_onnx
from hstool.train.loading import ImageSource
from hstool.train.outputs import (
    AFFECTED_SCHEMA,
    LOG_SCHEMA,
    ONNX,
    check_out_dir,
    prepare_out_dir,
    write_affected,
    write_log,
)
from hstool.train.plan import BINARY, TrainPlan, plan_training
from hstool.train.setup import loss_for, mixed_precision_dtype, optimizer_for, seed_everything
from hstool.train.train_loop import Trainer, epoch_batches
from hstool.train.weights import load_weights
from hstool.workers import default_workers

# ImageNet statistics (RGB), and their mean for grey input: the default normalisation.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PARITY_IMAGES = 8

Progress = Callable[[int, int], None]
Report = Callable[[str], None]


@dataclass
class TrainResult:
    out_dir: Path
    model: Path | None  # model.onnx, None when export was turned off
    history: list[dict[str, Any]]
    best_epoch: int | None
    metric: str | None
    stopped_early: bool
    meta: dict[str, Any] = field(default_factory=dict)  # the model's sidecar


def train(config: TrainConfig, *, progress: Progress | None = None, report: Report | None = None) -> TrainResult:
    """Train and export as `config` says. `progress(done, total)` counts training images of this
    process; `report(line)` receives one line per epoch and notes (main process only)."""
    context = distributed.start(config.device)
    try:
        main = context.is_main
        return _Run(config, context, progress if main else None, report if main else None).run()
    finally:
        distributed.stop(context)


def model_input(config: TrainConfig, first_image: Path) -> tuple[str, Preprocessing, str | None]:
    """The architecture and preprocessing the options ask for, defaults filled in: `--arch
    auto` is the small CNN when the first training image is at most 64 px on each side, else
    DenseNet-121; size and channels default to the architecture's (28 px grey for the small
    CNN, 224 px RGB otherwise); mean/std to ImageNet's."""
    arch, note = config.arch, None
    if arch == "auto":
        h, w = load_image(first_image).shape[:2]
        arch = SMALL_CNN if max(h, w) <= SMALL_IMAGE_MAX else DEFAULT_LARGE
        # A note for stderr and the sidecar, not an error (tests/core/test_no_flags_in_library.py allows it).
        note = f"--arch auto: {arch} (the first training image is {w}x{h})"
    spec = arch_spec(arch)
    channels = config.channels or spec.default_channels
    mean = config.mean or (IMAGENET_MEAN if channels == 3 else (round(sum(IMAGENET_MEAN) / 3, 4),))
    std = config.std or (IMAGENET_STD if channels == 3 else (round(sum(IMAGENET_STD) / 3, 4),))
    size = config.size or (spec.default_size, spec.default_size)
    return arch, Preprocessing(size=size, channels=channels, resize=config.resize, mean=mean, std=std), note


class _Run:
    def __init__(
        self, config: TrainConfig, context: distributed.Context, progress: Progress | None, report: Report | None
    ) -> None:
        self.config = config
        self.context = context
        self.progress = progress or (lambda done, total: None)
        self.report = report or (lambda line: None)

    def run(self) -> TrainResult:
        config, context = self.config, self.context
        plan = plan_training(config)
        folder = check_out_dir(
            config.out_dir, resume=config.resume, force=config.force, inputs=[config.manifest, config.weights]
        )
        arch, prep, note = model_input(config, plan.manifest.paths[plan.train_rows[0]])
        # Notes wait until every check has passed, so that a refusal is the only line printed.
        notes = [note] if note else []
        seed_everything(config.seed, config.deterministic, context.device)
        model = build_model(arch, n_outputs=plan.n_outputs, channels=prep.channels)
        if config.weights:
            notes.append(load_weights(model, config.weights, arch))
        amp_dtype = mixed_precision_dtype(config.amp, context.device)
        channels_last = context.device.type == "cuda" if config.channels_last is None else config.channels_last
        # torch's stub lacks the (device, memory_format) form of Module.to that torch accepts.
        model.to(context.device, memory_format=torch.channels_last if channels_last else torch.preserve_format)  # type: ignore[call-overload]
        optimizer = optimizer_for(config, model)
        scaler = torch.amp.GradScaler(context.device.type, enabled=amp_dtype == torch.float16)
        fingerprint, sha = config.fingerprint(), plan.manifest.source.sha256
        last = folder / checkpoints.FOLDER / checkpoints.LAST
        state = ResumeState(history=[])
        if config.resume:
            saved, state = checkpoints.load_last(last, fingerprint=fingerprint, manifest_sha256=sha)
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            scaler.load_state_dict(saved["scaler"])
            notes.append(f"resuming after epoch {state.epoch} from {last}")
        for line in notes:
            self.report(line)
        provenance = _Provenance(config, plan, self._meta_base(plan, arch, prep, amp_dtype))
        context.barrier()  # every process has checked the output folder before rank 0 changes it
        if context.is_main:
            prepare_out_dir(folder, resume=config.resume)
            if plan.experiments and not config.resume:
                write_affected(folder, plan, provenance.sidecar(AFFECTED_SCHEMA, None, state))
        context.barrier()
        trainer = Trainer(
            model=nn.parallel.DistributedDataParallel(
                model, device_ids=[context.device.index] if context.device.type == "cuda" else None
            )
            if context.distributed
            else model,
            normalise=Normalise(prep).to(context.device),
            optimizer=optimizer,
            scaler=scaler,
            loss_fn=loss_for(config, plan, context.device),
            binary=plan.task == BINARY,
            context=context,
            amp_dtype=amp_dtype,
            channels_last=channels_last,
            augmentation=Augmentation(config.rotation, config.translation, config.zoom, config.hflip)
            if config.augment
            else None,
        )
        stopped = self._epochs(plan, prep, trainer, state, folder, fingerprint, sha, provenance)
        exported = None
        if context.is_main and config.export:
            exported = self._export(plan, arch, prep, model, folder, state, provenance)
        meta = provenance.sidecar(SCHEMA, len(plan.train_rows), state, exported)
        return TrainResult(
            out_dir=folder,
            model=exported.path if exported else None,
            history=state.history,
            best_epoch=state.best_epoch,
            metric=plan.metric,
            stopped_early=stopped,
            meta=meta,
        )

    def _epochs(
        self,
        plan: TrainPlan,
        prep: Preprocessing,
        trainer: Trainer,
        state: ResumeState,
        folder: Path,
        fingerprint: dict[str, Any],
        sha: str,
        provenance: _Provenance,
    ) -> bool:
        """Train from the epoch after `state` to --epochs (or early stop); returns whether
        early stopping ended the run."""
        config, context = self.config, self.context
        cuda = context.device.type == "cuda"
        per_image = prep.channels * prep.size[0] * prep.size[1] * 4
        cache = config.cache == "on" or (
            config.cache == "auto" and per_image * len(plan.manifest.paths) <= CACHE_LIMIT_BYTES
        )
        if config.workers is None:  # each training process computes while its loaders decode
            workers = default_workers(processes=context.world_size, main_computes=True)
        else:
            workers = config.workers
        paths = plan.manifest.paths

        def source(rows: np.ndarray) -> ImageSource:
            return ImageSource(
                [paths[i] for i in rows],
                prep,
                workers=workers,
                cache_on=context.device if cache else None,
                pin_memory=cuda,
                seed=config.seed,
            )

        train_src, val_src = source(plan.train_rows), source(plan.val_rows)
        train_targets = torch.from_numpy(plan.targets[plan.train_rows])
        val_targets = torch.from_numpy(plan.targets[plan.val_rows])
        first = state.epoch + 1
        per_epoch = -(-len(plan.train_rows) // context.world_size)
        total, done = per_epoch * max(0, config.epochs - state.epoch), 0
        if config.patience is not None and state.stale >= config.patience:
            return True
        for epoch in range(first, config.epochs + 1):
            torch.manual_seed(int(np.random.SeedSequence([config.seed, epoch]).generate_state(1)[0]))
            order = epoch_batches(
                len(plan.train_rows), config.batch_size, seed=config.seed, epoch=epoch, context=context
            )
            params = (
                trainer.augmentation.epoch_parameters(len(plan.train_rows), seed=config.seed, epoch=epoch)
                if trainer.augmentation
                else None
            )

            def tick(n: int) -> None:
                nonlocal done
                done += n
                self.progress(done, total)

            start = time.perf_counter()
            train_loss, seen = trainer.train_epoch(
                train_src, train_targets, order, augment_params=params, progress=tick
            )
            seconds = time.perf_counter() - start
            row = {"epoch": epoch, "lr": trainer.optimizer.param_groups[0]["lr"], "train_loss": train_loss}
            if val_src.n:
                row.update(trainer.evaluate(val_src, val_targets, config.batch_size))
            improved = state.record(row, plan.metric)
            if context.is_main:
                self._save_epoch(folder, trainer, state, improved, fingerprint, sha, provenance)
            context.barrier()
            self.report(_epoch_line(row, config.epochs, plan.metric, seen * context.world_size / max(seconds, 1e-9)))
            if config.patience is not None and state.stale >= config.patience:
                self.report(
                    f"early stopping: no better validation {plan.metric} for {config.patience} epoch(s); best epoch {state.best_epoch}"
                )
                return True
        return False

    def _save_epoch(
        self,
        folder: Path,
        trainer: Trainer,
        state: ResumeState,
        improved: bool,
        fingerprint: dict[str, Any],
        sha: str,
        provenance: _Provenance,
    ) -> None:
        weights = checkpoints.weights_of(trainer.model)
        if improved:
            checkpoints.save(weights, folder / checkpoints.MODEL)
        if self.config.epoch_weights:
            checkpoints.save(weights, folder / checkpoints.FOLDER / checkpoints.epoch_name(state.epoch))
        checkpoints.save_last(
            folder / checkpoints.FOLDER / checkpoints.LAST,
            model=trainer.model,
            optimizer=trainer.optimizer,
            scaler=trainer.scaler,
            state=state,
            fingerprint=fingerprint,
            manifest_sha256=sha,
        )
        write_log(folder, state.history, provenance.sidecar(LOG_SCHEMA, len(state.history), state))

    def _export(
        self,
        plan: TrainPlan,
        arch: str,
        prep: Preprocessing,
        model: Classifier,
        folder: Path,
        state: ResumeState,
        provenance: _Provenance,
    ) -> Exported:
        best = torch.load(folder / checkpoints.MODEL, map_location="cpu", weights_only=True)
        model.load_state_dict(best)
        rows = plan.val_rows if len(plan.val_rows) else plan.train_rows
        batch = load_batch([plan.manifest.paths[i] for i in rows[:PARITY_IMAGES]], prep)
        exported = export_onnx(
            model,
            prep,
            class_names=plan.class_names,
            task=plan.task,
            architecture=arch,
            path=folder / ONNX,
            parity_batch=batch,
            positive_class=plan.positive_class,
            train_manifest_sha256=plan.manifest.source.sha256,
        )
        write_sidecar(folder / ONNX, provenance.sidecar(SCHEMA, len(plan.train_rows), state, exported))
        self.report(f"model: {exported.path} (epoch {state.best_epoch}; ONNX parity {exported.max_abs_diff:.1e})")
        return exported

    def _meta_base(
        self, plan: TrainPlan, arch: str, prep: Preprocessing, amp_dtype: torch.dtype | None
    ) -> dict[str, Any]:
        return {
            "task": plan.task,
            "class_names": plan.class_names,
            "positive_class": plan.positive_class,
            "architecture": arch,
            "preprocessing": {
                "size": list(prep.size),
                "channels": prep.channels,
                "resize": prep.resize,
                "mean": list(prep.mean),
                "std": list(prep.std),
            },
            "validation": plan.validation,
            "metric": plan.metric,
            "n_train": len(plan.train_rows),
            "n_val": len(plan.val_rows),
            "train_classes": plan.class_counts(plan.train_rows),
            "val_classes": plan.class_counts(plan.val_rows),
            "experiments": [o.summary() for o in plan.experiments],
            "device": self.context.device.type,
            "world_size": self.context.world_size,
            "amp": "off"
            if amp_dtype is None
            else {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(amp_dtype, "off"),
        }


@dataclass(frozen=True)
class _Provenance:
    """What every sidecar of one training run records; fixed once the run's inputs are checked."""

    config: TrainConfig
    plan: TrainPlan
    base: dict[str, Any]  # task, classes, preprocessing, split sizes, device (_Run._meta_base)

    def sidecar(
        self, schema: str, rows: int | None, state: ResumeState, exported: Exported | None = None
    ) -> dict[str, Any]:
        config = self.config
        inputs = [self.plan.manifest.source.provenance()]
        if config.weights:
            inputs.append({"path": config.weights, "sha256": file_sha256(config.weights), "rows": None})
        extra = {
            **self.base,
            "epochs_run": state.epoch,
            "best_epoch": state.best_epoch,
            "best_value": state.best_value,
        }
        if exported is not None:
            extra.update(
                {
                    "embedding_dim": exported.embedding_dim,
                    "onnx_opset": OPSET,
                    "onnx_parity_max_abs_diff": exported.max_abs_diff,
                }
            )
        return build_sidecar(
            schema=schema, parameters=config.parameters(), inputs=inputs, rows=rows, seed=config.seed, extra=extra
        )


def _epoch_line(row: dict[str, Any], epochs: int, metric: str | None, rate: float) -> str:
    parts = [f"epoch {row['epoch']}/{epochs}", f"train_loss {row['train_loss']:.4f}"]
    for key in ("val_loss", "val_accuracy", "val_auc"):
        if row.get(key) is not None:
            parts.append(f"{key} {row[key]:.4f}")
    if row.get("best") and metric:
        parts.append("(best)")
    parts.append(f"{rate:,.0f} images/s")
    return "  ".join(parts)
