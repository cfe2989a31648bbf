"""Missing-value markers become nulls in every text column, whether the column holds few distinct
cells (categories: checked per distinct cell) or many (checked per row), wherever they occur."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hstool.io.table_format import TableFormat
from hstool.io.tables import read_table

MARKERS = ("NA", "nan", "None", "")
PADDED = [" NA", "NA ", "\tnan", " None ", "  "]


def _expected_nulls(cells: list[str], markers: tuple[str, ...]) -> list[bool]:
    return [cell.strip() in markers for cell in cells]


def _read(columns: dict[str, list[str]], na_values: tuple[str, ...]) -> dict[str, list[bool]]:
    n = len(next(iter(columns.values())))
    lines = ["image_id," + ",".join(columns)]
    lines += [f"id{i}," + ",".join(values[i] for values in columns.values()) for i in range(n)]
    data = ("\n".join(lines) + "\n").encode()
    df, _ = read_table("t.csv", role="labels", fmt=TableFormat(na_values=na_values), data=data)
    return {name: df[name].is_null().to_list() for name in columns}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from(["F", "M", " F", *PADDED, *MARKERS]), min_size=1, max_size=30),
    st.integers(0, 2_000),
    st.data(),
)
def test_markers_are_missing_in_columns_of_few_and_of_many_cells(category_pool, n_rows, data):
    rows = max(n_rows, 1)
    # Many distinct cells (numbers) with markers placed anywhere, also after the first rows
    # the reader samples to tell categories from values.
    many = [f"{i / 7:.6f}" for i in range(rows)]
    for position in data.draw(st.lists(st.integers(0, rows - 1), max_size=5)):
        many[position] = data.draw(st.sampled_from(PADDED + list(MARKERS)))
    few = [category_pool[i % len(category_pool)] for i in range(rows)]
    got = _read({"score": many, "sex": few}, na_values=("NA", "nan", "None"))
    assert got["score"] == _expected_nulls(many, MARKERS)
    assert got["sex"] == _expected_nulls(few, MARKERS)


def test_only_the_markers_given_are_missing():
    cells = ["F", " NA", "None", "M", ""] * 3
    got = _read({"sex": cells}, na_values=("NA",))
    assert got["sex"] == _expected_nulls(cells, ("NA", ""))
