"""`hs embed MODEL MANIFEST -o emb.npy`: penultimate-layer features of every image."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hstool.cli import infer_args as a
from hstool.cli.common import handled
from hstool.cli.options import Quiet, Verbose

EPILOG = """\
Examples:

  hs embed model.onnx manifest.csv -o emb.npy

  hs embed model.onnx manifest.csv -o emb.npy --preds preds.csv   # one pass, both outputs

  hs embed model.onnx manifest.csv -o emb.npy --shard 1/8 --resume

Output: emb.npy, float32 (n, d), and emb.ids.csv (image_id, same order), in manifest order. Details: docs/inference.md.
"""


def command(
    model: a.Model,
    manifest: a.ManifestArg,
    output: Annotated[str, typer.Option("--output", "-o", help="The .npy file to write (its ids go to NAME.ids.csv), with a .meta.json sidecar.")],
    preds: Annotated[Optional[str], typer.Option("--preds", help="Also write predictions here (CSV), from the same pass.")] = None,
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
    """Embed every image of a manifest with an hs model (its penultimate-layer features)."""
    with handled(verbose):
        a.run(model, manifest, preds=preds, embeddings=output, primary="embeddings", quiet=quiet, verbose=verbose,
              root=root,
              device=device, threads=threads, batch_size=batch_size, workers=workers, prefetch=prefetch,
              chunk_size=chunk_size, shard=shard, resume=resume, on_error=on_error)
