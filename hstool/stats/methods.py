"""The names of the statistical methods hs offers, without numpy: options are checked (and
`hs --help` is built) without loading the numerics."""

from __future__ import annotations

from typing import Literal, get_args

Correction = Literal["holm", "bh", "none"]  # multiple-testing corrections (hstool.stats.multiplicity)
CORRECTIONS: tuple[Correction, ...] = get_args(Correction)
Interval = Literal["wilson", "clopper-pearson"]  # intervals of a proportion (hstool.stats.proportions)
INTERVALS: tuple[Interval, ...] = get_args(Interval)
