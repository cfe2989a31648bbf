"""Benchmark: `hs stratify` on N rows (default 1,000,000) with 3 stratifiers (2, 5, 20 levels).

Measured in one run, on the same files:
  floor      polars reading the two CSVs (nothing else), best of 3
  contract   the steps hs cannot skip without dropping a contract, each done once with polars or
             numpy and nothing else, in parallel where polars can: read both files as text (ids
             such as 00012 keep their spelling), sha256 of both (provenance, in a thread beside the
             rest), ids checked (none blank, all unique) in both, both tables sorted by id (results
             never depend on row order), scores parsed, one argsort of them; no statistic. Best of
             3: the contracts' steps as fast as polars and numpy do them, against the 3x target
  hs lib     the library call behind `hs stratify` (read, check, join, analyse) in this process,
             best of 3, and its ratio to the floor (the issue-16 target: within 3x)
  hs         `hs stratify` end to end in a subprocess (DeLong + Wilson, the default), peak RSS,
             and its ratio to the floor (it adds starting Python and importing polars, numpy, scipy)
  hs all     with --hs-metrics-all: `hs stratify --metrics all` (adds calibration fits per group and
             against the rest, ECE, minimum detectable differences shown)
  fairlearn  MetricFrame per stratifier with bootstrap intervals (n_boot), same metrics
  sklearn    a plain loop: per group, sklearn metrics + a stratified bootstrap of n_boot replicates

The baselines are linear in the number of replicates, so they are timed at two small replicate
counts and the time for --n-boot replicates is extrapolated from the fitted line (printed as
such). Usage:
  python benchmarks/stratify_speed.py [--rows 1000000] [--n-boot 1000] [--probe 2,6] [--hs-bootstrap]
                                      [--hs-metrics-all] [--baselines fairlearn,sklearn|none] [--shuffled]
--shuffled writes the labels file in a random row order (the files then share no row order and
the join must match ids; by default both are in the same order, as an export often is).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from stratify_data import LEVELS, make

from hstool.audit.options import StratifyOptions
from hstool.audit.stratify import run_stratify

METRIC_NAMES = ("auc", "sensitivity", "specificity", "ppv", "npv")


def group_metrics(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, float]:
    from sklearn.metrics import confusion_matrix, roc_auc_score

    tn, fp, fn, tp = confusion_matrix(y, s >= threshold, labels=[0, 1]).ravel()
    return {
        "auc": roc_auc_score(y, s),
        "sensitivity": tp / (tp + fn),
        "specificity": tn / (tn + fp),
        "ppv": tp / (tp + fp),
        "npv": tn / (tn + fn),
    }


def sklearn_loop(df: pl.DataFrame, n_boot: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    y_all, s_all = df["label"].to_numpy(), df["score"].to_numpy()
    for column in LEVELS:
        codes = df[column].to_numpy()
        for level in np.unique(codes):
            member = codes == level
            y, s = y_all[member], s_all[member]
            group_metrics(y, s, 0.5)
            pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
            draws = []
            for _ in range(n_boot):
                idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
                draws.append(group_metrics(y[idx], s[idx], 0.5))
            for name in METRIC_NAMES:
                np.quantile([d[name] for d in draws], [0.025, 0.975])


def fairlearn_job(df: pl.DataFrame, n_boot: int, seed: int = 0) -> None:
    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import precision_score, recall_score, roc_auc_score

    # MetricFrame passes one y_pred to every metric: the scores, thresholded where needed.
    metrics = {
        "auc": roc_auc_score,
        "sensitivity": lambda y, s: recall_score(y, s >= 0.5),
        "specificity": lambda y, s: recall_score(y, s >= 0.5, pos_label=0),
        "ppv": lambda y, s: precision_score(y, s >= 0.5),
        "npv": lambda y, s: precision_score(y, s >= 0.5, pos_label=0),
    }
    y, s = df["label"].to_numpy(), df["score"].to_numpy()
    for column in LEVELS:
        MetricFrame(
            metrics=metrics,
            y_true=y,
            y_pred=s,
            sensitive_features=df[column].to_numpy(),
            n_boot=n_boot,
            ci_quantiles=[0.025, 0.975],
            random_state=seed,
        )


def contract_steps(preds: Path, labels: Path) -> None:
    """The contract steps at their fastest: both files parsed by polars, then every check, both
    sorts and the score parse in one parallel query, and sha256 in a thread beside it."""
    data = [preds.read_bytes(), labels.read_bytes()]
    hashing = threading.Thread(target=lambda: [hashlib.sha256(d).hexdigest() for d in data])
    hashing.start()
    tables = [pl.read_csv(io.BytesIO(d), infer_schema=False).lazy() for d in data]
    ids = pl.col("image_id")
    checks = [
        t.select(blank=(ids.is_null() | (ids.str.strip_chars() == "")).any(), unique=ids.hash().n_unique())
        for t in tables
    ]
    score = tables[0].select(pl.col("score").str.strip_chars().cast(pl.Float64))
    done = pl.collect_all([*checks, *(t.sort("image_id") for t in tables), score])
    assert all(not c["blank"][0] and c["unique"][0] == t.height for c, t in zip(done[:2], done[2:4]))
    np.argsort(done[-1]["score"].to_numpy())
    hashing.join()


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def best_of(repeats: int, fn) -> float:
    return min(timed(fn) for _ in range(repeats))


def extrapolate(fn, df, probes: list[int], target: int) -> tuple[float, list[float]]:
    fn(df.head(1000), 1)  # warm up imports and caches before timing
    times = [timed(fn, df, b) for b in probes]
    slope, intercept = np.polyfit(probes, times, 1)
    return intercept + slope * target, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--probe", default="2,6", help="replicate counts at which the sklearn loop is timed")
    parser.add_argument(
        "--probe-fairlearn", default="1,2", help="replicate counts at which fairlearn is timed (it is slow)"
    )
    parser.add_argument("--hs-bootstrap", action="store_true", help="also time hs stratify --ci bootstrap --n-boot N")
    parser.add_argument("--hs-metrics-all", action="store_true", help="also time hs stratify --metrics all")
    parser.add_argument(
        "--baselines",
        default="fairlearn,sklearn",
        help="which baselines to time (fairlearn takes minutes per replicate at 1M rows)",
    )
    parser.add_argument("--shuffled", action="store_true", help="write the labels rows in a random order")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    chosen = set() if args.baselines == "none" else set(args.baselines.split(","))
    if chosen - {"fairlearn", "sklearn"}:
        raise SystemExit(
            f"--baselines: unknown {sorted(chosen - {'fairlearn', 'sklearn'})}; choose from fairlearn,sklearn"
        )
    probes = {
        "sklearn": [int(v) for v in args.probe.split(",")],
        "fairlearn": [int(v) for v in args.probe_fairlearn.split(",")],
    }
    folder = Path(args.workdir or tempfile.mkdtemp(prefix="hs-bench-"))
    preds, labels = make(folder, args.rows, shuffled=args.shuffled)
    hs = [sys.executable, "-m", "hstool", "stratify", str(preds), str(labels), "-q"]

    floor = best_of(3, lambda: (pl.read_csv(preds), pl.read_csv(labels)))
    contract = best_of(3, lambda: contract_steps(preds, labels))
    options = StratifyOptions(by=list(LEVELS))
    in_process = best_of(3, lambda: run_stratify(str(preds), str(labels), options))
    start = time.perf_counter()
    subprocess.run(hs + ["-o", str(folder / "strata.csv")], check=True)
    hs_time = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"rows {args.rows:,}; groups {sum(LEVELS.values())}; machine: {os.cpu_count()} CPUs")
    print(f"floor     polars read_csv of both files      {floor:8.2f} s   (best of 3)")
    print(
        f"contract  steps no audit can skip (no statistic) {contract:6.2f} s   {contract / floor:5.1f}x the floor (best of 3)"
    )
    print(
        f"hs lib    run_stratify in this process       {in_process:8.2f} s   {in_process / floor:5.1f}x the floor (best of 3)"
    )
    print(
        f"hs        stratify end to end (subprocess)   {hs_time:8.2f} s   {hs_time / floor:5.1f}x the floor; peak RSS {peak_mb:,.0f} MB"
    )
    if args.hs_metrics_all:
        start = time.perf_counter()
        subprocess.run(hs + ["--metrics", "all", "-o", str(folder / "strata_all.csv")], check=True)
        all_time = time.perf_counter() - start
        print(f"hs        --metrics all                      {all_time:8.2f} s   {all_time / floor:5.1f}x the floor")
    if args.hs_bootstrap:
        start = time.perf_counter()
        subprocess.run(
            hs + ["--ci", "bootstrap", "--n-boot", str(args.n_boot), "-o", str(folder / "strata_boot.csv")], check=True
        )
        boot_time = time.perf_counter() - start
        print(f"hs        --ci bootstrap --n-boot {args.n_boot}       {boot_time:8.2f} s")
    df = pl.read_csv(preds).join(pl.read_csv(labels), on="image_id")
    for name, fn in (("fairlearn", fairlearn_job), ("sklearn", sklearn_loop)):
        if name not in chosen:
            continue
        estimate, times = extrapolate(fn, df, probes[name], args.n_boot)
        measured = ", ".join(f"{t:.1f} s at n_boot={b}" for b, t in zip(probes[name], times))
        print(
            f"{name:9s} n_boot={args.n_boot} (extrapolated) {estimate:8.1f} s   hs is {estimate / hs_time:6.0f}x faster   [measured: {measured}]"
        )


if __name__ == "__main__":
    main()
