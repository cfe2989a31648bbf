"""Synthetic embeddings with one planted slice of known membership (tests and benchmarks).

This is NOT a model's output: embeddings are Gaussian blobs and errors are drawn at planted
rates, so that a discovery method can be scored against a slice whose membership is known
exactly. The real-image version of the benchmark goes through `hs train` and `hs embed`.

A binary task: each class has `subclasses` ordinary subclasses (blobs in a `latent`-dimensional
space, mapped into `dims` dimensions by a random orthonormal map plus isotropic noise), with
error rates spread around `base_error`. One slice is planted in class 1 (or class 0 for
label noise):

- `rare`: an extra subclass holding `fraction` of class 1, with error rate `slice_error`
  (a rare subclass the model has not learned);
- `noisy`: `fraction` of class 0 are really class-1 cases (embeddings from class 1's blobs)
  labelled 0; the model follows the image, so it is wrong on most of them (`slice_error`);
- `spurious`: most class-1 cases carry a correlate (a shift along one direction); the slice is
  the `fraction` of class 1 without it, where the model, which learned the correlate, errs at
  `slice_error`. The slice differs from the rest only along that direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from hstool.io.arrays import write_embeddings

KINDS = ("rare", "noisy", "spurious")


@dataclass(frozen=True)
class Planted:
    ids: list[str]
    embeddings: np.ndarray  # (n, dims) float32
    labels: np.ndarray  # 0/1
    scores: np.ndarray  # probability of class 1; wrong side of 0.5 exactly for the errors
    errors: np.ndarray  # bool
    subclass: np.ndarray  # known subclass names (text), e.g. '1:s2', '1:rare'
    in_slice: np.ndarray  # bool: planted slice membership
    kind: str


def planted_slice(
    kind: str,
    *,
    n_per_class: int = 2000,
    dims: int = 128,
    latent: int = 16,
    subclasses: int = 4,
    fraction: float = 0.05,
    base_error: float = 0.08,
    slice_error: float = 0.6,
    separation: float = 4.0,
    noise: float = 1.0,
    seed: int = 0,
) -> Planted:
    if kind not in KINDS:
        raise ValueError(f"unknown slice kind {kind!r}; one of {', '.join(KINDS)}")
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2, subclasses + 1, latent)) * separation / np.sqrt(2)
    sub_error = base_error * rng.uniform(0.5, 1.5, size=(2, subclasses))
    label = np.repeat([0, 1], n_per_class)
    sub = rng.integers(0, subclasses, size=2 * n_per_class)
    in_slice = np.zeros(2 * n_per_class, dtype=bool)
    origin = label.copy()  # the class whose blobs an embedding comes from
    error_rate = sub_error[label, sub]
    names = np.array([f"{c}:s{s}" for c, s in zip(label, sub)], dtype=object)

    def pick(cls: int) -> np.ndarray:
        return rng.choice(np.flatnonzero(label == cls), size=int(round(fraction * n_per_class)), replace=False)

    if kind == "rare":
        members = pick(1)
        sub[members] = subclasses  # the extra blob
        names[members] = "1:rare"
    elif kind == "noisy":
        members = pick(0)
        origin[members] = 1
        names[members] = [f"1:s{s} labelled 0" for s in sub[members]]
    else:
        members = pick(1)
        names[members] = [f"1:s{s} without correlate" for s in sub[members]]
    in_slice[members] = True
    error_rate = np.where(in_slice, slice_error, error_rate)
    z = centres[origin, sub] + rng.normal(size=(2 * n_per_class, latent))
    if kind == "spurious":
        direction = rng.normal(size=latent)
        has_correlate = (label == 1) & ~in_slice
        z = z + np.outer(has_correlate, direction / np.linalg.norm(direction) * separation)
    basis, _ = np.linalg.qr(rng.normal(size=(dims, latent)))
    x = z @ basis.T + noise * rng.normal(size=(2 * n_per_class, dims))
    errors = rng.random(2 * n_per_class) < error_rate
    called = np.where(errors, 1 - label, label)
    scores = np.where(called == 1, rng.uniform(0.5, 1.0, label.size), rng.uniform(0.0, 0.4999, label.size))
    ids = [f"{kind}{i:06d}" for i in range(label.size)]
    return Planted(ids, x.astype(np.float32), label, scores, errors, names.astype(str), in_slice, kind)


def write_planted(planted: Planted, folder: str | Path) -> dict[str, Path]:
    """emb.npy (+ emb.ids.csv), preds.csv and labels.csv (with `subclass` and `in_slice`)."""
    folder = Path(folder)
    paths = {"emb": folder / "emb.npy", "preds": folder / "preds.csv", "labels": folder / "labels.csv"}
    write_embeddings(paths["emb"], planted.ids, planted.embeddings)
    pl.DataFrame({"image_id": planted.ids, "score": planted.scores}).write_csv(paths["preds"])
    labels = {
        "image_id": planted.ids,
        "label": planted.labels,
        "subclass": planted.subclass,
        "in_slice": planted.in_slice.astype(int),
    }
    pl.DataFrame(labels).write_csv(paths["labels"])
    return paths
