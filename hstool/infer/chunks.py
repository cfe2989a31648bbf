"""How an inference run is cut into batches, chunks and shards, and where finished chunks are kept.

**The batch grid is global.** Batch k always holds manifest rows [k * B, (k + 1) * B) (B =
`--batch-size`), whichever part of the manifest a run covers. The model therefore sees exactly
the same batches in one run, in a resumed run and in a set of shards, and the outputs are the
same to the last bit (a batch's composition can change a model's low-order bits).

**Shards** (`--shard i/N`, i from 0) are contiguous blocks of whole batches in manifest order:
shard i takes batches [floor(i * K / N), floor((i + 1) * K / N)) of the K batches, so shards
differ in size by at most one batch and their concatenation, in index order, is the manifest.

**Chunks** are runs of consecutive batches (`--chunk-size` images, rounded up to whole batches)
within the run's rows. Each finished chunk is saved at once, atomically, in a hidden work folder
next to the output (`.preds.csv.parts/`), with `state.json` naming what the run computes (model,
manifest, rows, settings). `--resume` keeps the chunks of a matching folder and computes the
rest; the final files are assembled from the chunks and renamed into place only at the end, and
the folder is then removed.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hstool.errors import OptionError, UsageError, option_ref
from hstool.io.atomic import atomic_path, write_text

PARTS_SCHEMA = "hs.inference-parts/1"
STATE = "state.json"
_REQUIRED = ("rows", "failed_rows", "failed_reasons")  # in every chunk file


@dataclass(frozen=True)
class Shard:
    index: int  # 0-based
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """'i/N' with 0 <= i < N (Slurm: --shard $SLURM_ARRAY_TASK_ID/$N with --array=0-(N-1))."""
        parts = text.split("/")
        if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
            index, count = int(parts[0]), int(parts[1])
            if count >= 1 and 0 <= index < count:
                return cls(index, count)
        raise OptionError("shard", text, "expected i/N with 0 <= i < N, e.g. 0/4 ... 3/4")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class Plan:
    """The rows [start, end) of a manifest of `n_rows` that one run covers, cut into chunks."""

    n_rows: int
    start: int
    end: int
    batch_size: int
    chunk_size: int  # a multiple of batch_size
    shard: Shard | None

    @property
    def rows(self) -> int:
        return self.end - self.start

    def chunks(self) -> list[tuple[int, int]]:
        """(first row, end row) of every chunk, in order."""
        return [(a, min(a + self.chunk_size, self.end)) for a in range(self.start, self.end, self.chunk_size)]

    def batches(self, first: int, end: int) -> list[np.ndarray]:
        """The global-grid batches of a chunk, as arrays of row indices."""
        return [np.arange(a, min(a + self.batch_size, end), dtype=np.int64) for a in range(first, end, self.batch_size)]


def plan_chunks(n_rows: int, *, batch_size: int, chunk_size: int, shard: Shard | None) -> Plan:
    if batch_size < 1:
        raise OptionError("batch_size", batch_size, "must be at least 1", quoted=False)
    if chunk_size < 1:
        raise OptionError("chunk_size", chunk_size, "must be at least 1", quoted=False)
    chunk = -(-chunk_size // batch_size) * batch_size  # round up to whole batches
    if shard is None:
        return Plan(n_rows, 0, n_rows, batch_size, chunk, None)
    n_batches = -(-n_rows // batch_size)
    first = shard.index * n_batches // shard.count
    last = (shard.index + 1) * n_batches // shard.count
    return Plan(n_rows, min(first * batch_size, n_rows), min(last * batch_size, n_rows), batch_size, chunk, shard)


@dataclass
class ChunkResult:
    """What one chunk produced: rows that decoded with their outputs, and rows that failed.
    Fields not asked for when loading (see `load`) are None."""

    rows: np.ndarray | None  # int64 manifest rows, in order
    probabilities: np.ndarray | None  # float32 (n, K), when predictions are wanted
    embedding: np.ndarray | None  # float32 (n, D), when embeddings are wanted
    failed_rows: np.ndarray | None  # int64
    failed_reasons: list[str] | None

    def array(self, name: str) -> np.ndarray:
        """One array field, which must have been loaded (a missing one is a bug, not bad input)."""
        value = getattr(self, name)
        if not isinstance(value, np.ndarray):
            raise ValueError(f"chunk field {name!r} was not loaded")
        return value

    def reasons(self) -> list[str]:
        if self.failed_reasons is None:
            raise ValueError("chunk field 'failed_reasons' was not loaded")
        return self.failed_reasons

    def arrays(self) -> dict[str, np.ndarray]:
        fields = {
            "rows": self.rows,
            "failed_rows": self.failed_rows,
            "failed_reasons": np.array(self.failed_reasons, dtype=np.str_),
            "probabilities": self.probabilities,
            "embedding": self.embedding,
        }
        return {name: value for name, value in fields.items() if value is not None}


class MemoryChunks:
    """Chunks kept in memory: for output to stdout, where there is nothing to resume."""

    folder: Path | None = None

    def __init__(self) -> None:
        self._chunks: dict[int, ChunkResult] = {}

    def has(self, index: int) -> bool:
        return index in self._chunks

    def save(self, index: int, result: ChunkResult) -> None:
        self._chunks[index] = result

    def load(self, index: int, fields: tuple[str, ...] | None = None) -> ChunkResult:
        """The chunk's result; `fields` (names of ChunkResult fields) limits what is read."""
        return self._chunks[index]

    def finish(self) -> None:
        self._chunks.clear()


class DiskChunks(MemoryChunks):
    """Chunks saved as `chunk-NNNNNN.npz` in a work folder (see the module docstring)."""

    folder: Path

    def __init__(self, folder: Path, identity: dict[str, Any], *, resume: bool, log: Callable[[str], None]) -> None:
        super().__init__()
        self.folder = folder
        self.identity = identity
        state = folder / STATE
        if folder.exists() and not resume:
            log(f"hs: starting over: discarding the unfinished run in {folder} (pass --resume to continue it)")
            shutil.rmtree(folder)
        elif resume and state.is_file():
            _check_same_run(folder, json.loads(state.read_text(encoding="utf-8")).get("identity", {}), identity)
        elif resume:
            log(f"hs: --resume: no unfinished run in {folder}; starting from the beginning")
        folder.mkdir(parents=True, exist_ok=True)
        self.discard_torn()
        if not state.is_file():
            write_text(state, json.dumps({"schema": PARTS_SCHEMA, "identity": identity}, indent=2) + "\n")

    def _path(self, index: int) -> Path:
        return self.folder / f"chunk-{index:06d}.npz"

    def discard_torn(self) -> None:
        """Remove chunks that were being written when the run was killed or interrupted."""
        for torn in self.folder.glob(".*.partial"):
            torn.unlink(missing_ok=True)

    def has(self, index: int) -> bool:
        """True when the chunk is saved and intact; a damaged one (possible only after a power
        cut, as chunks are not fsynced) is removed, to be computed again."""
        path = self._path(index)
        if not path.is_file():
            return False
        try:
            self.load(index)  # reads every array: zip checksums catch torn files
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            path.unlink(missing_ok=True)
            return False
        return True

    def save(self, index: int, result: ChunkResult) -> None:
        # No fsync per chunk (a few ms each, thousands of chunks): `has` verifies chunks instead.
        with atomic_path(self._path(index), durable=False) as tmp:
            with open(tmp, "wb") as fh:
                # numpy's stub reads any **kwargs as possibly `allow_pickle`; these are all arrays.
                np.savez(fh, **result.arrays())  # type: ignore[arg-type]

    def load(self, index: int, fields: tuple[str, ...] | None = None) -> ChunkResult:
        # An .npz is read one array at a time: assembling preds.csv never reads the embeddings.
        with np.load(self._path(index), allow_pickle=False) as data:

            def get(name: str) -> np.ndarray | None:
                if fields is not None and name not in fields:
                    return None
                return data[name] if name in data.files or name in _REQUIRED else None  # KeyError: damaged

            reasons = get("failed_reasons")
            return ChunkResult(
                rows=get("rows"),
                probabilities=get("probabilities"),
                embedding=get("embedding"),
                failed_rows=get("failed_rows"),
                failed_reasons=None if reasons is None else [str(r) for r in reasons],
            )

    def finish(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _check_same_run(folder: Path, saved: dict[str, Any], current: dict[str, Any]) -> None:
    """--resume must continue the same computation, or the output would mix two runs."""
    differing = [k for k in sorted(set(saved) | set(current)) if saved.get(k) != current.get(k)]
    if differing:
        key = differing[0]
        raise UsageError(
            f"{option_ref('resume')}: the unfinished run in {folder} differs in {', '.join(differing)} "
            f"({key}: {saved.get(key)!r} then, {current.get(key)!r} now); re-run with the same model, "
            f"manifest and options, or drop {option_ref('resume')} to start over"
        )


def parts_folder(primary: str | Path) -> Path:
    """`out/preds.csv` -> `out/.preds.csv.parts`."""
    path = Path(primary)
    return path.with_name(f".{path.name}.parts")
