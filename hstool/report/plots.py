"""The report's figures as inline SVG: forest plot, ROC curves, calibration (reliability)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from hstool.report.curves import Calibration, Roc
from hstool.report.markup import Raw, el, num
from hstool.report.svg import FLAG, GREY, Panel, axes, colour, legend, line, polyline, short, svg, text


@dataclass(frozen=True)
class ForestRow:
    label: str
    values: dict[str, tuple[float | None, float | None, float | None]]  # metric -> (value, low, high)
    worse_on: frozenset[str]


def _lower_bound(values: Sequence[float | None]) -> float:
    present = [v for v in values if v is not None and math.isfinite(v)]
    if not present:
        return 0.0
    return max(0.0, math.floor(min(present) * 10) / 10)


def forest_plot(rows: Sequence[ForestRow], metrics: Sequence[tuple[str, str]], overall: dict[str, float | None]) -> Raw:
    """One line per row, one panel per metric: estimate and interval, the overall value as a
    dashed line, and flagged metrics in red (the group is significantly worse on it)."""
    label_w, panel_w, gap, row_h, top, bottom = 240, 220, 28, 18, 34, 40
    height = top + row_h * len(rows) + bottom
    width = label_w + len(metrics) * (panel_w + gap)
    parts = []
    for i, row in enumerate(rows):
        y = top + row_h * (i + 0.5) + 4
        flagged = bool(row.worse_on)
        parts.append(
            el(
                "g",
                el("title", row.label),
                text(
                    label_w - 10,
                    y,
                    short(row.label),
                    anchor="end",
                    font_weight="bold" if flagged else None,
                    fill=FLAG if flagged else None,
                ),
            )
        )
    for j, (key, title) in enumerate(metrics):
        lows = [r.values[key][1] if r.values[key][1] is not None else r.values[key][0] for r in rows]
        panel = Panel(label_w + j * (panel_w + gap), top, panel_w, row_h * len(rows), x_range=(_lower_bound(lows), 1.0))
        step = 0.1 if panel.x_range[0] >= 0.5 else 0.2
        ticks = np.round(np.arange(1.0, panel.x_range[0] - 1e-9, -step)[::-1], 3)
        parts.append(
            el(
                "rect",
                x=num(panel.left),
                y=num(panel.top),
                width=num(panel.width),
                height=num(panel.height),
                fill="none",
                stroke="#444444",
            )
        )
        for t in ticks:
            xp = float(panel.x(t))
            parts.append(line(xp, panel.top, xp, panel.bottom, stroke="#eeeeee"))
            parts.append(text(xp, panel.bottom + 14, f"{t:g}", anchor="middle", size=10))
        parts.append(text(panel.left + panel_w / 2, top - 12, title, anchor="middle", font_weight="bold"))
        ref = overall.get(key)
        if ref is not None:
            xr = float(panel.x(ref))
            parts.append(line(xr, panel.top, xr, panel.bottom, stroke=GREY, dash="4 3"))
            parts.append(text(xr, panel.bottom + 28, f"overall {ref:.3f}", anchor="middle", size=10, fill="#555555"))
        for i, row in enumerate(rows):
            value, low, high = row.values[key]
            yc = top + row_h * (i + 0.5)
            if value is None:
                parts.append(text(panel.left + 4, yc + 4, "n/a", size=10, fill=GREY))
                continue
            stroke = FLAG if key in row.worse_on else "#222222"
            if low is not None and high is not None:
                parts.append(line(float(panel.x(low)), yc, float(panel.x(high)), yc, stroke=stroke, width=1.5))
            xv = float(panel.x(value))
            tip = f"{row.label}: {title} {value:.3f}" + (
                f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else ""
            )
            parts.append(
                el("rect", el("title", tip), x=num(xv - 3.5), y=num(yc - 3.5), width="7", height="7", fill=stroke)
            )
    names = " and ".join(t for _, t in metrics)
    return svg(width, height, parts, f"Forest plot of {names} per subgroup with intervals")


CurveData = TypeVar("CurveData", Roc, Calibration)


@dataclass(frozen=True)
class Curve(Generic[CurveData]):
    label: str
    data: CurveData


_OVERALL_DASH = "5 4"


def roc_plot(title: str, overall: Roc, groups: Sequence[Curve[Roc]]) -> Raw:
    panel = Panel(52, 14, 240, 240)
    parts = [axes(panel, "1 - specificity (false-positive rate)", "sensitivity")]
    parts.append(line(panel.left, panel.bottom, panel.right, panel.top, stroke="#cccccc", dash="2 3"))
    parts.append(
        polyline(panel.x(overall.fpr), panel.y(overall.tpr), GREY, width=2, dash=_OVERALL_DASH, title="overall")
    )
    for i, curve in enumerate(groups):
        parts.append(polyline(panel.x(curve.data.fpr), panel.y(curve.data.tpr), colour(i), title=curve.label))
    entries = [("overall", GREY, _OVERALL_DASH)] + [(c.label, colour(i), None) for i, c in enumerate(groups)]
    parts.append(legend(panel.right + 24, panel.top + 10, entries))
    return svg(panel.right + 260, max(panel.bottom + 40, panel.top + 16 * len(entries) + 20), parts, title)


def calibration_plot(title: str, overall: Calibration, groups: Sequence[Curve[Calibration]]) -> Raw:
    """Observed fraction of positives against mean score per bin; the diagonal is perfect."""
    panel = Panel(52, 14, 240, 240)
    parts = [axes(panel, "mean score in bin", "observed fraction positive")]
    parts.append(line(panel.left, panel.bottom, panel.right, panel.top, stroke="#cccccc", dash="2 3"))
    series = [("overall", overall, GREY, _OVERALL_DASH)] + [
        (c.label, c.data, colour(i), None) for i, c in enumerate(groups)
    ]
    for label, cal, stroke, dash in series:
        xs, ys = panel.x(cal.mean_score), panel.y(cal.observed)
        parts.append(polyline(xs, ys, stroke, width=2 if dash else 1.5, dash=dash, title=label))
        for k in range(len(xs)):
            tip = f"{label}: mean score {cal.mean_score[k]:.3f}, observed {cal.observed[k]:.3f} [{cal.low[k]:.3f}, {cal.high[k]:.3f}], n={int(cal.count[k])}"
            parts.append(
                el("circle", el("title", tip), cx=num(float(xs[k])), cy=num(float(ys[k])), r="2.5", fill=stroke)
            )
    parts.append(legend(panel.right + 24, panel.top + 10, [(s[0], s[2], s[3]) for s in series]))
    return svg(panel.right + 260, max(panel.bottom + 40, panel.top + 16 * len(series) + 20), parts, title)
