"""The report's sections. Each module builds one section from ReportData; a section whose
inputs were not given says what to pass instead of disappearing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hstool.report.markup import Raw, el


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    body: Raw

    def html(self) -> Raw:
        return el("section", el("h2", self.title), self.body, id=self.anchor)


def unavailable(why: str) -> Raw:
    return el("p", why, cls="empty")


def data_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    row_classes: Sequence[str | None] | None = None,
    numeric: Sequence[bool] | None = None,
) -> Raw:
    """A plain table; cells are escaped unless they are `Raw`."""
    numeric = numeric or [False] * len(headers)
    head = el("tr", *[el("th", h, cls="num" if n else None) for h, n in zip(headers, numeric)])
    body = []
    for i, row in enumerate(rows):
        cls = row_classes[i] if row_classes else None
        body.append(el("tr", *[el("td", v, cls="num" if n else None) for v, n in zip(row, numeric)], cls=cls))
    return el("table", el("thead", head), el("tbody", *body))
