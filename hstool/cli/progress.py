"""A progress bar on stderr for long loops, silent when stderr is not a terminal or with --quiet.

Library functions take a `progress(done, total)` callback; this module turns it into a rich bar,
so the library never imports rich and pipelines and CI logs stay clean. With `unit` (e.g.
"images") the bar also shows the count, the rate (images/s) and the time left.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def progress_bar(description: str, *, quiet: bool, unit: str | None = None) -> Iterator[Callable[[int, int], None]]:
    """The first report sets the starting point without counting as progress, so work done
    before (e.g. chunks kept from an interrupted run) does not inflate the rate."""
    if quiet or not sys.stderr.isatty():
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"{task.speed:,.0f} {unit}/s" if task.speed else f"- {unit}/s")

    columns = (
        (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit or ""),
            Rate(),
            TimeRemainingColumn(),
        )
        if unit
        else Progress.get_default_columns()
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)
        started = False

        def update(done: int, total: int) -> None:
            nonlocal started
            if not started:
                bar.reset(task, total=total, completed=done)
                started = True
            else:
                bar.update(task, completed=done, total=total)

        yield update
