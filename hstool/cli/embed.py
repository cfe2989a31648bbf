"""`hs embed MODEL MANIFEST -o emb.npy`: penultimate-layer features of every image."""

from typing import Annotated

import typer

from hstool.cli.infer_args import inference_command

EPILOG = """\
Examples:

  hs embed model.onnx manifest.csv -o emb.npy

  hs embed model.onnx manifest.csv -o emb.npy --preds preds.csv   # one pass, both outputs

  hs embed model.onnx manifest.csv -o emb.npy --shard 1/8 --resume

Output: emb.npy, float32 (n, d), and emb.ids.csv (image_id, same order), in manifest order. Details: docs/inference.md.
"""

command = inference_command(
    primary="embeddings",
    output=Annotated[
        str,
        typer.Option(
            "--output", "-o", help="The .npy file to write (its ids go to NAME.ids.csv), with a .meta.json sidecar."
        ),
    ],
    output_default=...,
    companion=Annotated[
        str | None, typer.Option("--preds", help="Also write predictions here (CSV), from the same pass.")
    ],
    doc="Embed every image of a manifest with an hs model (its penultimate-layer features).",
)
