"""`hs import SOURCE -o model.onnx`: make an hs model from an ONNX file, a TorchScript file, or a
torchvision/timm state dict (`--arch` with `--weights`)."""

from __future__ import annotations

from typing import Annotated

import typer

from hstool.cli.common import handled, say
from hstool.cli.options import Quiet, Seed, Verbose
from hstool.importer.options import ImportOptions

EPILOG = """\
Examples:

  hs import plain.onnx -o model.onnx --activation sigmoid --class-names normal,pneumonia --size 224 --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225

  hs import chexnet.onnx -o effusion.onnx --activation sigmoid --class-names-file findings.txt --pick Effusion

  hs import xrv.onnx -o model.onnx --activation none --class-names-file findings.txt --pick Effusion --channels 1 --input-range=-1024,1024

  hs import model.pt -o model.onnx --size 224 --activation softmax --class-names a,b,c     # a TorchScript file

  hs import --arch resnet18 --weights resnet18_state.pt -o model.onnx --activation sigmoid --size 224

Writes model.onnx (hs.model/1: input image in [0, 1], outputs probabilities and embedding) and its .meta.json sidecar, after checking it against the source on a seeded random batch (max abs difference < 1e-4 on both outputs; nothing is written otherwise). Then: hs predict, hs embed, hs cluster, hs report. Details: docs/inference.md, "Bring your own model".
"""


def command(
    out: Annotated[str, typer.Option("--out", "-o", help="The hs model.onnx to write (with a .meta.json sidecar).")],
    source: Annotated[
        str | None,
        typer.Argument(metavar="SOURCE", help="An ONNX model or a TorchScript file (omit with --arch/--weights)."),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option("--output", help="The source's output with the scores, by name or index. Default: the only one."),
    ] = None,
    activation: Annotated[
        str,
        typer.Option(
            "--activation",
            help="What the scores are: sigmoid (logits of one or independent findings), softmax (logits of "
            "exclusive classes), none (probabilities), auto (none after a Sigmoid/Softmax node, else an error).",
        ),
    ] = ImportOptions.activation,
    class_names: Annotated[
        str | None,
        typer.Option("--class-names", help="Comma-separated, one per column (one logit: negative,positive)."),
    ] = None,
    class_names_file: Annotated[
        str | None, typer.Option("--class-names-file", help="The class names, one per line (instead of --class-names).")
    ] = None,
    positive: Annotated[
        str | None, typer.Option("--positive", help="The positive class of a two-class output.")
    ] = None,
    pick: Annotated[
        str | None,
        typer.Option("--pick", help="Make a binary model of this one finding of a multi-label (or softmax) output."),
    ] = None,
    embedding: Annotated[
        str | None,
        typer.Option(
            "--embedding", help="Tensor exposed as the embedding. Default: the input of the last Gemm/MatMul."
        ),
    ] = None,
    size: Annotated[
        str | None, typer.Option("--size", help="Input size N or HxW. Default: the source's fixed input size.")
    ] = None,
    channels: Annotated[
        int | None, typer.Option("--channels", help="1 (grey) or 3 (RGB). Default: the source's input channels.")
    ] = None,
    resize: Annotated[
        str,
        typer.Option("--resize", help="stretch, pad (keep aspect, black borders) or crop (keep aspect, centre crop)."),
    ] = ImportOptions.resize,
    mean: Annotated[
        str | None,
        typer.Option("--mean", help="Normalisation mean per channel, e.g. 0.485,0.456,0.406. Default: none."),
    ] = None,
    std: Annotated[str | None, typer.Option("--std", help="Normalisation std per channel. Default: none.")] = None,
    input_range: Annotated[
        str | None,
        typer.Option(
            "--input-range",
            help="LOW,HIGH: values the source expects for black and white, before --mean/--std (e.g. -1024,1024). Default: 0,1.",
        ),
    ] = None,
    arch: Annotated[
        str | None,
        typer.Option("--arch", help="With --weights: a torchvision or timm architecture name (e.g. resnet18)."),
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights", help="With --arch: a local state dict (.pt/.pth). Never downloaded, never unpickled."
        ),
    ] = None,
    num_classes: Annotated[
        int | None,
        typer.Option("--num-classes", help="With --arch: outputs of the head. Default: read from --weights."),
    ] = None,
    seed: Seed = ImportOptions.seed,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Import a model made elsewhere (ONNX, TorchScript, torchvision/timm weights) as an hs model.onnx."""
    with handled(verbose):
        from hstool.data.preprocess import parse_size
        from hstool.errors import UsageError
        from hstool.importer.options import parse_names, parse_range, read_names
        from hstool.importer.run import import_onnx, source_format
        from hstool.train.config import parse_floats

        if class_names is not None and class_names_file is not None:
            raise UsageError("--class-names and --class-names-file: give one of them")
        options = ImportOptions(
            output=output,
            activation=activation,
            class_names=read_names(class_names_file) if class_names_file else parse_names(class_names),
            positive=positive,
            pick=pick,
            embedding=embedding,
            size=parse_size(size) if size else None,
            channels=channels,
            resize=resize,
            mean=parse_floats(mean, "--mean"),
            std=parse_floats(std, "--std"),
            input_range=parse_range(input_range) or ImportOptions.input_range,
            architecture=arch,
            seed=seed,
        )
        if (arch is None) != (weights is None):
            raise UsageError("--arch and --weights go together: the architecture and its local state dict")
        if weights is not None:
            if source is not None:
                raise UsageError(f"SOURCE {source} and --weights: import either a file or --arch with --weights")
            from hstool.train.import_torch import import_state_dict

            result = import_state_dict(str(arch), weights, out, options, num_classes=num_classes)
        elif source is None:
            raise UsageError("give a SOURCE (ONNX or TorchScript file), or --arch with --weights")
        elif num_classes is not None:
            raise UsageError("--num-classes goes with --arch and --weights")
        elif source_format(source) == "torchscript":
            from hstool.train.import_torch import import_torchscript

            result = import_torchscript(source, out, options)
        else:
            result = import_onnx(source, out, options)
        if not quiet:
            head = result.head
            say(
                f"hs: wrote {out}: {head.task}, classes {', '.join(head.class_names)}; scores from '{result.output}' "
                f"({head.activation}), embedding {result.embedding_dim} from '{result.embedding}'; "
                f"parity max abs diff {result.max_abs_diff:.2g}"
            )
