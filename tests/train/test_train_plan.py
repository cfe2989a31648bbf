"""What a training run will use, decided before any model exists: classes, rows, metric."""

from __future__ import annotations

import numpy as np
import pytest
from train_helpers import separable_set

from hstool.errors import InputError, UsageError
from hstool.train.config import TrainConfig
from hstool.train.experiments import affected_count
from hstool.train.plan import plan_training


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return separable_set(tmp_path_factory.mktemp("tiny"), n_per_class=20, size=8)


def config(manifest, **kw) -> TrainConfig:
    return TrainConfig(manifest=str(manifest), out_dir="unused", **kw)


def rewrite(src, dst, edit) -> str:
    lines = src.read_text().splitlines()
    dst.write_text("\n".join(edit(lines)) + "\n")
    return str(dst)


def test_val_frac_is_seeded_and_stratified(tiny):
    plan = plan_training(config(tiny, val_frac=0.25, seed=3))
    assert plan.task == "binary" and plan.class_names == ["0", "1"] and plan.positive_class == "1"
    assert plan.validation == "val-frac" and plan.metric == "auc"
    assert plan.class_counts(plan.val_rows) == {"0": 5, "1": 5}
    assert len(plan.train_rows) == 30 and not set(plan.train_rows) & set(plan.val_rows)
    assert np.array_equal(plan_training(config(tiny, val_frac=0.25, seed=3)).val_rows, plan.val_rows)
    assert not np.array_equal(plan_training(config(tiny, val_frac=0.25, seed=4)).val_rows, plan.val_rows)
    default = plan_training(config(tiny))
    assert len(default.val_rows) == 4  # 10% of 20 per class
    none = plan_training(config(tiny, val_frac=0))
    assert none.validation == "none" and none.metric is None and len(none.train_rows) == 40


def test_split_column(tmp_path):
    manifest = separable_set(tmp_path, n_per_class=8, size=8, split=True)
    plan = plan_training(config(manifest))
    assert plan.validation == "split" and len(plan.val_rows) == 4 and len(plan.train_rows) == 12
    with pytest.raises(UsageError, match="already has 4 'val' rows"):
        plan_training(config(manifest, val_frac=0.2))
    unvalidated = plan_training(config(manifest, val_frac=0))
    assert unvalidated.validation == "none" and len(unvalidated.train_rows) == 12 and len(unvalidated.val_rows) == 0
    no_train = rewrite(
        manifest, tmp_path / "m2.csv", lambda ls: [ls[0]] + [l.replace(",train", ",test") for l in ls[1:]]
    )
    with pytest.raises(InputError, match="no rows have split 'train'"):
        plan_training(config(no_train))


def test_positive_class_and_multiclass(tmp_path):
    named = separable_set(tmp_path / "named", n_per_class=6, size=8, labels=("pneumonia", "normal"))
    with pytest.raises(UsageError, match="pass positive"):
        plan_training(config(named))
    plan = plan_training(config(named, positive="pneumonia"))
    assert plan.class_names == ["normal", "pneumonia"] and plan.positive_class == "pneumonia"
    assert plan.n_outputs == 1
    with pytest.raises(UsageError, match="not a class"):
        plan_training(config(named, positive="effusion"))
    three = separable_set(tmp_path / "three", n_per_class=6, size=8, labels=("10", "2", "a"))
    plan = plan_training(config(three, val_frac=0.5))
    assert plan.task == "multiclass" and plan.class_names == ["10", "2", "a"] and plan.n_outputs == 3
    assert plan.metric == "accuracy"
    with pytest.raises(UsageError, match="^metric auc: for two classes only"):
        plan_training(config(three, metric="auc"))


def test_bad_manifests(tmp_path, tiny):
    no_label = rewrite(tiny, tmp_path / "nolabel.csv", lambda ls: [",".join(l.split(",")[:2]) for l in ls])
    with pytest.raises(InputError, match="no 'label' column"):
        plan_training(config(no_label))
    one_class = rewrite(tiny, tmp_path / "one.csv", lambda ls: [l for l in ls if ",1," not in l])
    with pytest.raises(InputError, match="a classifier needs at least two classes"):
        plan_training(config(one_class))
    missing = rewrite(
        tiny, tiny.parent / "missing.csv", lambda ls: ls + [f"x{i},images/x{i}.png,0,a" for i in range(5)]
    )
    with pytest.raises(InputError, match=r"5 of 45 image files are missing \(first: 'x0' \(images/x0.png\)"):
        plan_training(config(missing))


def test_metric_needs_both_classes_in_validation(tiny):
    # Three positives only, so 10% of them rounds to no validation positive.
    few = rewrite(
        tiny,
        tiny.parent / "few.csv",
        lambda ls: [l for l in ls if ",1," not in l or l.startswith(("c1_000", "c1_001", "c1_002"))],
    )
    with pytest.raises(InputError, match="AUC is undefined.*metric loss"):
        plan_training(config(few))
    assert plan_training(config(few, metric="loss")).metric == "loss"
    with pytest.raises(UsageError, match="^patience needs validation"):
        plan_training(config(tiny, val_frac=0, patience=2))


def test_subsample_removing_a_class_is_refused(tiny):
    with pytest.raises(InputError, match="no image of class '1' after subsample"):
        plan_training(config(tiny, subsample=("label=1:1",)))
    plan = plan_training(config(tiny, subsample=("subclass=a:0.5",), label_noise=("label=0:0.25",), seed=1))
    drop, flip = plan.experiments
    subclass = plan.manifest.table["subclass"].to_numpy()
    # Every 'a' training row (10 in all, minus those drawn for validation) matched; half went.
    a_rows = np.flatnonzero(subclass == "a")
    assert drop.matching == len(np.setdiff1d(a_rows, plan.val_rows))
    assert len(drop.affected) == affected_count(0.5, drop.matching)
    assert not set(drop.affected) & set(plan.train_rows)
    label0 = [r for r in plan.train_rows if plan.manifest.labels[r] == "0"]
    assert flip.matching == len(label0) and len(flip.affected) == affected_count(0.25, len(label0))
    assert (plan.targets[flip.affected] == 1).all()
