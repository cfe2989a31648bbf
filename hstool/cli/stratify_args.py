"""Turning option strings into library options (usage errors exit 2): `hs stratify` and the
commands that share its grouping, interval and flag options (`hs agree`, `hs report`)."""

from __future__ import annotations

from typing import cast

from hstool.audit.options import CALIBRATION, FAMILIES, FAMILY_OF, TESTED, BinSpec, CiMethod, StratifyOptions
from hstool.errors import UsageError
from hstool.io.table_format import ColumnMap, TableFormat
from hstool.stats.methods import Correction


def choice(option: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UsageError(f"{option} {value!r}: choose one of {', '.join(allowed)}")
    return value


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


def _names(option: str, text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise UsageError(f"{option}: give at least one name")
    return names


def parse_metrics(text: str | None) -> tuple[str, ...] | None:
    """`--metrics auc,calibration` (families) or `all`; None keeps the default."""
    if text is None:
        return None
    names = _names("--metrics", text)
    if names == ["all"]:
        return FAMILIES
    for name in names:
        choice("--metrics", name, FAMILIES + ("all",))
    return tuple(dict.fromkeys(names))


def parse_flag_on(text: str | None) -> tuple[str, ...] | None:
    """`--flag-on auc,sensitivity,ppv` (tested metrics; `calibration` = its three metrics)."""
    if text is None:
        return None
    out: list[str] = []
    for name in _names("--flag-on", text):
        out.extend(CALIBRATION if name == "calibration" else [choice("--flag-on", name, TESTED + ("calibration",))])
    return tuple(dict.fromkeys(out))


def parse_margins(items: list[str] | None) -> dict[str, float]:
    """`--margin auc=0.05,sensitivity=0.10` (repeatable): the smallest deficit that matters."""
    out: dict[str, float] = {}
    for part in (p.strip() for item in items or [] for p in item.split(",")):
        if not part:
            continue
        metric, sep, text = (t.strip() for t in part.partition("="))
        if not sep:
            raise UsageError(f"--margin {part!r}: expected METRIC=DEFICIT, e.g. --margin auc=0.05")
        choice("--margin", metric, TESTED)
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"--margin {part!r}: the deficit must be a number, e.g. {metric}=0.05") from None
        if not 0 < value < 1:
            raise UsageError(f"--margin {part!r}: the deficit must be above 0 and below 1, e.g. {metric}=0.05")
        out[metric] = value
    return out


def _flag_rule(
    metrics: str | None, margin: list[str] | None, flag_on: str | None, defaults: StratifyOptions
) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, float]]:
    """(families, flagging metrics, margins), the defaults filled in; a margin or flag on a
    metric whose family is not computed is refused."""
    families = parse_metrics(metrics) or defaults.metrics
    flag_metrics = parse_flag_on(flag_on)
    margins = parse_margins(margin)
    for option, names in (("--margin", list(margins)), ("--flag-on", list(flag_metrics or ()))):
        for name in names:
            if FAMILY_OF[name] not in families:
                raise UsageError(
                    f"{option} {name}: its family '{FAMILY_OF[name]}' is not computed; add --metrics "
                    f"{','.join(families + (FAMILY_OF[name],))}"
                )
    return families, flag_metrics or defaults.flag_on, margins


def stratify_options(
    *,
    by: list[str] | None,
    cross: list[str] | None,
    bins: list[str] | None,
    threshold: str,
    positive: str | None,
    ci: str,
    n_boot: int,
    seed: int,
    level: float,
    correction: str,
    alpha: float,
    min_n: int,
    reference: list[str] | None,
    max_levels: int,
    allow_unmatched: bool,
    fail_on: str | None,
    columns: ColumnMap | None = None,
    table_format: TableFormat | None = None,
    metrics: str | None = None,
    margin: list[str] | None = None,
    flag_on: str | None = None,
) -> StratifyOptions:
    # ci, correction, level, alpha and n_boot are checked by StratifyOptions itself.
    if fail_on is not None:
        choice("--fail-on", fail_on, ("worse",))
    defaults = StratifyOptions()  # the one home of the defaults
    families, flag_metrics, margins = _flag_rule(metrics, margin, flag_on, defaults)
    return StratifyOptions(
        metrics=families,
        flag_on=flag_metrics,
        margins=margins,
        by=list(by) if by else None,
        crosses=parse_crosses(cross),
        bins=parse_bins(bins),
        threshold=threshold,
        ci=cast(CiMethod, ci),  # the command line's text, checked by StratifyOptions
        n_boot=n_boot,
        seed=seed,
        level=level,
        correction=cast(Correction, correction),
        alpha=alpha,
        min_n=min_n,
        reference=parse_assignments("--reference", reference),
        max_levels=max_levels,
        positive=positive,
        allow_unmatched=allow_unmatched,
        columns=columns or ColumnMap(),
        table_format=table_format or TableFormat(),
    )
