"""How a table is laid out in its file, and which of its columns play which role.

Files come from vendors, PACS/RIS exports and spreadsheets, not only from hs: the id, score and
label columns can have any name (`ColumnMap`), and the file can be CSV with any common
delimiter, a European CSV with decimal commas, TSV, Parquet or an Excel workbook
(`TableFormat`). Both are plain options dataclasses, the one home of their defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

KEY = "image_id"
SCORE = "score"
LABEL = "label"

# Cells that mean "no value" in exports (besides empty cells); `--na-values` replaces the list.
NA_VALUES: tuple[str, ...] = ("NA", "N/A", "nan", "NaN", "null", "None")
# Delimiters tried when sniffing a header line, in order of preference on ties.
DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class TableFormat:
    """Reading options shared by every table a command reads."""

    delimiter: str | None = None  # None: sniffed from the header line (tab for .tsv)
    decimal_comma: bool = False  # numbers written 0,5 (European CSV, usually with ';')
    sheet: str | None = None  # Excel: sheet name; None: the only sheet
    na_values: tuple[str, ...] = NA_VALUES  # cells read as missing, besides empty ones


@dataclass(frozen=True)
class ColumnMap:
    """Which file column holds the id, the score and the label (hs's names by default)."""

    id: str = KEY
    score: str = SCORE
    label: str = LABEL

    def pick(self, *roles: str) -> dict[str, str]:
        """{hs name: file column} for the roles a file plays, e.g. pick(KEY, SCORE)."""
        file_names = {KEY: self.id, SCORE: self.score, LABEL: self.label}
        return {role: file_names[role] for role in roles}

    def changed(self) -> dict[str, str]:
        """The mapping as the sidecar records it: only the names that differ from hs's."""
        return {role: name for role, name in self.pick(KEY, SCORE, LABEL).items() if name != role}


def sniff_delimiter(header: str) -> str:
    """The delimiter that splits the header line into the most columns (comma when none does)."""
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first on ties
    return best if counts[best] else ","
