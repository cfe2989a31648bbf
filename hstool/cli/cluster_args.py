"""Turning `hs cluster` option strings into ClusterOptions (usage errors exit 2)."""

from __future__ import annotations

from typing import cast

from hstool.audit.cluster.options import ClusterMethod, ClusterOptions, Covariance, SearchOptions, SelectionRule
from hstool.cli.stratify_args import choice
from hstool.errors import UsageError
from hstool.stats.methods import Correction, Interval


def parse_ks(text: str) -> tuple[int, ...]:
    """`2,3,4,5` or `2-5` -> (2, 3, 4, 5)."""
    try:
        if "-" in text and "," not in text:
            low, high = (int(v) for v in text.split("-", 1))
            values = list(range(low, high + 1))
        else:
            values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"--k {text!r}: expected numbers such as 2,3,4,5 or a range 2-5") from None
    return tuple(sorted(set(values)))  # SearchOptions checks that every k is at least 2


# Library fields whose flag is not `--field-name` (for hstool.cli.common.handled).
FLAGS = {"ks": "--k", "normalise": "--normalize"}


def cluster_options(
    *,
    ks: str,
    min_size: int,
    method: str,
    select: str,
    normalize: bool,
    pca: int | None,
    n_init: int,
    covariance: str,
    error_weight: float,
    holdout: float | None,
    silhouette_sample: int,
    threshold: str,
    positive: str | None,
    by: list[str] | None,
    ci: str,
    level: float,
    correction: str,
    alpha: float,
    allow_unmatched: bool,
    ids: str | None,
    seed: int,
    fail_on: str | None,
) -> ClusterOptions:
    """The options as typed, checked by ClusterOptions and SearchOptions themselves (their
    errors name fields; FLAGS maps the two that differ from the flags)."""
    if fail_on is not None:
        choice("--fail-on", fail_on, ("worse",))
    search = SearchOptions(
        ks=parse_ks(ks),
        method=cast(ClusterMethod, method),  # a str until SearchOptions checks it
        normalise=normalize,
        pca=pca,
        n_init=n_init,
        covariance=cast(Covariance, covariance),
        error_weight=error_weight,
        silhouette=select == "silhouette",
        silhouette_sample=silhouette_sample,
        seed=seed,
    )
    return ClusterOptions(
        search=search,
        min_size=min_size,
        select=cast(SelectionRule, select),
        holdout=holdout,
        threshold=threshold,
        positive=positive,
        by=list(by) if by else None,
        ci=cast(Interval, ci),
        level=level,
        correction=cast(Correction, correction),
        alpha=alpha,
        allow_unmatched=allow_unmatched,
        ids=ids,
    )
