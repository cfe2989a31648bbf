"""The settings of a stratify run that `hs report --strata` depends on: read from the stratify
output's sidecar (every one must be there), and compared with what the report was given (the
same value is fine, another one is refused in one line; docs/report.md, "Options with
`--strata`")."""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from typing import Any, NamedTuple

from hstool.audit.groups import CROSS_SEP, BinSpec, stratified_columns
from hstool.audit.options import flag_on_text
from hstool.audit.strata_table import OVERALL, StratifyOptions
from hstool.errors import InputError, OptionError, UsageError, option_ref
from hstool.io.sidecar import sidecar_path
from hstool.io.table_format import ColumnMap, TableFormat
from hstool.report.inputs import LABEL, Strata

# The settings of a stratify run that a report reads from its sidecar: to rebuild its
# stratifiers, and to show and explain its flags (families, flag rule, margins, correction,
# alpha, interval level, the ECE's bins). Each must be there.
_RECORDED = (
    "by",
    "crosses",
    "bins",
    "max_levels",
    "positive",
    "columns",
    "table_format",
    "min_n",
    "correction",
    "alpha",
    "level",
    "metrics",
    "flag_on",
    "margins",
    "ece_bins",
)


def recorded_settings(meta: dict[str, Any], strata_path: str) -> StratifyOptions:
    """The settings of the stratify run that wrote `strata_path`, from its sidecar. A missing
    key is an error: a default in its place would silently rebuild other strata, or explain
    its flags by another rule."""
    params = meta.get("parameters")
    where = sidecar_path(strata_path)
    if not isinstance(params, dict):
        raise InputError(f"{where}: has no 'parameters'; write the stratify output again with hs stratify -o")
    missing = [key for key in _RECORDED if key not in params]
    if missing:
        raise InputError(
            f"{where}: its parameters lack {', '.join(repr(k) for k in missing)}; "
            "write the stratify output again with this version of hs stratify -o"
        )
    try:
        bins = {
            column: BinSpec(edges=tuple(spec["edges"]), quantiles=int(spec["quantiles"]))
            for column, spec in (params["bins"] or {}).items()
        }
        return StratifyOptions(
            by=params["by"],
            crosses=params["crosses"] or [],
            bins=bins,
            max_levels=int(params["max_levels"]),
            positive=None if params["positive"] is None else str(params["positive"]),
            columns=ColumnMap(**params["columns"]),
            table_format=_recorded_format(params["table_format"]),
            min_n=int(params["min_n"]),
            correction=params["correction"],
            alpha=float(params["alpha"]),
            level=float(params["level"]),
            metrics=tuple(params["metrics"]),
            flag_on=tuple(params["flag_on"]),
            margins={str(m): float(v) for m, v in (params["margins"] or {}).items()},
            ece_bins=int(params["ece_bins"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError, OptionError) as exc:
        raise InputError(f"{where}: its parameters are not as hs stratify writes them ({exc})") from None


def _recorded_format(recorded: dict[str, Any]) -> TableFormat:
    """How the stratify run read its files, as its sidecar records TableFormat (every field:
    a default in place of a missing one could read other cells as missing)."""
    fields = {f.name for f in dataclass_fields(TableFormat)}
    if set(recorded) != fields:
        raise ValueError(f"table_format has {', '.join(sorted(recorded))}, not {', '.join(sorted(fields))}")
    delimiter, sheet = recorded["delimiter"], recorded["sheet"]
    if not (delimiter is None or isinstance(delimiter, str)) or not (sheet is None or isinstance(sheet, str)):
        raise TypeError("table_format: delimiter and sheet are text or null")
    if not isinstance(recorded["decimal_comma"], bool) or not isinstance(recorded["na_values"], list):
        raise TypeError("table_format: decimal_comma is true or false, na_values a list")
    return TableFormat(
        delimiter=delimiter,
        decimal_comma=recorded["decimal_comma"],
        sheet=sheet,
        na_values=tuple(str(v) for v in recorded["na_values"]),
    )


class _Fixed(NamedTuple):
    """A setting of the report that a --strata file fixes. Messages name the recorded value
    (`what`) and what of the stratify output it fixes: `which fix its flags`."""

    what: str
    of: str  # flags, groups, table, too_small groups
    plural: bool = True
    # Without a sidecar to check it against: refused (it would be ignored); False for what only
    # says how to read the files given here, or which curves are drawn (used as given).
    needs_sidecar: bool = True
    # The recorded value is a floor: a larger one given here is a choice of the report's own
    # (--min-n: fewer curves, each left out named in the curves section), a smaller one refused.
    at_least: bool = False

    def fixes(self) -> str:
        return f"which {'fix' if self.plural else 'fixes'} its {self.of}"


# The settings a --strata file fixes, by option field, in the order they are checked (--bins
# before --by, which is compared with the bins).
_FIXED = {
    "metrics": _Fixed("metric families", "flags"),
    "margin": _Fixed("margins", "flags"),
    "flag_on": _Fixed("metrics that may flag", "flags"),
    "bins": _Fixed("bins", "groups"),
    "by": _Fixed("stratifiers", "groups"),
    "positive": _Fixed("positive class", "table", plural=False, needs_sidecar=False),
    "id_col": _Fixed("id column", "table", plural=False, needs_sidecar=False),
    "score_col": _Fixed("score column", "table", plural=False, needs_sidecar=False),
    "label_col": _Fixed("label column", "table", plural=False, needs_sidecar=False),
    # How its files were laid out (TableFormat): which cells are missing decides the groups.
    "na_values": _Fixed("missing-value markers", "table", needs_sidecar=False),
    "delimiter": _Fixed("delimiter", "table", plural=False, needs_sidecar=False),
    "decimal_comma": _Fixed("decimal mark", "table", plural=False, needs_sidecar=False),
    "sheet": _Fixed("sheet", "table", plural=False, needs_sidecar=False),
    "min_n": _Fixed("smallest group size", "too_small groups", plural=False, needs_sidecar=False, at_least=True),
}
_AS_SETS = ("metrics", "flag_on", "by", "na_values")  # the same values in another order are the same setting
_TABLE_FORMAT = ("na_values", "delimiter", "decimal_comma", "sheet")  # TableFormat's fields


def _single_columns(by: list[str], bins: dict[str, BinSpec], settings: StratifyOptions, strata: Strata) -> list[str]:
    """The columns a stratify run with these `by` and `bins` (and the recorded crosses) groups
    by one at a time, in order; a multi-class run always groups by the label too, so it is left
    out."""
    columns = stratified_columns(by, settings.crosses, bins)
    return [c for c in columns if not (strata.mode == "multiclass" and c == LABEL)]


def _recorded_value(option: str, settings: StratifyOptions, strata: Strata) -> Any:
    if option == "by":  # a run without --by grouped by every labels column: those its table names
        crosses = {CROSS_SEP.join(group) for group in settings.crosses}
        named = [s for s in strata.stratifiers if s not in crosses | {OVERALL}]
        return _single_columns(named if settings.by is None else settings.by, settings.bins, settings, strata)
    if option.endswith("_col"):
        return getattr(settings.columns, option.removesuffix("_col"))
    if option in _TABLE_FORMAT:
        return getattr(settings.table_format, option)
    return getattr(settings, {"margin": "margins"}.get(option, option))


def _given_value(option: str, given: dict[str, Any], settings: StratifyOptions, strata: Strata) -> Any:
    if option == "by":  # with its own --bins, as hs stratify would group by them
        return _single_columns(given["by"], given.get("bins", {}), settings, strata)
    return given[option]


def _setting_text(option: str, value: Any) -> str:
    """A setting as the option takes it (`auc=0.05`, `age=q4`), or as a list (stratifiers)."""
    if option == "margin":
        return ",".join(f"{m}={v:g}" for m, v in value.items()) or "none"
    if option == "bins":
        return " ".join(f"{c}={spec.text()}" for c, spec in value.items()) or "none"
    if option == "flag_on":
        return flag_on_text(tuple(value))
    if option == "by":
        return ", ".join(value) or "none"
    if option == "positive":
        return "none, labels 0/1" if value is None else str(value)
    if option == "na_values":  # cells: quoted where a bare one would not show (empty, spaces, commas)
        return ", ".join(v if v and v.strip() == v and "," not in v else repr(v) for v in value) or "none"
    if option == "delimiter":
        return {None: "none: sniffed from each file's header line", "\t": "tab"}.get(value, repr(value))
    if option == "decimal_comma":
        return "decimal commas" if value else "decimal points"
    if option == "sheet":
        return "none: the only sheet" if value is None else value
    if option == "min_n":
        return str(value)
    return value if isinstance(value, str) else ",".join(value)


def _given_text(option: str, value: Any) -> str:
    """The option as given: its flag and value (a flag alone for --decimal-comma)."""
    if option == "decimal_comma" and value:
        return option_ref(option)
    return f"{option_ref(option)} {_setting_text(option, value)}"


def refuse_other_settings(
    recorded: StratifyOptions | None, strata: Strata, given: dict[str, Any], strata_path: str
) -> None:
    """A stratify output's groups and flags follow the settings of the run that wrote it, as
    recorded in its sidecar (stratifiers and bins, positive class, columns and table format,
    families, margins and flag rule, --min-n): the same values given again are fine, other ones
    are refused (the report never shows a table computed one way as if it were computed
    another); --min-n may be larger (fewer curves), not smaller."""
    for option, fixed in _FIXED.items():
        if option not in given:
            continue
        if recorded is None:
            if not fixed.needs_sidecar:
                continue
            raise UsageError(
                f"{option_ref(option)} cannot be checked against {option_ref('strata')} {strata_path}: it has no "
                f"sidecar recording the {fixed.what} of its {fixed.of}; drop {option_ref(option)}, "
                + (
                    "or pass the stratify output as a file, with its sidecar beside it"
                    if strata_path == "-"
                    else f"or keep {sidecar_path(strata_path)} beside it"
                )
            )
        want, have = _given_value(option, given, recorded, strata), _recorded_value(option, recorded, strata)
        if fixed.at_least:
            if want >= have:
                continue
            how, fix = "is below", f"give {have} or more (fewer curves), drop {option_ref(option)}"
        elif (set(want) == set(have)) if option in _AS_SETS else (want == have):
            continue
        else:
            how, fix = "differs from", f"drop {option_ref(option)}"
        shown = _setting_text(option, have)
        if option == "by" and recorded.by is None:
            shown = f"every labels column: {shown}"
        raise UsageError(
            f"{_given_text(option, want)} {how} the {fixed.what} of {option_ref('strata')} {strata_path} "
            f"({shown}; recorded in its sidecar), {fixed.fixes()}; {fix}, or run hs stratify again with it"
        )
