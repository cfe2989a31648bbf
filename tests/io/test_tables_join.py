"""The fast paths of io/tables.py against the straightforward computation they replace: the
side-by-side join of two tables holding the same ids, the tail-only removal of trailing blank
lines and the hash check of unique ids."""

from __future__ import annotations

import re

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hstool.errors import InputError
from hstool.io.tables import Source, _check_key, _without_trailing_blank_lines, join_on_id

SOURCE_A = Source(name="a.csv", sha256="", kind="csv", rows=0)
SOURCE_B = Source(name="b.csv", sha256="", kind="csv", rows=0)


def _hash_join(left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    return left.join(right, on="image_id", how="inner", suffix="_right").sort("image_id")


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.text(alphabet="ab01_", min_size=1, max_size=4), min_size=1, max_size=30, unique=True),
    order=st.randoms(use_true_random=False),
    same_order=st.booleans(),
    extra=st.booleans(),
)
def test_join_of_the_same_ids_equals_the_hash_join(ids: list[str], order, same_order: bool, extra: bool) -> None:
    # Three paths: the same ids in the same order (set side by side, sorted once), in another
    # order (each sorted), and one id more on the right (the hash join).
    left = pl.DataFrame({"image_id": ids, "score": [str(i) for i in range(len(ids))], "site": ["x"] * len(ids)})
    shuffled = list(ids)
    if not same_order:
        order.shuffle(shuffled)
    right = pl.DataFrame({"image_id": shuffled, "label": ["1"] * len(ids), "site": ["y"] * len(ids)})
    if extra:  # one id more on the right: the join, not the side-by-side path
        right = pl.concat([right, pl.DataFrame({"image_id": ["zz"], "label": ["0"], "site": ["y"]})])
    joined, counts = join_on_id(left, SOURCE_A, right, SOURCE_B, allow_unmatched=True)
    assert joined.equals(_hash_join(left, right))
    assert joined.columns == ["image_id", "score", "site", "label", "site_right"]
    assert counts == {"unmatched_in_a.csv": 0, "unmatched_in_b.csv": int(extra)}


def test_join_refuses_ids_missing_from_the_other_file() -> None:
    left = pl.DataFrame({"image_id": ["a", "b"], "score": ["0.1", "0.2"]})
    right = pl.DataFrame({"image_id": ["a", "c"], "label": ["0", "1"]})
    with pytest.raises(InputError, match=r"a.csv: 1 image_ids are missing from b.csv \(first: 'b'\)"):
        join_on_id(left, SOURCE_A, right, SOURCE_B, allow_unmatched=False)


_OLD_RULE = re.compile(rb"(?:\r?\n[ \t]*)+\Z")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40).map(lambda b: bytes(b" \t\r\nx,"[v % 6] for v in b)))
def test_trailing_blank_lines_as_the_pattern_on_the_whole_file(data: bytes) -> None:
    assert _without_trailing_blank_lines(data) == _OLD_RULE.sub(b"\n", data)


@pytest.mark.parametrize(
    ("ids", "repeated"),
    [(["a", "b", "a"], "'a' repeats line 2"), (["x", "y", "z", "y"], "'y' repeats line 3")],
)
def test_repeated_ids_are_found_past_the_hash_check(ids: list[str], repeated: str) -> None:
    with pytest.raises(InputError, match=repeated):
        _check_key(pl.DataFrame({"image_id": ids}), SOURCE_A, "image_id")
