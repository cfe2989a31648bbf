"""`hs saliency MODEL MANIFEST -o DIR`: a heat map of where the model looks, for every image."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hstool.cli.common import handled, say
from hstool.cli.infer_args import Device, ManifestArg, Model, Threads
from hstool.cli.options import DecimalComma, Delimiter, IdCol, NaValues, Quiet, Root, Sheet, Verbose
from hstool.io.table_format import ColumnMap

EPILOG = """\
Examples:

  hs saliency model.onnx manifest.csv --ids ids.csv -o maps/

  hs saliency model/model.onnx manifest.csv --ids ids.csv --checkpoint model/model.pt -o maps/   # occlusion and Grad-CAM

  hs saliency model.onnx manifest.csv -o maps/ --patch 8 --stride 4 --fill 0

  hs saliency model.onnx vendor_manifest.csv --ids vendor_ids.csv --id-col Accession -o vendor_maps/   # both name the id column Accession

  hs report -p preds.csv -l labels.csv -m manifest.csv --saliency maps/ -o report.html   # overlays beside the galleries

Occlusion sensitivity (any model, through ONNX Runtime): a patch slides over the image and the map holds, per pixel, the mean drop of the explained class's probability when the patches covering it are filled; red = evidence for the class. Grad-CAM (with --checkpoint, hs train models): the last convolutional block's activations weighted by their gradients. The class explained is the positive class of a binary model, the predicted class of a multi-class one (or --class). Writes DIR/index.csv (image_id,method,class,score,map,overlay,peak_y,peak_x, with a .meta.json) and per method DIR/<method>/<image_id>.npy (float32, the model's input geometry) and .png (overlay). Deterministic. How to read the maps: docs/report.md.
"""


def command(
    model: Model,
    manifest: ManifestArg,
    output: Annotated[str, typer.Option("--output", "-o", help="Folder to create for the maps and index.csv.")],
    ids: Annotated[
        str | None, typer.Option("--ids", help="A CSV with an image_id column: maps for these images only.")
    ] = None,
    checkpoint: Annotated[
        str | None,
        typer.Option("--checkpoint", help="The model.pt hs train wrote next to MODEL: adds Grad-CAM maps."),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            "--method",
            help="occlusion, gradcam or occlusion,gradcam. Default: occlusion, plus gradcam with --checkpoint.",
        ),
    ] = None,
    patch: Annotated[
        int | None,
        typer.Option(
            "--patch",
            help="Occluding patch side in pixels of the model's input. Default: a seventh of its shorter side.",
        ),
    ] = None,
    stride: Annotated[
        int | None, typer.Option("--stride", help="Step between patches in pixels. Default: half the patch.")
    ] = None,
    fill: Annotated[
        str | None,
        typer.Option("--fill", help="What a patch is filled with: mean (each image's mean) or a grey value in [0, 1]."),
    ] = None,
    scale: Annotated[
        str | None,
        typer.Option(
            "--scale",
            help="Occlusion measures the drop in probability (default) or in log-odds, which a confident score does not flatten.",
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--class",
            help="The class to explain. Default: the positive class (binary), the predicted class (multi-class).",
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            help="Occluded copies per model call (patches of several images share a call). Default: 12,544 input values "
            "(16 copies at 28 x 28, 1 at 224 x 224), what ran fastest on a CPU; raise it on a GPU.",
        ),
    ] = None,
    max_patches: Annotated[
        int | None, typer.Option("--max-patches", help="Refuse runs with more occluded copies per image than this.")
    ] = None,
    max_pixels: Annotated[
        int | None, typer.Option("--max-pixels", help="Refuse images with more pixels than this (default 8192 x 8192).")
    ] = None,
    root: Root = None,
    id_col: IdCol = ColumnMap.id,
    na_values: NaValues = None,
    delimiter: Delimiter = None,
    decimal_comma: DecimalComma = False,
    sheet: Sheet = None,
    device: Device = "auto",
    threads: Threads = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace an earlier saliency folder at -o.")] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Saliency maps: occlusion sensitivity for any model, Grad-CAM from an hs train checkpoint."""
    with handled(verbose):
        from hstool.cli.progress import progress_bar
        from hstool.cli.table_args import column_map, table_format
        from hstool.saliency.occlusion import parse_fill
        from hstool.saliency.run import SaliencyOptions, run_saliency

        given: dict[str, Any] = {
            "methods": tuple(m.strip() for m in method.split(",")) if method is not None else None,
            "patch": patch,
            "stride": stride,
            "fill": parse_fill(fill) if fill is not None else None,
            "scale": scale,
            "target": target,
            "batch_size": batch_size,
            "max_patches": max_patches,
            "max_pixels": max_pixels,
        }
        options = SaliencyOptions(
            checkpoint=checkpoint,
            ids=ids,
            root=root,
            device=device,
            threads=threads,
            force=force,
            id_col=column_map(id_col).id,
            table_format=table_format(na_values, delimiter, decimal_comma, sheet),
            **{k: v for k, v in given.items() if v is not None},
        )
        with progress_bar("saliency", quiet=quiet, unit="images") as progress:
            result = run_saliency(model, manifest, output, options, progress=progress)
        if not quiet:
            say(f"hs saliency: {result.summary()}")
