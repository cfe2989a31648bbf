"""A small kit for hand-written SVG plots: a panel mapping data to pixels, axes, lines.

Hand-written SVG rather than matplotlib: the output is small, byte-identical for the same
inputs (no ids, dates or font hashes), scales and prints as vectors, needs no dependency for
a command that runs without the ML stack, and every text in it is escaped by `markup.el`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hstool.report.markup import Raw, el, join, num

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C6D1F")
GREY = "#888888"
FLAG = "#C00000"
LABEL_CHARS = 34


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def short(text: str, limit: int = LABEL_CHARS) -> str:
    """Labels are cut to fit the plot; the full text stays in a tooltip and in the tables."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Panel:
    """A plotting area at (left, top) of size (width, height) showing x_range by y_range."""

    left: float
    top: float
    width: float
    height: float
    x_range: tuple[float, float] = (0.0, 1.0)
    y_range: tuple[float, float] = (0.0, 1.0)

    def x(self, value: npt.ArrayLike) -> np.ndarray:
        lo, hi = self.x_range
        return self.left + (np.asarray(value, dtype=float) - lo) / (hi - lo) * self.width

    def y(self, value: npt.ArrayLike) -> np.ndarray:
        lo, hi = self.y_range
        return self.top + self.height - (np.asarray(value, dtype=float) - lo) / (hi - lo) * self.height

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def right(self) -> float:
        return self.left + self.width


def svg(width: float, height: float, children: Sequence[Raw], label: str) -> Raw:
    return el(
        "svg",
        el("title", label),
        *children,
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {num(width)} {num(height)}",
        width=num(width),
        height=num(height),
        role="img",
        aria_label=label,
        cls="plot",
    )


def text(
    x: float, y: float, content: str, *, anchor: str = "start", size: int = 11, **attrs: str | float | None
) -> Raw:
    return el("text", content, x=num(x), y=num(y), text_anchor=anchor, font_size=size, **attrs)


def line(
    x1: float, y1: float, x2: float, y2: float, stroke: str = GREY, width: float = 1.0, dash: str | None = None
) -> Raw:
    return el(
        "line",
        x1=num(x1),
        y1=num(y1),
        x2=num(x2),
        y2=num(y2),
        stroke=stroke,
        stroke_width=num(width),
        stroke_dasharray=dash,
    )


def polyline(
    xs: np.ndarray, ys: np.ndarray, stroke: str, width: float = 1.5, dash: str | None = None, title: str | None = None
) -> Raw:
    points = " ".join(f"{num(a)},{num(b)}" for a, b in zip(xs, ys))
    return el(
        "polyline",
        el("title", title) if title else None,
        points=points,
        fill="none",
        stroke=stroke,
        stroke_width=num(width),
        stroke_dasharray=dash,
        stroke_linejoin="round",
    )


def axes(panel: Panel, x_label: str, y_label: str, ticks: Sequence[float] = (0, 0.25, 0.5, 0.75, 1.0)) -> Raw:
    """Frame, light grid at `ticks` on both axes, tick labels and axis titles."""
    parts = [
        el(
            "rect",
            x=num(panel.left),
            y=num(panel.top),
            width=num(panel.width),
            height=num(panel.height),
            fill="none",
            stroke="#444444",
            stroke_width="1",
        )
    ]
    for t in ticks:
        xp, yp = float(panel.x(t)), float(panel.y(t))
        parts.append(line(xp, panel.top, xp, panel.bottom, stroke="#e4e4e4"))
        parts.append(line(panel.left, yp, panel.right, yp, stroke="#e4e4e4"))
        parts.append(text(xp, panel.bottom + 14, f"{t:g}", anchor="middle", size=10))
        parts.append(text(panel.left - 5, yp + 3.5, f"{t:g}", anchor="end", size=10))
    parts.append(text(panel.left + panel.width / 2, panel.bottom + 30, x_label, anchor="middle"))
    cx, cy = panel.left - 32, panel.top + panel.height / 2
    parts.append(text(cx, cy, y_label, anchor="middle", transform=f"rotate(-90 {num(cx)} {num(cy)})"))
    return join(parts)


def legend(x: float, y: float, entries: Sequence[tuple[str, str, str | None]]) -> Raw:
    """Entries (label, colour, dash) stacked from (x, y), one line each."""
    parts = []
    for i, (label, stroke, dash) in enumerate(entries):
        yy = y + i * 16
        parts.append(line(x, yy - 4, x + 22, yy - 4, stroke=stroke, width=2, dash=dash))
        parts.append(el("g", el("title", label), text(x + 28, yy, short(label))))
    return join(parts)
