"""Schema completion for a multi-class (superclass) model: per-subgroup accuracy.

This is the paper's CIFAR-100 analysis: a model predicts superclasses, and each subclass's
accuracy on its superclass is compared with the rest. A group that lies inside one superclass
(a subclass) is compared with the rest of that superclass; any other group with the rest of
the data (or with `--reference`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hstool.audit.groups import Stratifier
from hstool.audit.strata_table import OVERALL, StratifyOptions
from hstool.errors import OptionError, UsageError, option_ref
from hstool.stats.proportions import compare_proportions, interval

SCHEMA: dict[str, Any] = {"stratifier": str, "group": str, "comparator": str, "n": int, "n_correct": int}
SCHEMA.update({"accuracy": float, "accuracy_ci_low": float, "accuracy_ci_high": float})
SCHEMA.update({"accuracy_delta": float, "accuracy_p": float, "accuracy_p_adj": float})
SCHEMA.update({"flag": bool, "worse_on": str, "status": str, "reason": str})
TESTED = ("accuracy",)


def analyse(
    correct: np.ndarray, superclass: np.ndarray, stratifiers: list[Stratifier], options: StratifyOptions
) -> list[dict[str, Any]]:
    if options.ci == "bootstrap":
        raise OptionError(
            "ci",
            "bootstrap",
            f"is for binary scores; multi-class accuracy uses {option_ref('ci')} wilson or clopper-pearson",
            quoted=False,
        )
    rows = [_row(OVERALL, OVERALL, correct, None, "", options)]
    for stratifier in stratifiers:
        ref = None
        if stratifier.name in options.reference:
            wanted = options.reference[stratifier.name]
            if wanted not in stratifier.levels:
                raise UsageError(
                    f"{option_ref('reference')} {stratifier.name}={wanted}: no such group (groups: {', '.join(stratifier.levels[:10])})"
                )
            ref = stratifier.levels.index(wanted)
        for code, level in enumerate(stratifier.levels):
            member = stratifier.codes == code
            if not member.any():
                continue
            if ref is not None:
                other, name = stratifier.codes == ref, f"{stratifier.name}={stratifier.levels[ref]}"
            else:
                supers = np.unique(superclass[member])
                if len(supers) == 1 and stratifier.name != "label":
                    other, name = (superclass == supers[0]) & ~member, f"rest of label={supers[0]}"
                else:
                    other, name = ~member, "rest"
            rows.append(_row(stratifier.name, level, correct[member], correct[other], name, options))
    return rows


def _row(
    name: str,
    level: str,
    correct: np.ndarray,
    comparator: np.ndarray | None,
    comparator_name: str,
    options: StratifyOptions,
) -> dict[str, Any]:
    n, k = len(correct), int(correct.sum())
    row = {"stratifier": name, "group": level, "comparator": comparator_name, "n": n, "n_correct": k}
    if n < options.min_n:
        row.update({"status": "too_small", "reason": f"{n} cases, below --min-n {options.min_n}"})
        return row
    low, high = interval(k, n, options.level, options.ci)
    row.update({"accuracy": k / n, "accuracy_ci_low": float(low), "accuracy_ci_high": float(high)})
    row.update({"status": "ok", "reason": ""})
    if comparator is not None:
        if len(comparator) == 0:
            row.update({"status": "partial", "reason": "no accuracy test: the comparator is empty"})
        else:
            p, _test = compare_proportions(k, n, int(comparator.sum()), len(comparator))
            row.update({"accuracy_delta": k / n - comparator.mean(), "accuracy_p": p})
    return row
