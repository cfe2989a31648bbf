"""Turning option strings into library options (usage errors exit 2): `hs stratify` and the
commands that share its grouping and interval options (`hs agree`)."""

from __future__ import annotations

from hstool.audit.groups import BinSpec
from hstool.audit.strata_table import StratifyOptions
from hstool.errors import UsageError
from hstool.stats.methods import CORRECTIONS

CI_METHODS = ("wilson", "clopper-pearson", "bootstrap")


def choice(option: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UsageError(f"{option} {value!r}: choose one of {', '.join(allowed)}")
    return value


def check_level(level: float) -> float:
    if not 0 < level < 1:
        raise UsageError(f"--level {level}: must be between 0 and 1, e.g. 0.95")
    return level


def check_min_n(min_n: int) -> int:
    if min_n < 1:
        raise UsageError("--min-n must be at least 1")
    return min_n


def parse_bins(bins: list[str] | None) -> dict[str, BinSpec]:
    return dict(BinSpec.parse(b) for b in bins or [])


def parse_crosses(cross: list[str] | None) -> list[list[str]]:
    return [[c.strip() for c in item.split(",") if c.strip()] for item in cross or []]


def parse_assignments(option: str, items: list[str] | None) -> dict[str, str]:
    """`COL=VALUE` pairs (e.g. --reference sex=M) into a dict."""
    out = {}
    for item in items or []:
        column, sep, value = item.partition("=")
        if not sep or not column.strip():
            raise UsageError(f"{option} {item!r}: expected COLUMN=VALUE, e.g. {option} sex=M")
        out[column.strip()] = value.strip()
    return out


def stratify_options(
    *,
    by,
    cross,
    bins,
    threshold,
    positive,
    ci,
    n_boot,
    seed,
    level,
    correction,
    alpha,
    min_n,
    reference,
    max_levels,
    allow_unmatched,
    fail_on,
) -> StratifyOptions:
    choice("--ci", ci, CI_METHODS)
    choice("--correction", correction, CORRECTIONS)
    if fail_on is not None:
        choice("--fail-on", fail_on, ("worse",))
    check_level(level)
    if not 0 < alpha < 1:
        raise UsageError(f"--alpha {alpha}: must be between 0 and 1, e.g. 0.05")
    if n_boot < 100:
        raise UsageError(f"--n-boot {n_boot}: use at least 100 replicates (1000 or more for 95% intervals)")
    return StratifyOptions(
        by=list(by) if by else None,
        crosses=parse_crosses(cross),
        bins=parse_bins(bins),
        threshold=threshold,
        ci=ci,
        n_boot=n_boot,
        seed=seed,
        level=level,
        correction=correction,
        alpha=alpha,
        min_n=check_min_n(min_n),
        reference=parse_assignments("--reference", reference),
        max_levels=max_levels,
        positive=positive,
        allow_unmatched=allow_unmatched,
    )
