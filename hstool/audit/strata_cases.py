"""The cases of one binary stratify run (`Data`) and of one group and its comparator
(`GroupCase`, with its own rows' counts, `Own`, and the counts and AUC components of each side
it is compared on: `Tally`, `Evaluation`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hstool.stats.auc import DelongComponents, class_counts, delong_components, score_order
from hstool.stats.auc_groups import Summary
from hstool.stats.calibration_groups import ScoreClasses


@dataclass(frozen=True)
class Data:
    scores: np.ndarray
    labels: np.ndarray  # bool
    called: np.ndarray  # bool: score >= threshold
    classes: np.ndarray  # rank class of each score
    n_classes: int
    threshold: float
    by_score: np.ndarray  # the rows in ascending score order

    @classmethod
    def build(cls, scores: np.ndarray, labels: np.ndarray, threshold: float) -> Data:
        order, classes, n_classes = score_order(scores)
        return cls(scores, labels, scores >= threshold, classes, n_classes, threshold, order)

    @cached_property
    def squared_errors(self) -> np.ndarray:
        """(score - label)^2 of every row: the terms of the Brier score."""
        errors: np.ndarray = self.scores - self.labels
        errors *= errors
        return errors

    @cached_property
    def calibration(self) -> ScoreClasses:
        """The cases grouped by score for the calibration columns (built when first asked for)."""
        return ScoreClasses(self.scores, self.labels, self.classes, self.n_classes)


@dataclass(frozen=True)
class Own:
    """A group's own rows: how many, how many positive, its calls, and its Brier score."""

    n: int
    n_pos: int
    tp: int  # positives called positive
    fp: int  # negatives called positive
    brier: float

    @classmethod
    def of_all(cls, data: Data) -> Own:
        n, n_pos = data.labels.size, int(np.count_nonzero(data.labels))
        tp = int(np.count_nonzero(data.called & data.labels))
        fp = int(np.count_nonzero(data.called)) - tp
        return cls(n, n_pos, tp, fp, float(data.squared_errors.mean()))

    @classmethod
    def per_group(cls, data: Data, codes: np.ndarray, n_groups: int) -> list[Own]:
        """Every group's counts in two passes over the rows (no gather of a group's rows):
        one count of (group, label, call) combinations and one weighted count for the Brier
        score."""
        combined = codes.astype(np.int64) * 4
        combined += data.labels * 2
        combined += data.called
        # columns: negative not called, negative called (fp), positive not called, positive called (tp)
        cells = np.bincount(combined, minlength=4 * n_groups).reshape(n_groups, 4)
        n = cells.sum(axis=1)
        squared = np.bincount(codes, weights=data.squared_errors, minlength=n_groups)
        return [
            cls(int(n[g]), int(cells[g, 2] + cells[g, 3]), int(cells[g, 3]), int(cells[g, 1]), float(squared[g] / n[g]))
            if n[g]
            else cls(0, 0, 0, 0, float("nan"))
            for g in range(n_groups)
        ]


@dataclass(frozen=True)
class Tally:
    """What a set of cases contributes: positives and negatives per rank class, and calls."""

    pos_counts: np.ndarray
    neg_counts: np.ndarray
    tp: int  # positives called positive
    fp: int  # negatives called positive

    @classmethod
    def of(cls, data: Data, pos: np.ndarray, neg: np.ndarray) -> Tally:
        return cls(
            class_counts(data.classes, pos, data.n_classes),
            class_counts(data.classes, neg, data.n_classes),
            int(np.count_nonzero(pos & data.called)),
            int(np.count_nonzero(neg & data.called)),
        )

    def __sub__(self, other: Tally) -> Tally:
        return Tally(
            self.pos_counts - other.pos_counts,
            self.neg_counts - other.neg_counts,
            self.tp - other.tp,
            self.fp - other.fp,
        )

    def positives_with_negatives_of(self, other: Tally) -> Tally:
        """This tally's positives scored against `other`'s negatives (one-class scopes)."""
        return Tally(self.pos_counts, other.neg_counts, self.tp, other.fp)


@dataclass(frozen=True)
class Evaluation:
    """Counts, AUC and DeLong variance of the cases a metric is computed on (None: undefined)."""

    m: int
    n: int
    tp: int
    fp: int
    auc: float | None
    variance: float | None
    comp: DelongComponents | None = None  # dense components: one-class scopes and --reference only

    @classmethod
    def of(cls, tally: Tally) -> Evaluation:
        m, n = int(tally.pos_counts.sum()), int(tally.neg_counts.sum())
        comp = delong_components(tally.pos_counts, tally.neg_counts)
        if comp is None:
            return cls(m, n, tally.tp, tally.fp, None, None)
        return cls(m, n, tally.tp, tally.fp, comp.auc, comp.variance(), comp)

    @classmethod
    def of_summary(cls, summary: Summary, tp: int, fp: int) -> Evaluation:
        return cls(summary.m, summary.n, tp, fp, summary.auc, summary.variance)

    @property
    def tn(self) -> int:
        return self.n - self.fp

    @property
    def fn(self) -> int:
        return self.m - self.tp

    def counts(self, metric: str) -> tuple[int, int]:
        """(successes, trials) of a proportion."""
        return {
            "sensitivity": (self.tp, self.m),
            "specificity": (self.tn, self.n),
            "ppv": (self.tp, self.tp + self.fp),
            "npv": (self.tn, self.tn + self.fn),
            "accuracy": (self.tp + self.tn, self.m + self.n),
        }[metric]


@dataclass(frozen=True)
class GroupCase:
    """One row of the table: the group's cases, what it is compared with, and how (module doc)."""

    stratifier: str
    level: str
    scope: str  # all | group | positives | negatives
    rows: np.ndarray  # indices of the group's rows
    own: Own  # their counts
    n_total: int  # rows in the data
    group: Evaluation  # the cases its metrics are computed on
    comparator: Evaluation | None
    reference_member: np.ndarray | None  # the --reference group's rows (None: the rest)
    shared: str | None  # 'neg' / 'pos': the class the group and its comparator share
    comparator_name: str
    index: int  # row number, for seeding the row's random streams

    @cached_property
    def member(self) -> np.ndarray:
        mask = np.zeros(self.n_total, bool)
        mask[self.rows] = True
        return mask

    @property
    def comparator_member(self) -> np.ndarray | None:
        if self.comparator is None:
            return None
        return self.reference_member if self.reference_member is not None else ~self.member

    def own_class(self, data: Data, rows: np.ndarray) -> np.ndarray:
        """`rows` restricted to the class a one-class group holds (all of them otherwise)."""
        keep: np.ndarray = {"positives": data.labels, "negatives": ~data.labels}.get(self.scope, rows)
        restricted: np.ndarray = rows & keep
        return restricted
