"""Tiny image sets for the training tests: PNG files written in the test, a manifest next to them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def separable_set(
    folder: Path, *, n_per_class: int = 48, size: int = 28, seed: int = 0, labels=("0", "1"), split: bool = False
) -> Path:
    """Grey images whose class is their brightness (dark ~0.25, bright ~0.75, noise sd 0.1):
    trivially separable. Columns: image_id, path, label, subclass ('a' for every 4th image of
    a class, else 'b'), and with `split` a split column (every 4th image of a class is val).
    Returns the manifest path."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    lines = ["image_id,path,label,subclass" + (",split" if split else "")]
    for c, label in enumerate(labels):
        level = 0.25 + 0.5 * c / max(1, len(labels) - 1)
        for i in range(n_per_class):
            image_id = f"c{c}_{i:03d}"
            pixels = np.clip(level + rng.normal(0, 0.1, (size, size)), 0, 1)
            Image.fromarray((pixels * 255).round().astype(np.uint8)).save(folder / "images" / f"{image_id}.png")
            row = f"{image_id},images/{image_id}.png,{label},{'a' if i % 4 == 0 else 'b'}"
            lines.append(row + ("," + ("val" if i % 4 == 1 else "train") if split else ""))
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


@pytest.fixture
def one_thread():
    """Training tests run torch on one thread: on a shared 2-core machine two threads that
    wait for each other are several times slower than one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
