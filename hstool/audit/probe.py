"""`hs probe EMB LABELS --target COL`: how well an attribute can be read from embeddings.

A linear probe (Gichoya et al. 2022 read race from chest X-ray models this way): standardised
features, L2-regularised logistic regression (scikit-learn, multinomial for several classes),
stratified K-fold cross-validation with a seeded shuffle. Every case gets an out-of-fold
probability from a model that never saw it, and the AUC of those probabilities (one class
against the rest) gets a DeLong interval and a one-sided z-test of AUC > 0.5. An AUC near 0.5
means the attribute is not linearly decodable; a high AUC for a nuisance attribute (a chest
drain, the scanner, the hospital) says the model's features carry it and the model could use
it as a shortcut.

The out-of-fold probabilities come from K different models, and the DeLong interval treats
them as one scoring: it is too narrow (measured: 83-89% coverage of 0.5 for a nominal 95%
interval on random attributes, see docs/probes.md). `permutations` adds an exact permutation
p-value for the null that the target is independent of the embeddings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from hstool.audit.groups import MISSING, OUTSIDE, build_stratifiers
from hstool.audit.options import ProbeOptions as ProbeOptions  # re-exported
from hstool.audit.strata_table import interval_text, p_text
from hstool.io.arrays import read_embeddings
from hstool.io.sidecar import build_sidecar
from hstool.io.tables import KEY, join_on_id, read_table
from hstool.stats.auc import auc_score, delong
from hstool.stats.delong import compare_aucs, two_sided_p, wald_interval

SCHEMA_NAME = "hs.probe/1"
SCHEMA: dict[str, Any] = {"scope": str, "class": str, "versus": str, "n": int, "n_class": int}
SCHEMA.update(
    {"auc": float, "auc_se": float, "auc_ci_low": float, "auc_ci_high": float, "auc_p": float, "perm_p": float}
)
SCHEMA.update({"flag": bool, "status": str, "reason": str})
ALL = "(all)"
MACRO = "(macro mean)"


@dataclass(frozen=True)
class ProbeResult:
    table: pl.DataFrame
    view: pl.DataFrame
    meta: dict[str, Any]
    summary: list[str]


def run_probe(emb_path: str, labels_path: str, options: ProbeOptions, ids_path: str | None = None) -> ProbeResult:
    ids, matrix, emb_src = read_embeddings(emb_path, ids_path)
    required = (KEY, options.target) + ((options.label_col,) if options.per_superclass else ())
    labels, labels_src = read_table(
        labels_path, role="labels", required=required, fmt=options.table_format, columns={KEY: options.id_col}
    )
    rows_frame = pl.DataFrame({KEY: ids, "__row": np.arange(len(ids))})
    joined, dropped = join_on_id(rows_frame, emb_src, labels, labels_src, allow_unmatched=options.allow_unmatched)
    joined = joined.sort(KEY)
    target = build_stratifiers(
        joined,
        by=[options.target],
        crosses=[],
        bins=options.bins,
        max_levels=options.max_levels,
        source_name=labels_src.name,
        decimal_comma=labels_src.decimal_comma,
    )[0]
    # Cases without a usable value of the target are not part of the probe.
    unusable = [i for i, level in enumerate(target.levels) if level in (MISSING, OUTSIDE)]
    usable = ~np.isin(target.codes, unusable)
    notes = [f"{options.target}: {target.note}"] if target.note else []
    if not usable.all():
        notes.append(
            f"{options.target}: {int((~usable).sum())} cases without a value (missing or outside --bins) left out"
        )
    features = matrix[joined["__row"].to_numpy()]
    scopes = [(ALL, usable)]
    if options.per_superclass:
        superclass = joined[options.label_col].cast(pl.String)
        for value in sorted(superclass.drop_nulls().unique().to_list()):
            scopes.append((f"{options.label_col}={value}", usable & (superclass == value).fill_null(False).to_numpy()))
    rows: list[dict[str, Any]] = []
    for index, (scope, mask) in enumerate(scopes):
        if mask.any():
            rows.extend(_probe_scope(scope, index, features[mask], target.codes[mask], target.levels, options))
        else:
            notes.append(f"{scope}: no case has a value of {options.target}; nothing to probe")
    table = pl.DataFrame(rows, schema=SCHEMA, orient="row")
    parameters = asdict(options)
    parameters["bins"] = {k: asdict(v) for k, v in options.bins.items()}
    extra = {
        "target": options.target,
        "classes": [lv for i, lv in enumerate(target.levels) if i not in unusable],
        "n_analysed": int(usable.sum()),
        "n_left_out": int((~usable).sum()),
        "dropped": dropped,
        "notes": notes,
    }
    meta = build_sidecar(
        schema=SCHEMA_NAME,
        parameters=parameters,
        inputs=[emb_src.provenance(), labels_src.provenance()],
        rows=table.height,
        seed=options.seed,
        extra=extra,
    )
    return ProbeResult(table, _view(table), meta, notes + _summary(table, options))


def _probe_scope(
    scope: str, scope_index: int, x: np.ndarray, codes: np.ndarray, levels: tuple[str, ...], options: ProbeOptions
) -> list[dict[str, Any]]:
    """Rows for one scope: one per class (one-vs-rest), or one for a two-class target."""
    counts = np.bincount(codes, minlength=len(levels))
    present = [k for k in range(len(levels)) if counts[k] > 0]
    small = [k for k in present if counts[k] < max(options.min_n, options.folds)]
    kept = [k for k in present if k not in small]
    rows = [
        _row(
            scope,
            levels[k],
            "rest",
            len(codes),
            int(counts[k]),
            status="too_small",
            reason=f"{counts[k]} cases, below --min-n {options.min_n} or --folds {options.folds}; left out of the probe",
        )
        for k in small
    ]
    if len(kept) < 2:
        reason = "fewer than two classes with enough cases: nothing to tell apart"
        return rows + [
            _row(scope, levels[k], "rest", len(codes), int(counts[k]), status="too_small", reason=reason) for k in kept
        ]
    mask = np.isin(codes, kept)
    x, codes = x[mask], codes[mask]
    probs = _out_of_fold_probabilities(x, codes, options)
    # A two-class target gets one row: its two one-vs-rest AUCs are the same number.
    compared = [(1, kept[1], levels[kept[0]])] if len(kept) == 2 else [(j, k, "rest") for j, k in enumerate(kept)]
    class_rows = [_auc_row(scope, levels[k], versus, probs[:, j], codes == k, options) for j, k, versus in compared]
    if len(kept) > 2:
        macro = _row(
            scope, MACRO, "", len(codes), None, status="ok", reason="mean of the one-vs-rest AUCs (no interval)"
        )
        macro["auc"] = float(np.mean([r["auc"] for r in class_rows]))
        macro["flag"] = macro["auc"] >= options.warn_auc
        class_rows.append(macro)
    if options.permutations:
        observed = np.array([r["auc"] for r in class_rows])
        for row, p in zip(class_rows, _permutation_p(x, codes, compared, observed, scope_index, options)):
            row["perm_p"] = p
    return rows + class_rows


def _permutation_p(
    x: np.ndarray,
    codes: np.ndarray,
    compared: list[tuple[int, int, str]],
    observed: np.ndarray,
    scope_index: int,
    options: ProbeOptions,
) -> np.ndarray:
    """Permutation p-values of every AUC (and the macro mean): the whole probe is re-run with
    the target shuffled; p = (1 + #{permuted AUC >= observed}) / (1 + permutations). Exact
    under the null that the target is independent of the embeddings."""
    rng = np.random.default_rng([options.seed, scope_index])
    exceed = np.zeros(len(observed))
    for _ in range(options.permutations):
        shuffled = rng.permutation(codes)
        probs = _out_of_fold_probabilities(x, shuffled, options)
        aucs = np.array([auc_score(probs[:, j], shuffled == k) for j, k, _ in compared], dtype=np.float64)
        if len(observed) > len(aucs):  # the macro mean
            aucs = np.append(aucs, aucs.mean())
        exceed += aucs >= observed
    return (1.0 + exceed) / (1.0 + options.permutations)


def _out_of_fold_probabilities(x: np.ndarray, codes: np.ndarray, options: ProbeOptions) -> np.ndarray:
    """Columns follow the sorted class codes present in `codes`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    model = make_pipeline(StandardScaler(), LogisticRegression(C=options.c, max_iter=options.max_iter))
    folds = StratifiedKFold(n_splits=options.folds, shuffle=True, random_state=options.seed)
    # BLAS threads cost more than they save on small problems (5x slower fits measured on a
    # busy 2-core machine); large embedding matrices keep them.
    with threadpool_limits(limits=1 if x.size < 2_000_000 else None):
        probs: np.ndarray = cross_val_predict(model, x.astype(np.float64), codes, cv=folds, method="predict_proba")
    return probs


def _row(scope: str, cls: str, versus: str, n: int, n_class: int | None, *, status: str, reason: str) -> dict[str, Any]:
    return {
        "scope": scope,
        "class": cls,
        "versus": versus,
        "n": n,
        "n_class": n_class,
        "flag": False,
        "status": status,
        "reason": reason,
    }


def _auc_row(
    scope: str, cls: str, versus: str, scores: np.ndarray, positive: np.ndarray, options: ProbeOptions
) -> dict[str, Any]:
    row = _row(scope, cls, versus, len(scores), int(positive.sum()), status="ok", reason="")
    comp = delong(scores, positive)
    assert comp is not None  # only classes kept with enough cases on both sides are scored
    variance = comp.variance()
    row["auc"] = comp.auc
    row["auc_se"] = None if variance is None else float(np.sqrt(variance))
    row["auc_ci_low"], row["auc_ci_high"] = wald_interval(comp.auc, variance, options.level)
    row["auc_p"] = _above_chance_p(comp.auc, variance)
    row["flag"] = comp.auc >= options.warn_auc
    return row


def _above_chance_p(auc: float, variance: float | None) -> float | None:
    """One-sided p-value of AUC > 0.5. One-sided because pooled out-of-fold scores of a probe
    on pure noise are biased below 0.5 in high dimension (Airola et al. 2011): an AUC under 0.5
    is no evidence that the attribute is readable."""
    z = compare_aucs(auc, variance, 0.5, 0.0).z
    if z is None:
        return None
    return two_sided_p(z) / 2 if z > 0 else 1.0 - two_sided_p(z) / 2


def _summary(table: pl.DataFrame, options: ProbeOptions) -> list[str]:
    flagged = table.filter(pl.col("flag"))
    if flagged.height == 0:
        return [
            f"no row reaches AUC {options.warn_auc:g} (--warn-auc): '{options.target}' is not strongly readable from the embeddings"
        ]
    lines = [
        f"{flagged.height} row(s) reach AUC {options.warn_auc:g} (--warn-auc): '{options.target}' is readable from the embeddings:"
    ]
    for r in flagged.to_dicts():
        lines.append(
            f"  {r['scope']}: {r['class']} vs {r['versus'] or 'rest'}: AUC {interval_text(r['auc'], r['auc_ci_low'], r['auc_ci_high'])}"
        )
    return lines


def _view(table: pl.DataFrame) -> pl.DataFrame:
    rows = table.to_dicts()
    return pl.DataFrame(
        {
            "scope": table["scope"].to_list(),
            "class": [f"{r['class']} vs {r['versus']}" if r["versus"] else r["class"] for r in rows],
            "n": table["n"].to_list(),
            "n_class": table["n_class"].to_list(),
            "AUC": [interval_text(r["auc"], r["auc_ci_low"], r["auc_ci_high"]) for r in rows],
            "p(AUC>0.5)": [p_text(r["auc_p"]) for r in rows],
            **({"perm p": [p_text(r["perm_p"]) for r in rows]} if table["perm_p"].is_not_null().any() else {}),
            "flag": ["READABLE" if r["flag"] else "" for r in rows],
            "status": [r["status"] for r in rows],
        }
    )
