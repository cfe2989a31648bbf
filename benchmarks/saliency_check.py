"""Does the saliency point at a planted shortcut? A measured check of `hs saliency` on real
chest X-rays with a planted drain, for occlusion and Grad-CAM side by side.

Every step is a plain hs command:

1. `hs synth`: a drain planted into PneumoniaMNIST images as `make sample-data` does (drains in
   90% of training positives and 10% of negatives; half of the test positives), with
   `regions.csv` recording each drain's mask;
2. `hs train`: the small CNN (as `make demo`: --epochs 30 --lr 1e-3), which learns the drain;
3. `hs predict` on the test split, at the 0.5 threshold;
4. `hs saliency --checkpoint model.pt` (occlusion in probability, and Grad-CAM),
   `hs saliency --scale log-odds` (occlusion in log-odds) and `hs saliency --patch 2 --stride 1`
   (finer occlusion) on three groups of test images:
   - drained positives the model gets right (their drain is the region),
   - drain-free positives it misses. They have no drain; their region is a **placebo**: the
     drain hs synth would have drawn on that image (the same seeded stream, `seeded_rng(seed,
     "drain", image_id)`), i.e. the same kind of region, where nothing was planted;
   - drained negatives it calls positive (false positives with a drain: the shortcut alone);
5. scores (hstool.saliency.pointing): the pointing game (is the map's maximum inside the
   region? ties share the hit) and the share of the map's positive mass inside the region,
   against chance (the region's share of the image), as means with 95% intervals (normal
   approximation) over the images of each group.

A model that uses the drain should point at it on drained positives far above chance; on the
placebo region of drain-free positives it should be near chance (a map drawn to the chest wall
whatever is there would score high on both).

Usage: PYTHONPATH=. python benchmarks/saliency_check.py [DATA_DIR] [--out OUT] [--epochs 30]
       [--seed 2019] [--train-seed 0] [--per-class train=200,val=50,test=200] [--max-per-group 100]
       [--reuse]   (--reuse: keep OUT/data and OUT/model from an earlier run with the same options)
Prints a Markdown table (docs/benchmarks.md) and writes OUT/check.csv (one row per image and method).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from hstool.saliency.index import read_index
from hstool.saliency.pointing import score_region
from hstool.synth.plan import seeded_rng
from hstool.synth.plant import Drain
from hstool.synth.regions import read_region_masks

ROOT = Path(__file__).resolve().parents[1]
SPURIOUS = "drain:pos=0.9,neg=0.1,test.pos=0.5,test.neg=0.1"  # as make sample-data


def hs(*args: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    print("$ hs " + " ".join(args), file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "hstool", *args, "-q"], check=True, env=env)


def groups(data: Path, preds: Path) -> pl.DataFrame:
    """image_id, group: drained positives predicted right, drain-free positives missed."""
    labels = pl.read_csv(data / "labels_test.csv", infer_schema=False)
    scores = pl.read_csv(preds, schema_overrides={"image_id": pl.String})
    cases = labels.join(scores, on="image_id")
    positive, drained, called = pl.col("label") == "1", pl.col("drain") == "yes", pl.col("score") >= 0.5
    chosen = {
        "drained positives, predicted right": positive & drained & called,
        "drain-free positives, missed (placebo region)": positive & ~drained & ~called,
        "drained negatives, called positive": ~positive & drained & called,
    }
    return pl.concat([cases.filter(rule).with_columns(pl.lit(name).alias("group")) for name, rule in chosen.items()])[
        ["image_id", "group"]
    ]


def region(image_id: str, masks: dict[str, np.ndarray], seed: int, shape: tuple[int, int]) -> np.ndarray:
    """The planted drain's mask, or for an image without one the drain hs synth would have drawn."""
    if image_id in masks:
        return masks[image_id]
    return Drain.random(seeded_rng(seed, "drain", image_id), *shape).coverage(*shape) > 0


def mean_ci(values: np.ndarray) -> str:
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return "-"
    mean, half = values.mean(), 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    return f"{mean:.3f} [{max(0.0, mean - half):.3f}, {min(1.0, mean + half):.3f}]"  # scores lie in [0, 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", default=os.environ.get("HS_DATA_DIR", "../shared/data"))
    parser.add_argument("--out", default="out/saliency_check")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2019, help="hs synth's seed")
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--per-class", default="train=200,val=50,test=200")
    parser.add_argument("--spurious", default=SPURIOUS)
    parser.add_argument("--max-per-group", type=int, default=100, help="images per group (a seeded sample)")
    parser.add_argument("--reuse", action="store_true", help="keep OUT/data and OUT/model of an earlier run")
    args = parser.parse_args()
    out = Path(args.out)
    data, model = out / "data", out / "model"
    npz = str(Path(args.data_dir) / "pneumoniamnist" / "pneumoniamnist.npz")
    started = time.perf_counter()
    if not (args.reuse and (model / "model.onnx").is_file()):
        hs("synth", "--from-npz", npz, "--per-class", args.per_class, "--spurious", args.spurious,
           "--seed", str(args.seed), "--out-dir", str(data), "--force")  # fmt: skip
        hs("train", str(data / "manifest.csv"), "-o", str(model), "--epochs", str(args.epochs), "--lr", "1e-3",
           "--seed", str(args.train_seed), "--force")  # fmt: skip
    manifest = pl.read_csv(data / "manifest.csv", infer_schema=False)
    manifest.filter(pl.col("split") == "test").write_csv(out / "test_manifest.csv")
    hs("predict", str(model / "model.onnx"), str(out / "test_manifest.csv"), "--root", str(data),
       "-o", str(out / "preds.csv"))  # fmt: skip
    chosen = groups(data, out / "preds.csv")
    chosen = chosen.with_columns(pl.Series("r", np.random.default_rng(args.seed).random(chosen.height)))
    chosen = chosen.sort("group", "r").group_by("group", maintain_order=True).head(args.max_per_group).drop("r")
    chosen.select("image_id").write_csv(out / "ids.csv")
    common = [
        str(model / "model.onnx"),
        str(out / "test_manifest.csv"),
        "--root",
        str(data),
        "--ids",
        str(out / "ids.csv"),
    ]
    hs("saliency", *common, "--checkpoint", str(model / "model.pt"), "-o", str(out / "maps"), "--force")
    hs("saliency", *common, "--scale", "log-odds", "-o", str(out / "maps_log_odds"), "--force")
    hs("saliency", *common, "--patch", "2", "--stride", "1", "-o", str(out / "maps_fine"), "--force")
    elapsed = time.perf_counter() - started

    masks = read_region_masks(str(data / "regions.csv"))
    group_of = dict(zip(chosen["image_id"].to_list(), chosen["group"].to_list()))
    rows = []
    for folder, label in (("maps", {"occlusion": "occlusion (probability)", "gradcam": "Grad-CAM"}),
                          ("maps_log_odds", {"occlusion": "occlusion (log-odds)"}),
                          ("maps_fine", {"occlusion": "occlusion (patch 2, stride 1)"})):  # fmt: skip
        index = read_index(str(out / folder))
        for method in index.methods:
            for image_id, path in index.files(method, "map").items():
                heat = index.load_map(path)
                score = score_region(heat, region(image_id, masks, args.seed, heat.shape))
                rows.append({"image_id": image_id, "group": group_of[image_id], "method": label[method], **vars(score)})
    table = pl.DataFrame(rows)
    table.write_csv(out / "check.csv")
    print("| group | method | n | pointing game | mass inside | chance (region share) |")
    print("| --- | --- | ---: | --- | --- | --- |")
    for (group, method), part in table.sort("group", maintain_order=True).group_by(
        "group", "method", maintain_order=True
    ):
        print(
            f"| {group} | {method} | {part.height} | {mean_ci(part['hit'].to_numpy())} | "
            f"{mean_ci(part['mass'].to_numpy())} | {mean_ci(part['chance'].to_numpy())} |"
        )
    counts = chosen.group_by("group", maintain_order=True).len().rows()
    print(f"\ngroups: {', '.join(f'{g}: {n}' for g, n in counts)}; all steps {elapsed:.0f} s")


if __name__ == "__main__":
    main()
