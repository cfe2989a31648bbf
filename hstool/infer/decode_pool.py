"""Decoding a manifest's images in parallel worker processes, ahead of the model, in order.

`DecodePool.decode(batches)` takes batches of manifest row indices and yields each batch,
decoded and preprocessed (`Preprocessing.apply`), in the order given, while worker processes
already decode the next ones. A batch's pixels are written by a worker straight into a block of
shared memory (one block per batch in flight), so the consumer gets them without any copy or
pickling: at thousands of 224 x 224 images per second, sending arrays through pipes would cost
the consumer more time than running the model on a GPU. The number of blocks bounds the memory
used and how far decoding runs ahead (`prefetch`).

With `workers=0` everything happens in the calling process (no parallelism, no shared memory):
for debugging, small runs, and machines where processes cannot be started.

Workers are started with `spawn` (no fork of a process that may hold threads, such as ONNX
Runtime's or polars'), ignore Ctrl-C (the parent handles it and stops them), and exit on their
own when the parent dies, even from `kill -9`, so a killed job never leaves decoders running.
The shared memory blocks and the queues' semaphores are registered with multiprocessing's
resource tracker, a helper process that removes them if this process dies without doing so.
After a `kill -9` it would also print warnings about "leaked" objects on the terminal, unasked
and possibly in the middle of a later run; hs starts it with its stderr silenced
(`_quiet_resource_tracker`), so it cleans up without a word.
An image that cannot be decoded does not stop a batch: its rows are zero-filled and reported
in `DecodedBatch.failed`, and the caller decides (stop, or skip and list it).
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hstool.data.images import DEFAULT_MAX_PIXELS, ImageError, load_image
from hstool.data.preprocess import Preprocessing
from hstool.errors import OptionError, UsageError, option_ref

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.queues import Queue
    from multiprocessing.shared_memory import SharedMemory

_POLL_S = 0.5  # how often a waiting worker checks that its parent is alive, and the parent its workers
_SHM_DIR = "/dev/shm"


@dataclass
class DecodedBatch:
    """One batch, in the order requested. `images` holds one (C, H, W) plane per row (zeros for
    rows that failed); it is valid only until the next batch is requested (its memory is reused)."""

    rows: np.ndarray  # int64 manifest row indices
    images: np.ndarray  # float32 (len(rows), C, H, W)
    failed: dict[int, str] = field(default_factory=dict)  # position in the batch -> reason

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of the rows that decoded."""
        mask = np.ones(len(self.rows), dtype=bool)
        mask[list(self.failed)] = False
        return mask


def failure_reason(exc: ImageError, path: str | Path) -> str:
    """The reason part of an ImageError ('corrupt: ...'), without the leading 'PATH: '."""
    text = str(exc)
    prefix = f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _decode_into(
    out: np.ndarray, paths: Sequence[str], preprocessing: Preprocessing, max_pixels: int
) -> dict[int, str]:
    failed = {}
    for i, path in enumerate(paths):
        try:
            out[i] = preprocessing.apply(load_image(path, max_pixels=max_pixels))
        except ImageError as exc:
            out[i] = 0.0
            failed[i] = failure_reason(exc, path)
    return failed


def _quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (once per process) with stderr on /dev/null.

    The tracker inherits file descriptor 2 when it starts, so it is pointed at /dev/null just for
    that moment; nothing else of hs writes to stderr then.
    """
    from multiprocessing import resource_tracker

    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        resource_tracker.ensure_running()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class DecodePool:
    """Decode batches of `paths` (indexed by row) with `workers` processes; use as a context
    manager so that workers and shared memory are released on every exit path."""

    def __init__(
        self,
        paths: Sequence[str | Path],
        preprocessing: Preprocessing,
        *,
        batch_size: int,
        workers: int,
        prefetch: int | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        if batch_size < 1:
            raise OptionError("batch_size", batch_size, "must be at least 1", quoted=False)
        if workers < 0:
            raise OptionError("workers", workers, "must be 0 (decode in this process) or more", quoted=False)
        if prefetch is not None and prefetch < 1:
            raise OptionError("prefetch", prefetch, "must be at least 1", quoted=False)
        self.paths = [str(p) for p in paths]
        self.preprocessing = preprocessing
        self.batch_size = batch_size
        self.workers = workers
        self.max_pixels = max_pixels
        self.shape = (batch_size, preprocessing.channels, *preprocessing.size)
        # Batches decoded ahead of the one being consumed: two per worker keeps every worker busy
        # while the consumer takes its batch, without holding much memory.
        self.prefetch = prefetch if prefetch is not None else max(2, 2 * workers)
        self._procs: list[BaseProcess] = []
        self._blocks: list[SharedMemory] = []
        self._arrays: list[np.ndarray] = []

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> DecodePool:
        if self.workers > 0:
            self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        import multiprocessing as mp
        from multiprocessing.shared_memory import SharedMemory

        block_bytes = int(np.prod(self.shape)) * 4
        slots = self._slots_that_fit(block_bytes, self.prefetch + 1)
        _quiet_resource_tracker()
        ctx = mp.get_context("spawn")
        self._tasks = ctx.Queue()
        self._results = ctx.Queue()
        try:
            for _ in range(slots):
                block = SharedMemory(create=True, size=block_bytes)
                self._blocks.append(block)
                self._arrays.append(np.ndarray(self.shape, dtype=np.float32, buffer=block.buf))
            names = [b.name for b in self._blocks]
            for _ in range(self.workers):
                proc = ctx.Process(
                    target=_worker_main,
                    args=(
                        self._tasks,
                        self._results,
                        names,
                        self.shape,
                        self.preprocessing,
                        self.max_pixels,
                        os.getpid(),
                    ),
                    daemon=True,
                )
                proc.start()
                self._procs.append(proc)
        except BaseException:
            self.close()
            raise

    def _slots_that_fit(self, block_bytes: int, wanted: int) -> int:
        """Shared memory lives in /dev/shm, which containers often keep small (Docker: 64 MB).
        Use fewer blocks when it is tight; refuse, with the fix, when not even one per worker fits
        (touching shared memory beyond the limit would kill the process with SIGBUS)."""
        if not os.path.isdir(_SHM_DIR):
            return wanted
        free = shutil.disk_usage(_SHM_DIR).free
        fits = int(free * 0.8) // block_bytes
        needed = self.workers + 1
        if fits < needed:
            raise UsageError(
                f"{_SHM_DIR} has {free / 2**20:.0f} MB free, too little for {needed} batches of "
                f"{block_bytes / 2**20:.1f} MB; lower {option_ref('batch_size')} or {option_ref('workers')}, use {option_ref('workers')} 0, or "
                # --shm-size is docker's flag, not an hs option: it stays spelled out (not option_ref).
                "enlarge /dev/shm (docker run --shm-size=2g)"
            )
        return min(wanted, fits)

    def close(self) -> None:
        """Stop the workers and free the shared memory (safe to call twice)."""
        for _ in self._procs:
            try:
                self._tasks.put_nowait(None)
            except (ValueError, OSError):
                break
        for proc in self._procs:
            proc.join(timeout=2)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=2)
        self._procs = []
        self._arrays = []  # views must go before the blocks can close
        for block in self._blocks:
            # A batch still referenced (e.g. by the traceback of an error raised while it was being
            # used) keeps its mapping alive until it is collected; unlinking frees it after that.
            with contextlib.suppress(BufferError):
                block.close()
            block.unlink()
        self._blocks = []

    # -- decoding --------------------------------------------------------------------------
    def decode(self, batches: Iterable[Sequence[int] | np.ndarray]) -> Iterator[DecodedBatch]:
        """Yield every batch of row indices, decoded, in the order given."""
        if self.workers == 0:
            yield from self._decode_here(batches)
        else:
            yield from self._decode_in_workers(batches)

    def _decode_here(self, batches: Iterable[Sequence[int] | np.ndarray]) -> Iterator[DecodedBatch]:
        buffer = np.empty(self.shape, dtype=np.float32)
        for batch in batches:
            rows = np.asarray(batch, dtype=np.int64)
            out = buffer[: len(rows)]
            failed = _decode_into(out, [self.paths[r] for r in rows], self.preprocessing, self.max_pixels)
            yield DecodedBatch(rows=rows, images=out, failed=failed)

    def _decode_in_workers(self, batches: Iterable[Sequence[int] | np.ndarray]) -> Iterator[DecodedBatch]:
        todo = iter(batches)
        free = list(range(len(self._blocks)))
        pending: dict[int, tuple[np.ndarray, int]] = {}  # seq -> (rows, block)
        finished: dict[int, dict[int, str]] = {}  # seq -> failures, arrived out of order
        submitted = 0

        def submit() -> None:
            nonlocal submitted
            while free:
                batch = next(todo, None)
                if batch is None:
                    return
                rows = np.asarray(batch, dtype=np.int64)
                if len(rows) > self.batch_size:
                    raise ValueError(f"batch of {len(rows)} rows exceeds batch_size {self.batch_size}")
                block = free.pop()
                self._tasks.put((submitted, block, [self.paths[r] for r in rows]))
                pending[submitted] = (rows, block)
                submitted += 1

        submit()
        seq = 0
        while seq < submitted:
            while seq not in finished:
                done, failed = self._receive()
                finished[done] = failed
            rows, block = pending.pop(seq)
            yield DecodedBatch(rows=rows, images=self._arrays[block][: len(rows)], failed=finished.pop(seq))
            free.append(block)
            seq += 1
            submit()

    def _receive(self) -> tuple[int, dict[int, str]]:
        while True:
            try:
                seq, failed, crash = self._results.get(timeout=_POLL_S)
            except queue.Empty:
                dead = [p for p in self._procs if not p.is_alive()]
                if dead:
                    raise RuntimeError(
                        f"an image decoding worker stopped unexpectedly (exit code {dead[0].exitcode}); "
                        f"if memory is short, use fewer {option_ref('workers')} or a smaller {option_ref('batch_size')}"
                    ) from None
                continue
            if crash is not None:
                raise RuntimeError(f"decoding failed in a worker: {crash}")
            return seq, failed


def _worker_main(
    tasks: Queue[Any],
    results: Queue[Any],
    names: list[str],
    shape: tuple[int, ...],
    preprocessing: Preprocessing,
    max_pixels: int,
    parent_pid: int,
) -> None:
    """A decoding process: take (seq, block, paths), decode into the block, report failures."""
    from multiprocessing.shared_memory import SharedMemory

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    results.cancel_join_thread()  # never hang at exit on results nobody will read
    blocks = [SharedMemory(name=n) for n in names]
    arrays = [np.ndarray(shape, dtype=np.float32, buffer=b.buf) for b in blocks]
    try:
        while True:
            try:
                task = tasks.get(timeout=_POLL_S)
            except queue.Empty:
                if os.getppid() != parent_pid:  # the parent died (even kill -9): stop
                    return
                continue
            if task is None:
                return
            seq, block, paths = task
            try:
                failed = _decode_into(arrays[block][: len(paths)], paths, preprocessing, max_pixels)
            except Exception as exc:  # a bug, not a bad image: report it instead of hanging the parent
                results.put((seq, {}, f"{type(exc).__name__}: {exc}"))
                return
            results.put((seq, failed, None))
    finally:
        del arrays
        for b in blocks:
            b.close()
