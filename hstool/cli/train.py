"""`hs train MANIFEST -o OUT`: train a baseline classifier and export it to OUT/model.onnx."""

from __future__ import annotations

from typing import Annotated

import typer

from hstool.cli.common import handled, say
from hstool.cli.options import (
    DecimalComma,
    Delimiter,
    IdCol,
    NaValues,
    Quiet,
    Root,
    Seed,
    Sheet,
    Verbose,
)
from hstool.io.table_format import ColumnMap

EPILOG = """\
Examples:

  hs train pneumonia/manifest.csv -o run/                                # 28 px images: small CNN, 1 channel

  hs train cxr/manifest.csv -o run/ --arch densenet121 --weights densenet121-imagenet.pth --positive pneumothorax

  hs train fmnist/manifest.csv -o run/ --subsample label=Shirt:0.75 --label-noise label=Coat:0.25 --seed 3

  hs train manifest.csv -o run/ --epochs 30 --resume                     # continue run/ up to epoch 30

  hs train manifest.csv -o oof/ --cross-fit 5     # oof/preds_oof.csv: out-of-fold probabilities (for hs label-issues)

  torchrun --nproc-per-node 2 -m hstool train manifest.csv -o run/ --device cpu   # DDP (gloo; nccl on GPUs)

Writes OUT/model.onnx (outputs probabilities and embedding, preprocessing in its metadata; hs.model/1), OUT/model.pt (best weights), OUT/train_log.csv (epoch, lr, train_loss, val_loss, val_accuracy, val_auc, best), OUT/checkpoints/ (last.pt for --resume, epoch_NNN.pt weights) and, with --subsample/--label-noise, OUT/affected.csv. Details: docs/training.md.
"""


def command(
    manifest: Annotated[
        str, typer.Argument(metavar="MANIFEST", help="manifest.csv: image_id,path,label[,split][,metadata...].")
    ],
    out_dir: Annotated[
        str,
        typer.Option(
            "--out-dir", "-o", help="Output folder (created): model.onnx, model.pt, train_log.csv, checkpoints/."
        ),
    ],
    root: Root = None,
    arch: Annotated[
        str,
        typer.Option(
            "--arch",
            help="auto (smallcnn for images <= 64 px, else densenet121), smallcnn, densenet121, densenet169, resnet18, resnet50, resnext50_32x4d.",
        ),
    ] = "auto",
    size: Annotated[
        str | None, typer.Option("--size", help="Input size N or HxW. Default: 28 for smallcnn, 224 otherwise.")
    ] = None,
    channels: Annotated[
        int | None, typer.Option("--channels", help="1 (grey) or 3 (RGB). Default: 1 for smallcnn, 3 otherwise.")
    ] = None,
    resize: Annotated[
        str,
        typer.Option("--resize", help="stretch, pad (keep aspect, black borders) or crop (keep aspect, centre crop)."),
    ] = "stretch",
    mean: Annotated[
        str | None,
        typer.Option(
            "--mean", help="Normalisation mean per channel, e.g. 0.5 or 0.485,0.456,0.406. Default: ImageNet's."
        ),
    ] = None,
    std: Annotated[
        str | None, typer.Option("--std", help="Normalisation std per channel. Default: ImageNet's.")
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights", help="Initialise from a local state dict (torchvision or hs model.pt). Nothing is downloaded."
        ),
    ] = None,
    positive: Annotated[
        str | None, typer.Option("--positive", help="Label of the positive class (two classes that are not 0/1).")
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs to train (with --resume: the total to reach).")] = 10,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per step, per process.")] = 32,
    optimizer: Annotated[str, typer.Option("--optimizer", help="adam or sgd.")] = "adam",
    lr: Annotated[float, typer.Option("--lr", help="Learning rate.")] = 1e-4,
    momentum: Annotated[float, typer.Option("--momentum", help="SGD momentum.")] = 0.9,
    weight_decay: Annotated[float, typer.Option("--weight-decay", help="L2 weight decay.")] = 0.0,
    class_weight: Annotated[
        bool,
        typer.Option(
            "--class-weight",
            help="Weight the loss by inverse class frequency (binary: pos_weight = negatives/positives).",
        ),
    ] = False,
    val_frac: Annotated[
        float | None,
        typer.Option(
            "--val-frac",
            help="Without 'val' rows: this seeded fraction of each class validates (default 0.1; 0 = no validation).",
        ),
    ] = None,
    metric: Annotated[
        str,
        typer.Option(
            "--metric", help="Picks the best epoch: auto (AUC for two classes, else accuracy), auc, accuracy, loss."
        ),
    ] = "auto",
    patience: Annotated[
        int | None, typer.Option("--patience", help="Stop after this many epochs without a better validation metric.")
    ] = None,
    augment: Annotated[
        bool, typer.Option("--augment/--no-augment", help="Random rotation, translation and zoom of training images.")
    ] = True,
    rotation: Annotated[float, typer.Option("--rotation", help="Maximum rotation, degrees.")] = 10.0,
    translation: Annotated[
        float, typer.Option("--translation", help="Maximum shift, fraction of the width/height.")
    ] = 0.05,
    zoom: Annotated[float, typer.Option("--zoom", help="Maximum zoom in or out, fraction.")] = 0.1,
    hflip: Annotated[
        bool,
        typer.Option("--hflip", help="Also flip left-right at random (off: left and right differ on a radiograph)."),
    ] = False,
    subsample: Annotated[
        list[str] | None,
        typer.Option("--subsample", help="COL=VALUE:FRAC: drop this fraction of those training rows (repeatable)."),
    ] = None,
    label_noise: Annotated[
        list[str] | None,
        typer.Option(
            "--label-noise",
            help="COL=VALUE:FRAC: give this fraction of those training rows a random wrong label (repeatable).",
        ),
    ] = None,
    seed: Seed = 0,
    device: Annotated[str, typer.Option("--device", help="auto (CUDA when available), cpu or cuda.")] = "auto",
    amp: Annotated[
        str,
        typer.Option(
            "--amp", help="Mixed precision: auto (bf16 on GPUs that have it, else fp16; off on CPU), bf16, fp16, off."
        ),
    ] = "auto",
    channels_last: Annotated[
        bool | None,
        typer.Option("--channels-last/--no-channels-last", help="Channels-last memory format. Default: on for CUDA."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Image-decoding processes per training process. Default: free CPUs, at most 8."),
    ] = None,
    cache: Annotated[
        str, typer.Option("--cache", help="Keep decoded images in memory: auto (when they fit in 2 GiB), on, off.")
    ] = "auto",
    deterministic: Annotated[
        bool,
        typer.Option("--deterministic", help="Deterministic GPU kernels (slower); CPU runs are repeatable anyway."),
    ] = False,
    epoch_weights: Annotated[
        bool,
        typer.Option(
            "--epoch-weights/--no-epoch-weights", help="Keep checkpoints/epoch_NNN.pt weights for every epoch."
        ),
    ] = True,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out-dir from checkpoints/last.pt (same options).")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Start again in an --out-dir that holds an earlier run (its files are deleted)."),
    ] = False,
    id_col: IdCol = ColumnMap.id,
    na_values: NaValues = None,
    delimiter: Delimiter = None,
    decimal_comma: DecimalComma = False,
    sheet: Sheet = None,
    cross_fit: Annotated[
        int | None,
        typer.Option(
            "--cross-fit",
            metavar="K",
            help="Train K models, each on all folds but one, and write OUT/preds_oof.csv: an out-of-fold probability for every train/val image (docs/label_issues.md).",
        ),
    ] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Train a classifier on a manifest's images and export it to model.onnx (probabilities + embedding)."""
    with handled(verbose):
        from hstool.cli.progress import progress_bar
        from hstool.cli.table_args import column_map, table_format
        from hstool.data.preprocess import parse_size
        from hstool.train.config import TrainConfig, parse_floats
        from hstool.train.training import train

        config = TrainConfig(
            manifest=manifest,
            out_dir=out_dir,
            root=root,
            id_col=column_map(id_col).id,
            table_format=table_format(na_values, delimiter, decimal_comma, sheet),
            arch=arch,
            size=parse_size(size) if size else None,
            channels=channels,
            resize=resize,
            mean=parse_floats(mean, "--mean"),
            std=parse_floats(std, "--std"),
            weights=weights,
            positive=positive,
            epochs=epochs,
            batch_size=batch_size,
            optimizer=optimizer,
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            class_weight=class_weight,
            val_frac=val_frac,
            metric=metric,
            patience=patience,
            augment=augment,
            rotation=rotation,
            translation=translation,
            zoom=zoom,
            hflip=hflip,
            subsample=tuple(subsample or ()),
            label_noise=tuple(label_noise or ()),
            seed=seed,
            device=device,
            amp=amp,
            channels_last=channels_last,
            workers=workers,
            cache=cache,
            deterministic=deterministic,
            epoch_weights=epoch_weights,
            resume=resume,
            force=force,
        )
        with progress_bar("training", quiet=quiet, unit="images") as progress:
            if cross_fit is None:
                train(config, progress=progress, report=None if quiet else say)
            else:
                from hstool.train.cross_fit import cross_fit as run_cross_fit

                run_cross_fit(config, cross_fit, progress=progress, report=None if quiet else say)
