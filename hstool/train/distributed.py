"""Which device to train on, and multi-process training through PyTorch's own engine.

`torchrun --nproc-per-node N -m hstool train ...` starts N processes with RANK, WORLD_SIZE,
LOCAL_RANK and MASTER_ADDR/PORT set; each joins the process group (NCCL on CUDA, gloo on
CPU), trains its shard of every epoch (DistributedSampler) and DDP averages the gradients.
Only rank 0 writes files. Without those variables there is one process and no group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from hstool.errors import UsageError, option_ref


@dataclass(frozen=True)
class Context:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def gather(self, value: Any) -> list[Any]:
        """Every process's `value`, in rank order (a one-element list without a group)."""
        if not self.distributed:
            return [value]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, value)
        return out

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def start(device: str) -> Context:
    """Pick the device (`auto`: CUDA when available) and join the process group under torchrun."""
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError(
            f"{option_ref('device')} cuda: no CUDA GPU is visible to PyTorch; use {option_ref('device')} cpu (or auto)"
        )
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        chosen = torch.device("cuda", local_rank)
    else:
        chosen = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", device_id=chosen if use_cuda else None)
    return Context(rank=rank, world_size=world_size, device=chosen)


def stop(context: Context) -> None:
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()
