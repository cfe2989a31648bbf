"""The `hs agree --plot` figure: Bland-Altman plot of calibrated scores and kappa per group.

matplotlib is imported here, inside the function, only when a plot is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

from hstool.audit.agree import SCORES, AgreementResult
from hstool.errors import UsageError, option_ref
from hstool.io.atomic import atomic_path
from hstool.io.sidecar import write_sidecar


def write_agreement_plot(path: str | Path, result: AgreementResult) -> None:
    """PNG with a Bland-Altman panel (when both inputs are scores) and a kappa forest plot."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError(
            f"{option_ref('plot')} needs matplotlib, which is not installed: pip install 'hstool[plots]'"
        ) from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with_ba = result.a.kind == SCORES and result.b.kind == SCORES
    rows = [r for r in result.table.to_dicts() if r["kappa"] is not None]
    fig, axes = plt.subplots(1, 2 if with_ba else 1, figsize=(12 if with_ba else 6, max(4.0, 0.3 * len(rows) + 1.5)))
    axes = np.atleast_1d(axes)
    if with_ba:
        _bland_altman_panel(axes[0], result)
    _kappa_panel(axes[-1], rows)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    write_sidecar(path, {**result.meta, "schema": "hs.agreement-plot/1"})


def _bland_altman_panel(ax: Axes, result: AgreementResult) -> None:
    a, b = result.a.calibrated, result.b.calibrated
    assert a is not None and b is not None  # drawn only when both raters hold scores
    overall = result.table.row(0, named=True)
    ax.scatter((a + b) / 2, a - b, s=6, alpha=0.4, color="tab:blue", linewidths=0)
    ax.axhline(overall["ba_mean_diff"], color="black", label=f"mean difference {overall['ba_mean_diff']:.3f}")
    if overall["ba_loa_low"] is not None:
        for value in (overall["ba_loa_low"], overall["ba_loa_high"]):
            ax.axhline(value, color="tab:red", linestyle="--")
        ax.plot(
            [],
            [],
            color="tab:red",
            linestyle="--",
            label=f"limits of agreement [{overall['ba_loa_low']:.3f}, {overall['ba_loa_high']:.3f}]",
        )
    ax.set_xlabel("mean of calibrated scores (A + B) / 2")
    ax.set_ylabel("difference of calibrated scores A - B")
    ax.set_title(f"Bland-Altman, n = {overall['n']} (operating points at 0.5)")
    ax.legend(loc="best", fontsize=8)


def _kappa_panel(ax: Axes, rows: list[dict[str, Any]]) -> None:
    labels = [r["group"] if r["stratifier"] == r["group"] else f"{r['stratifier']}={r['group']}" for r in rows]
    y = np.arange(len(rows))[::-1]
    kappa = np.array([r["kappa"] for r in rows])
    low = np.array([r["kappa_ci_low"] for r in rows])
    high = np.array([r["kappa_ci_high"] for r in rows])
    ax.errorbar(kappa, y, xerr=[kappa - low, high - kappa], fmt="o", color="black", capsize=3)
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlim(-1.0, 1.0)
    ax.set_xlabel("Cohen's kappa (interval)")
    ax.set_title("Agreement at the operating points")
