"""Feeding images to the training loop: decode + preprocess in DataLoader worker processes,
and keep the result in memory when it is small enough that decoding once beats decoding every
epoch (28 x 28 sets; `--cache`).

An `ImageSource` serves the rows of one manifest subset (training or validation), addressed by
position 0..n-1, in batches whose order the caller decides (seeded per epoch, see
train_loop.epoch_batches). Batches come back as float32 (B, C, H, W) in [0, 1] with the
positions they hold (a CPU tensor): from the cache, on the device the cache lives on (the
training GPU: no host-to-device copy at all once cached), else from the DataLoader on the CPU
(pinned when training on a GPU). An image that cannot be decoded stops training with its
one-line ImageError, even from a worker process.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from hstool.data.images import ImageError, load_image
from hstool.data.preprocess import Preprocessing


class _Images(Dataset[tuple[torch.Tensor, int, str]]):
    def __init__(self, paths: Sequence[Path], preprocessing: Preprocessing) -> None:
        self.paths = list(paths)
        self.preprocessing = preprocessing

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, str]:
        # The error travels as text: an exception raised in a worker would come back wrapped
        # in a multi-line traceback instead of hs's one-line message.
        try:
            return torch.from_numpy(self.preprocessing.apply(load_image(self.paths[i]))), i, ""
        except ImageError as exc:
            c, (h, w) = self.preprocessing.channels, self.preprocessing.size
            return torch.zeros(c, h, w), i, str(exc)


class _Batches:
    """A batch sampler whose content is replaced every epoch (persistent workers keep the same
    DataLoader, and so the same sampler object)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def _worker_init(worker_id: int) -> None:
    # Decoding is deterministic; seeding anyway keeps any library randomness repeatable (the
    # DataLoader's seeded generator decides torch.initial_seed() in each worker).
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(1)  # workers decode with Pillow; torch threads would only compete


class ImageSource:
    def __init__(
        self,
        paths: Sequence[Path],
        preprocessing: Preprocessing,
        *,
        workers: int,
        cache_on: torch.device | None,
        pin_memory: bool,
        seed: int,
    ) -> None:
        """`cache_on`: keep every decoded image in memory on that device (None: decode every epoch)."""
        self.n = len(paths)
        self._batches = _Batches()
        self._loader = DataLoader(
            _Images(paths, preprocessing),
            batch_sampler=self._batches,
            num_workers=workers,
            pin_memory=pin_memory,
            persistent_workers=workers > 0,
            worker_init_fn=_worker_init if workers > 0 else None,
            generator=torch.Generator().manual_seed(seed),
        )
        self._cache: torch.Tensor | None = None
        self._cached = np.zeros(self.n, dtype=bool)
        if cache_on is not None:
            c, (h, w) = preprocessing.channels, preprocessing.size
            self._cache = torch.empty((self.n, c, h, w), dtype=torch.float32, device=cache_on)

    def batches(self, order: list[list[int]]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(images, positions) for each list of positions in `order`, in that order."""
        if self._cache is None:
            yield from self._load(order)
            return
        missing = [b for b in order if not self._cached[b].all()]
        loaded = self._load(missing)
        for batch in order:
            index = torch.as_tensor(batch)
            if self._cached[batch].all():
                yield self._cache[index.to(self._cache.device)], index
            else:
                images, index = next(loaded)
                images = images.to(self._cache.device, non_blocking=True)
                self._cache[index.to(self._cache.device)] = images
                self._cached[batch] = True
                yield images, index

    def _load(self, order: list[list[int]]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if not order:
            return
        self._batches.batches = order
        for images, index, errors in self._loader:
            failed = next((e for e in errors if e), None)
            if failed:
                raise ImageError(failed)
            yield images, index
