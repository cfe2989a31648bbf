"""One epoch of training and one pass of validation, on whatever device and precision the run
chose. Orchestration (files, resume, early stopping, export) lives in training.py.

GPU speed habits: the loss is accumulated on the device and read once per epoch (no host sync
per step), batches are copied from pinned memory without blocking, images go channels_last
when asked, and autocast runs the network in bf16 (or fp16 with a gradient scaler).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data.distributed import DistributedSampler

from hstool.stats.auc import auc_score
from hstool.train.augment import Augmentation
from hstool.train.distributed import Context
from hstool.train.loading import ImageSource


@dataclass
class Trainer:
    model: nn.Module  # possibly wrapped in DistributedDataParallel
    normalise: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    loss_fn: nn.Module
    binary: bool
    context: Context
    amp_dtype: torch.dtype | None
    channels_last: bool
    augmentation: Augmentation | None

    def _forward(self, model: nn.Module, images: torch.Tensor) -> torch.Tensor:
        x = self.normalise(images)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.context.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            logits: torch.Tensor
            logits, _ = model(x)
        return logits.float()

    def _loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss: torch.Tensor = (
            self.loss_fn(logits[:, 0], targets.float()) if self.binary else self.loss_fn(logits, targets)
        )
        return loss

    def train_epoch(
        self,
        source: ImageSource,
        targets: torch.Tensor,
        order: list[list[int]],
        *,
        augment_params: torch.Tensor | None,
        progress: Callable[[int], None],
    ) -> tuple[float, int]:
        """Mean training loss over this process's batches (averaged over processes) and the
        number of images this process saw."""
        self.model.train()
        total = torch.zeros((), dtype=torch.float64, device=self.context.device)
        seen = 0
        for images, index in source.batches(order):
            x = images.to(self.context.device, non_blocking=True)
            if self.augmentation is not None and augment_params is not None:
                x = self.augmentation.apply(x, augment_params[index])
            y = targets[index].to(self.context.device, non_blocking=True)
            loss = self._loss(self._forward(self.model, x), y)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
            self.scaler.step(self.optimizer)
            self.scaler.update()
            total += loss.detach() * len(index)
            seen += len(index)
            progress(len(index))
        sums = self.context.gather((float(total.item()), seen))
        return sum(s for s, _ in sums) / max(1, sum(n for _, n in sums)), seen

    @torch.no_grad()
    def evaluate(self, source: ImageSource, targets: torch.Tensor, batch_size: int) -> dict[str, float | None]:
        """Loss, accuracy and (binary) AUC on every row of `source`; each process scores a
        share and the results are gathered, so every process sees the same numbers."""
        # The bare module: DDP's forward would broadcast buffers, a collective call that the
        # processes, holding unequal shares of the validation rows, would not all make.
        model = getattr(self.model, "module", self.model)
        model.eval()
        mine = list(range(self.context.rank, source.n, self.context.world_size))
        order = [mine[i : i + batch_size] for i in range(0, len(mine), batch_size)]
        positions, outputs = [], []
        for images, batch_index in source.batches(order):
            outputs.append(self._forward(model, images.to(self.context.device, non_blocking=True)).cpu())
            positions.append(batch_index)
        local = (
            torch.cat(positions).numpy() if positions else np.empty(0, dtype=np.int64),
            torch.cat(outputs).numpy() if outputs else np.empty((0, 0), dtype=np.float32),
        )
        gathered = self.context.gather(local)
        index = np.concatenate([g[0] for g in gathered])
        logits = torch.from_numpy(np.concatenate([g[1] for g in gathered if len(g[0])])[np.argsort(index)])
        y = targets[np.sort(index)]
        loss = float(self._loss(logits.to(self.context.device), y.to(self.context.device)).item())
        if self.binary:
            p = torch.sigmoid(logits[:, 0]).numpy()
            truth = y.numpy().astype(bool)
            return {
                "val_loss": loss,
                "val_accuracy": float(np.mean((p >= 0.5) == truth)),
                "val_auc": auc_score(p, truth),
            }
        return {"val_loss": loss, "val_accuracy": float((logits.argmax(1) == y).float().mean()), "val_auc": None}


def epoch_batches(n: int, batch_size: int, *, seed: int, epoch: int, context: Context) -> list[list[int]]:
    """This process's batches of positions for `epoch`: a seeded shuffle (DistributedSampler:
    the same permutation in every process, each taking every world_size-th index)."""
    # The sampler only takes len() of its dataset, so the positions themselves stand in for it.
    sampler: DistributedSampler[int] = DistributedSampler(
        range(n),  # type: ignore[arg-type]  # the stub wants a Dataset; only len() is used
        num_replicas=context.world_size,
        rank=context.rank,
        shuffle=True,
        seed=seed,
    )
    sampler.set_epoch(epoch)
    order = list(sampler)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
