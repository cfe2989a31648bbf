"""The options of hs stratify, hs agree and hs probe (and the `--bins` grammar they share):
the one home of their defaults (the command line reads them) and of the checks of each value,
made when the options are made. Kept free of the numerical libraries so that `hs --help` can
read the defaults cheaply (tests/cli/test_cli_app.py); see audit/cluster/options.py for hs
cluster's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from hstool.errors import OptionError, require_choice
from hstool.io.table_format import KEY, ColumnMap, TableFormat
from hstool.stats.methods import CORRECTIONS, Correction

CiMethod = Literal["wilson", "clopper-pearson", "bootstrap"]  # hs stratify's intervals
CI_METHODS: tuple[CiMethod, ...] = get_args(CiMethod)

# Metric families (`--metrics`): what is computed, tested and shown (in hs stratify's table and
# hs report's). `power` (the minimum detectable differences) is always computed, since it is
# cheap; the family only shows it.
FAMILIES = ("auc", "proportions", "calibration", "power")
DEFAULT_FAMILIES = ("auc", "proportions")
# The tested metrics of a binary run (`--flag-on`, `--margin`) and the family of each.
PROPORTIONS = ("sensitivity", "specificity", "ppv", "npv")
CALIBRATION = ("brier", "calibration_intercept", "calibration_slope")
TESTED = ("auc",) + PROPORTIONS + CALIBRATION
FAMILY_OF = {"auc": "auc", **{m: "proportions" for m in PROPORTIONS}, **{m: "calibration" for m in CALIBRATION}}
# Metrics that raise a flag by default: those that do not depend on the group's prevalence
# (PPV and NPV do, so a group with fewer positives has a lower PPV with the same model).
DEFAULT_FLAG_ON = ("auc", "sensitivity", "specificity") + CALIBRATION


def flag_on_text(metrics: tuple[str, ...]) -> str:
    """`auc,sensitivity,calibration`: a --flag-on list as typed (the calibration metrics as one word)."""
    names = [m for m in metrics if m not in CALIBRATION]
    if set(CALIBRATION) <= set(metrics):
        names.append("calibration")
    else:
        names += [m for m in metrics if m in CALIBRATION]
    return ",".join(names)


@dataclass(frozen=True)
class BinSpec:
    """How a numeric column is cut into groups (`--bins COLUMN=EDGES` or `COLUMN=qN`)."""

    edges: tuple[float, ...] = ()
    quantiles: int = 0

    @classmethod
    def parse(cls, text: str) -> tuple[str, BinSpec]:
        """`age=0,40,65,200` (edges) or `age=q4` (quartiles) -> (column, spec)."""
        column, sep, rest = text.partition("=")
        column, rest = column.strip(), rest.strip()
        if not sep or not column or not rest:
            raise OptionError("bins", text, "expected COLUMN=EDGES (age=0,40,65,200) or COLUMN=qN (age=q4)")
        if rest.lower().startswith("q"):
            try:
                q = int(rest[1:])
            except ValueError:
                q = 0
            if q < 2:
                raise OptionError("bins", text, f"quantile bins need qN with N >= 2, e.g. {column}=q4")
            return column, cls(quantiles=q)
        try:
            edges = tuple(float(v) for v in rest.split(","))
        except ValueError:
            raise OptionError("bins", text, "edges must be numbers separated by commas") from None
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
            raise OptionError("bins", text, "give at least two strictly increasing edges")
        return column, cls(edges=edges)

    def text(self) -> str:
        """The spec as `--bins COLUMN=` takes it: `q4`, or `0,40,65,200`."""
        return f"q{self.quantiles}" if self.quantiles else ",".join(f"{e:g}" for e in self.edges)


@dataclass(frozen=True)
class StratifyOptions:
    """Every knob of `hs stratify` (defaults as on the command line)."""

    by: list[str] | None = None  # None: every non-key column of the labels file
    crosses: list[list[str]] = field(default_factory=list)
    bins: dict[str, BinSpec] = field(default_factory=dict)
    threshold: str = "0.5"
    ci: CiMethod = "wilson"
    n_boot: int = 1000
    seed: int = 0
    level: float = 0.95
    correction: Correction = "holm"
    alpha: float = 0.05
    min_n: int = 10
    reference: dict[str, str] = field(default_factory=dict)
    max_levels: int = 20
    positive: str | None = None
    allow_unmatched: bool = False
    columns: ColumnMap = field(default_factory=ColumnMap)  # which file columns are id, score, label
    table_format: TableFormat = field(default_factory=TableFormat)
    metrics: tuple[str, ...] = DEFAULT_FAMILIES
    flag_on: tuple[str, ...] = DEFAULT_FLAG_ON
    margins: dict[str, float] = field(default_factory=dict)  # smallest deficit that matters, per metric
    ece_bins: int = 10
    mdd_power: float = 0.8
    permutations: int = 2000  # for AUC tests of groups with few positives or negatives

    def __post_init__(self) -> None:
        require_choice("ci", self.ci, CI_METHODS)
        require_choice("correction", self.correction, CORRECTIONS)
        if not 0 < self.level < 1:
            raise OptionError("level", self.level, "must be between 0 and 1, e.g. 0.95")
        if not 0 < self.alpha < 1:
            raise OptionError("alpha", self.alpha, "must be between 0 and 1, e.g. 0.05")
        if self.n_boot < 100:
            raise OptionError("n_boot", self.n_boot, "use at least 100 replicates (1000 or more for 95% intervals)")
        if self.min_n < 1:
            raise OptionError("min_n", self.min_n, "must be at least 1")
        for name in self.metrics:
            require_choice("metrics", name, FAMILIES)


@dataclass(frozen=True)
class AgreeOptions:
    """Every knob of `hs agree` (defaults as on the command line)."""

    a_col: str | None = None  # None: the score column (columns.score) if present, else the label column
    b_col: str | None = None
    reference: str | None = None
    reference_col: str | None = None  # None: columns.label
    threshold: str = "youden"  # operating point of score inputs without their own
    a_threshold: str | None = None
    b_threshold: str | None = None
    positive: str | None = None
    by: list[str] = field(default_factory=list)
    crosses: list[list[str]] = field(default_factory=list)
    bins: dict[str, BinSpec] = field(default_factory=dict)
    max_levels: int = 20
    level: float = 0.95
    min_n: int = 10
    correction: Correction = "holm"
    allow_unmatched: bool = False
    columns: ColumnMap = field(default_factory=ColumnMap)
    table_format: TableFormat = field(default_factory=TableFormat)

    def __post_init__(self) -> None:
        require_choice("correction", self.correction, CORRECTIONS)
        if not 0 < self.level < 1:
            raise OptionError("level", self.level, "must be between 0 and 1, e.g. 0.95")
        if self.min_n < 1:
            raise OptionError("min_n", self.min_n, "must be at least 1")


@dataclass(frozen=True)
class ProbeOptions:
    """Every knob of `hs probe` (defaults as on the command line); `target` has none."""

    target: str
    folds: int = 5
    seed: int = 0
    c: float = 1.0
    max_iter: int = 1000
    per_superclass: bool = False
    label_col: str = "label"
    bins: dict[str, BinSpec] = field(default_factory=dict)
    max_levels: int = 20
    level: float = 0.95
    min_n: int = 10
    warn_auc: float = 0.7
    permutations: int = 0  # > 0: also a permutation p-value from this many shuffles
    allow_unmatched: bool = False
    id_col: str = KEY
    table_format: TableFormat = field(default_factory=TableFormat)

    def __post_init__(self) -> None:
        if self.c <= 0:
            raise OptionError("c", self.c, "must be positive, e.g. 1.0")
        if self.folds < 2:
            raise OptionError("folds", self.folds, "cross-validation needs at least 2 folds", quoted=False)
        if self.permutations < 0:
            raise OptionError("permutations", self.permutations, "must be 0 (none) or more, e.g. 99", quoted=False)
        if not 0 < self.level < 1:
            raise OptionError("level", self.level, "must be between 0 and 1, e.g. 0.95")
        if self.min_n < 1:
            raise OptionError("min_n", self.min_n, "must be at least 1")
