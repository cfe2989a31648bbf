"""`hs synth`: plant hidden strata with ground-truth columns into real images."""

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
    Seed,
    Sheet,
    Verbose,
)
from hstool.io.table_format import ColumnMap

EPILOG = """\
Examples:

  hs synth --from-npz pneumoniamnist.npz --out-dir synth/ --spurious drain:pos=0.8,neg=0.1

  hs synth --from-npz pneumoniamnist.npz --splits train,test --per-class train=200,test=100 --out-dir demo/ \\
      --spurious drain:pos=0.9,neg=0.1,test.pos=0.4,test.neg=0.1 --seed 7

  hs synth --from-idx train=train-images-idx3-ubyte.gz,train-labels-idx1-ubyte.gz \\
      --from-idx test=t10k-images-idx3-ubyte.gz,t10k-labels-idx1-ubyte.gz --out-dir fashion/ \\
      --superclass summer=0,3,5,6 --superclass warm=2,4,9 --superclass everyday=1,7,8 --rare 6:0.25 --noisy 4:0.25

  hs synth --from-manifest cxr/manifest.csv --out-dir lesions/ --subtle 1:0.3:0.1

Writes OUT/images/<image_id>.png (8-bit grey), OUT/manifest.csv (image_id,path,label[,split],ground truth; label is the training label, noisy where --noisy flipped it), OUT/labels.csv (image_id,label[,split],ground truth; label is the true label, 0/1 for two classes) and OUT/labels_<split>.csv, each with a .meta.json (hs.manifest/1; hs.synth/1 with every parameter and the counts planted per split). Ground-truth columns: subclass (--superclass), label_true and label_noisy (--noisy), drain (every image) and drain_pos (positives only) (--spurious), subtle (--subtle). Grammar and examples: docs/synth.md.
"""


def command(
    out_dir: Annotated[
        str, typer.Option("--out-dir", help="Folder to create: images/, manifest.csv, labels.csv, labels_<split>.csv.")
    ],
    from_npz: Annotated[
        str | None,
        typer.Option(
            "--from-npz", metavar="FILE", help="Base images: a MedMNIST-style .npz (train_images, train_labels, ...)."
        ),
    ] = None,
    from_idx: Annotated[
        list[str] | None,
        typer.Option(
            "--from-idx",
            metavar="[SPLIT=]IMAGES,LABELS",
            help="Base images: MNIST-style idx files (repeatable, one per split).",
        ),
    ] = None,
    from_manifest: Annotated[
        str | None, typer.Option("--from-manifest", metavar="FILE", help="Base images: a manifest.csv with labels.")
    ] = None,
    root: Annotated[
        str | None, typer.Option("--root", help="With --from-manifest: the folder its paths are relative to.")
    ] = None,
    splits: Annotated[
        str | None, typer.Option("--splits", help="Only these splits of an .npz or manifest, e.g. train,test.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N images of each split.")] = None,
    class_names: Annotated[
        str | None,
        typer.Option(
            "--class-names", help="Names for class indices 0, 1, ... of an .npz or idx file, comma-separated."
        ),
    ] = None,
    per_class: Annotated[
        str | None,
        typer.Option(
            "--per-class", metavar="N|SPLIT=N,...", help="Seeded sample of at most N images of each class (per split)."
        ),
    ] = None,
    superclass: Annotated[
        list[str] | None,
        typer.Option(
            "--superclass",
            metavar="NAME=CLASS,...",
            help="Group classes into a superclass (repeatable); the class goes to 'subclass'.",
        ),
    ] = None,
    positive: Annotated[
        str | None,
        typer.Option("--positive", help="The positive class of a two-class task (default 1 for 0/1 labels)."),
    ] = None,
    spurious: Annotated[
        str | None,
        typer.Option(
            "--spurious",
            metavar="drain:[SPLIT.]pos=F,[SPLIT.]neg=F",
            help="Plant a drain in a fraction F of the positives and of the negatives (per split).",
        ),
    ] = None,
    rare: Annotated[
        list[str] | None,
        typer.Option(
            "--rare", metavar="CLASS:F", help="Keep only a fraction F of CLASS in the train split (repeatable)."
        ),
    ] = None,
    noisy: Annotated[
        list[str] | None,
        typer.Option(
            "--noisy",
            metavar="CLASS:F",
            help="Flip the label of a fraction F of CLASS in the train split (repeatable).",
        ),
    ] = None,
    subtle: Annotated[
        str | None,
        typer.Option(
            "--subtle",
            metavar="CLASS:F[:CONTRAST]",
            help="Give every CLASS image a lesion, faint (contrast 0.15) in a fraction F of them.",
        ),
    ] = None,
    size: Annotated[
        str | None,
        typer.Option(
            "--size", metavar="N|HxW", help="Resize the base images first (bilinear). Default: keep their size."
        ),
    ] = None,
    id_col: IdCol = ColumnMap.id,
    na_values: NaValues = None,
    delimiter: Delimiter = None,
    decimal_comma: DecimalComma = False,
    sheet: Sheet = None,
    seed: Seed = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty --out-dir (files of the same name are replaced).")
    ] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Plant hidden strata (a spurious drain, a rare, a noisy-label and a subtle subclass) into real images, with ground truth."""
    # BaseSource names its sources npz, idx and manifest; the flags say where they come from.
    with handled(verbose, flags={"npz": "--from-npz", "idx": "--from-idx", "manifest": "--from-manifest"}):
        from hstool.cli.progress import progress_bar
        from hstool.cli.table_args import column_map, table_format
        from hstool.synth.base import BaseSource
        from hstool.synth.run import run_synth
        from hstool.synth.spec import SynthSpec, parse_idx_source, parse_list

        source = BaseSource(
            npz=from_npz,
            idx=tuple(parse_idx_source(t) for t in from_idx or []),
            manifest=from_manifest,
            root=root,
            splits=parse_list(splits, "--splits"),
            limit=limit,
            class_names=parse_list(class_names, "--class-names"),
            id_col=column_map(id_col).id,
            table_format=table_format(na_values, delimiter, decimal_comma, sheet),
        )
        spec = SynthSpec.from_options(
            seed=seed,
            per_class=per_class,
            superclass=superclass,
            positive=positive,
            spurious=spurious,
            rare=rare,
            noisy=noisy,
            subtle=subtle,
            size=size,
        )
        with progress_bar("writing PNG files", quiet=quiet) as progress:
            result = run_synth(source, spec, out_dir, force=force, progress=progress)
        if not quiet:
            for line in result.summary():
                say(line)
