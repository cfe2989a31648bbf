"""The one error family of hs.

Library code raises these; the CLI turns each into a single line on stderr and an exit code
(see docs/formats.md, "Exit codes"). Messages say what was expected, what was found, and how
to fix it, and never include data values beyond what is needed to locate the problem.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_DATA = 1
EXIT_USAGE = 2
EXIT_AUDIT_FAILED = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports when a reader closes the pipe


class HsError(Exception):
    """Base class: a problem the user can fix. Exit code 1 unless a subclass says otherwise."""

    exit_code = EXIT_DATA


class InputError(HsError):
    """An input file is missing, unreadable, or breaks its contract (column, row, value)."""


class OutputError(HsError):
    """An output cannot be written (folder missing, not writable, would overwrite an input)."""


class UsageError(HsError):
    """Options that contradict each other or cannot be parsed."""

    exit_code = EXIT_USAGE


class Interrupted(HsError):
    """Ctrl-C during a command that keeps its work for a later run (hs predict --resume state)."""

    exit_code = EXIT_INTERRUPTED


class ParityError(HsError):
    """A converted model (hs train's export, hs import) differs from its source: not written."""


class AuditFailed(HsError):
    """The audit found what `--fail-on` asked to fail on (for CI gating)."""

    exit_code = EXIT_AUDIT_FAILED


def where(path: str, *, column: str | None = None, line: int | None = None) -> str:
    """Format the location part of a message: `preds.csv, line 12, column 'score'`."""
    parts = [path]
    if line is not None:
        parts.append(f"line {line}")
    if column is not None:
        parts.append(f"column '{column}'")
    return ", ".join(parts)
