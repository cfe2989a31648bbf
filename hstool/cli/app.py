"""The `hs` command. Commands are small modules under hstool/cli/; heavy libraries (polars,
scipy, torch, onnxruntime) are imported inside each command, so `hs --help` stays fast."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

from hstool import __version__

# (command name, module under hstool.cli). Each module exposes either `command` (and may set
# EPILOG, examples shown at the end of its --help) or `app`, a Typer sub-app whose subcommands
# become `hs NAME SUBCOMMAND` (e.g. `hs manifest folder`).
COMMANDS: list[tuple[str, str]] = [
    # In the order of a study: data, model, the three audits, then agreement and probes.
    ("manifest", "manifest"),
    ("synth", "synth"),
    ("train", "train"),
    ("import", "import_"),
    ("predict", "predict"),
    ("embed", "embed"),
    ("merge", "merge"),
    ("stratify", "stratify"),
    ("power", "power"),
    ("cluster", "cluster"),
    ("saliency", "saliency"),
    ("report", "report"),
    ("audit", "audit"),
    ("label-issues", "label_issues"),
    ("agree", "agree"),
    ("calibrate", "calibrate"),
    ("probe", "probe"),
    ("perturb", "perturb"),
]

app = typer.Typer(
    name="hs",
    help="hs: find where medical imaging models silently fail (hidden stratification audits).\n\n"
    "Composable commands that exchange CSV/NPY files joined on image_id. "
    "Exit codes: 0 ok, 1 data error, 2 usage error, 3 audit failed (--fail-on), 130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hs {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """hs: find where medical imaging models silently fail."""


for _name, _module in COMMANDS:
    _mod = importlib.import_module(f"hstool.cli.{_module}")
    if hasattr(_mod, "app"):
        app.add_typer(_mod.app, name=_name)
    else:
        app.command(name=_name, epilog=getattr(_mod, "EPILOG", None))(_mod.command)


# typer re-exports BadParameter but not its base class, click's UsageError (unknown option,
# missing argument, missing value), which comes from typer's bundled click or from click.
_USAGE_ERROR: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def main() -> None:
    """Run hs; a mistyped command line is one `hs: error:` line and exit 2, as every error is.

    Typer's default is a boxed panel under the usage text; standalone_mode=False hands the
    parsing error to us instead (typer.Exit codes are returned).
    """
    try:
        code = app(prog_name="hs", standalone_mode=False)
    except _USAGE_ERROR as caught:
        exc: Any = caught  # click's UsageError: ctx, format_message(), show(), exit_code
        if type(exc).__name__ == "NoArgsIsHelpError":  # `hs` or `hs manifest` alone: the help
            exc.show()
        else:
            ctx = exc.ctx
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            print(f"hs: error: {exc.format_message()}{hint}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("hs: aborted", file=sys.stderr)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
