"""Option declarations shared by several commands, so they read the same everywhere."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

Output = Annotated[
    Optional[str],
    typer.Option("--output", "-o", help="Write to this file (atomically, with a .meta.json sidecar) instead of stdout."),
]
Format = Annotated[
    Optional[str],
    typer.Option(
        "--format",
        "-f",
        help="table, csv or json. Default: table on a terminal, csv when piped; with -o, from the file extension.",
    ),
]
Seed = Annotated[int, typer.Option("--seed", help="Seed for every random step; same inputs and seed give identical output.")]
Verbose = Annotated[bool, typer.Option("--verbose", help="Show a traceback on errors (for bug reports).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or messages on stderr, only errors.")]
