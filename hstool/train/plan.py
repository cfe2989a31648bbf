"""What a training run will see, decided before any model exists (no torch here): the classes
and task, the training and validation rows, and the controlled experiments applied to them.

- Task: two classes give a binary model (one logit, BCE), more a multi-class one (softmax,
  cross-entropy). Binary labels must be 0/1-like (0/1, true/false, yes/no) or the positive
  class is named with `--positive`, as for `hs stratify`; `class_names` is then
  [negative, positive]. Multi-class names follow `Manifest.classes` (numbers numerically).
- Rows: with a `split` column, `train` rows train and `val` rows validate (`test` rows are
  never used). Without `val` rows, a seeded `--val-frac` (default 0.1) of the training rows is
  set aside, the same fraction of each class. `--val-frac 0` trains without validation (the
  `val` rows, if any, are then not used).
- Experiments (`hstool.train.experiments`) touch training rows only: validation stays clean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hstool.data.manifest import LABEL, SPLIT, Manifest, read_manifest
from hstool.errors import InputError, OptionError, UsageError, option_ref
from hstool.train.config import TrainConfig
from hstool.train.experiments import LABEL_NOISE, SUBSAMPLE, Outcome, apply_experiments, parse_spec

BINARY = "binary"
MULTICLASS = "multiclass"
DEFAULT_VAL_FRAC = 0.1
_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")
_VAL_SALT = 0x7A1


@dataclass(frozen=True, eq=False)
class TrainPlan:
    manifest: Manifest
    task: str  # BINARY or MULTICLASS
    class_names: list[str]
    positive_class: str | None  # class_names[1] for a binary task
    train_rows: np.ndarray  # manifest row indices, in manifest order
    val_rows: np.ndarray
    targets: np.ndarray  # class index of every manifest row (noisy where label noise applied)
    validation: str  # 'split', 'val-frac' or 'none'
    metric: str | None  # 'auc', 'accuracy' or 'loss' on the validation rows; None without them
    experiments: list[Outcome]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_outputs(self) -> int:
        """Logits the network produces: 1 for a binary task (BCE), K otherwise."""
        return 1 if self.task == BINARY else self.n_classes

    def class_counts(self, rows: np.ndarray) -> dict[str, int]:
        counts = np.bincount(self.targets[rows], minlength=self.n_classes)
        return {name: int(n) for name, n in zip(self.class_names, counts)}


def plan_training(config: TrainConfig) -> TrainPlan:
    """Read and check the manifest and decide classes, rows and experiments (InputError or
    UsageError with a one-line message on bad input)."""
    manifest = read_manifest(
        config.manifest, root=config.root, require_label=True, id_col=config.id_col, fmt=config.table_format
    )
    manifest.check_files()
    source = manifest.source.name
    class_names, positive = _classes(manifest, config.positive)
    index = {name: i for i, name in enumerate(class_names)}
    targets = np.array([index[v.strip()] for v in manifest.required_labels()], dtype=np.int64)
    train_rows, val_rows, validation = _rows(manifest, targets, config)
    train_rows, targets, outcomes = apply_experiments(
        manifest.table,
        train_rows,
        targets,
        len(class_names),
        subsample=[parse_spec(SUBSAMPLE, s) for s in config.subsample],
        label_noise=[parse_spec(LABEL_NOISE, s) for s in config.label_noise],
        seed=config.seed,
        source=source,
    )
    present = np.bincount(targets[train_rows], minlength=len(class_names))
    if (present == 0).any():
        absent = [class_names[i] for i in np.flatnonzero(present == 0)]
        raise InputError(
            f"{source}: the training rows have no image of class {', '.join(map(repr, absent))}"
            f"{' after ' + option_ref('subsample') if config.subsample else ''}; every class needs training images"
        )
    task = BINARY if len(class_names) == 2 else MULTICLASS
    metric = _metric(config, task, targets[val_rows], class_names, source)
    return TrainPlan(
        manifest=manifest,
        task=task,
        class_names=class_names,
        positive_class=positive,
        train_rows=train_rows,
        val_rows=val_rows,
        targets=targets,
        validation=validation,
        metric=metric,
        experiments=outcomes,
    )


def _classes(manifest: Manifest, positive: str | None) -> tuple[list[str], str | None]:
    classes = [c.strip() for c in manifest.classes]
    where = manifest.source.at(None, LABEL)
    if len(set(classes)) != len(classes):
        raise InputError(f"{where}: labels differ only by spaces ({classes}); write each class one way")
    if len(classes) > 2:
        if positive is not None:
            raise OptionError("positive", positive, f"only for two classes; the manifest has {len(classes)}")
        return classes, None
    if positive is not None:
        if positive not in classes:
            raise UsageError(
                f"{option_ref('positive')} {positive!r}: not a class of {manifest.source.name} (classes: {', '.join(classes)})"
            )
        return [c for c in classes if c != positive] + [positive], positive
    lowered = [c.lower() for c in classes]
    neg = [c for c, low in zip(classes, lowered) if low in _FALSE]
    pos = [c for c, low in zip(classes, lowered) if low in _TRUE]
    if len(neg) != 1 or len(pos) != 1:
        raise UsageError(
            f"{where}: labels {classes[0]!r} and {classes[1]!r} do not say which class is positive; "
            f"pass {option_ref('positive')} {classes[1]} (or {classes[0]})"
        )
    return [neg[0], pos[0]], pos[0]


def _rows(manifest: Manifest, targets: np.ndarray, config: TrainConfig) -> tuple[np.ndarray, np.ndarray, str]:
    source = manifest.source.name
    all_rows = np.arange(manifest.table.height, dtype=np.int64)
    if SPLIT in manifest.table.columns:
        split = manifest.table[SPLIT].to_numpy()
        train, val = all_rows[split == "train"], all_rows[split == "val"]
        if len(train) == 0:
            raise InputError(
                f"{source}: no rows have split 'train'; training needs train rows (or drop the split column)"
            )
        if config.val_frac == 0:
            return train, np.empty(0, dtype=np.int64), "none"
        if len(val) and config.val_frac is not None:
            raise UsageError(
                f"{option_ref('val_frac')} {config.val_frac:g}: {source} already has {len(val)} 'val' rows; drop {option_ref('val_frac')} to use them"
            )
        if len(val):
            return train, val, "split"
    else:
        train = all_rows
    frac = DEFAULT_VAL_FRAC if config.val_frac is None else config.val_frac
    if frac == 0:
        return train, np.empty(0, dtype=np.int64), "none"
    rng = np.random.default_rng([config.seed, _VAL_SALT])
    chosen = []
    for c in np.unique(targets[train]):
        members = train[targets[train] == c]
        k = math.floor(frac * len(members) + 0.5)
        chosen.append(members[rng.permutation(len(members))[:k]])
    val = np.sort(np.concatenate(chosen))
    if len(val) == 0:
        raise InputError(
            f"{source}: {option_ref('val_frac')} {frac:g} of {len(train)} training rows is no image; "
            f"raise {option_ref('val_frac')}, add 'val' rows, or pass {option_ref('val_frac')} 0 to train without validation"
        )
    return np.setdiff1d(train, val, assume_unique=True), val, "val-frac"


def _metric(config: TrainConfig, task: str, val_targets: np.ndarray, class_names: list[str], source: str) -> str | None:
    """The validation metric that picks the best epoch: AUC (binary) or accuracy by default."""
    if len(val_targets) == 0:
        if config.patience is not None:
            raise UsageError(
                f"{option_ref('patience')} needs validation rows; drop {option_ref('val_frac')} 0 (or add 'val' rows)"
            )
        return None
    metric = config.metric
    if metric == "auto":
        metric = "auc" if task == BINARY else "accuracy"
    if metric == "auc":
        if task != BINARY:
            raise UsageError(
                f"{option_ref('metric')} auc: for two classes only; {source} has {len(class_names)} (use accuracy or loss)"
            )
        if len(np.unique(val_targets)) < 2:
            only = class_names[int(val_targets[0])]
            raise InputError(
                f"{source}: every validation image has the class {only!r}, so AUC is undefined; "
                f"add validation images of both classes, raise {option_ref('val_frac')}, or pass {option_ref('metric')} loss"
            )
    return metric
