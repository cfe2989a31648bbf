"""Benchmark: finding planted label flips with `hs label-issues` against cleanlab and the loss.

For each dataset, noise setting and seed:

1. `hs synth` (run_synth) samples N images per class from the real data set and flips labels
   with `--noisy`: 10% or 25% of one class ("one subclass"), or 10% of every class (uniform).
   The manifest's `label_noisy` column is the answer key.
2. Out-of-fold probabilities for every image, K folds, from one of two models:
   `--model cnn`: `hs train --cross-fit K` (the library function behind it: small CNN, E epochs);
   `--model logreg`: a scikit-learn logistic regression on the raw pixels, stratified K-fold
   (`cross_val_predict`), which is about 50 times cheaper and fits on a loaded 2-core machine.
3. The same probabilities are ranked by hs (rank_label_issues: every `--score`, by the score
   alone and with the label issues first, `--issues prune-by-class` (the default) or
   `confident-joint`; the command's own path, run_label_issues, once with its defaults),
   by the loss (-log p_label; the same order as self-confidence), and by cleanlab 2.x
   (`cleanlab.filter.find_label_issues`, its default filter prune_by_noise_rate, issues ranked
   by normalized_margin). Measured: precision at k (k = the number of flipped labels; a method
   that flags fewer than k cases gets no credit for the rest), AUROC of the ranking score for
   the flips (cleanlab: `cleanlab.rank.get_label_quality_scores`, normalized_margin), and the
   precision / recall of each method's flagged set (hs: both `--issues` sets).

cleanlab comes with the test extra (`pip install 'hstool[test]'`; the tests use it as an oracle); hstool never imports it.

Usage (from the repository root):
  PYTHONPATH=. python benchmarks/label_issues_bench.py [DATA_DIR] [--model cnn|logreg] [--seeds 3] [--per-class N]
      [--folds K] [--epochs E] [--only DATASET] [--settings "one class 25%"]
DATA_DIR defaults to $HS_DATA_DIR or ../shared/data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from hstool.audit.label_issues import (
    CONFIDENT_JOINT,
    DEFAULT_ISSUES,
    DEFAULT_ISSUES_FIRST,
    DEFAULT_SCORE,
    PRUNE_BY_CLASS,
    SCORES,
    rank_label_issues,
)
from hstool.audit.label_issues_run import LabelIssueOptions, run_label_issues
from hstool.data.manifest import read_manifest
from hstool.data.preprocess import Preprocessing, load_batch
from hstool.synth.base import BaseSource
from hstool.synth.run import run_synth
from hstool.synth.spec import SynthSpec
from hstool.train.config import TrainConfig
from hstool.train.cross_fit import cross_fit


def datasets(data: Path) -> dict[str, tuple[BaseSource, list[str], str]]:
    """name -> (source, classes, the class that gets the one-subclass noise)."""
    fashion = data / "fashion-mnist"
    return {
        "Fashion-MNIST": (
            BaseSource(
                idx=((None, str(fashion / "train-images-idx3-ubyte.gz"), str(fashion / "train-labels-idx1-ubyte.gz")),)
            ),
            [str(c) for c in range(10)],
            "4",  # coat
        ),
        "PneumoniaMNIST": (
            BaseSource(npz=str(data / "pneumoniamnist" / "pneumoniamnist.npz"), splits=("train",)),
            ["0", "1"],
            "0",  # normal
        ),
    }


SETTINGS = {
    "one class 10%": lambda classes, one: [f"{one}:0.1"],
    "one class 25%": lambda classes, one: [f"{one}:0.25"],
    "uniform 10%": lambda classes, one: [f"{c}:0.1" for c in classes],
}


def precision_at(order: np.ndarray, truth: np.ndarray, k: int) -> float:
    return float(truth[order[:k]].sum()) / k


# (score, issues, issues first): by the score alone, then each issue set first.
VARIANTS = [(score, DEFAULT_ISSUES, False) for score in SCORES] + [
    (score, issues, True) for issues in (PRUNE_BY_CLASS, CONFIDENT_JOINT) for score in SCORES
]
DEFAULT_VARIANT = (DEFAULT_SCORE, DEFAULT_ISSUES, DEFAULT_ISSUES_FIRST)
SHORT = {PRUNE_BY_CLASS: "pruned", CONFIDENT_JOINT: "confident"}


def variant_name(score: str, issues: str, issues_first: bool) -> str:
    return f"hs {score}{f' +{SHORT[issues]} first' if issues_first else ''}"


def evaluate(preds: Path, manifest: Path) -> dict[str, float]:
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    table = pl.read_csv(manifest, schema_overrides={"image_id": pl.String, "label": pl.String})
    truth_of = dict(zip(table["image_id"], table["label_noisy"] == "yes"))
    # The command's own path once (file reading, joins), then every variant on the same arrays.
    command = run_label_issues(str(preds), str(manifest), LabelIssueOptions()).table
    ids = sorted(command["image_id"].to_list())
    probs, given = _arrays(preds, manifest, ids)
    truth = np.array([truth_of[i] for i in ids])
    k = int(truth.sum())
    out: dict[str, float] = {"k": k, "n": len(ids)}
    for score, issues, first in VARIANTS:
        result = rank_label_issues(probs, given, score, issues=issues, issues_first=first)
        if (score, issues, first) == DEFAULT_VARIANT:
            assert [ids[i] for i in result.order] == command["image_id"].to_list()
            sets = {"hs pruned": result.pruned, "hs confident": result.off_diagonal}
        position = np.empty(len(ids))
        position[result.order] = np.arange(len(ids))
        out[f"{variant_name(score, issues, first)} P@k"] = precision_at(result.order, truth, k)
        out[f"{variant_name(score, issues, first)} AUROC"] = float(roc_auc_score(truth, -position))
    for name, flagged in sets.items():
        out[f"{name} n"] = int(flagged.sum())
        out[f"{name} precision"] = float(truth[flagged].mean()) if flagged.any() else float("nan")
        out[f"{name} recall"] = float(truth[flagged].sum() / k)
    p_given = probs[np.arange(len(given)), given]
    loss = -np.log(np.clip(p_given, 1e-12, 1.0))
    order = np.argsort(-loss, kind="stable")
    out["loss P@k"] = precision_at(order, truth, k)
    out["loss AUROC"] = float(roc_auc_score(truth, loss))
    start = time.perf_counter()
    issues = find_label_issues(labels=given, pred_probs=probs, return_indices_ranked_by="normalized_margin")
    out["cleanlab seconds"] = time.perf_counter() - start
    hits = truth[issues[:k]].sum() if len(issues) else 0
    out["cleanlab P@k"] = float(hits) / k
    out["cleanlab issue n"] = len(issues)
    out["cleanlab issue precision"] = float(truth[issues].mean()) if len(issues) else float("nan")
    out["cleanlab issue recall"] = float(truth[issues].sum() / k)
    quality = get_label_quality_scores(labels=given, pred_probs=probs, method="normalized_margin")
    out["cleanlab AUROC"] = float(roc_auc_score(truth, -quality))
    return out


def _arrays(preds: Path, manifest: Path, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    p = pl.read_csv(preds, schema_overrides={"image_id": pl.String})
    m = pl.read_csv(manifest, schema_overrides={"image_id": pl.String, "label": pl.String})
    joined = pl.DataFrame({"image_id": ids}).join(p, on="image_id", how="left").join(m, on="image_id", how="left")
    if "score" in joined.columns:
        s = joined["score"].to_numpy().astype(np.float64)
        return np.column_stack([1 - s, s]), joined["label"].cast(pl.Int64).to_numpy()
    classes = [c[2:] for c in p.columns if c.startswith("p_")]
    probs = joined.select([f"p_{c}" for c in classes]).to_numpy().astype(np.float64)
    index = {c: i for i, c in enumerate(classes)}
    return probs / probs.sum(axis=1, keepdims=True), np.array([index[v] for v in joined["label"]])


def logreg_oof(manifest: str, out: Path, folds: int, seed: int) -> Path:
    """Out-of-fold probabilities of a pixel logistic regression, written as a preds.csv."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    m = read_manifest(manifest, require_label=True)
    x = load_batch(m.paths, Preprocessing(size=(28, 28), channels=1)).reshape(len(m.paths), -1)
    classes = m.classes
    y = np.array([classes.index(v) for v in m.labels or []])
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    probs = cross_val_predict(LogisticRegression(C=0.01, max_iter=300), x, y, cv=cv, method="predict_proba")
    ids = pl.Series("image_id", m.ids)
    if len(classes) == 2:
        table = pl.DataFrame([ids, pl.Series("score", probs[:, 1])])
    else:
        table = pl.DataFrame([ids] + [pl.Series(f"p_{c}", probs[:, j]) for j, c in enumerate(classes)])
    out.mkdir(parents=True, exist_ok=True)
    table.write_csv(out / "preds_oof.csv")
    return out / "preds_oof.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", default=os.environ.get("HS_DATA_DIR", "../shared/data"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--per-class",
        type=int,
        default=0,
        help="images per class (default: 100 for Fashion-MNIST, 400 for PneumoniaMNIST)",
    )
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--only", default=None, help="run one data set")
    parser.add_argument("--model", choices=("cnn", "logreg"), default="cnn")
    parser.add_argument("--settings", default=None, help="comma-separated noise settings (default: all)")
    args = parser.parse_args()
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for name, (source, classes, one) in datasets(Path(args.data)).items():
        if args.only and args.only != name:
            continue
        per_class = args.per_class or (100 if len(classes) > 2 else 400)
        for setting, flips in SETTINGS.items():
            if args.settings and setting not in args.settings.split(","):
                continue
            for seed in range(args.seeds):
                with tempfile.TemporaryDirectory(prefix="hs-label-issues-") as tmp:
                    spec = SynthSpec.from_options(seed=seed, per_class=str(per_class), noisy=flips(classes, one))
                    run_synth(source, spec, f"{tmp}/data", force=True)
                    config = TrainConfig(
                        manifest=f"{tmp}/data/manifest.csv",
                        out_dir=f"{tmp}/oof",
                        epochs=args.epochs,
                        lr=1e-3,
                        seed=seed,
                        device="cpu",
                        epoch_weights=False,
                    )
                    start = time.perf_counter()
                    if args.model == "cnn":
                        preds = cross_fit(config, args.folds).preds
                    else:
                        preds = logreg_oof(config.manifest, Path(config.out_dir), args.folds, seed)
                    seconds = time.perf_counter() - start
                    row = evaluate(preds, Path(config.manifest))
                    row["cross-fit seconds"] = seconds
                results.setdefault((name, setting), []).append(row)
                print(
                    f"{name}, {setting}, seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True
                )
    report(results, args)


def report(results: dict[tuple[str, str], list[dict[str, float]]], args: argparse.Namespace) -> None:
    def cell(rows: list[dict[str, float]], key: str) -> str:
        values = [r[key] for r in rows if not np.isnan(r[key])]
        if not values:
            return "-"
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.3f} ± {sd:.3f}"

    model = f"small CNN, {args.epochs} epochs" if args.model == "cnn" else "pixel logistic regression"
    print(f"\nMean ± sd over {args.seeds} seeds; {args.folds}-fold cross-fit, {model}.")
    methods = [variant_name(*v) for v in VARIANTS] + ["loss", "cleanlab"]
    print(f"hs's default: {variant_name(*DEFAULT_VARIANT)}.")
    for metric in ("P@k", "AUROC"):
        print(f"\n{metric}:\n")
        print("| data | noise | n | k | " + " | ".join(methods) + " |")
        print("| --- " * (4 + len(methods)) + "|")
        for (name, setting), rows in results.items():
            k = statistics.mean(r["k"] for r in rows)
            cells = " | ".join(cell(rows, f"{m} {metric}") for m in methods)
            print(f"| {name} | {setting} | {int(rows[0]['n'])} | {k:.0f} | {cells} |")
    print("\nFlagged sets (size, precision, recall):\n")
    keys = [f"hs {name} {m}" for name in ("pruned", "confident") for m in ("n", "precision", "recall")]
    keys += ["cleanlab issue n", "cleanlab issue precision", "cleanlab issue recall", "cross-fit seconds"]
    print("| data | noise | " + " | ".join(keys) + " |")
    print("| --- " * (2 + len(keys)) + "|")
    for (name, setting), rows in results.items():
        print(f"| {name} | {setting} | " + " | ".join(cell(rows, k) for k in keys) + " |")


if __name__ == "__main__":
    sys.exit(main())
