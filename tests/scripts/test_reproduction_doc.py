"""scripts/reproduction_doc.py, the last step of `make repro-superclass` / `make repro-spurious`, on
tiny fake outputs: predictions are made up (no training), but the tables and their sidecars are
written by the real `hs stratify` and `hs cluster`, so the script reads what the targets write.
The synth and train sidecars are hand-written with the keys the script reads."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import ROOT

SCRIPT = ROOT / "scripts" / "reproduction_doc.py"
SEEDS = ("1", "2")


def write_sidecar(artifact: Path, meta: dict) -> None:
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.write_text("stand-in\n")
    Path(f"{artifact}.meta.json").write_text(json.dumps(meta))


def train_meta(seed: str, experiments: list[dict], metric: str) -> dict:
    return {
        "command": f"hs train manifest.csv -o model --seed {seed}",
        "parameters": {
            "optimizer": "adam",
            "lr": 0.001,
            "batch_size": 32,
            "epochs": 3,
            "augment": False,
            "val_frac": None,
        },
        "architecture": "smallcnn",
        "n_train": 90,
        "n_val": 10,
        "validation": "val-frac",
        "metric": metric,
        "device": "cpu",
        "experiments": experiments,
    }


def run_script(target: str, out: Path, doc: Path, seeds=SEEDS) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), target, str(out), str(doc), "--seeds", " ".join(seeds)],
        capture_output=True,
        text=True,
        check=False,
    )


# --------------------------------------------------------------------------- superclass


SUBCLASSES = {"a": "X", "b": "X", "c": "Y", "d": "Y"}
N_PER_SUBCLASS = 100


def make_superclass_outputs(out: Path, run_hs) -> dict[tuple[str, str], float]:
    """Subclass b is right 59 or 58 times in 100 at baseline, 20 when subsampled, and as at baseline
    when noisy; every other subclass 90 times. Returns b's accuracy per (condition, seed)."""
    test = out / "data" / "test"
    test.mkdir(parents=True)
    ids = [f"{s}{i:03d}" for s in SUBCLASSES for i in range(N_PER_SUBCLASS)]
    labels = pl.DataFrame({"image_id": ids, "label": [SUBCLASSES[i[0]] for i in ids], "subclass": [i[0] for i in ids]})
    labels.write_csv(test / "labels_test.csv")
    synth = {"parameters": {"superclasses": {"X": ["a", "b"], "Y": ["c", "d"]}, "per_class": {"*": 25}}, "seed": 7}
    write_sidecar(
        out / "data" / "train" / "labels.csv",
        synth | {"command": "hs synth train", "counts": {"train": {"images": 100}}},
    )
    write_sidecar(test / "labels.csv", synth | {"command": "hs synth test", "counts": {"test": {"images": 400}}})
    experiments = {
        "baseline": [],
        "subsampled": [
            {
                "experiment": "subsample",
                "column": "subclass",
                "value": "b",
                "fraction": 0.75,
                "matching": 25,
                "affected": 19,
            }
        ],
        "noisy": [
            {
                "experiment": "label_noise",
                "column": "subclass",
                "value": "b",
                "fraction": 0.25,
                "matching": 25,
                "affected": 6,
            }
        ],
    }
    accuracy_b = {}
    for condition, exp in experiments.items():
        for seed in SEEDS:
            d = out / condition / f"seed{seed}"
            write_sidecar(d / "model" / "train_log.csv", train_meta(seed, exp, "accuracy"))
            right_b = 20 if condition == "subsampled" else 60 - int(seed)  # seeds differ a little
            pred = []
            for i in ids:
                sub, k = i[0], int(i[1:])
                right = k < (right_b if sub == "b" else 90)
                pred.append(SUBCLASSES[sub] if right else ("Y" if SUBCLASSES[sub] == "X" else "X"))
            accuracy_b[(condition, seed)] = (right_b) / N_PER_SUBCLASS
            pl.DataFrame({"image_id": ids, "pred": pred}).write_csv(d / "preds.csv")
            Path(f"{d / 'preds.csv'}.meta.json").write_text(json.dumps({"command": "hs predict model.onnx test.csv"}))
            result = run_hs(
                "stratify",
                str(d / "preds.csv"),
                str(test / "labels_test.csv"),
                "--by",
                "subclass",
                "-o",
                str(d / "strata.csv"),
                "-q",
            )
            assert result.returncode == 0, result.stderr
    return accuracy_b


def test_superclass_section(tmp_path, run_hs):
    out = tmp_path / "repro-superclass"
    accuracy_b = make_superclass_outputs(out, run_hs)
    doc = tmp_path / "reproduction.md"
    result = run_script("superclass", out, doc)
    assert result.returncode == 0, result.stderr
    text = doc.read_text()
    assert text.count("<!-- BEGIN repro-superclass") == 1 and text.count("<!-- END repro-superclass -->") == 1
    # Table 1: b's accuracy per seed and its mean ± SD (sample SD) across the seeds.
    base = [accuracy_b[("baseline", s)] for s in SEEDS]
    expected = (
        f"| baseline | {statistics.mean(base):.3f} ± {statistics.stdev(base):.3f} | {base[0]:.3f}, {base[1]:.3f} |"
    )
    assert expected in text
    change = [accuracy_b[("subsampled", s)] - accuracy_b[("baseline", s)] for s in SEEDS]
    assert f"{statistics.mean(change):.3f} ± {statistics.stdev(change):.3f}" in text
    assert "Subclass acted on: **b** (superclass X)" in text
    # b loses accuracy in every seed when subsampled, and more than X does; noisy changes nothing.
    assert "**Table 1, subsampling: Reproduced.**" in text
    assert "**Table 1, label noise: Not reproduced.**" in text
    # b (59/100 or less) is far below a (90/100) in X: hs stratify flags it in both seeds.
    assert "| b | X |" in text and "2 of 2" in text
    assert "**Figure 1 (subclasses far below their superclass): Reproduced.**" in text
    assert "hs stratify " in text and "hs synth train" in text  # commands come from the sidecars


def test_missing_seed_is_a_clear_error(tmp_path, run_hs):
    out = tmp_path / "repro-superclass"
    make_superclass_outputs(out, run_hs)
    result = run_script("superclass", out, tmp_path / "doc.md", seeds=("1", "2", "3"))
    assert result.returncode != 0
    assert "seed3/strata.csv: not found" in result.stderr
    assert not (tmp_path / "doc.md").exists()


# --------------------------------------------------------------------------- spurious


def make_spurious_outputs(out: Path, run_hs) -> None:
    """320 positives (200 with a drain, scored high; 120 without, a third of them missed) and 250
    negatives; embeddings separate drained from undrained positives."""
    test = out / "data" / "test"
    test.mkdir(parents=True)
    rng = np.random.default_rng(0)
    n_pos, n_drain, n_neg = 320, 200, 250
    ids = [f"p{i:03d}" for i in range(n_pos)] + [f"n{i:03d}" for i in range(n_neg)]
    label = [1] * n_pos + [0] * n_neg
    drain = ["yes" if i < n_drain else "no" for i in range(n_pos)] + ["yes" if i < 25 else "no" for i in range(n_neg)]
    pl.DataFrame(
        {"image_id": ids, "label": label, "drain": drain, "drain_pos": [d for d in drain[:n_pos]] + [None] * n_neg}
    ).write_csv(test / "labels_test.csv")
    counts = {
        "images": n_pos + n_neg,
        "classes": {"0": n_neg, "1": n_pos},
        "drain": {"pos": {"planted": n_drain, "of": n_pos}, "neg": {"planted": 25, "of": n_neg}},
    }
    write_sidecar(
        test / "labels.csv",
        {"command": "hs synth test", "seed": 7, "parameters": {"per_class": None}, "counts": {"test": counts}},
    )
    write_sidecar(
        out / "data" / "trainval" / "labels.csv",
        {
            "command": "hs synth trainval",
            "seed": 7,
            "parameters": {"per_class": {"train": 50, "val": 10}},
            "counts": {"train": counts | {"images": 100}, "val": counts | {"images": 20}},
        },
    )
    for seed in SEEDS:
        d = out / f"seed{seed}"
        write_sidecar(d / "model" / "train_log.csv", train_meta(seed, [], "auc"))
        drained = np.array([x == "yes" for x in drain[:n_pos]])
        pos_score = np.where(drained, rng.uniform(0.55, 1.0, n_pos), rng.uniform(0.3, 0.9, n_pos))
        score = np.concatenate([pos_score, rng.uniform(0.0, 0.6, n_neg)])
        pl.DataFrame({"image_id": ids, "score": score}).write_csv(d / "preds.csv")
        Path(f"{d / 'preds.csv'}.meta.json").write_text(json.dumps({"command": "hs predict model.onnx test.csv"}))
        emb = rng.normal(size=(len(ids), 4)).astype(np.float32)
        emb[:n_pos, 0] += np.where(drained, 6.0, -6.0)
        np.save(d / "emb.npy", emb)
        pl.DataFrame({"image_id": ids}).write_csv(d / "emb.ids.csv")
        labels = str(test / "labels_test.csv")
        for by in ("drain_pos", "drain"):
            result = run_hs(
                "stratify", str(d / "preds.csv"), labels, "--by", by, "-o", str(d / f"strata_{by}.csv"), "-q"
            )
            assert result.returncode == 0, result.stderr
        result = run_hs(
            "cluster",
            str(d / "emb.npy"),
            str(d / "preds.csv"),
            labels,
            "--by",
            "drain",
            "--k",
            "2",
            "--min-size",
            "50",
            "--seed",
            seed,
            "-o",
            str(d / "clusters.csv"),
            "--summary",
            str(d / "cluster_summary.csv"),
            "--prevalence",
            str(d / "cluster_prevalence.csv"),
            "-q",
        )
        assert result.returncode == 0, result.stderr


@pytest.mark.slow  # two targets' fake outputs, hs cluster twice: several seconds
def test_spurious_section_and_sections_kept(tmp_path, run_hs):
    out = tmp_path / "repro-spurious"
    make_spurious_outputs(out, run_hs)
    doc = tmp_path / "reproduction.md"
    doc.write_text("# Reproductions\n\nHand-written intro.\n")
    assert run_script("spurious", out, doc).returncode == 0
    first = doc.read_text()
    assert first.startswith("# Reproductions\n\nHand-written intro.\n\n<!-- BEGIN repro-spurious")
    # The AUC row of seed 1 carries stratify's numbers for drained and undrained positives.
    strata = pl.read_csv(out / "seed1" / "strata_drain_pos.csv", schema_overrides={"group": pl.String})
    no = strata.filter(pl.col("group") == "no").row(0, named=True)
    assert f"{no['auc']:.3f} [{no['auc_ci_low']:.3f}, {no['auc_ci_high']:.3f}]" in first
    # Undrained positives score lower by construction, and the clusters split drained from undrained.
    assert "**AUC without a drain below AUC with one: Reproduced.**" in first
    assert "**Table 4 (high-error cluster of the positives lacks drains): Reproduced.**" in first
    assert "| paper (ChestX-ray14 pneumothorax) | | | 0.17 | | 0.84 | |" in first

    # A second section is appended, and regenerating one replaces it in place.
    sup = tmp_path / "repro-superclass"
    make_superclass_outputs(sup, run_hs)
    assert run_script("superclass", sup, doc).returncode == 0
    assert run_script("spurious", out, doc).returncode == 0
    text = doc.read_text()
    assert text.count("<!-- BEGIN repro-spurious") == 1 and text.count("<!-- BEGIN repro-superclass") == 1
    assert text.index("repro-spurious") < text.index("repro-superclass")
    assert text.startswith(first)  # spurious section byte-identical, nothing else moved
