"""`hs power`: plan a subgroup audit: the cases a subgroup needs, or the power a design has.

A subgroup with prevalence `prevalence` is compared with a comparator (the rest of the data,
`comparator_cases` cases, or a known reference value when that is None) on the AUC or the
sensitivity; the deficit to detect is `reference - group value`. The formulas are in
hstool/stats/power.py and docs/statistics.md ("Power and minimum detectable differences").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import polars as pl

from hstool.errors import OptionError, require_choice
from hstool.io.sidecar import build_sidecar
from hstool.stats.power import AUC_VARIANCES, Design, auc_power, cases_needed, proportion_power

POWER_METRICS = ("auc", "sensitivity")
SCHEMA = "hs.power/1"


@dataclass(frozen=True)
class PowerOptions:
    """Every knob of `hs power` (defaults as on the command line)."""

    metric: str = "auc"
    reference: float = 0.85  # the comparator's AUC or sensitivity
    deficits: tuple[float, ...] = (0.05,)
    prevalence: float = 0.1  # of the subgroup
    cases: int | None = None  # given: the power of this design; None: the cases needed
    comparator_cases: int | None = None  # None: the reference value is known exactly
    comparator_prevalence: float | None = None  # None: the subgroup's prevalence
    alpha: float = 0.05
    power: float = 0.8
    variance: str = "obuchowski"

    def __post_init__(self) -> None:
        require_choice("metric", self.metric, POWER_METRICS)
        require_choice("variance", self.variance, AUC_VARIANCES)
        floor = 0.5 if self.metric == "auc" else 0.0
        if not floor < self.reference <= 1:
            raise OptionError("reference", self.reference, f"must be above {floor:g} and at most 1", quoted=False)
        for deficit in self.deficits:
            if not 0 < deficit < self.reference - floor:
                raise OptionError(
                    "deficits",
                    deficit,
                    f"must be above 0 and leave the subgroup's value above {floor:g} (reference {self.reference:g})",
                    quoted=False,
                )
        for field, value in (("prevalence", self.prevalence), ("comparator_prevalence", self.comparator_prevalence)):
            if value is not None and not 0 < value < 1:
                raise OptionError(field, value, "must be between 0 and 1, e.g. 0.1", quoted=False)
        for field, value in (("alpha", self.alpha), ("power", self.power)):
            if not 0 < value < 1:
                raise OptionError(field, value, "must be between 0 and 1", quoted=False)
        for field, count in (("cases", self.cases), ("comparator_cases", self.comparator_cases)):
            if count is not None and count < 4:
                raise OptionError(field, count, "need at least 4", quoted=False)


@dataclass(frozen=True)
class PowerResult:
    table: pl.DataFrame
    meta: dict[str, Any]
    notes: list[str]


def _power_function(options: PowerOptions, deficit: float) -> Callable[[float], float]:
    """Power as a function of the subgroup's number of cases."""
    group_value = options.reference - deficit
    p, cp = options.prevalence, options.comparator_prevalence

    def power_at(cases: float) -> float:
        design = Design.from_cases(cases, p, options.comparator_cases, cp)
        if options.metric == "auc":
            return auc_power(options.reference, group_value, design, options.alpha, method=options.variance)
        return proportion_power(options.reference, group_value, design.n_pos, design.comparator_pos, options.alpha)

    return power_at


def plan_power(options: PowerOptions) -> PowerResult:
    """One row per deficit: the cases (positives, negatives) needed, or the power of `cases`."""
    rows, notes = [], []
    # At least two cases of each class in the subgroup (the variance formulas need them).
    low = 2.0 / min(options.prevalence, 1 - options.prevalence)
    for deficit in options.deficits:
        power_at = _power_function(options, deficit)
        if options.cases is not None:
            cases: float | None = float(options.cases)
            power = power_at(float(options.cases))
        else:
            cases, power = cases_needed(power_at, options.power, low=low), options.power
            if cases is None:
                notes.append(
                    f"deficit {deficit:g}: no subgroup size reaches power {options.power:g}; the comparator of "
                    f"{options.comparator_cases} cases is itself too uncertain (enlarge it)"
                )
        whole = None if cases is None else math.ceil(cases - 1e-9)
        rows.append(
            {
                "metric": options.metric,
                "reference": options.reference,
                "group_value": round(options.reference - deficit, 12),
                "deficit": deficit,
                "prevalence": options.prevalence,
                "comparator_cases": options.comparator_cases,
                "alpha": options.alpha,
                "power": power,
                "cases": whole,
                "positives": None if whole is None else math.ceil(whole * options.prevalence - 1e-9),
                "negatives": None if whole is None else whole - math.ceil(whole * options.prevalence - 1e-9),
                "cases_exact": cases,
                "variance": options.variance if options.metric == "auc" else "two-proportion",
            }
        )
    schema = {"metric": pl.String, "reference": pl.Float64, "group_value": pl.Float64, "deficit": pl.Float64}
    schema.update({"prevalence": pl.Float64, "comparator_cases": pl.Int64, "alpha": pl.Float64, "power": pl.Float64})
    schema.update({"cases": pl.Int64, "positives": pl.Int64, "negatives": pl.Int64, "cases_exact": pl.Float64})
    schema.update({"variance": pl.String})
    table = pl.DataFrame(rows, schema=schema, orient="row")
    parameters = asdict(options)
    meta = build_sidecar(schema=SCHEMA, parameters=parameters, inputs=[], rows=table.height, extra={"notes": notes})
    return PowerResult(table, meta, notes)
