"""Options shared by `hs predict` and `hs embed` (one library call, `run_inference`, serves both)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hstool.cli.common import say

Model = Annotated[str, typer.Argument(metavar="MODEL", help="model.onnx exported by hs train (with hs.* metadata).")]
ManifestArg = Annotated[str, typer.Argument(metavar="MANIFEST", help="manifest.csv (image_id,path,...); '-' = stdin.")]
Root = Annotated[Optional[str], typer.Option("--root", help="Folder the manifest's paths are relative to. Default: the manifest's folder.")]
Device = Annotated[str, typer.Option("--device", help="auto (CUDA when onnxruntime-gpu has a usable GPU, else CPU), cpu, cuda or cuda:N.")]
Threads = Annotated[int, typer.Option("--threads", help="onnxruntime intra-op threads (0 = its default, one per core).")]
BatchSize = Annotated[int, typer.Option("--batch-size", help="Images per model call.")]
Workers = Annotated[Optional[int], typer.Option("--workers", help="Image decoding processes. Default: min(CPUs, 8); 0 = decode in this process.")]
Prefetch = Annotated[Optional[int], typer.Option("--prefetch", help="Batches decoded ahead of the model. Default: 2 per worker.")]
ChunkSize = Annotated[int, typer.Option("--chunk-size", help="Images per saved chunk (rounded up to whole batches): the work --resume can lose.")]
ShardOpt = Annotated[Optional[str], typer.Option("--shard", help="i/N (i from 0): run only block i of N of the manifest; join the outputs with hs merge.")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue an interrupted run with the same inputs and options (its saved chunks are kept).")]
OnError = Annotated[str, typer.Option("--on-error", help="fail: stop at the first unreadable image. skip: go on and list them in OUTPUT.errors.csv.")]


def run(model: str, manifest: str, *, preds: str | None, embeddings: str | None, primary: str, quiet: bool, verbose: bool, **options) -> None:
    """Run inference with a progress bar (images/s, ETA) and messages on stderr."""
    from hstool.cli.progress import progress_bar
    from hstool.model.inference import InferenceOptions, Targets, run_inference

    log = (lambda message: None) if quiet else say
    with progress_bar("images", quiet=quiet, unit="images") as progress:
        result = run_inference(
            model, manifest, Targets(preds=preds, embeddings=embeddings, primary=primary), InferenceOptions(verbose=verbose, **options),
            progress=progress, log=log,
        )
    for line in result.summary():
        log(line)
