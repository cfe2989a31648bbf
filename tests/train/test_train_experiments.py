"""--subsample and --label-noise: parsing, exact counts, seeding, independence between flags."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hstool.errors import InputError, UsageError
from hstool.train.experiments import LABEL_NOISE, SUBSAMPLE, Spec, affected_count, apply_experiments, parse_spec


def table(n_per: dict[tuple[str, str], int]) -> tuple[pl.DataFrame, np.ndarray]:
    """A manifest-like table with label and subclass columns, and its class indices."""
    labels, subclasses = [], []
    for (label, sub), n in n_per.items():
        labels += [label] * n
        subclasses += [sub] * n
    df = pl.DataFrame({"image_id": [f"i{k:04d}" for k in range(len(labels))], "label": labels, "subclass": subclasses})
    classes = sorted(set(labels))
    return df, np.array([classes.index(v) for v in labels])


def test_parse_spec():
    assert parse_spec(SUBSAMPLE, "subclass=drain:0.75") == Spec(SUBSAMPLE, "subclass", "drain", 0.75)
    # The value may hold '=' and ':' (split at the first '=' and the last ':').
    assert parse_spec(LABEL_NOISE, "site=a=b:c:1") == Spec(LABEL_NOISE, "site", "a=b:c", 1.0)
    for bad in (
        "subclass",
        "subclass=drain",
        "subclass=drain:0",
        "subclass=drain:1.5",
        "=drain:0.5",
        "subclass=:0.5",
        "s=d:x",
    ):
        with pytest.raises(UsageError, match="COL=VALUE:FRAC"):
            parse_spec(SUBSAMPLE, bad)


@pytest.mark.parametrize(
    ("fraction", "matching", "expected"),
    [
        (0.75, 10, 8),  # 7.5 rounds up
        (0.25, 10, 3),  # 2.5 rounds up
        (0.75, 100, 75),
        (0.25, 7, 2),  # 1.75
        (0.5, 3, 2),  # 1.5
        (1.0, 13, 13),
        (0.01, 10, 0),
    ],
)
def test_affected_count(fraction, matching, expected):
    assert affected_count(fraction, matching) == expected


def test_subsample_then_label_noise_counts_are_exact():
    df, targets = table({("1", "drain"): 40, ("1", "none"): 60, ("0", "none"): 100})
    rows = np.arange(df.height)
    kept, noisy, outcomes = apply_experiments(
        df,
        rows,
        targets,
        2,
        subsample=[Spec(SUBSAMPLE, "subclass", "drain", 0.75)],
        label_noise=[Spec(LABEL_NOISE, "label", "1", 0.25)],
        seed=0,
        source="m.csv",
    )
    drop, flip = outcomes
    assert (drop.matching, len(drop.affected)) == (40, 30)
    assert len(kept) == 170 and not set(drop.affected) & set(kept)
    assert set(drop.affected) <= set(np.flatnonzero(df["subclass"].to_numpy() == "drain"))
    # Label noise counts the positives that remain after subsampling: 10 drains + 60 others.
    assert (flip.matching, len(flip.affected)) == (70, 18)
    assert set(flip.affected) <= set(kept)
    assert (noisy[flip.affected] == 0).all()
    untouched = np.setdiff1d(rows, flip.affected)
    assert (noisy[untouched] == targets[untouched]).all()
    assert flip.summary() == {
        "experiment": LABEL_NOISE,
        "spec": "label=1:0.25",
        "column": "label",
        "value": "1",
        "fraction": 0.25,
        "matching": 70,
        "affected": 18,
    }


def test_seeded_and_independent_between_flags():
    df, targets = table({("a", "x"): 50, ("b", "x"): 50, ("c", "y"): 50})
    rows = np.arange(df.height)
    sub = [Spec(SUBSAMPLE, "subclass", "x", 0.5)]
    noise = [Spec(LABEL_NOISE, "label", "c", 0.6)]
    run = lambda seed, **kw: apply_experiments(df, rows, targets, 3, seed=seed, source="m.csv", **kw)  # noqa: E731
    alone = run(0, subsample=sub, label_noise=[])[2][0].affected
    both = run(0, subsample=sub, label_noise=noise)
    assert np.array_equal(alone, both[2][0].affected)  # adding a noise flag does not move the subsample
    again = run(0, subsample=sub, label_noise=noise)
    assert np.array_equal(both[1], again[1]) and np.array_equal(both[0], again[0])
    other = run(1, subsample=sub, label_noise=noise)
    assert not np.array_equal(both[2][0].affected, other[2][0].affected)
    # With three classes a wrong label is either other class, never the true one.
    flipped = both[2][1].affected
    assert set(both[1][flipped]) == {0, 1}


def test_experiments_refuse_unknown_columns_and_values():
    df, targets = table({("0", "x"): 5, ("1", "y"): 5})
    rows = np.arange(df.height)
    with pytest.raises(InputError, match="no column 'site'"):
        apply_experiments(
            df, rows, targets, 2, subsample=[Spec(SUBSAMPLE, "site", "a", 0.5)], label_noise=[], seed=0, source="m.csv"
        )
    with pytest.raises(InputError, match="no training rows of m.csv have subclass = 'z'"):
        apply_experiments(
            df,
            rows,
            targets,
            2,
            subsample=[],
            label_noise=[Spec(LABEL_NOISE, "subclass", "z", 0.5)],
            seed=0,
            source="m.csv",
        )


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.integers(1, 100), st.integers(0, 10_000))
def test_subsample_count_property(n, percent, seed):
    df, targets = table({("0", "x"): n, ("1", "y"): 3})
    rows = np.arange(df.height)
    fraction = percent / 100
    kept, _, (outcome,) = apply_experiments(
        df,
        rows,
        targets,
        2,
        subsample=[Spec(SUBSAMPLE, "subclass", "x", fraction)],
        label_noise=[],
        seed=seed,
        source="m.csv",
    )
    assert len(outcome.affected) == math.floor(fraction * n + 0.5)
    assert len(np.unique(outcome.affected)) == len(outcome.affected)
    assert (outcome.affected < n).all() and len(kept) == df.height - len(outcome.affected)
