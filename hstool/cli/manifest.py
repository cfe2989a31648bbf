"""`hs manifest folder|npz|idx|check`: make a manifest.csv from images on disk or from array
files, or check one. A Typer sub-app; every subcommand calls one function of hstool.data."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from hstool.cli.common import handled, say
from hstool.cli.options import (
    DecimalComma,
    Delimiter,
    Format,
    IdCol,
    NaValues,
    Output,
    Quiet,
    Sheet,
    Verbose,
)
from hstool.io.table_format import ColumnMap

if TYPE_CHECKING:  # the builders import polars and Pillow: only when a command runs
    from hstool.data.build import Built

app = typer.Typer(
    help="Make or check a manifest.csv (image_id,path[,label][,split]): from a folder of images, "
    "a DICOM archive (with header metadata), a MedMNIST .npz or MNIST idx files.",
    epilog="Examples:\n\n  hs manifest folder chest_xray/ -o chest_xray/manifest.csv\n\n"
    "  hs manifest npz pneumoniamnist.npz --splits test --out-dir pm/\n\n"
    "  hs manifest dicom archive/ -o archive/manifest.csv --labels-out meta.csv --patient-key\n\n"
    "  hs manifest check pm/manifest.csv\n\nEach subcommand's --help has more.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

OutDir = Annotated[
    str, typer.Option("--out-dir", help="Folder to create: images/ (PNG files) and manifest.csv with its .meta.json.")
]
Limit = Annotated[int | None, typer.Option("--limit", help="Only the first N images (of each split).")]
ClassNames = Annotated[
    str | None,
    typer.Option("--class-names", help="Comma-separated names for class indices 0, 1, 2... (labels become names)."),
]
Force = Annotated[
    bool, typer.Option("--force", help="Write into a non-empty --out-dir (files of the same name are replaced).")
]


def _names(class_names: str | None) -> list[str] | None:
    from hstool.synth.spec import parse_list

    names = parse_list(class_names, "--class-names")
    return list(names) if names is not None else None


def _export(build: Callable[..., Built], *args: str, class_names: str | None, quiet: bool, **options: object) -> None:
    """Run an array import (npz, idx) with a progress bar, then print its summary."""
    from hstool.cli.progress import progress_bar

    with progress_bar("writing PNG files", quiet=quiet) as progress:
        built = build(*args, class_names=_names(class_names), progress=progress, **options)
    if not quiet:
        say(built.summary())


FOLDER_EPILOG = """\
Examples:

  hs manifest folder chest_xray/ -o chest_xray/manifest.csv

  hs manifest folder chest_xray/ --split-dirs -o chest_xray/manifest.csv   # chest_xray/train/NORMAL/x.jpeg

  hs manifest folder scans/ > manifest.csv   # paths relative to the current folder

Output columns: image_id (path below DIR without extension), path (relative to the manifest's folder), label (the class folder; omitted when images are not in class folders), split (with --split-dirs).
"""


@app.command("folder", epilog=FOLDER_EPILOG)
def folder(
    directory: Annotated[
        str, typer.Argument(metavar="DIR", help="Folder of images: DIR/<class>/... (PNG, JPEG, DICOM, .npy).")
    ],
    split_dirs: Annotated[
        bool, typer.Option("--split-dirs", help="DIR/<train|val|test>/<class>/...: add a split column.")
    ] = False,
    output: Output = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Manifest of the image files under a folder; the class is the first-level subfolder."""
    with handled(verbose):
        from pathlib import Path

        from hstool.data.folder import manifest_from_folder
        from hstool.io.render import emit

        manifest_dir = Path(output).parent if output is not None and output != "-" else Path.cwd()
        built = manifest_from_folder(directory, manifest_dir=manifest_dir, split_dirs=split_dirs)
        emit(built.table, fmt="csv", output=output, meta=built.meta)
        if not quiet:
            say(built.summary())


NPZ_EPILOG = """\
Examples:

  hs manifest npz pneumoniamnist.npz --out-dir pneumonia/

  hs manifest npz pneumoniamnist.npz --out-dir small/ --splits train,test --limit 200

  hs manifest npz pneumoniamnist.npz --out-dir named/ --class-names normal,pneumonia

Reads <split>_images and <split>_labels for train, val and test. Writes OUT/images/<split>_<index>.png and OUT/manifest.csv (image_id,path,label,split).
"""


@app.command("npz", epilog=NPZ_EPILOG)
def npz(
    file: Annotated[
        str,
        typer.Argument(metavar="FILE.npz", help="MedMNIST-style .npz (train_images, train_labels, val_..., test_...)."),
    ],
    out_dir: OutDir,
    splits: Annotated[
        str | None,
        typer.Option("--splits", help="Comma-separated splits to export, e.g. train,test. Default: all in the file."),
    ] = None,
    limit: Limit = None,
    class_names: ClassNames = None,
    force: Force = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Write the images of a MedMNIST .npz as PNG files, with a manifest (split column)."""
    with handled(verbose):
        from hstool.data.build import manifest_from_npz

        wanted = [s.strip() for s in splits.split(",") if s.strip()] if splits else None
        _export(
            manifest_from_npz,
            file,
            out_dir,
            splits=wanted,
            limit=limit,
            class_names=class_names,
            force=force,
            quiet=quiet,
        )


IDX_EPILOG = """\
Examples:

  hs manifest idx t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz --out-dir fmnist-test/ --split test

  hs manifest idx train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz --out-dir fmnist-train/ --split train --limit 5000 \\
      --class-names "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"

Writes OUT/images/<split>_<index>.png (img_<index> without --split) and OUT/manifest.csv (image_id,path,label[,split]).
"""


@app.command("idx", epilog=IDX_EPILOG)
def idx(
    images: Annotated[str, typer.Argument(metavar="IMAGES", help="idx image file (…-images-idx3-ubyte[.gz]).")],
    labels: Annotated[str, typer.Argument(metavar="LABELS", help="idx label file (…-labels-idx1-ubyte[.gz]).")],
    out_dir: OutDir,
    split: Annotated[
        str | None,
        typer.Option("--split", help="Value of a split column: train, val or test. Default: no split column."),
    ] = None,
    limit: Limit = None,
    class_names: ClassNames = None,
    force: Force = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Write the images of MNIST-style idx files (gzip or not) as PNG files, with a manifest."""
    with handled(verbose):
        from hstool.data.build import manifest_from_idx

        _export(
            manifest_from_idx,
            images,
            labels,
            out_dir,
            split=split,
            limit=limit,
            class_names=class_names,
            force=force,
            quiet=quiet,
        )


DICOM_EPILOG = """\
Examples:

  hs manifest dicom archive/ -o archive/manifest.csv --labels-out meta.csv

  hs manifest dicom archive/ -o archive/manifest.csv --patient-key --key-file site.key --tags ImagerPixelSpacing,KVP

  hs manifest dicom archive/ --on-error skip -o archive/manifest.csv   # skipped files in manifest.csv.errors.csv

Files are recognised by content (DICM marker), with or without an extension; only headers are read. Output columns: image_id (SOP Instance UID, or the path with --image-id path), path, Modality, Manufacturer, ManufacturerModelName, ViewPosition, BodyPartExamined, PatientSex, PatientAge (years), PhotometricInterpretation, BitsStored, Rows, Columns, PixelSpacing (row spacing, mm), the --tags columns, patient_key (with --patient-key). Names, IDs, dates, accession numbers, UIDs and free text are never exported. Details: docs/data.md.
"""


@app.command("dicom", epilog=DICOM_EPILOG)
def dicom(
    directory: Annotated[str, typer.Argument(metavar="DIR", help="Folder of DICOM files, searched recursively.")],
    output: Output = None,
    labels_out: Annotated[
        str | None,
        typer.Option(
            "--labels-out", help="Also write image_id + the metadata columns here (labels for hs stratify --by)."
        ),
    ] = None,
    tags: Annotated[
        str | None,
        typer.Option("--tags", help="Comma-separated DICOM keywords to add (e.g. KVP,ImagerPixelSpacing)."),
    ] = None,
    patient_key: Annotated[
        bool,
        typer.Option("--patient-key", help="Add patient_key, an HMAC-SHA256 of PatientID (for patient-level splits)."),
    ] = False,
    key_file: Annotated[
        str | None,
        typer.Option(
            "--key-file", help="Secret key for --patient-key (at least 16 bytes). Default: random, used once."
        ),
    ] = None,
    image_id: Annotated[
        str, typer.Option("--image-id", help="uid (SOP Instance UID) or path (relative path, DICOM extension dropped).")
    ] = "uid",
    on_error: Annotated[
        str,
        typer.Option(
            "--on-error", help="fail: stop at the first non-image file. skip: list them in OUTPUT.errors.csv."
        ),
    ] = "fail",
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Header-reading processes (0: none). Default: min(CPUs, 8) from 4000 files."),
    ] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Manifest and header metadata of the DICOM images under a folder (no identifiers)."""
    with handled(verbose):
        from pathlib import Path

        from hstool.cli.dicom_args import dicom_options
        from hstool.cli.progress import progress_bar
        from hstool.data.dicom_manifest import manifest_from_dicom, write_dicom_outputs

        options = dicom_options(
            tags=tags,
            patient_key=patient_key,
            key_file=key_file,
            on_error=on_error,
            image_id=image_id,
            workers=workers,
            output=output,
            labels_out=labels_out,
        )
        manifest_dir = Path(output).parent if output is not None and output != "-" else Path.cwd()
        with progress_bar("reading DICOM headers", quiet=quiet) as progress:
            built = manifest_from_dicom(
                directory,
                manifest_dir=manifest_dir,
                options=options,
                outputs=(output, labels_out),
                progress=progress,
            )
        write_dicom_outputs(built, output=output, labels_out=labels_out)
        if not quiet:
            say(built.summary())


CHECK_EPILOG = """\
Examples:

  hs manifest check manifest.csv

  hs manifest check manifest.csv --labels --decode

  hs manifest check archive/manifest.csv --group-col patient_key   # needs a split column

Checks the columns, ids, paths (inside the root, files present), split values, and with --labels the labels; with --decode it also decodes every image. Prints a one-line summary on stderr; exit 1 on the first problem. With --group-col, the groups found in more than one split go to stdout (or -o): GROUP, splits, n, n_train, n_val, n_test; exit 1 when there is any, unless --allow-overlap.
"""


@app.command("check", epilog=CHECK_EPILOG)
def check(
    manifest: Annotated[str, typer.Argument(metavar="MANIFEST", help="manifest.csv to check ('-' = stdin).")],
    root: Annotated[
        str | None, typer.Option("--root", help="Folder the paths are relative to. Default: the manifest's folder.")
    ] = None,
    labels: Annotated[
        bool, typer.Option("--labels", help="Require a label column with at least two classes and no empty labels.")
    ] = False,
    id_col: IdCol = ColumnMap.id,
    na_values: NaValues = None,
    delimiter: Delimiter = None,
    decimal_comma: DecimalComma = False,
    sheet: Sheet = None,
    decode: Annotated[bool, typer.Option("--decode", help="Also decode every image (slow on large sets).")] = False,
    group_col: Annotated[
        str | None,
        typer.Option(
            "--group-col", help="List values of this column (e.g. patient_key) found in several splits; exit 1."
        ),
    ] = None,
    allow_overlap: Annotated[
        bool, typer.Option("--allow-overlap", help="With --group-col: only report groups in several splits.")
    ] = False,
    output: Output = None,
    fmt: Format = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Validate a manifest and its image files; with --group-col, check that no group spans two splits."""
    with handled(verbose):
        from hstool.cli.progress import progress_bar
        from hstool.cli.table_args import column_map, table_format
        from hstool.data.check import check_manifest, fail_on_overlap
        from hstool.io.render import emit

        with progress_bar("decoding images", quiet=quiet) as progress:
            checked = check_manifest(
                manifest,
                root=root,
                require_label=labels,
                decode=decode,
                group_col=group_col,
                allow_overlap=allow_overlap,
                progress=progress,
                id_col=column_map(id_col).id,
                fmt=table_format(na_values, delimiter, decimal_comma, sheet),
            )
        if checked.overlap is not None and checked.meta is not None:
            emit(checked.overlap.table, fmt=fmt, output=output, meta=checked.meta)
        if not quiet:
            say(checked.summary)
        if not allow_overlap:
            fail_on_overlap(checked)
