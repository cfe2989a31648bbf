"""Discovery benchmark: how well each `hs cluster` method recovers a planted slice.

On files (e.g. `hs synth` planted strata, then `hs train`, `hs predict` and `hs embed` on the
test split), with the slice given as labels-file conditions (COL=VALUE, or COL alone for a 0/1
column; several are combined with "and"):

    python benchmarks/cluster_discovery.py --emb emb.npy --preds preds.csv --labels labels_test.csv \\
        --slice subclass=Shirt --slice-type rare
    python benchmarks/cluster_discovery.py ... --slice drain_pos=no --slice-type spurious

On synthetic embeddings (Gaussian blobs with a planted slice, errors drawn at planted rates;
NOT a model: see hstool/audit/planted.py), every slice type and several seeds:

    python benchmarks/cluster_discovery.py --synthetic --seeds 5

For each method, the clusters of the k that `hs cluster` reports, in the superclass that holds
the slice, are scored (definitions in hstool/audit/discovery_metrics.py):

- P@10, P@25, AP: Domino's protocol: every cluster ranks the superclass's cases (members first,
  closest to the centroid first, the rest tied last); the cluster with the highest average
  precision is credited with the slice;
- GEORGE P/R: precision and recall of the cluster holding most slice members;
- high P/R: precision and recall of the cluster `hs cluster` reports as high-error (what a
  user is shown; 0/0 when nothing is reported);
- err-AP: average precision of the ranking by cluster error rate, then closeness (no oracle).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hstool.audit.cluster import ClusterOptions, run_cluster  # noqa: E402
from hstool.audit.cluster_search import SearchOptions  # noqa: E402
from hstool.audit.discovery_metrics import average_precision, cluster_precision_recall, error_ranking, recover  # noqa: E402
from hstool.audit.planted import KINDS, planted_slice, write_planted  # noqa: E402

METHODS: dict[str, ClusterOptions] = {
    "paper (k-means)": ClusterOptions(),
    "k-means + silhouette": ClusterOptions(select="silhouette", search=SearchOptions(silhouette=True)),
    "gmm + silhouette (GEORGE-style)": ClusterOptions(select="silhouette", search=SearchOptions(method="gmm", silhouette=True)),
    "error-gmm (Domino-style)": ClusterOptions(holdout=0.5, search=SearchOptions(method="error-gmm")),
    "error-gmm, error weight 10": ClusterOptions(holdout=0.5, search=SearchOptions(method="error-gmm", error_weight=10.0)),
    "paper rule, k=2..10": ClusterOptions(search=SearchOptions(ks=tuple(range(2, 11)))),
    # Domino's default: 25 mixture components, slices credited by the best one.
    "error-gmm, k=25, min-size 10": ClusterOptions(holdout=0.5, min_size=10, search=SearchOptions(method="error-gmm", ks=(25,))),
}
METRICS = ("p_at_10", "p_at_25", "ap", "george_precision", "george_recall", "high_precision", "high_recall", "error_ap")
HEADERS = ("P@10", "P@25", "AP", "GEORGE P", "GEORGE R", "high P", "high R", "err-AP")

# Planted-slice settings of the synthetic benchmark (hstool/audit/planted.py).
SYNTHETIC = dict(n_per_class=3000, dims=128, latent=16, subclasses=4, fraction=0.05, base_error=0.08, separation=4.0)
SLICE_ERROR = {"rare": 0.6, "noisy": 0.9, "spurious": 0.5}


@dataclass(frozen=True)
class Files:
    emb: str
    preds: str
    labels: str


def slice_members(labels_path: str, conditions: list[str]) -> pl.DataFrame:
    """`image_id, member` from the labels file: rows meeting every COL=VALUE (or truthy COL)."""
    table = pl.read_csv(labels_path, infer_schema_length=0)  # every column as text
    member = pl.lit(True)
    for condition in conditions:
        column, sep, value = condition.partition("=")
        if column not in table.columns:
            raise SystemExit(f"{labels_path}: no column {column!r} for --slice {condition}")
        text = pl.col(column).str.strip_chars().str.to_lowercase()
        member = member & (text == value.strip().lower() if sep else text.is_in(["1", "true", "yes"]))
    return table.select("image_id", member.fill_null(False).alias("member"))


def evaluate(files: Files, conditions: list[str], options: ClusterOptions) -> dict[str, float]:
    """Run one method and score its clusters against the planted slice."""
    result = run_cluster(files.emb, files.preds, files.labels, options)
    a = result.assignments.join(slice_members(files.labels, conditions), on="image_id", how="left")
    member = a["member"].fill_null(False).to_numpy()
    holders = a.filter(pl.Series(member))["label"].unique().to_list()
    if len(holders) != 1:
        raise SystemExit(f"{files.labels}: the slice spans {len(holders)} superclasses; plant it in one")
    sc = a.filter(pl.col("label") == holders[0])
    m = member[(a["label"] == holders[0]).to_numpy()]
    labels = sc["cluster"].fill_null("(none)").to_numpy()
    distance = sc["distance"].fill_null(0.0).to_numpy()
    found = recover(labels, distance, m)
    high = sc["role"].to_numpy() == "high_error"
    hp, hr = cluster_precision_recall(labels, m, cluster=labels[high][0]) if high.any() else (0.0, 0.0)
    return {
        "p_at_10": found.precision_at_10, "p_at_25": found.precision_at_25, "ap": found.average_precision,
        "george_precision": found.cluster_precision, "george_recall": found.cluster_recall,
        "high_precision": hp, "high_recall": hr,
        "error_ap": average_precision(error_ranking(labels, distance, sc["error"].to_numpy()), m),
    }


def table(rows: list[dict]) -> str:
    """Mean (and standard deviation over seeds) per slice type and method."""
    df = pl.DataFrame(rows)
    lines = ["| slice | method | runs | " + " | ".join(HEADERS) + " |", "| --- | --- | ---: | " + " | ".join("---:" for _ in HEADERS) + " |"]
    for (kind, method), group in df.group_by(["slice", "method"], maintain_order=True):
        cells = []
        for metric in METRICS:
            values = group[metric].to_numpy()
            cells.append(f"{values.mean():.3f}" + (f" ± {values.std(ddof=1):.3f}" if len(values) > 1 else ""))
        lines.append(f"| {kind} | {method} | {group.height} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def anchor(rows: list[dict]) -> str:
    df = pl.DataFrame(rows).filter(pl.col("slice").is_in(["rare", "noisy"]))
    parts = [f"{method}: {g['p_at_10'].mean():.3f}" for (method,), g in df.group_by(["method"], maintain_order=True)]
    return "mean P@10 over rare and noisy-label slices: " + "; ".join(parts) + " (Domino's error-aware mixture, ICLR 2022: 0.639)"


def synthetic(seeds: int, methods: list[str]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in KINDS:
            for seed in range(seeds):
                folder = Path(tmp) / f"{kind}{seed}"
                folder.mkdir()
                paths = write_planted(planted_slice(kind, slice_error=SLICE_ERROR[kind], seed=seed, **SYNTHETIC), folder)
                files = Files(str(paths["emb"]), str(paths["preds"]), str(paths["labels"]))
                for method in methods:
                    options = METHODS[method]
                    options = replace(options, search=replace(options.search, seed=seed), by=[])
                    rows.append({"slice": kind, "method": method, "seed": seed, **evaluate(files, ["in_slice"], options)})
                    print(f"{kind} seed {seed} {method}: " + ", ".join(f"{k} {rows[-1][k]:.3f}" for k in METRICS), file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emb")
    parser.add_argument("--preds")
    parser.add_argument("--labels")
    parser.add_argument("--slice", action="append", help="slice membership: COL=VALUE or a 0/1 COL of the labels file (repeatable: and); default in_slice")
    parser.add_argument("--slice-type", default="planted", help="name of the slice in the table (rare, noisy, spurious)")
    parser.add_argument("--synthetic", action="store_true", help="synthetic planted slices instead of files")
    parser.add_argument("--seeds", type=int, default=5, help="synthetic datasets (and method seeds) per slice type")
    parser.add_argument("--seed", type=int, default=0, help="method seed on files")
    parser.add_argument("--method", action="append", choices=list(METHODS), help="only these methods (repeatable)")
    args = parser.parse_args()
    methods = args.method or list(METHODS)
    if args.synthetic:
        rows = synthetic(args.seeds, methods)
    else:
        if not (args.emb and args.preds and args.labels):
            parser.error("give --emb, --preds and --labels (or --synthetic)")
        files = Files(args.emb, args.preds, args.labels)
        rows = []
        for method in methods:
            options = replace(METHODS[method], search=replace(METHODS[method].search, seed=args.seed), by=[])
            rows.append({"slice": args.slice_type, "method": method, "seed": args.seed, **evaluate(files, args.slice or ["in_slice"], options)})
    print(table(rows))
    if {"rare", "noisy"} & {r["slice"] for r in rows}:
        print()
        print(anchor(rows))


if __name__ == "__main__":
    main()
