"""`hs report`: turn preds, labels, a stratify output, clusters and a manifest into one
self-contained HTML file (see docs/report.md)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any, NamedTuple

from hstool.audit.groups import CROSS_SEP, BinSpec, Stratifier, build_stratifiers, stratified_columns
from hstool.audit.options import flag_on_text
from hstool.audit.strata_table import OVERALL, StratifyOptions
from hstool.audit.stratify import run_stratify
from hstool.errors import InputError, OptionError, UsageError, option_ref
from hstool.io.sidecar import build_sidecar, file_sha256, read_sidecar, sidecar_path
from hstool.io.table_format import ColumnMap, TableFormat
from hstool.io.tables import KEY, Source
from hstool.report.context import InputFile, ReportData, ReportOptions, shown_path
from hstool.report.gallery import ThumbTable
from hstool.report.images import image_paths
from hstool.report.inputs import LABEL, Cases, Clusters, Strata, load_cases, read_clusters, read_strata, refuse_stdin
from hstool.report.page import page
from hstool.report.saliency import SaliencyMaps, computed_maps
from hstool.report.sections import clusters as clusters_section
from hstool.report.sections import curves, errors, provenance, subgroups, summary
from hstool.saliency.index import INDEX_NAME, read_index


@dataclass(frozen=True)
class ReportInputs:
    preds: str | None = None
    labels: str | None = None
    strata: str | None = None
    clusters: str | None = None
    manifest: str | None = None
    root: str | None = None
    saliency: str | None = None  # hs saliency's folder (or its index.csv), or a model.onnx to compute maps

    def paths(self) -> list[str]:
        return [p for p in (self.preds, self.labels, self.strata, self.clusters, self.manifest) if p]


@dataclass(frozen=True)
class Report:
    html: str
    meta: dict
    notes: list[str]


def build_report(inputs: ReportInputs, options: ReportOptions) -> Report:
    _check(inputs, options)
    notes: list[str] = []
    files: list[InputFile] = []
    strata, settings = _given_strata(inputs, options, files)
    if strata is not None and settings is not None:
        # The files are read as the stratify run read them (its positive class, columns and
        # table format), and curves follow its --min-n unless a larger one is given (checked).
        stratify = replace(
            options.stratify,
            positive=settings.positive,
            columns=settings.columns,
            table_format=settings.table_format,
            min_n=options.given.get("min_n", settings.min_n),
        )
        options = replace(options, stratify=stratify)
    strata, cases = _strata_and_cases(inputs, options, strata, notes, files)
    clusters = _clusters(inputs, cases, options, notes, files)
    paths: dict[str, tuple[str, Path]] = {}
    if inputs.manifest:
        paths, manifest_file = image_paths(
            inputs.manifest, inputs.root, options.stratify.columns.id, options.stratify.table_format
        )
        files.append(manifest_file)
    stratifiers = _stratifiers(cases, strata, settings, inputs, options)
    data = ReportData(cases, strata, clusters, stratifiers, paths, files, notes, settings=settings)

    montages = clusters_section.plan(data, options)
    error_plan = errors.plan(data, options)
    thumbs = ThumbTable(cap=options.max_thumbnails, size=options.thumb_size)
    thumbs.admit(list(montages.values()) + error_plan.galleries())
    data.saliency = _saliency(inputs, options, files, [i for i in thumbs.slots if i in paths])
    if data.saliency is not None:
        thumbs.overlays = data.saliency.overlays()
    if thumbs.capped:
        notes.append(f"Galleries were cut at {options.max_thumbnails} distinct thumbnails (--max-thumbnails).")
    thumbs.render(paths, options.workers)
    n_unreadable = sum(1 for image_id, slot in thumbs.slots.items() if image_id in paths and thumbs.thumbs[slot].reason)
    if n_unreadable:
        notes.append(f"{n_unreadable} image(s) could not be read; their thumbnails are placeholders that say why.")

    sections = [
        summary.build(data),
        subgroups.build(data),
        curves.build_roc(data, options),
        curves.build_calibration(data, options),
        clusters_section.build(data, montages, thumbs),
        errors.build(data, error_plan, thumbs),
        provenance.build(data, options),
    ]
    html = page(options.title, sections, thumbs.defs(), options.thumb_size)
    meta = _meta(inputs, options, data, len(thumbs.slots))
    if data.saliency is not None:
        data.saliency.close()
    return Report(html, meta, notes)


def _check(inputs: ReportInputs, options: ReportOptions) -> None:
    if bool(inputs.preds) != bool(inputs.labels):
        given, other = ("preds", "labels") if inputs.preds else ("labels", "preds")
        raise UsageError(
            f"{option_ref(given)} needs {option_ref(other)} too: the report joins predictions and labels on image_id"
        )
    if not (inputs.preds or inputs.strata or inputs.clusters):
        raise UsageError(
            f"nothing to report: pass {option_ref('preds')} and {option_ref('labels')}, {option_ref('strata')}, or {option_ref('clusters')} (see hs report --help)"
        )
    if inputs.strata and "threshold" in options.given:
        raise UsageError(
            f"{option_ref('threshold')} cannot be combined with {option_ref('strata')}: the stratify output fixes the threshold; drop one of them"
        )
    if inputs.root and not inputs.manifest:
        raise UsageError(
            f"{option_ref('root')} only applies to {option_ref('manifest')} paths; pass {option_ref('manifest')} too"
        )
    if inputs.saliency and not inputs.manifest:
        raise UsageError("saliency overlays go beside the images: pass the manifest too")
    for name, value in (
        ("gallery_size", options.gallery_size),
        ("montage_size", options.montage_size),
        ("max_thumbnails", options.max_thumbnails),
        ("max_curves", options.max_curves),
    ):
        if value < 0:
            raise OptionError(name, value, "must be 0 or more")
    if options.workers is not None and options.workers < 1:
        raise OptionError("workers", options.workers, "use 1 or more processes", quoted=False)
    if not 16 <= options.thumb_size <= 1024:
        raise OptionError("thumb_size", options.thumb_size, "use 16 to 1024 pixels", quoted=False)
    refuse_stdin(*inputs.paths())


def _input_file(role: str, source: Source, path: str) -> InputFile:
    return InputFile(role, shown_path(path), source.sha256, source.rows, read_sidecar(path))


def _given_strata(
    inputs: ReportInputs, options: ReportOptions, files: list[InputFile]
) -> tuple[Strata | None, StratifyOptions | None]:
    """The --strata table, if given, and the settings behind the report's table
    (ReportData.settings): the report's own, or those the stratify run recorded in its sidecar
    (None without one). Settings given here that the table fixes must match them."""
    if not inputs.strata:
        return None, options.stratify
    strata = read_strata(inputs.strata)
    assert strata.source is not None  # a stratify output read from a file has one
    files.append(_input_file("stratify output", strata.source, inputs.strata))
    # Its sidecar must hold what the report reads from it (checked before any work).
    settings = _recorded_settings(strata.meta, inputs.strata) if strata.meta else None
    _refuse_other_settings(settings, strata, options.given, inputs.strata)
    return strata, settings


def _strata_and_cases(
    inputs: ReportInputs, options: ReportOptions, strata: Strata | None, notes: list[str], files: list[InputFile]
) -> tuple[Strata | None, Cases | None]:
    """The strata table (computed here without --strata) and the cases."""
    if not inputs.preds:
        return strata, None
    assert inputs.labels is not None  # _check: --preds needs --labels
    if strata is None:
        result = run_stratify(inputs.preds, inputs.labels, options.stratify)
        strata = Strata(result.table, result.meta["mode"], result.meta, None)
        notes.extend(result.notes)
    cases = load_cases(
        inputs.preds,
        inputs.labels,
        threshold=strata.threshold,
        positive=options.stratify.positive,
        allow_unmatched=options.stratify.allow_unmatched,
        columns=options.stratify.columns,
        fmt=options.stratify.table_format,
    )
    if cases.mode != strata.mode:
        raise InputError(
            f"{inputs.strata}: a {strata.mode} stratify output, but {inputs.preds} holds {cases.mode} predictions; pass matching files"
        )
    preds_src, labels_src = cases.sources
    files[:0] = [_input_file("predictions", preds_src, inputs.preds), _input_file("labels", labels_src, inputs.labels)]
    if inputs.strata and strata.meta:
        made_from = {item.get("sha256") for item in strata.meta.get("inputs", [])}
        if not {preds_src.sha256, labels_src.sha256} <= made_from:
            notes.append(
                f"{shown_path(inputs.strata)} was computed from other files than the predictions and labels given "
                "here (their sha256 differ): its table may not match the curves and galleries."
            )
    dropped = {k: v for k, v in cases.dropped.items() if v}
    if dropped:
        notes.append(
            "Ids in one file only were left out (--allow-unmatched): "
            + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in dropped.items())
            + "."
        )
    return strata, cases


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
        named = [s for s in dict.fromkeys(strata.table["stratifier"].to_list()) if s not in crosses | {OVERALL}]
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


def _refuse_other_settings(
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
                f"or keep {sidecar_path(strata_path)} beside it"
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


def _saliency(
    inputs: ReportInputs, options: ReportOptions, files: list[InputFile], shown: list[str]
) -> SaliencyMaps | None:
    """The maps of a saliency folder, or (given a model.onnx) occlusion maps computed here for
    the images the report shows."""
    if not inputs.saliency:
        return None
    if inputs.saliency.endswith(".onnx"):
        if not shown:
            return None
        stratify = options.stratify  # the manifest is read as the report reads it
        maps = computed_maps(
            inputs.saliency, str(inputs.manifest), inputs.root, shown, stratify.columns.id, stratify.table_format
        )
        rows = maps.index.table.height  # maps computed
        files.append(InputFile("saliency model", shown_path(inputs.saliency), file_sha256(inputs.saliency), rows, None))
        return maps
    index = read_index(inputs.saliency)
    files.append(_input_file("saliency maps", index.source, str(index.folder / INDEX_NAME)))
    return SaliencyMaps(index)


def _clusters(inputs, cases: Cases | None, options, notes, files) -> Clusters | None:
    if not inputs.clusters:
        return None
    clusters = read_clusters(inputs.clusters)
    files.append(_input_file("clusters", clusters.source, inputs.clusters))
    if cases is not None:
        unknown = clusters.table.join(cases.table.select(KEY), on=KEY, how="anti")
        if unknown.height:
            if not options.stratify.allow_unmatched:
                shown = ", ".join(repr(v) for v in unknown[KEY].head(3).to_list())
                raise InputError(
                    f"{clusters.source.name}: {unknown.height} image_ids are not among the analysed cases (first: {shown}); "
                    f"pass the clusters of the same test set, or {option_ref('allow_unmatched')} to leave them out"
                )
            notes.append(
                f"{unknown.height} clustered ids not among the analysed cases were left out (--allow-unmatched)."
            )
            clusters = Clusters(clusters.table.join(cases.table.select(KEY), on=KEY, how="semi"), clusters.source)
    return clusters


def _stratifiers(
    cases: Cases | None,
    strata: Strata | None,
    settings: StratifyOptions | None,
    inputs: ReportInputs,
    options: ReportOptions,
) -> list[Stratifier]:
    """The stratifiers of the strata table, rebuilt on the cases for curves and galleries: with
    the settings behind the table (the report's, or the stratify run's from its sidecar)."""
    if cases is None:
        return []
    if settings is None:  # a stratify output without its sidecar: the plain columns its table names
        assert strata is not None
        named = dict.fromkeys(strata.table["stratifier"].to_list())
        settings = replace(options.stratify, by=[c for c in named if c in cases.columns], crosses=[], bins={})
    by = settings.by or cases.columns
    if cases.mode == "multiclass":
        by = [LABEL] + [c for c in by if c != LABEL]
    frame = cases.table.select(KEY, LABEL, *cases.columns)
    return build_stratifiers(
        frame,
        by=list(by),
        crosses=settings.crosses,
        bins=settings.bins,
        max_levels=settings.max_levels,
        source_name=inputs.labels or "the labels",
    )


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


def _recorded_settings(meta: dict[str, Any], strata_path: str) -> StratifyOptions:
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


def _meta(inputs: ReportInputs, options: ReportOptions, data: ReportData, n_thumbs: int) -> dict:
    parameters: dict[str, Any] = {
        "threshold": data.threshold,
        "gallery_size": options.gallery_size,
        "montage_size": options.montage_size,
        "max_thumbnails": options.max_thumbnails,
        "thumb_size": options.thumb_size,
        "max_curves": options.max_curves,
        "title": options.title,
        "saliency": shown_path(inputs.saliency) if inputs.saliency else None,
    }
    # The rule behind the flags shown (None: a stratify output without its sidecar).
    settings = data.settings if data.strata is not None else None
    parameters.update(
        {
            "metrics": list(data.families()) if data.strata is not None else None,
            "flag_on": list(settings.flag_on) if settings else None,
            "margins": dict(settings.margins) if settings else None,
            "correction": settings.correction if settings else None,
            "alpha": settings.alpha if settings else None,
            "level": settings.level if settings else None,
            "ece_bins": settings.ece_bins if settings else None,
        }
    )
    files = [{"path": f.shown, "sha256": f.sha256, "rows": f.rows, "role": f.role} for f in data.inputs]
    return build_sidecar(
        schema="hs.report/1",
        parameters=parameters,
        inputs=files,
        rows=None,
        seed=options.stratify.seed,
        extra={"thumbnails": n_thumbs, "notes": data.notes},
    )
