"""Speed and memory of `hs cluster` against scikit-learn KMeans doing the same search.

    python benchmarks/cluster_speed.py                      # 100,000 x 1,024, 5 superclasses
    python benchmarks/cluster_speed.py --rows 20000 --dims 256
    python benchmarks/cluster_speed.py --memory --rows 1000000   # peak RSS of hs cluster, no baseline

The embeddings are synthetic but shaped like penultimate-layer features: each superclass is a
mixture of 6 blobs in a 32-dimensional latent space, mapped to `--dims` by a random linear map,
passed through a ReLU, plus noise. Errors are planted at a higher rate in one blob.

Baseline: for every superclass and every k in 2..5, `sklearn.cluster.KMeans(k, n_init=3)` on the
float32 embeddings, then the paper's selection rule. hs: the same search through
`hstool.audit.cluster.search.search_superclass` (sketched k-means, see cluster_kmeans.py) and the
same rule. Both run in this process on the same arrays; the script prints both times, their
ratio, and how far the results agree (adjusted Rand index per superclass and k, and whether the
same pair is reported). `--end-to-end` also times `hs cluster` on files (reading, statistics,
writing) in a subprocess. `--memory` writes the files and reports the peak resident memory of
`hs cluster` (ru_maxrss of the child process).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hstool.audit.cluster.options import SearchOptions  # noqa: E402
from hstool.audit.cluster.search import search_superclass  # noqa: E402
from hstool.audit.cluster.select import Partition, select  # noqa: E402
from hstool.audit.cluster.space import member_means  # noqa: E402

KS = (2, 3, 4, 5)
_CHUNK = 50_000


def superclass_block(
    rng: np.random.Generator, n: int, dims: int, latent: int = 32, blobs: int = 6
) -> tuple[np.ndarray, np.ndarray]:
    """n embeddings of one superclass and their planted errors (blob 0 errs at 40%, others 5%)."""
    centres = rng.normal(size=(blobs, latent)) * 1.5
    mapping = rng.normal(size=(latent, dims)).astype(np.float32) / np.sqrt(latent)
    x = np.empty((n, dims), dtype=np.float32)
    blob = rng.integers(0, blobs, n)
    for start in range(0, n, _CHUNK):
        b = blob[start : start + _CHUNK]
        z = (centres[b] + rng.normal(size=(len(b), latent))).astype(np.float32)
        x[start : start + len(b)] = np.maximum(
            z @ mapping + 0.3 * rng.standard_normal((len(b), dims), dtype=np.float32), 0
        )
    errors = rng.random(n) < np.where(blob == 0, 0.4, 0.05)
    return x, errors


def make_data(rows: int, dims: int, superclasses: int, seed: int):
    rng = np.random.default_rng(seed)
    per = rows // superclasses
    blocks = [superclass_block(rng, per, dims) for _ in range(superclasses)]
    return [b[0] for b in blocks], [b[1] for b in blocks]


def baseline_search(x: np.ndarray, seed: int) -> dict[int, np.ndarray]:
    from sklearn.cluster import KMeans

    return {k: KMeans(n_clusters=k, n_init=3, random_state=seed).fit(x).labels_.astype(np.int64) for k in KS}


def hs_search(x: np.ndarray, errors: np.ndarray, seed: int, key: int) -> dict[int, np.ndarray]:
    fit = np.ones(len(x), dtype=bool)
    return {c.k: c.labels for c in search_superclass(x, errors, fit, SearchOptions(ks=KS, seed=seed), key)}


def selected(x: np.ndarray, errors: np.ndarray, labelled: dict[int, np.ndarray], min_size: int = 100):
    """The paper's rule on one superclass: (k, members of the high cluster, of the low cluster)."""
    parts = []
    for k, labels in labelled.items():
        sizes = np.bincount(labels, minlength=k)
        wrong = np.bincount(labels, weights=errors.astype(float), minlength=k).astype(np.int64)
        parts.append(Partition(k, sizes, wrong, member_means(x, labels, k)))
    sel = select(parts, min_size)
    if sel.pair is None:
        return None
    labels = labelled[sel.k]
    return sel.k, labels == sel.pair.high, labels == sel.pair.low


def compare(xs, errs, seed: int) -> None:
    from sklearn.metrics import adjusted_rand_score

    t0 = time.perf_counter()
    base = [baseline_search(x, seed) for x in xs]
    t_base = time.perf_counter() - t0
    base_sel = [selected(x, e, b) for x, e, b in zip(xs, errs, base)]
    t0 = time.perf_counter()
    ours = [hs_search(x, e, seed, key) for key, (x, e) in enumerate(zip(xs, errs))]
    t_hs = time.perf_counter() - t0
    ours_sel = [selected(x, e, o) for x, e, o in zip(xs, errs, ours)]
    print(f"baseline sklearn KMeans(n_init=3), k={KS} per superclass: {t_base:8.2f} s")
    print(f"hs cluster search (sketched k-means, n_init=3):          {t_hs:8.2f} s")
    print(f"speed-up (baseline / hs): {t_base / t_hs:.2f}x")
    # How much two baseline runs that differ only in their seed disagree: the yardstick for
    # "equivalent" (k-means has several local optima when k is below the number of blobs).
    other = [baseline_search(x, seed + 1) for x in xs]
    grid = ",".join(map(str, KS))
    ari = np.array([[adjusted_rand_score(b[k], o[k]) for k in KS] for b, o in zip(base, ours)])
    ari_seed = np.array([[adjusted_rand_score(b[k], o[k]) for k in KS] for b, o in zip(base, other)])
    ratio = np.array([[inertia(x, o[k], k) / inertia(x, b[k], k) for k in KS] for x, b, o in zip(xs, base, ours)])
    ratio_seed = np.array([[inertia(x, o[k], k) / inertia(x, b[k], k) for k in KS] for x, b, o in zip(xs, base, other)])
    print(f"per superclass (rows) and k={grid} (columns):")
    _grid("adjusted Rand index, hs vs baseline", ari)
    _grid("adjusted Rand index, baseline seed+1 vs baseline", ari_seed)
    _grid("k-means objective (inertia), hs / baseline", ratio)
    _grid("k-means objective (inertia), baseline seed+1 / baseline", ratio_seed)
    print(f"mean ARI hs vs baseline {ari.mean():.3f}; baseline vs itself with another seed {ari_seed.mean():.3f}")
    print(
        f"inertia hs / baseline: median {np.median(ratio):.4f}, max {ratio.max():.4f}; baseline seed+1 / baseline: median {np.median(ratio_seed):.4f}, max {ratio_seed.max():.4f}"
    )
    other_sel = [selected(x, e, o) for x, e, o in zip(xs, errs, other)]
    print("reported pair (the paper's rule), compared with the baseline's:")
    same_hs = sum(_same_pair(i, "hs", b, o) for i, (b, o) in enumerate(zip(base_sel, ours_sel)))
    same_seed = sum(_same_pair(i, "baseline seed+1", b, o) for i, (b, o) in enumerate(zip(base_sel, other_sel)))
    print(
        f"same reported pair (k equal, Jaccard > 0.99): hs {same_hs} of {len(xs)}; baseline seed+1 {same_seed} of {len(xs)}"
    )


def _same_pair(i: int, name: str, b, o) -> bool:
    if b is None or o is None:
        print(
            f"  superclass {i}: baseline {'none' if b is None else 'k=%d' % b[0]}, {name} {'none' if o is None else 'k=%d' % o[0]}"
        )
        return b is None and o is None
    jac_high = (b[1] & o[1]).sum() / max((b[1] | o[1]).sum(), 1)
    jac_low = (b[2] & o[2]).sum() / max((b[2] | o[2]).sum(), 1)
    print(
        f"  superclass {i}: baseline k={b[0]}, {name} k={o[0]}; Jaccard of high-error cluster {jac_high:.3f}, low-error {jac_low:.3f}"
    )
    return bool(b[0] == o[0] and jac_high > 0.99 and jac_low > 0.99)


def inertia(x: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Sum of squared distances to the cluster means, in float64."""
    centres = member_means(x, labels, k)
    return float(sum(((x[labels == j].astype(np.float64) - centres[j]) ** 2).sum() for j in range(k)))


def _grid(title: str, values: np.ndarray) -> None:
    print(f"  {title}:")
    for row in values:
        print("    " + "  ".join(f"{v:.3f}" for v in row))


def write_files(xs, errs, folder: Path) -> list[str]:
    """emb.npy (+ ids), preds.csv, labels.csv for `hs cluster`, written without a second copy."""
    import polars as pl

    rows, dims = sum(len(x) for x in xs), xs[0].shape[1]
    emb = np.lib.format.open_memmap(folder / "emb.npy", mode="w+", dtype=np.float32, shape=(rows, dims))
    labels, errors, start = [], [], 0
    for i, (x, e) in enumerate(zip(xs, errs)):
        emb[start : start + len(x)] = x
        start += len(x)
        labels.append(np.full(len(x), i))
        errors.append(e)
    emb.flush()
    del emb
    label, error = np.concatenate(labels), np.concatenate(errors)
    ids = [f"i{j:07d}" for j in range(rows)]
    pl.DataFrame({"image_id": ids}).write_csv(folder / "emb.ids.csv")
    pl.DataFrame({"image_id": ids, "pred": np.where(error, (label + 1) % len(xs), label).astype(str)}).write_csv(
        folder / "preds.csv"
    )
    pl.DataFrame({"image_id": ids, "label": label.astype(str)}).write_csv(folder / "labels.csv")
    return [str(folder / n) for n in ("emb.npy", "preds.csv", "labels.csv")]


def run_hs(files: list[str], folder: Path) -> tuple[float, float]:
    """Wall time and peak RSS (GiB) of `hs cluster` on the files, in a child process."""
    cmd = [
        sys.executable,
        "-m",
        "hstool",
        "cluster",
        *files,
        "-o",
        str(folder / "clusters.csv"),
        "--summary",
        str(folder / "summary.csv"),
        "-q",
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env)
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, peak_kib / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=1024)
    parser.add_argument("--superclasses", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--end-to-end", action="store_true", help="also time hs cluster on files")
    parser.add_argument("--memory", action="store_true", help="only measure hs cluster's peak memory on files")
    args = parser.parse_args()
    print(
        f"{args.rows:,} x {args.dims:,} float32, {args.superclasses} superclasses, seed {args.seed}; {os.cpu_count()} CPUs"
    )
    xs, errs = make_data(args.rows, args.dims, args.superclasses, args.seed)
    if not args.memory:
        compare(xs, errs, args.seed)
    if args.memory or args.end_to_end:
        with tempfile.TemporaryDirectory(dir=ROOT / "bench_out" if (ROOT / "bench_out").is_dir() else None) as tmp:
            files = write_files(xs, errs, Path(tmp))
            del xs, errs
            wall, peak = run_hs(files, Path(tmp))
            size = os.path.getsize(files[0]) / 2**30
            print(
                f"hs cluster end to end (read, cluster, statistics, write): {wall:.1f} s, peak RSS {peak:.2f} GiB (emb.npy {size:.2f} GiB)"
            )


if __name__ == "__main__":
    main()
