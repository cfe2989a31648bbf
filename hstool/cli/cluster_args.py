"""Turning `hs cluster` option strings into ClusterOptions (usage errors exit 2)."""

from __future__ import annotations

from hstool.audit.cluster.mixture import COVARIANCES
from hstool.audit.cluster.run import ClusterOptions
from hstool.audit.cluster.search import METHODS, SearchOptions
from hstool.audit.cluster.select import SELECTION_RULES
from hstool.cli.stratify_args import check_level, choice
from hstool.errors import UsageError
from hstool.stats.multiplicity import METHODS as CORRECTIONS
from hstool.stats.proportions import INTERVALS


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
    if not values or min(values) < 2:
        raise UsageError(f"--k {text!r}: every k must be at least 2 (a pair of clusters is compared)")
    return tuple(sorted(set(values)))


def cluster_options(
    *,
    ks,
    min_size,
    method,
    select,
    normalize,
    pca,
    n_init,
    covariance,
    error_weight,
    holdout,
    silhouette_sample,
    threshold,
    positive,
    by,
    ci,
    level,
    correction,
    alpha,
    allow_unmatched,
    ids,
    seed,
    fail_on,
) -> ClusterOptions:
    choice("--method", method, METHODS)
    choice("--select", select, SELECTION_RULES)
    choice("--covariance", covariance, COVARIANCES)
    choice("--ci", ci, INTERVALS)
    choice("--correction", correction, CORRECTIONS)
    if fail_on is not None:
        choice("--fail-on", fail_on, ("worse",))
    checks = [
        (min_size >= 0, f"--min-size {min_size}: must be 0 or more"),
        (pca is None or pca >= 1, f"--pca {pca}: give the number of components to keep, e.g. --pca 50"),
        (n_init >= 1, f"--n-init {n_init}: at least one restart"),
        (error_weight >= 0, f"--error-weight {error_weight}: must be 0 or more"),
        (
            silhouette_sample >= 10,
            f"--silhouette-sample {silhouette_sample}: use at least 10 cases (2000 or more is typical)",
        ),
        (0 < alpha < 1, f"--alpha {alpha}: must be between 0 and 1, e.g. 0.05"),
    ]
    for ok, message in checks:
        if not ok:
            raise UsageError(message)
    check_level(level)
    if holdout is None:
        holdout = 0.5 if method == "error-gmm" else 0.0
    if not 0 <= holdout <= 0.9:
        raise UsageError(f"--holdout {holdout}: a fraction between 0 and 0.9, e.g. 0.5")
    if method == "error-gmm" and holdout == 0:
        raise UsageError(
            "--method error-gmm forms clusters from the errors, so their error rates cannot be tested on the same cases; "
            "keep --holdout above 0 (default 0.5)"
        )
    search = SearchOptions(
        ks=parse_ks(ks),
        method=method,
        normalise=normalize,
        pca=pca,
        n_init=n_init,
        covariance=covariance,
        error_weight=error_weight,
        silhouette=select == "silhouette",
        silhouette_sample=silhouette_sample,
        seed=seed,
    )
    return ClusterOptions(
        search=search,
        min_size=min_size,
        select=select,
        holdout=holdout,
        threshold=threshold,
        positive=positive,
        by=list(by) if by else None,
        ci=ci,
        level=level,
        correction=correction,
        alpha=alpha,
        allow_unmatched=allow_unmatched,
        ids=ids,
    )
