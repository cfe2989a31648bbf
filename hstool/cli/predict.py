"""`hs predict MODEL MANIFEST`: class probabilities for every image (preds.csv)."""

from typing import Annotated

import typer

from hstool.cli.infer_args import inference_command
from hstool.cli.options import Output

EPILOG = """\
Examples:

  hs predict model.onnx manifest.csv -o preds.csv

  hs predict model.onnx manifest.csv -o preds.csv --embeddings emb.npy   # one pass, both outputs

  hs predict model.onnx manifest.csv -o preds.0.csv --shard 0/4 --device cuda:0   # then: hs merge -o preds.csv preds.?.csv

  hs predict model.onnx manifest.csv -o preds.csv --resume --on-error skip

Output: binary models: image_id,score,pred (score = probability of the positive class, pred = score >= 0.5); multi-class models: image_id,pred,p_<class>... Rows in manifest order. Details: docs/inference.md.
"""

command = inference_command(
    primary="preds",
    output=Output,
    output_default=None,
    companion=Annotated[
        str | None,
        typer.Option("--embeddings", help="Also write the embeddings here (.npy, with .ids.csv), from the same pass."),
    ],
    doc="Predict every image of a manifest with an hs model (ONNX Runtime, CUDA or CPU).",
)
