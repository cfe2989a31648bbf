"""`hs predict` and `hs embed` are one command seen from two sides: both run `run_inference`,
and write predictions, embeddings or both. `inference_command` builds either from the options
they share."""

# No `from __future__ import annotations`: Typer reads the annotations of the function built
# below, which refer to this function's arguments.
from collections.abc import Callable
from typing import Annotated, Any

import typer

from hstool.cli.common import handled, say
from hstool.cli.options import (
    DecimalComma,
    Delimiter,
    IdCol,
    NaValues,
    Quiet,
    Root,
    Sheet,
    Verbose,
)
from hstool.io.table_format import ColumnMap

Model = Annotated[str, typer.Argument(metavar="MODEL", help="model.onnx exported by hs train (with hs.* metadata).")]
ManifestArg = Annotated[str, typer.Argument(metavar="MANIFEST", help="manifest.csv (image_id,path,...); '-' = stdin.")]
Device = Annotated[
    str,
    typer.Option("--device", help="auto (CUDA when onnxruntime-gpu has a usable GPU, else CPU), cpu, cuda or cuda:N."),
]
Threads = Annotated[
    int, typer.Option("--threads", help="onnxruntime intra-op threads (0 = its default, one per core).")
]
BatchSize = Annotated[int, typer.Option("--batch-size", help="Images per model call.")]
Workers = Annotated[
    int | None,
    typer.Option("--workers", help="Image decoding processes. Default: min(CPUs, 8); 0 = decode in this process."),
]
Prefetch = Annotated[
    int | None, typer.Option("--prefetch", help="Batches decoded ahead of the model. Default: 2 per worker.")
]
ChunkSize = Annotated[
    int,
    typer.Option(
        "--chunk-size", help="Images per saved chunk (rounded up to whole batches): the work --resume can lose."
    ),
]
ShardOpt = Annotated[
    str | None,
    typer.Option(
        "--shard", help="i/N (i from 0): run only block i of N of the manifest; join the outputs with hs merge."
    ),
]
Resume = Annotated[
    bool,
    typer.Option(
        "--resume", help="Continue an interrupted run with the same inputs and options (its saved chunks are kept)."
    ),
]
OnError = Annotated[
    str,
    typer.Option(
        "--on-error", help="fail: stop at the first unreadable image. skip: go on and list them in OUTPUT.errors.csv."
    ),
]


def inference_command(
    *, primary: str, output: Any, output_default: Any, companion: Any, doc: str
) -> Callable[..., None]:
    """The command function for `primary` ('preds' or 'embeddings'): `output` is the Annotated
    type of its -o (default `output_default`; `...` = required), `companion` that of the option
    naming the other output."""

    def command(
        model: Model,
        manifest: ManifestArg,
        output: output = output_default,
        companion: companion = None,
        root: Root = None,
        device: Device = "auto",
        threads: Threads = 0,
        batch_size: BatchSize = 64,
        workers: Workers = None,
        prefetch: Prefetch = None,
        chunk_size: ChunkSize = 4096,
        shard: ShardOpt = None,
        resume: Resume = False,
        on_error: OnError = "fail",
        id_col: IdCol = ColumnMap.id,
        na_values: NaValues = None,
        delimiter: Delimiter = None,
        decimal_comma: DecimalComma = False,
        sheet: Sheet = None,
        quiet: Quiet = False,
        verbose: Verbose = False,
    ) -> None:
        with handled(verbose):
            from hstool.cli.progress import progress_bar
            from hstool.cli.table_args import column_map, table_format
            from hstool.infer.inference import InferenceOptions, Targets, run_inference

            if primary == "preds":
                targets = Targets(preds=output or "-", embeddings=companion, primary=primary)
            else:
                targets = Targets(preds=companion, embeddings=output, primary=primary)
            options = InferenceOptions(
                device=device,
                threads=threads,
                batch_size=batch_size,
                workers=workers,
                prefetch=prefetch,
                chunk_size=chunk_size,
                shard=shard,
                on_error=on_error,
                resume=resume,
                root=root,
                id_col=column_map(id_col).id,
                table_format=table_format(na_values, delimiter, decimal_comma, sheet),
                verbose=verbose,
            )
            log = (lambda message: None) if quiet else say
            with progress_bar("inference", quiet=quiet, unit="images") as progress:
                result = run_inference(model, manifest, targets, options, progress=progress, log=log)
            for line in result.summary():
                log(line)

    command.__doc__ = doc
    return command
