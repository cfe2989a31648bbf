"""Discovery benchmark: how well each `hs cluster` method recovers a planted slice.

On files: the real-image benchmark (`make bench-discovery`: `hs synth` plants the slices into
Fashion-MNIST and PneumoniaMNIST, `hs train` fits a small CNN, `hs predict --embeddings` scores
and embeds the test split). Each slice is TYPE:CONDITIONS, the conditions COL=VALUE (or COL
alone for a 0/1 column) on the labels file, joined by commas ("and"); every method clusters
once and is scored against every slice:

    python benchmarks/cluster_discovery.py --emb emb.npy --preds preds.csv --labels labels_test.csv \\
        --slice rare:subclass=shirt --slice noisy:subclass=coat --seed 0 --rows fashion_0.csv
    python benchmarks/cluster_discovery.py ... --slice spurious:drain_pos=no --rows pneumonia_0.csv
    python benchmarks/cluster_discovery.py --table fashion_*.csv pneumonia_*.csv   # mean ± SD

On synthetic embeddings (Gaussian blobs with a planted slice, errors drawn at planted rates;
NOT a model: see hstool/audit/cluster/planted.py), every slice type and several seeds:

    python benchmarks/cluster_discovery.py --synthetic --seeds 5

For each method, the clusters of the k that `hs cluster` reports, in the superclass that holds
the slice, are scored (definitions in hstool/audit/cluster/discovery.py):

- P@10, P@25, AP: Domino's protocol: every cluster ranks the superclass's cases (members first,
  closest to the centroid first, the rest tied last); the cluster with the highest average
  precision is credited with the slice;
- GEORGE P/R: precision and recall of the cluster holding most slice members;
- high P/R: precision and recall of the cluster `hs cluster` reports as high-error (what a
  user is shown; 0/0 when nothing is reported);
- err-AP: average precision of the ranking by cluster error rate, then closeness (no oracle).

Each row also carries what does not depend on the method: the superclass's size, the slice's
size and share of it (the precision of a random ranking), and the error rates of the slice and
of the rest of its superclass.
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

from hstool.audit.cluster.discovery import average_precision, cluster_precision_recall, error_ranking, recover  # noqa: E402
from hstool.audit.cluster.options import ClusterOptions, SearchOptions  # noqa: E402
from hstool.audit.cluster.planted import KINDS, planted_slice, write_planted  # noqa: E402
from hstool.audit.cluster.run import run_cluster  # noqa: E402

METHODS: dict[str, ClusterOptions] = {
    "paper (k-means)": ClusterOptions(),
    "k-means + silhouette": ClusterOptions(select="silhouette", search=SearchOptions(silhouette=True)),
    "gmm + silhouette (GEORGE-style)": ClusterOptions(
        select="silhouette", search=SearchOptions(method="gmm", silhouette=True)
    ),
    "error-gmm (Domino-style)": ClusterOptions(holdout=0.5, search=SearchOptions(method="error-gmm")),
    "error-gmm, error weight 10": ClusterOptions(
        holdout=0.5, search=SearchOptions(method="error-gmm", error_weight=10.0)
    ),
    "paper rule, k=2..10": ClusterOptions(search=SearchOptions(ks=tuple(range(2, 11)))),
    # Domino's default: 25 mixture components, slices credited by the best one.
    "error-gmm, k=25, min-size 10": ClusterOptions(
        holdout=0.5, min_size=10, search=SearchOptions(method="error-gmm", ks=(25,))
    ),
    # The geometry options of `hs cluster`: cosine geometry, and a low-dimensional projection
    # (Domino projects on principal components before its mixture).
    "paper (k-means), --normalize": ClusterOptions(search=SearchOptions(normalise=True)),
    "error-gmm, --pca 16": ClusterOptions(holdout=0.5, search=SearchOptions(method="error-gmm", pca=16)),
}
METRICS = ("p_at_10", "p_at_25", "ap", "george_precision", "george_recall", "high_precision", "high_recall", "error_ap")
HEADERS = ("P@10", "P@25", "AP", "GEORGE P", "GEORGE R", "high P", "high R", "err-AP")
# What a slice is, whatever the method: sizes, the share of its superclass (a random ranking's
# precision) and the model's error rates on it and on the rest of its superclass.
CONTEXT = ("n_superclass", "n_slice", "base_rate", "slice_error", "rest_error")
SLICE_ORDER = ("rare", "noisy", "spurious")

# Planted-slice settings of the synthetic benchmark (hstool/audit/cluster/planted.py).
SYNTHETIC = dict(n_per_class=3000, dims=128, latent=16, subclasses=4, fraction=0.05, base_error=0.08, separation=4.0)
SLICE_ERROR = {"rare": 0.6, "noisy": 0.9, "spurious": 0.5}


@dataclass(frozen=True)
class Files:
    emb: str
    preds: str
    labels: str


def parse_slice(text: str) -> tuple[str, list[str]]:
    """'TYPE:COL=VALUE[,COL=VALUE...]' -> (TYPE, conditions)."""
    kind, sep, conditions = text.partition(":")
    if not sep or not kind or not conditions:
        raise SystemExit(f"--slice {text!r}: expected TYPE:COL=VALUE[,COL=VALUE...], e.g. rare:subclass=shirt")
    return kind, conditions.split(",")


def slice_members(labels_path: str, conditions: list[str]) -> pl.DataFrame:
    """`image_id, member` from the labels file: rows meeting every COL=VALUE (or truthy COL)."""
    table = pl.read_csv(labels_path, infer_schema_length=0)  # every column as text
    member = pl.lit(True)
    for condition in conditions:
        column, sep, value = condition.partition("=")
        if column not in table.columns:
            raise SystemExit(f"{labels_path}: no column {column!r} for the slice condition {condition}")
        text = pl.col(column).str.strip_chars().str.to_lowercase()
        member = member & (text == value.strip().lower() if sep else text.is_in(["1", "true", "yes"]))
    return table.select("image_id", member.fill_null(False).alias("member"))


def score_slice(assignments: pl.DataFrame, members: pl.DataFrame, where: str) -> dict[str, float]:
    """Score one method's clusters (the assignments of `run_cluster`) against one slice."""
    a = assignments.join(members, on="image_id", how="left")
    member = a["member"].fill_null(False).to_numpy()
    holders = a.filter(pl.Series(member))["label"].unique().to_list()
    if len(holders) != 1:
        raise SystemExit(f"{where}: the slice spans {len(holders)} superclasses; plant it in one")
    in_superclass = (a["label"] == holders[0]).to_numpy()
    sc = a.filter(pl.Series(in_superclass))
    m = member[in_superclass]
    labels = sc["cluster"].fill_null("(none)").to_numpy()
    distance = sc["distance"].fill_null(0.0).to_numpy()
    errors = sc["error"].to_numpy().astype(bool)
    found = recover(labels, distance, m)
    high = sc["role"].to_numpy() == "high_error"
    hp, hr = cluster_precision_recall(labels, m, cluster=labels[high][0]) if high.any() else (0.0, 0.0)
    return {
        "superclass": str(holders[0]),
        "n_superclass": len(m),
        "n_slice": int(m.sum()),
        "base_rate": float(m.mean()),
        "slice_error": float(errors[m].mean()),
        "rest_error": float(errors[~m].mean()) if (~m).any() else float("nan"),
        "p_at_10": found.precision_at_10,
        "p_at_25": found.precision_at_25,
        "ap": found.average_precision,
        "george_precision": found.cluster_precision,
        "george_recall": found.cluster_recall,
        "high_precision": hp,
        "high_recall": hr,
        "error_ap": average_precision(error_ranking(labels, distance, errors), m),
    }


def evaluate(files: Files, slices: dict[str, list[str]], method: str, seed: int) -> list[dict]:
    """Run one method once (method seed `seed`) and score its clusters against every slice."""
    options = METHODS[method]
    options = replace(options, search=replace(options.search, seed=seed), by=[])
    assignments = run_cluster(files.emb, files.preds, files.labels, options).assignments
    return [
        {
            "slice": kind,
            "method": method,
            "seed": seed,
            **score_slice(assignments, slice_members(files.labels, conditions), f"{files.labels} ({kind})"),
        }
        for kind, conditions in slices.items()
    ]


def _cell(values) -> str:
    return f"{values.mean():.3f}" + (f" ± {values.std(ddof=1):.3f}" if len(values) > 1 else "")


def _ordered(df: pl.DataFrame) -> pl.DataFrame:
    """Slice types in SLICE_ORDER (others after, by name), methods in METHODS order."""
    rank = {k: i for i, k in enumerate(SLICE_ORDER)}
    methods = {m: i for i, m in enumerate(METHODS)}
    return (
        df.with_columns(
            pl.col("slice").replace_strict(rank, default=len(rank), return_dtype=pl.Int64).alias("_s"),
            pl.col("method").replace_strict(methods, default=len(methods), return_dtype=pl.Int64).alias("_m"),
        )
        .sort(["_s", "slice", "_m", "method", "seed"])
        .drop("_s", "_m")
    )


def context_table(rows: pl.DataFrame) -> str:
    """The slices themselves (one row per slice type): sizes, base rate, error rates."""
    # These columns do not depend on the method: one method's rows give one row per run.
    ordered = _ordered(rows)
    per_run = ordered.filter(pl.col("method") == pl.col("method").first().over("slice"))
    lines = [
        "| slice | data | superclass | runs | cases in superclass | slice cases | base rate | slice error | rest error |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (kind, dataset), g in per_run.group_by(["slice", "dataset"], maintain_order=True):
        superclass = ", ".join(sorted(set(g["superclass"].to_list())))
        cells = [f"{g['n_superclass'].mean():.0f}", f"{g['n_slice'].mean():.0f}"] + [
            _cell(g[c].to_numpy()) for c in ("base_rate", "slice_error", "rest_error")
        ]
        lines.append(f"| {kind} | {dataset} | {superclass} | {g.height} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table(rows: pl.DataFrame) -> str:
    """Mean (and standard deviation over seeds) per slice type and method."""
    lines = [
        "| slice | method | runs | " + " | ".join(HEADERS) + " |",
        "| --- | --- | ---: | " + " | ".join("---:" for _ in HEADERS) + " |",
    ]
    for (kind, method), group in _ordered(rows).group_by(["slice", "method"], maintain_order=True):
        cells = [_cell(group[metric].to_numpy()) for metric in METRICS]
        lines.append(f"| {kind} | {method} | {group.height} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def anchor(rows: pl.DataFrame) -> str:
    df = _ordered(rows).filter(pl.col("slice").is_in(["rare", "noisy"]))
    parts = [f"{method}: {g['p_at_10'].mean():.3f}" for (method,), g in df.group_by(["method"], maintain_order=True)]
    return (
        "mean P@10 over rare and noisy-label slices: "
        + "; ".join(parts)
        + " (Domino's error-aware mixture, ICLR 2022: 0.639)"
    )


def report(rows: pl.DataFrame) -> str:
    parts = [context_table(rows), "", table(rows)]
    if rows["slice"].is_in(["rare", "noisy"]).any():
        parts += ["", anchor(rows)]
    return "\n".join(parts)


def synthetic(seeds: int, methods: list[str]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in KINDS:
            for seed in range(seeds):
                folder = Path(tmp) / f"{kind}{seed}"
                folder.mkdir()
                paths = write_planted(
                    planted_slice(kind, slice_error=SLICE_ERROR[kind], seed=seed, **SYNTHETIC), folder
                )
                files = Files(str(paths["emb"]), str(paths["preds"]), str(paths["labels"]))
                for method in methods:
                    rows += [{**r, "dataset": "synthetic"} for r in evaluate(files, {kind: ["in_slice"]}, method, seed)]
                    print(
                        f"{kind} seed {seed} {method}: " + ", ".join(f"{k} {rows[-1][k]:.3f}" for k in METRICS),
                        file=sys.stderr,
                    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emb")
    parser.add_argument("--preds")
    parser.add_argument("--labels")
    parser.add_argument(
        "--slice",
        action="append",
        metavar="TYPE:COL=VALUE[,...]",
        help="a planted slice of the labels file (repeatable), e.g. rare:subclass=shirt or spurious:drain_pos=no",
    )
    parser.add_argument("--dataset", default="", help="name of the data in the rows and tables (e.g. Fashion-MNIST)")
    parser.add_argument("--seed", type=int, default=0, help="method seed on files (recorded in the rows)")
    parser.add_argument("--rows", help="also write the per-method rows here (CSV), for --table")
    parser.add_argument(
        "--table", nargs="+", metavar="ROWS.csv", help="only tabulate rows written by --rows (mean ± SD over the files)"
    )
    parser.add_argument("--synthetic", action="store_true", help="synthetic planted slices instead of files")
    parser.add_argument("--seeds", type=int, default=5, help="synthetic datasets (and method seeds) per slice type")
    parser.add_argument("--method", action="append", choices=list(METHODS), help="only these methods (repeatable)")
    args = parser.parse_args()
    methods = args.method or list(METHODS)
    if args.table:
        rows = pl.concat(
            [pl.read_csv(f, schema_overrides={"superclass": pl.String, "dataset": pl.String}) for f in args.table],
            how="diagonal_relaxed",
        )
    elif args.synthetic:
        rows = pl.DataFrame(synthetic(args.seeds, methods))
    else:
        if not (args.emb and args.preds and args.labels and args.slice):
            parser.error("give --emb, --preds, --labels and --slice (or --synthetic, or --table)")
        files = Files(args.emb, args.preds, args.labels)
        slices = dict(parse_slice(s) for s in args.slice)
        found = []
        for method in methods:
            found += evaluate(files, slices, method, args.seed)
            print(
                f"{args.dataset} seed {args.seed} {method}: "
                + "; ".join(f"{r['slice']} P@10 {r['p_at_10']:.2f} AP {r['ap']:.3f}" for r in found[-len(slices) :]),
                file=sys.stderr,
            )
        rows = pl.DataFrame(found).with_columns(pl.lit(args.dataset).alias("dataset"))
        if args.rows:
            rows.write_csv(args.rows)
    print(report(rows))


if __name__ == "__main__":
    main()
