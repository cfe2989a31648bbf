"""Thumbnails: an image array becomes a small PNG/JPEG, embedded in the report as a data URI.

Only pixels are encoded (Pillow writes no metadata here), so no DICOM tag, patient name or
date can reach the report through a thumbnail. Images are decoded and encoded in worker
processes; results come back in request order, so the report is the same for any number of
workers. An image that cannot be read becomes a placeholder that says why, never a crash.
"""

from __future__ import annotations

import base64
import io
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from hstool.workers import default_workers

JPEG_QUALITY = 85


@dataclass(frozen=True)
class Thumb:
    """A rendered thumbnail (`uri` set) or a placeholder (`reason` set)."""

    uri: str | None = None
    width: int = 0
    height: int = 0
    reason: str = ""


def thumbnail(image: np.ndarray, size: int) -> Thumb:
    """Encode an (H, W, C) float image in [0, 1] (C = 1 or 3) to fit in size x size pixels.

    Images larger than the box are downscaled (area-averaging) and stored as JPEG, which is a
    third of the size of PNG for radiographs at this scale; smaller images keep their exact
    pixels as PNG and are scaled up by the browser.
    """
    array = np.asarray(image, dtype=np.float32)
    if array.ndim != 3 or array.shape[2] not in (1, 3) or 0 in array.shape:
        return Thumb(reason=f"unexpected image shape {tuple(np.shape(image))}")
    downscaled = max(array.shape[:2]) > size
    array = _shrink(array, size)
    pixels = (np.clip(np.nan_to_num(array), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    picture = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    buffer = io.BytesIO()
    if downscaled:
        picture.thumbnail((size, size), Image.Resampling.BOX)
        picture.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        mime = "image/jpeg"
    else:
        picture.save(buffer, format="PNG", optimize=True)
        mime = "image/png"
    uri = f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return Thumb(uri=uri, width=picture.size[0], height=picture.size[1])


def _shrink(array: np.ndarray, size: int) -> np.ndarray:
    """Box-average by the largest integer factor that keeps the longer side at least `size`,
    in float and before any other step: a 2048-pixel radiograph is reduced in one C pass
    instead of being converted to 8 bits at full size first (measured two to three times faster)."""
    factor = max(array.shape[:2]) // size
    if factor < 2:
        return array
    planes = [
        np.asarray(Image.fromarray(np.ascontiguousarray(array[:, :, c])).reduce(factor)) for c in range(array.shape[2])
    ]
    return np.stack(planes, axis=2)


def _render(path: str, size: int) -> Thumb:
    from hstool.data.images import load_image  # the image layer (PNG/JPEG/DICOM/NPY)
    from hstool.errors import HsError

    try:
        return thumbnail(load_image(path), size)
    except HsError as exc:
        return Thumb(reason=_reason(str(exc), path))
    except (OSError, ValueError) as exc:  # a file that breaks a decoder in an unforeseen way
        return Thumb(reason=f"cannot read the image ({type(exc).__name__})")


def _reason(message: str, path: str) -> str:
    """The loader's message without the absolute path (the report shows paths relative)."""
    return message.replace(str(path), "").strip(" :;,") or "cannot read the image"


def _render_chunk(job: tuple[Sequence[str], int]) -> list[Thumb]:
    paths, size = job
    return [_render(p, size) for p in paths]


# Starting the worker processes (spawn: fresh interpreters importing hs, numpy and Pillow) took
# 0.8 s for two workers on the shared development machine; the pool is used only when the time
# it would save on the remaining images exceeds that.
WORKER_START_S = 0.8
PROBE = 8  # images rendered in-process first, to estimate the cost of the rest


def render_thumbnails(paths: Sequence[Path | None], size: int, workers: int | None = None) -> list[Thumb]:
    """Thumbnails of `paths` in the same order; None (no path known) gives a placeholder.

    The first few images are rendered here and timed; the rest go to `workers` processes only
    when they would take long enough serially for the processes' start-up to pay off (tiny
    images: serial; radiographs: parallel). Which path runs never changes the result.
    """
    todo = [(i, str(p)) for i, p in enumerate(paths) if p is not None]
    result = [Thumb(reason="not in the manifest") for _ in paths]
    workers = default_workers() if workers is None else workers
    started = time.perf_counter()
    rendered = _render_chunk(([p for _, p in todo[:PROBE]], size))
    rest = todo[PROBE:]
    per_image = (time.perf_counter() - started) / max(1, min(PROBE, len(todo)))
    saved = per_image * len(rest) * (1 - 1 / max(workers, 1))
    if workers <= 1 or saved < WORKER_START_S:
        rendered += _render_chunk(([p for _, p in rest], size))
    else:
        # Chunks of a few dozen images keep the inter-process traffic small relative to decoding.
        step = max(4, min(64, len(rest) // (workers * 4)))
        jobs = [([p for _, p in rest[s : s + step]], size) for s in range(0, len(rest), step)]
        rendered += _in_processes(jobs, workers)
    for (i, _), thumb in zip(todo, rendered):
        result[i] = thumb
    return result


def _in_processes(jobs: list[tuple[list[str], int]], workers: int) -> list[Thumb]:
    # spawn, not fork: forking a process that runs polars' thread pool can deadlock the child.
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            return [t for chunk in pool.map(_render_chunk, jobs) for t in chunk]
    except BrokenProcessPool:
        # Workers cannot start when the caller's main module cannot be re-imported (a script
        # read from stdin); the same thumbnails are then rendered here, only slower.
        return [t for job in jobs for t in _render_chunk(job)]
