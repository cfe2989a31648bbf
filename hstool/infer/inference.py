"""`hs predict` / `hs embed`: run an hs model over every image of a manifest.

One pass decodes each image once (in worker processes, ahead of the model, see
`hstool.infer.decode_pool`) and can write predictions, embeddings, or both. The run is cut into
chunks saved as they finish (`hstool.infer.chunks`), so an interrupted run (Ctrl-C, `kill -9`,
a preempted Slurm job) continues with `--resume` and gives the same bytes as an uninterrupted
one; `--shard i/N` runs one block of the manifest, and `hs merge` joins the blocks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from hstool import __version__
from hstool.data.manifest import PATH, Manifest, read_manifest
from hstool.errors import LISTED, InputError, Interrupted, OptionError, UsageError, option_ref
from hstool.infer.chunks import ChunkResult, DiskChunks, MemoryChunks, Plan, Shard, parts_folder, plan_chunks
from hstool.infer.decode_pool import DecodePool
from hstool.infer.preds_format import (
    EMBEDDINGS_SCHEMA,
    PREDS_SCHEMA,
    check_outputs,
    errors_frame,
    preds_frame,
    write_preds_file,
    write_preds_text,
)
from hstool.infer.runtime import LoadedModel, load_model
from hstool.io.arrays import ids_path_for, write_embeddings_streamed
from hstool.io.atomic import atomic_path, check_writable, refuse_overwriting_inputs
from hstool.io.sidecar import build_sidecar, errors_path_for, sidecar_path, write_sidecar
from hstool.io.table_format import KEY, TableFormat
from hstool.workers import default_workers

ON_ERROR = ("fail", "skip")
Progress = Callable[[int, int], None]
Log = Callable[[str], None]


@dataclass(frozen=True)
class InferenceOptions:
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    threads: int = 0  # onnxruntime intra-op threads; 0 = its default
    batch_size: int = 64
    workers: int | None = None  # decoding processes; None = min(CPUs, 8); 0 = in this process
    prefetch: int | None = None  # batches decoded ahead; None = 2 per worker
    chunk_size: int = 4096  # images per saved chunk (rounded up to whole batches)
    shard: str | None = None  # 'i/N'
    on_error: str = "fail"  # or 'skip'
    resume: bool = False
    root: str | None = None
    id_col: str = KEY  # the manifest's id column (outputs always call it image_id)
    table_format: TableFormat = field(default_factory=TableFormat)
    verbose: bool = False


@dataclass(frozen=True)
class Targets:
    """Where results go: a preds path ('-' = stdout) and/or an embeddings path (.npy)."""

    preds: str | None = None
    embeddings: str | None = None
    primary: str = "preds"  # which one the command's -o names: its work folder and messages go with it

    @property
    def files(self) -> list[str]:
        """The output files, the primary one first."""
        order = (self.preds, self.embeddings) if self.primary == "preds" else (self.embeddings, self.preds)
        return [p for p in order if p is not None and p != "-"]


@dataclass
class InferenceResult:
    provider: str
    plan: Plan
    written: int
    skipped: int
    resumed_images: int
    errors_files: list[Path]
    skipped_examples: list[str]

    def summary(self) -> list[str]:
        """Lines for the terminal."""
        lines = [
            f"hs: {self.written} images done"
            + (f", {self.skipped} skipped" if self.skipped else "")
            + (f" ({self.resumed_images} from the interrupted run)" if self.resumed_images else "")
        ]
        if self.skipped:
            where = ", ".join(str(p) for p in self.errors_files[:1]) or "not saved (output to stdout)"
            lines.append(
                f"hs: skipped images: {'; '.join(self.skipped_examples)}{' ...' if self.skipped > LISTED else ''} (list: {where})"
            )
        return lines


def run_inference(
    model: str,
    manifest: str,
    targets: Targets,
    options: InferenceOptions,
    *,
    progress: Progress | None = None,
    log: Log | None = None,
) -> InferenceResult:
    """Predict and/or embed every image of `manifest` (or of one shard of it) with `model`."""
    log = log or (lambda message: None)
    shard = _check_options(targets, options)
    _check_outputs(model, manifest, targets, options)
    table = read_manifest(manifest, root=options.root, id_col=options.id_col, fmt=options.table_format)
    plan = plan_chunks(table.source.rows, batch_size=options.batch_size, chunk_size=options.chunk_size, shard=shard)
    if options.on_error == "fail":
        _check_files_present(table, plan)
    loaded = load_model(model, device=options.device, threads=options.threads, verbose=options.verbose)
    workers = default_workers() if options.workers is None else options.workers
    log(_describe(loaded, plan, workers))
    store = _store(loaded, table, plan, targets, options, log)
    chunks = plan.chunks()
    todo = [i for i in range(len(chunks)) if not store.has(i)]
    resumed = plan.rows - sum(chunks[i][1] - chunks[i][0] for i in todo)
    if resumed:
        log(f"hs: resuming: {resumed} of {plan.rows} images already done in {store.folder}")
    run = _Run(model, loaded, table, plan, store, targets, options, workers)
    try:
        _compute(run, todo, resumed, progress or (lambda d, t: None))
        result = _finish(run, resumed)
    except KeyboardInterrupt:
        if not isinstance(store, DiskChunks):
            raise
        # A Ctrl-C can land between creating a chunk's temporary file and the block that
        # removes it on failure: no half-written chunk stays beside the finished ones.
        store.discard_torn()
        # Keeping the finished chunks is what --resume is for; say where they are.
        raise Interrupted(
            f"interrupted; no output was written, the finished chunks are kept in {store.folder}: "
            f"run the same command with {option_ref('resume')} to continue, or delete that folder"
        ) from None
    except BaseException:
        # A failed run (a corrupt image, a decompression bomb...) leaves no hidden work folder,
        # unless it was asked to be resumable.
        if not options.resume:
            store.finish()
        raise
    store.finish()
    return result


@dataclass(frozen=True)
class _Run:
    """What one inference run works with, once its inputs are open and its plan is made."""

    model: str  # the model path as given (recorded in the sidecars)
    loaded: LoadedModel
    manifest: Manifest
    plan: Plan
    store: MemoryChunks  # or DiskChunks
    targets: Targets
    options: InferenceOptions
    workers: int  # decoding processes actually used


def _check_options(targets: Targets, options: InferenceOptions) -> Shard | None:
    if options.on_error not in ON_ERROR:
        raise OptionError("on_error", options.on_error, "choose fail or skip")
    if targets.preds is None and targets.embeddings is None:
        raise UsageError("nothing to write: give an output for predictions or embeddings")
    if targets.embeddings == "-":
        raise UsageError("embeddings cannot go to stdout; pass -o emb.npy (the ids go to emb.ids.csv)")
    if not targets.files and (options.resume or options.shard):
        raise UsageError(f"{option_ref('resume' if options.resume else 'shard')} needs an output file: pass -o PATH")
    return Shard.parse(options.shard) if options.shard else None


def _check_outputs(model: str, manifest: str, targets: Targets, options: InferenceOptions) -> None:
    """Fail before any work when an output cannot be written or would overwrite an input."""
    outputs: list[str | Path] = []
    if targets.preds not in (None, "-"):
        if Path(targets.preds).suffix.lower() in (".parquet", ".pq", ".json", ".npy"):
            raise UsageError(f"-o {targets.preds}: predictions are written as CSV; use a .csv name")
        outputs.append(targets.preds)
    if targets.embeddings is not None:
        if not str(targets.embeddings).lower().endswith(".npy"):
            raise UsageError(
                f"embeddings {targets.embeddings}: they are written as a NumPy array; give a name ending in .npy"
            )
        outputs += [targets.embeddings, ids_path_for(targets.embeddings)]
    if len({str(Path(p).resolve()) for p in outputs}) < len(outputs):
        raise UsageError("predictions and embeddings need different output files")
    for path in targets.files:
        outputs += [sidecar_path(path), errors_path_for(path)]
    for output in outputs:
        check_writable(output)
    refuse_overwriting_inputs(outputs, [model, manifest])


def _check_files_present(manifest: Manifest, plan: Plan) -> None:
    """With --on-error fail, report every missing file of the run at once, before the model runs."""
    rows = slice(plan.start, plan.end)
    Manifest(
        table=manifest.table[rows], paths=manifest.paths[rows], root=manifest.root, source=manifest.source
    ).check_files()


def _describe(loaded: LoadedModel, plan: Plan, workers: int) -> str:
    info = loaded.info
    c, (h, w) = info.preprocessing.channels, info.preprocessing.size
    threads = f", {loaded.threads} threads" if loaded.threads else ""
    part = f", shard {plan.shard} = rows {plan.start + 1}-{plan.end} of {plan.n_rows}" if plan.shard else ""
    return (
        f"hs: {info.path}: {info.architecture or 'model'}, {info.task}, {len(info.class_names)} classes, "
        f"input {c}x{h}x{w}; provider {loaded.provider}{threads}; batch {plan.batch_size}, "
        f"{workers or 'no'} decoding workers; {plan.rows} images{part}"
    )


def _store(
    loaded: LoadedModel, manifest: Manifest, plan: Plan, targets: Targets, options: InferenceOptions, log: Log
) -> MemoryChunks:
    if not targets.files:
        return MemoryChunks()
    identity = {
        "hs_version": __version__,
        "model_sha256": loaded.info.sha256,
        "manifest_sha256": manifest.source.sha256,
        "root": str(manifest.root),
        "rows": [plan.start, plan.end],
        "batch_size": plan.batch_size,
        "chunk_size": plan.chunk_size,
        "outputs": [k for k in ("preds", "embeddings") if getattr(targets, k) is not None],
        "on_error": options.on_error,
        "provider": loaded.provider,
    }
    return DiskChunks(parts_folder(targets.files[0]), identity, resume=options.resume, log=log)


class _ChunkBuilder:
    """Collects a chunk's batches until the chunk is complete."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.probabilities: list[np.ndarray] = []
        self.embedding: list[np.ndarray] = []
        self.failed_rows: list[int] = []
        self.failed_reasons: list[str] = []

    def result(self, want_preds: bool, want_embeddings: bool, k: int, d: int) -> ChunkResult:
        def stack(blocks: list[np.ndarray], width: int) -> np.ndarray:
            return np.concatenate(blocks) if blocks else np.empty((0, width), dtype=np.float32)

        return ChunkResult(
            rows=np.concatenate(self.rows) if self.rows else np.empty(0, dtype=np.int64),
            probabilities=stack(self.probabilities, k) if want_preds else None,
            embedding=stack(self.embedding, d) if want_embeddings else None,
            failed_rows=np.asarray(self.failed_rows, dtype=np.int64),
            failed_reasons=self.failed_reasons,
        )


def _compute(run: _Run, todo: list[int], done: int, progress: Progress) -> None:
    """Decode and run the model over the chunks in `todo`, saving each as it completes."""
    plan, manifest, loaded = run.plan, run.manifest, run.loaded
    chunks = plan.chunks()
    work = [(i, rows) for i in todo for rows in plan.batches(*chunks[i])]
    info = loaded.info
    ids = manifest.table["image_id"]
    want_preds, want_embeddings = run.targets.preds is not None, run.targets.embeddings is not None
    progress(done, plan.rows)
    with DecodePool(
        manifest.paths,
        info.preprocessing,
        batch_size=plan.batch_size,
        workers=run.workers,
        prefetch=run.options.prefetch,
    ) as pool:
        builder = _ChunkBuilder()
        for (index, rows), decoded in zip(work, pool.decode(rows for _, rows in work)):
            if decoded.failed and run.options.on_error == "fail":
                position, reason = next(iter(sorted(decoded.failed.items())))
                raise _image_error(manifest, int(decoded.rows[position]), reason)
            ok = decoded.ok
            good = decoded.rows[ok]
            if len(good):
                probabilities, embedding = loaded.run(decoded.images if ok.all() else decoded.images[ok])
                # check_outputs calls the lambda before the loop moves on, so `good` is this batch's.
                probabilities = check_outputs(
                    info.path,
                    lambda i: ids[int(good[i])],  # noqa: B023
                    probabilities,
                    embedding,
                )
                builder.rows.append(good)
                builder.probabilities.append(probabilities)
                builder.embedding.append(embedding)
            for position, reason in sorted(decoded.failed.items()):
                builder.failed_rows.append(int(decoded.rows[position]))
                builder.failed_reasons.append(reason)
            if rows[-1] == chunks[index][1] - 1:  # the chunk's last batch
                run.store.save(
                    index, builder.result(want_preds, want_embeddings, len(info.class_names), info.embedding_dim)
                )
                builder = _ChunkBuilder()
            done += len(rows)
            progress(done, plan.rows)


def _image_error(manifest: Manifest, row: int, reason: str) -> InputError:
    image_id, path = manifest.table["image_id"][row], manifest.table[PATH][row]
    return InputError(
        f"{manifest.source.at(row, PATH)}: image {image_id!r} ({path}): {reason}; "
        f"or pass {option_ref('on_error')} skip to list unreadable images in an errors file and go on"
    )


def _finish(run: _Run, resumed: int) -> InferenceResult:
    """Assemble the final files from the chunks, each written atomically, sidecars last."""
    loaded, manifest, plan, store, targets = run.loaded, run.manifest, run.plan, run.store, run.targets
    info = loaded.info
    n_chunks = len(plan.chunks())
    ids = manifest.table["image_id"]
    index = [store.load(i, ("rows", "failed_rows", "failed_reasons")) for i in range(n_chunks)]
    kept = np.concatenate([c.array("rows") for c in index] or [np.empty(0, np.int64)])
    failed = np.concatenate([c.array("failed_rows") for c in index] or [np.empty(0, np.int64)])
    reasons = [r for c in index for r in c.reasons()]
    errors_files = [errors_path_for(p) for p in targets.files] if run.options.on_error == "skip" else []
    errors = errors_frame(ids.gather(failed).to_list(), manifest.table[PATH].gather(failed).to_list(), reasons)
    for errors_file in errors_files:
        with atomic_path(errors_file) as tmp:
            errors.write_csv(tmp)

    def frames() -> Iterator[pl.DataFrame]:
        yield preds_frame(info, [], np.empty((0, len(info.class_names)), np.float32))  # the header, even for no rows
        for i in range(n_chunks):
            chunk = store.load(i, ("rows", "probabilities"))
            yield preds_frame(info, ids.gather(chunk.array("rows")).to_list(), chunk.array("probabilities"))

    if targets.embeddings is not None:
        blocks = (store.load(i, ("embedding",)).array("embedding") for i in range(n_chunks))
        write_embeddings_streamed(targets.embeddings, ids.gather(kept).to_list(), blocks, info.embedding_dim)
    if targets.preds == "-":
        write_preds_text(sys.stdout.buffer, frames())
        sys.stdout.flush()
    elif targets.preds is not None:
        write_preds_file(targets.preds, frames())
    for path, schema in ((targets.embeddings, EMBEDDINGS_SCHEMA), (targets.preds, PREDS_SCHEMA)):
        if path is not None and path != "-":
            write_sidecar(path, _sidecar(run, schema, written=len(kept), skipped=len(failed)))
    examples = [f"{ids[int(r)]!r}: {reason}" for r, reason in zip(failed[:LISTED], reasons)]
    return InferenceResult(loaded.provider, plan, len(kept), len(failed), resumed, errors_files, examples)


def _sidecar(run: _Run, schema: str, *, written: int, skipped: int) -> dict[str, Any]:
    loaded, plan, targets = run.loaded, run.plan, run.targets
    parameters = asdict(run.options)
    parameters.pop("verbose")
    parameters.update(workers=run.workers, chunk_size=plan.chunk_size)
    return build_sidecar(
        schema=schema,
        parameters=parameters,
        inputs=[{"path": run.model, "sha256": loaded.info.sha256, "rows": None}, run.manifest.source.provenance()],
        rows=written,
        extra={
            "model": loaded.info.describe(),
            "provider": loaded.provider,
            "selection": {
                "manifest_rows": plan.n_rows,
                "first_row": plan.start,
                "end_row": plan.end,
                "shard": str(plan.shard) if plan.shard else None,
                "batch_size": plan.batch_size,
            },
            "images": {"selected": plan.rows, "written": written, "skipped": skipped},
            "outputs": {"preds": targets.preds, "embeddings": targets.embeddings},
        },
    )
