"""What a training run builds from its options before the first batch: the seeds, the
mixed-precision type, the optimizer and the loss (hstool/train/training.py runs the rest)."""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from torch import nn

from hstool.train.config import TrainConfig
from hstool.train.plan import BINARY, TrainPlan


def seed_everything(seed: int, deterministic: bool, device: torch.device) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    if device.type == "cuda":
        # cuDNN autotuning picks the fastest kernels, not always the same ones.
        torch.backends.cudnn.benchmark = not deterministic


def mixed_precision_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    if amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if amp == "bf16" else torch.float16


def optimizer_for(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def loss_for(config: TrainConfig, plan: TrainPlan, device: torch.device) -> nn.Module:
    """BCE on the single logit (binary) or cross-entropy; with --class-weight, classes are
    weighted inversely to their training frequency (binary: pos_weight = negatives/positives)."""
    counts = np.bincount(plan.targets[plan.train_rows], minlength=plan.n_classes).astype(np.float64)
    if plan.task == BINARY:
        pos_weight = (
            torch.tensor([counts[0] / counts[1]], dtype=torch.float32, device=device) if config.class_weight else None
        )
        return nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    weight = (
        torch.tensor(counts.sum() / (len(counts) * counts), dtype=torch.float32, device=device)
        if config.class_weight
        else None
    )
    return nn.CrossEntropyLoss(weight=weight)
