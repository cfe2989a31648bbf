"""Calibration of many groups and of the rest of the data, from cases aggregated by distinct score.

A logistic fit of the label on logit(score) depends on the cases only through, for each distinct
score, how many cases have it and how many of those are positive: cases with the same score have
the same logit. `ScoreClasses` holds those counts for the whole data, once; a group's counts cost
a pass over its own rows, and the rest's are the whole's minus the group's, so a group costs its
own rows and a few passes over the distinct scores, never a pass over every row.

A group is fitted from the calibrated start, as the per-case functions of `calibration_metrics`
do. The rest of a group, when it holds at least half the cases, starts from the whole data's fit
instead, which is close to its own: there its log-likelihood, information and score are the
whole's minus the group's, so its first Newton step costs the group's size only and the fit
typically takes two or three evaluations over the distinct scores. (A smaller rest starts from
the calibrated start too.) The Brier score of the rest is likewise the whole's sums of squared
errors minus the group's.

The results are those of the per-case functions (the same maximum likelihood estimates, whatever
the grouping of equal cases and, for a rest, the start), up to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hstool.stats.calibration_metrics import (
    INTERCEPT_START,
    SLOPE_START,
    Estimate,
    Fit,
    Likelihood,
    logistic_fit,
    logit,
)
from hstool.stats.sums import dot


@dataclass(frozen=True)
class Counts:
    """Cases per distinct score: its logit `x`, how many cases have it and how many are positive."""

    x: np.ndarray
    total: np.ndarray  # float64, as the weights of the fit
    positives: np.ndarray

    def __sub__(self, other: Counts) -> Counts:
        return Counts(self.x, self.total - other.total, self.positives - other.positives)

    def both_classes(self) -> bool:
        k = float(self.positives.sum())
        return 0.0 < k < float(self.total.sum())

    def nonzero(self) -> Counts:
        keep = np.flatnonzero(self.total)
        return Counts(self.x[keep], self.total[keep], self.positives[keep])

    def likelihood(self, work: np.ndarray) -> Likelihood:
        return Likelihood(self.x, self.total, self.positives, work)


@dataclass(frozen=True)
class SquaredErrors:
    """Count, sum and sum of squares of the cases' squared errors (score - label)^2."""

    n: int
    total: float
    squares: float

    @classmethod
    def of(cls, squared: np.ndarray) -> SquaredErrors:
        return cls(int(squared.size), float(squared.sum()), dot(squared, squared))

    def __sub__(self, other: SquaredErrors) -> SquaredErrors:
        return SquaredErrors(self.n - other.n, self.total - other.total, self.squares - other.squares)

    def brier(self) -> Estimate | None:
        """`calibration_metrics.brier` from the sums (None without cases)."""
        if self.n == 0:
            return None
        mean = self.total / self.n
        if self.n < 2:
            return Estimate(mean, None)
        variance = max(self.squares - self.n * mean * mean, 0.0) / (self.n - 1)
        return Estimate(mean, math.sqrt(variance / self.n))


def start_of(slope: bool) -> np.ndarray:
    return SLOPE_START if slope else INTERCEPT_START


class ScoreClasses:
    """The data's cases grouped by distinct score: counts, the whole data's fits, squared errors.

    `classes` gives each case's index among the sorted distinct scores (0..n_classes-1), as
    `auc.rank_classes` does: the logits per class are then sorted, as `Likelihood` needs.
    """

    def __init__(self, scores: np.ndarray, labels: np.ndarray, classes: np.ndarray, n_classes: int) -> None:
        self.scores = np.asarray(scores, dtype=np.float64)
        self.labels = np.asarray(labels, dtype=bool)
        self.classes = classes
        self.n_classes = n_classes
        x = np.zeros(n_classes)
        x[classes] = logit(self.scores)
        if np.any(x[1:] < x[:-1]):
            raise ValueError("classes must number the distinct scores in increasing order")
        self.x = x
        self.whole = self.counts(np.arange(self.scores.size))
        self.squared = (self.scores - self.labels) ** 2

    def counts(self, rows: np.ndarray) -> Counts:
        """Counts of the cases at `rows` (indices)."""
        classes = self.classes[rows]
        total = np.bincount(classes, minlength=self.n_classes).astype(np.float64)
        positives = np.bincount(classes[self.labels[rows]], minlength=self.n_classes).astype(np.float64)
        return Counts(self.x, total, positives)

    @cached_property
    def whole_fits(self) -> dict[bool, Fit | None]:
        """The whole data's intercept (False) and slope (True) fits, from the calibrated start."""
        return self.fits(self.whole)

    @cached_property
    def errors(self) -> dict[str, SquaredErrors]:
        """Squared-error sums of every case ('all'), of the positives and of the negatives."""
        return {
            "all": SquaredErrors.of(self.squared),
            "positives": SquaredErrors.of(self.squared[self.labels]),
            "negatives": SquaredErrors.of(self.squared[~self.labels]),
        }

    @cached_property
    def order(self) -> np.ndarray:
        """The cases by score, ties in input order (`calibration_metrics.equal_mass_bins`'s order)."""
        return np.argsort(self.scores, kind="stable")

    def sorted_rows(self, mask: np.ndarray) -> np.ndarray:
        """The rows selected by `mask` in `order`: by score, ties in input order."""
        rows: np.ndarray = self.order[mask[self.order]]
        return rows

    def _work(self) -> np.ndarray:
        """Workspace of the fits of one call (not kept: calls from several threads stay apart)."""
        return np.empty((3, self.n_classes))

    def fits(self, counts: Counts) -> dict[bool, Fit | None]:
        """Intercept (False) and slope (True) fits of the cases in `counts`, from the calibrated
        start as the per-case functions."""
        if not counts.both_classes():
            return {False: None, True: None}
        likelihood = counts.nonzero().likelihood(self._work())
        return {slope: logistic_fit(likelihood, slope, start_of(slope)) for slope in (False, True)}

    def fits_with_rest(self, group: Counts) -> dict[bool, tuple[Fit | None, Fit | None]]:
        """Intercept (False) and slope (True) fits of a group's cases and of every other case
        (module doc)."""
        rest = self.whole - group
        work = self._work()  # one fit at a time uses it
        own = group.nonzero().likelihood(work)
        others = rest.likelihood(work)  # every distinct score, some with no case: they add 0
        group_both, rest_both = group.both_classes(), rest.both_classes()
        warm = own.n_sum <= self.scores.size - own.n_sum
        fits: dict[bool, tuple[Fit | None, Fit | None]] = {}
        for slope in (False, True):
            group_fit = logistic_fit(own, slope, start_of(slope)) if group_both else None
            whole = self.whole_fits[slope]
            if not rest_both:
                rest_fit = None
            elif whole is None or not warm:
                rest_fit = logistic_fit(others, slope, start_of(slope))
            else:
                # From the whole data's fit, where the rest's sums are the whole's minus the group's.
                there = own(whole.beta, slope)
                at_start = (whole.loglik - there[0], whole.info - there[1], whole.score - there[2])
                rest_fit = logistic_fit(others, slope, whole.beta, at_start)
            fits[slope] = group_fit, rest_fit
        return fits
