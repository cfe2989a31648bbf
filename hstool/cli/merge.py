"""`hs merge -o OUT SHARD...`: join the shard outputs of hs predict / hs embed --shard i/N."""

from __future__ import annotations

from typing import Annotated

import typer

from hstool.cli.common import handled, say
from hstool.cli.options import Quiet, Verbose

EPILOG = """\
Examples:

  hs merge -o preds.csv preds.0.csv preds.1.csv preds.2.csv preds.3.csv

  hs merge -o emb.npy emb.*.npy      # embeddings: the .ids.csv files are merged too

Checks with the sidecars that the shards come from one run (same model, manifest, batch size), that each of the N shards is there exactly once and that their blocks tile the manifest; the result is byte-identical to an unsharded run. Details: docs/inference.md.
"""


def command(
    shards: Annotated[
        list[str],
        typer.Argument(
            metavar="SHARD...", help="Shard outputs (preds CSVs, or embedding .npy files), each with its .meta.json."
        ),
    ],
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", help="The merged file (with its sidecar, ids and errors list as the shards have them)."
        ),
    ],
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Merge the shard outputs of hs predict / hs embed into one file."""
    with handled(verbose):
        from hstool.infer.merge import merge_shards

        result = merge_shards(shards, output)
        if not quiet:
            for line in [*result.notes, result.summary()]:
                say(line)
