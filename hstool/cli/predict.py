"""`hs predict MODEL MANIFEST`: class probabilities for every image (preds.csv)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hstool.cli import infer_args as a
from hstool.cli.common import handled
from hstool.cli.options import Output, Quiet, Verbose

EPILOG = """\
Examples:

  hs predict model.onnx manifest.csv -o preds.csv

  hs predict model.onnx manifest.csv -o preds.csv --embeddings emb.npy   # one pass, both outputs

  hs predict model.onnx manifest.csv -o preds.0.csv --shard 0/4 --device cuda:0   # then: hs merge -o preds.csv preds.?.csv

  hs predict model.onnx manifest.csv -o preds.csv --resume --on-error skip

Output: binary models: image_id,score,pred (score = probability of the positive class, pred = score >= 0.5); multi-class models: image_id,pred,p_<class>... Rows in manifest order. Details: docs/inference.md.
"""


def command(
    model: a.Model,
    manifest: a.ManifestArg,
    output: Output = None,
    embeddings: Annotated[Optional[str], typer.Option("--embeddings", help="Also write the embeddings here (.npy, with .ids.csv), from the same pass.")] = None,
    root: a.Root = None,
    device: a.Device = "auto",
    threads: a.Threads = 0,
    batch_size: a.BatchSize = 64,
    workers: a.Workers = None,
    prefetch: a.Prefetch = None,
    chunk_size: a.ChunkSize = 4096,
    shard: a.ShardOpt = None,
    resume: a.Resume = False,
    on_error: a.OnError = "fail",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Predict every image of a manifest with an hs model (ONNX Runtime, CUDA or CPU)."""
    with handled(verbose):
        a.run(model, manifest, preds=output or "-", embeddings=embeddings, primary="preds", quiet=quiet, verbose=verbose,
              root=root,
              device=device, threads=threads, batch_size=batch_size, workers=workers, prefetch=prefetch,
              chunk_size=chunk_size, shard=shard, resume=resume, on_error=on_error)
