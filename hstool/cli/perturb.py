"""`hs perturb MANIFEST -o DIR`: low-pass, high-pass, lower-resolution or noisy copies of images."""

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

  hs perturb test/manifest.csv -o lowpass_d10 --lowpass 10

  hs perturb test/manifest.csv -o highpass_d100 --highpass 100 --workers 2

  hs perturb test/manifest.csv -o noisy --noise 0.05 --seed 1 --bits 8

  for d in 1 5 10 25 50 100 200; do hs perturb m.csv -o lp$d --lowpass $d -q; done

Give exactly one of --lowpass D, --highpass D (circular mask of diameter D pixels around the zero frequency of the centred 2-D spectrum, as in Gichoya et al. 2022), --resolution N (box-average to N x N, then bilinear back to the original size) or --noise SIGMA (Gaussian, seeded per image by --seed and image_id). A low-pass diameter at least the image diagonal changes nothing; high-pass images are rescaled to [0, 1] per image.

Output: DIR/images/<image_id>.png (grey: 16-bit by default, RGB: 8-bit) and DIR/manifest.csv with the same rows, ids and columns as MANIFEST, path pointing at the new files and a 'perturbation' column (e.g. lowpass_d10). Details: docs/probes.md.
"""


def command(
    manifest: Annotated[str, typer.Argument(help="manifest.csv (image_id,path[,label][,...]).")],
    out_dir: Annotated[
        str, typer.Option("--out-dir", "-o", help="Folder to create: images/ and manifest.csv with its .meta.json.")
    ],
    lowpass: Annotated[
        float | None,
        typer.Option("--lowpass", help="Keep frequencies within this diameter (pixels of the centred spectrum)."),
    ] = None,
    highpass: Annotated[
        float | None, typer.Option("--highpass", help="Keep frequencies outside this diameter.")
    ] = None,
    resolution: Annotated[
        int | None, typer.Option("--resolution", help="Reduce to N x N pixels, then back to the original size.")
    ] = None,
    noise: Annotated[
        float | None,
        typer.Option("--noise", help="Add Gaussian noise with this standard deviation (pixel values in [0, 1])."),
    ] = None,
    bits: Annotated[
        int, typer.Option("--bits", help="Bits per pixel of grey PNG files: 16 or 8 (RGB files are 8-bit).")
    ] = 16,
    root: Root = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes for decoding, filtering and encoding.")
    ] = 1,
    force: Annotated[
        bool,
        typer.Option("--force", help="Write into a non-empty output folder (files of the same name are replaced)."),
    ] = False,
    id_col: IdCol = ColumnMap.id,
    na_values: NaValues = None,
    delimiter: Delimiter = None,
    decimal_comma: DecimalComma = False,
    sheet: Sheet = None,
    seed: Seed = 0,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Perturbed copies of a manifest's images (FFT low/high-pass, resolution, noise) and a new manifest."""
    with handled(verbose):
        from hstool.cli.progress import progress_bar
        from hstool.cli.table_args import column_map, table_format
        from hstool.errors import UsageError
        from hstool.synth.perturb import Perturbation
        from hstool.synth.perturbed import run_perturb

        given = [
            (k, v)
            for k, v in (("lowpass", lowpass), ("highpass", highpass), ("resolution", resolution), ("noise", noise))
            if v is not None
        ]
        if len(given) != 1:
            raise UsageError("give exactly one of --lowpass D, --highpass D, --resolution N, --noise SIGMA")
        try:
            perturbation = Perturbation(*given[0])
        except ValueError as exc:
            raise UsageError(f"--{given[0][0]}: {exc}") from None
        with progress_bar(f"writing {perturbation.name} images", quiet=quiet) as progress:
            built = run_perturb(
                manifest,
                out_dir,
                perturbation,
                seed=seed,
                root=root,
                bits=bits,
                workers=workers,
                force=force,
                progress=progress,
                id_col=column_map(id_col).id,
                fmt=table_format(na_values, delimiter, decimal_comma, sheet),
            )
        if not quiet:
            say(f"{perturbation.name}: {built.summary()}")
