"""Groups across splits (hstool.data.leakage), against a plain-Python count."""

from __future__ import annotations

from collections import defaultdict

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from hstool.data.leakage import split_overlap
from hstool.data.manifest import read_manifest

SPLITS = ("train", "val", "test")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["pkA", "pkB", "pkC", "0042", "", "pk1e5"]), st.sampled_from(SPLITS)),
        min_size=1,
        max_size=30,
    )
)
def test_overlap_matches_a_plain_count(tmp_path_factory, rows):
    folder = tmp_path_factory.mktemp("overlap")
    (folder / "x.png").write_bytes(b"")
    table = pl.DataFrame(
        {
            "image_id": [f"i{i}" for i in range(len(rows))],
            "path": ["x.png"] * len(rows),
            "split": [s for _, s in rows],
            "group": [g for g, _ in rows],
        }
    )
    table.write_csv(folder / "m.csv")
    overlap = split_overlap(read_manifest(str(folder / "m.csv"), text_columns=("group",)), "group")
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SPLITS, 0))
    for group, split in rows:
        if group:
            counts[group][split] += 1
    several = {g: c for g, c in counts.items() if sum(v > 0 for v in c.values()) > 1}
    expected = [
        (g, ";".join(s for s in SPLITS if c[s]), sum(c.values()), c["train"], c["val"], c["test"])
        for g, c in sorted(several.items())
    ]
    assert overlap.table.rows() == expected  # group values as text: 0042 stays 0042
    assert overlap.groups == len(counts) and overlap.missing == sum(1 for g, _ in rows if not g)
