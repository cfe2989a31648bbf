"""The one error family of hs.

Library code raises these; the CLI turns each into a single line on stderr and an exit code
(see docs/formats.md, "Exit codes"). Messages say what was expected, what was found, and how
to fix it, and never include data values beyond what is needed to locate the problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

EXIT_DATA = 1
EXIT_USAGE = 2
EXIT_AUDIT_FAILED = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports when a reader closes the pipe

LISTED = 3  # how many offending items (ids, rows, keys) a message lists before '...'
QUOTED = 300  # characters of a library's message quoted in an error


# Another option named inside a message, by its library field: option_ref("on_error"). A
# Python caller reads the field name; the command line shows the flag (cli/common.handled).
_OPTION_REF = re.compile(r"\{option:([a-z][a-z0-9_]*)\}")


def option_ref(field: str) -> str:
    return "{option:" + field + "}"


class HsError(Exception):
    """Base class: a problem the user can fix. Exit code 1 unless a subclass says otherwise."""

    exit_code = EXIT_DATA

    def __str__(self) -> str:
        return _OPTION_REF.sub(lambda m: m.group(1), super().__str__())

    def command_line_text(self, flag_for: Callable[[str], str]) -> str:
        """The message with every option named by its command-line flag."""
        return _OPTION_REF.sub(lambda m: flag_for(m.group(1)), super().__str__())


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


class OptionError(UsageError):
    """One option's value is wrong: a field of a library options dataclass or a keyword
    argument, named as the library names it. A Python caller reads `field=value: problem`; the
    command line shows the flag the user typed instead (hstool.cli.common.handled maps
    `field` to `--field` with '_' as '-', or by the command's own table), so the library never
    speaks of flags."""

    def __init__(self, field: str, value: object, problem: str, *, quoted: bool | None = None) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        # Text is quoted (repr) so that spaces and empty strings show; paths read better bare.
        self.quoted = isinstance(value, str) if quoted is None else quoted
        super().__init__(f"{field}={self.shown_value}: {problem}")

    @property
    def shown_value(self) -> str:
        return repr(self.value) if self.quoted else str(self.value)

    def command_line_text(self, flag_for: Callable[[str], str]) -> str:
        """`--flag value: problem`, other options in the problem named by their flags too."""
        problem = _OPTION_REF.sub(lambda m: flag_for(m.group(1)), self.problem)
        return f"{flag_for(self.field)} {self.shown_value}: {problem}"


class AuditFailed(HsError):
    """The audit found what `--fail-on` asked to fail on (for CI gating)."""

    exit_code = EXIT_AUDIT_FAILED


def require_choice(field: str, value: str, allowed: Sequence[str]) -> None:
    """One place for 'a mode is one of these words': the options dataclasses call it."""
    if value not in allowed:
        raise OptionError(field, value, f"choose one of {', '.join(allowed)}")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (at most QUOTED characters), or its type's
    name when it has none: for one-line errors that quote what a library said."""
    text = str(exc).strip().splitlines()
    return text[0][:QUOTED] if text else type(exc).__name__
