"""The options of hs cluster: the one home of their defaults (the command line reads them) and
of the rules that tie them together, checked when the options are made. Kept free of the
numerical libraries so that `hs cluster --help` can read the defaults cheaply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from hstool.errors import OptionError, require_choice
from hstool.io.table_format import ColumnMap, TableFormat
from hstool.stats.methods import CORRECTIONS, INTERVALS, Correction, Interval

Covariance = Literal["diag", "full", "tied", "spherical"]  # scikit-learn's GaussianMixture covariance_type
COVARIANCES: tuple[Covariance, ...] = get_args(Covariance)
SelectionRule = Literal["paper", "silhouette"]
SELECTION_RULES: tuple[SelectionRule, ...] = get_args(SelectionRule)
ClusterMethod = Literal["kmeans", "gmm", "error-gmm"]
CLUSTER_METHODS: tuple[ClusterMethod, ...] = get_args(ClusterMethod)


@dataclass(frozen=True)
class SearchOptions:
    """How each superclass is clustered; the defaults are hs cluster's."""

    ks: tuple[int, ...] = (2, 3, 4, 5)
    method: ClusterMethod = "kmeans"
    normalise: bool = False
    pca: int | None = None
    n_init: int = 3
    covariance: Covariance = "diag"  # gmm only
    error_weight: float = 1.0  # error-gmm only
    silhouette: bool = False  # compute the mean silhouette of each clustering
    silhouette_sample: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        require_choice("method", self.method, CLUSTER_METHODS)
        require_choice("covariance", self.covariance, COVARIANCES)
        if not self.ks or min(self.ks) < 2:
            raise OptionError(
                "ks", ",".join(map(str, self.ks)), "every k must be at least 2 (a pair of clusters is compared)"
            )
        if self.pca is not None and self.pca < 1:
            raise OptionError("pca", self.pca, "give the number of components to keep, e.g. 50")
        if self.n_init < 1:
            raise OptionError("n_init", self.n_init, "at least one restart")
        if self.error_weight < 0:
            raise OptionError("error_weight", self.error_weight, "must be 0 or more")
        if self.silhouette_sample < 10:
            raise OptionError(
                "silhouette_sample", self.silhouette_sample, "use at least 10 cases (2000 or more is typical)"
            )


@dataclass(frozen=True)
class ClusterOptions:
    """Every knob of `hs cluster`: the one home of its defaults (the command line reads them)
    and of the rules that tie them together, checked on construction."""

    search: SearchOptions = field(default_factory=SearchOptions)
    min_size: int = 100
    select: SelectionRule = "paper"
    # Fraction of each superclass held out of the fit and used for the tests. None: 0.5 for
    # error-gmm (which needs a hold-out), else 0.
    holdout: float | None = None
    threshold: str = "0.5"
    positive: str | None = None
    by: list[str] | None = None  # known-subclass columns that describe clusters; None: all
    max_levels: int = 20
    ci: Interval = "wilson"
    level: float = 0.95
    correction: Correction = "holm"
    alpha: float = 0.05
    allow_unmatched: bool = False
    ids: str | None = None
    columns: ColumnMap = field(default_factory=ColumnMap)  # which file columns are id, score, label
    table_format: TableFormat = field(default_factory=TableFormat)

    def __post_init__(self) -> None:
        require_choice("select", self.select, SELECTION_RULES)
        require_choice("ci", self.ci, INTERVALS)
        require_choice("correction", self.correction, CORRECTIONS)
        if self.min_size < 0:
            raise OptionError("min_size", self.min_size, "must be 0 or more")
        if not 0 < self.level < 1:
            raise OptionError("level", self.level, "must be between 0 and 1, e.g. 0.95")
        if not 0 < self.alpha < 1:
            raise OptionError("alpha", self.alpha, "must be between 0 and 1, e.g. 0.05")
        error_aware = self.search.method == "error-gmm"
        if self.holdout is None:
            object.__setattr__(self, "holdout", 0.5 if error_aware else 0.0)
        elif not 0 <= self.holdout <= 0.9:
            raise OptionError("holdout", self.holdout, "a fraction between 0 and 0.9, e.g. 0.5")
        elif error_aware and self.holdout == 0:
            # The mixture forms clusters from the errors themselves: their error rates would be
            # tested on the very cases that made them.
            raise OptionError(
                "holdout",
                self.holdout,
                "error-gmm forms clusters from the errors, so their error rates cannot be tested on the same cases; "
                "keep it above 0 (default 0.5)",
            )

    @property
    def held_out(self) -> float:
        """The hold-out fraction (never None once constructed)."""
        assert self.holdout is not None
        return self.holdout
