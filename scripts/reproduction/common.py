"""Reading a target's outputs and formatting numbers for docs/reproduction.md."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from hstool.audit.strata_table import interval_text
from hstool.io.sidecar import read_sidecar

CITATION = (
    "Oakden-Rayner L, Dunnmon J, Carneiro G, Ré C. *Hidden stratification causes clinically "
    "meaningful failures in machine learning for medical imaging.* ML4H workshop at NeurIPS 2019 "
    "(arXiv:1909.12475); ACM CHIL 2020"
)
ALPHA = 0.05  # hs stratify's and hs cluster's default --alpha, which the targets keep


def seeds_arg(text: str) -> list[str]:
    seeds = text.split()
    if not seeds:
        raise SystemExit("--seeds: give at least one seed, e.g. --seeds '1 2 3'")
    return seeds


def need(path: Path) -> Path:
    if not path.exists():
        raise SystemExit(f"{path}: not found; run the make target first (or pass the seeds it ran with --seeds)")
    return path


def sidecar(path: Path) -> dict:
    meta = read_sidecar(need(path))
    if meta is None:
        raise SystemExit(f"{path}: no .meta.json sidecar next to it; it was not written by hs")
    return meta


def read_table(path: Path) -> pl.DataFrame:
    return pl.read_csv(
        need(path),
        schema_overrides={"group": pl.String, "value": pl.String, "cluster": pl.String, "superclass": pl.String},
    )


def row(table: pl.DataFrame, **where: str) -> dict:
    hit = table
    for column, value in where.items():
        hit = hit.filter(pl.col(column) == value)
    if hit.height != 1:
        raise SystemExit(f"expected one row with {where}, found {hit.height}")
    return hit.row(0, named=True)


def num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def pval(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2g}" if value >= 1e-4 else f"{value:.1e}"


def interval(r: dict, metric: str) -> str:
    """A stratify row's metric with its interval, as hs stratify's own table prints it."""
    return interval_text(r.get(metric), r.get(f"{metric}_ci_low"), r.get(f"{metric}_ci_high"))


def mean_sd(values: list[float | None], digits: int = 3) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "-"
    if len(present) == 1:
        return num(present[0], digits)
    return f"{statistics.mean(present):.{digits}f} ± {statistics.stdev(present):.{digits}f}"


def listing(values: list[float | None], digits: int = 3) -> str:
    return ", ".join(num(v, digits) for v in values)


def mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.mean(present) if present else None


def diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def wall_time(out: Path) -> str:
    """From the target's start to the end of its last hs step (not to now: the doc can be
    regenerated later from the same outputs)."""
    started, finished = out / "started_at", out / "finished_at"
    if not (started.exists() and finished.exists()):
        return "not recorded"
    minutes = (float(finished.read_text().strip()) - float(started.read_text().strip())) / 60
    return f"{minutes:.0f} min"


def machine() -> str:
    return f"{os.cpu_count()} CPU cores"


def commands_block(lines: list[str]) -> list[str]:
    return ["```", *lines, "```"]


@dataclass
class Verdict:
    word: str  # Reproduced / Partly reproduced / Not reproduced / Descriptive
    text: str

    def line(self, finding: str) -> str:
        return f"- **{finding}: {self.word}.** {self.text}"
