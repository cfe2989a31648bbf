"""`hs report`: turn preds, labels, a stratify output, clusters and a manifest into one
self-contained HTML file (see docs/report.md)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hstool.audit.groups import Stratifier, build_stratifiers
from hstool.audit.strata_table import StratifyOptions
from hstool.audit.stratify import stratify_tables
from hstool.errors import InputError, OptionError, UsageError, option_ref
from hstool.io.preds_labels import read_preds_labels
from hstool.io.sidecar import build_sidecar, file_sha256, read_sidecar
from hstool.io.tables import KEY, Source, check_one_stdin
from hstool.report.context import InputFile, ReportData, ReportOptions, shown_path
from hstool.report.gallery import ThumbTable
from hstool.report.images import image_paths
from hstool.report.inputs import LABEL, Cases, Clusters, Strata, load_cases, read_clusters, read_strata
from hstool.report.page import page
from hstool.report.saliency import SaliencyMaps, computed_maps
from hstool.report.sections import clusters as clusters_section
from hstool.report.sections import curves, errors, provenance, subgroups, summary
from hstool.report.strata_settings import recorded_settings, refuse_other_settings
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

    @property
    def computes_saliency(self) -> bool:
        """A model given for saliency: its maps are computed here (hs saliency reads the manifest)."""
        return bool(self.saliency and self.saliency.endswith(".onnx"))


@dataclass(frozen=True)
class Report:
    html: str
    meta: dict[str, Any]
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
    check_one_stdin(*inputs.paths())
    if inputs.manifest == "-" and inputs.computes_saliency:
        raise UsageError(
            "computing saliency maps reads the manifest a second time: pass it as a file, not '-' (or pass maps from hs saliency)"
        )


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
    settings = recorded_settings(strata.meta, inputs.strata) if strata.meta else None
    refuse_other_settings(settings, strata, options.given, inputs.strata)
    return strata, settings


def _strata_and_cases(
    inputs: ReportInputs, options: ReportOptions, strata: Strata | None, notes: list[str], files: list[InputFile]
) -> tuple[Strata | None, Cases | None]:
    """The strata table (computed here without --strata) and the cases."""
    if not inputs.preds:
        return strata, None
    assert inputs.labels is not None  # _check: --preds needs --labels
    stratify = options.stratify
    tables = read_preds_labels(inputs.preds, inputs.labels, stratify.columns, stratify.table_format)
    if strata is None:
        result = stratify_tables(tables, stratify)
        strata = Strata(result.table, result.meta["mode"], result.meta, None)
        notes.extend(result.notes)
    cases = load_cases(
        tables, threshold=strata.threshold, positive=stratify.positive, allow_unmatched=stratify.allow_unmatched
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


def _saliency(
    inputs: ReportInputs, options: ReportOptions, files: list[InputFile], shown: list[str]
) -> SaliencyMaps | None:
    """The maps of a saliency folder, or (given a model.onnx) occlusion maps computed here for
    the images the report shows."""
    if not inputs.saliency:
        return None
    if inputs.computes_saliency:
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


def _clusters(
    inputs: ReportInputs, cases: Cases | None, options: ReportOptions, notes: list[str], files: list[InputFile]
) -> Clusters | None:
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
        settings = replace(
            options.stratify, by=[c for c in strata.stratifiers if c in cases.columns], crosses=[], bins={}
        )
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


def _meta(inputs: ReportInputs, options: ReportOptions, data: ReportData, n_thumbs: int) -> dict[str, Any]:
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
