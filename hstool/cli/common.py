"""What every command shares: error handling, exit codes, messages on stderr."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Iterator, Mapping

import typer

from hstool.errors import EXIT_BROKEN_PIPE, EXIT_DATA, EXIT_INTERRUPTED, HsError, Interrupted


def say(message: str) -> None:
    """A message for the person at the terminal: always stderr, never mixed with data."""
    print(message, file=sys.stderr, flush=True)


def flag_for(field: str, flags: Mapping[str, str] | None = None) -> str:
    """The command-line flag of a library field: the command's own table, else `--field-name`."""
    return (flags or {}).get(field, "--" + field.replace("_", "-"))


@contextlib.contextmanager
def handled(verbose: bool = False, flags: Mapping[str, str] | None = None) -> Iterator[None]:
    """Turn hs errors into one line on stderr and the documented exit code.

    No traceback for user errors (and never local variables, which can hold patient data);
    `--verbose` adds the traceback for bug reports. Library errors name options by their
    fields (OptionError, option_ref); they are shown with the command's flags (`flags`: field
    -> flag where the two differ, else `--field-name`).
    """
    try:
        yield
    except Interrupted as exc:  # not an error: the message says what was kept and how to go on
        say(f"hs: {exc.command_line_text(lambda field: flag_for(field, flags))}")
        raise typer.Exit(exc.exit_code) from None
    except HsError as exc:
        if verbose:
            traceback.print_exc(file=sys.stderr)
        say(f"hs: error: {exc.command_line_text(lambda field: flag_for(field, flags))}")
        raise typer.Exit(exc.exit_code) from None
    except BrokenPipeError:
        # The reader went away (`hs ... | head`): stop quietly, as Unix tools do. Point stdout
        # at /dev/null so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    except KeyboardInterrupt:
        say("hs: interrupted; no output was written")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # an hs bug, not a user error
        if verbose:
            traceback.print_exc(file=sys.stderr)
        first = str(exc).splitlines()[0] if str(exc) else ""
        say(f"hs: internal error: {type(exc).__name__}: {first} (re-run with --verbose for a traceback and report it)")
        raise typer.Exit(EXIT_DATA) from None
