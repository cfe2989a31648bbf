"""`hs power METRIC`: the cases a subgroup needs to detect a deficit, or the power of a design."""

from __future__ import annotations

from typing import Annotated

import typer

from hstool.cli.common import handled, say
from hstool.cli.options import Format, Output, Quiet, Verbose

EPILOG = """\
Examples:

  hs power auc --reference 0.85 --deficit 0.05 --prevalence 0.1

  hs power auc --reference 0.85 --deficit 0.05,0.1 --prevalence 0.1 --comparator-cases 20000

  hs power sensitivity --reference 0.9 --deficit 0.1 --prevalence 0.2 --cases 500

Output: one row per deficit: metric, reference, group_value, deficit, prevalence, comparator_cases, alpha, power, cases, positives, negatives, cases_exact, variance. Without --cases, the cases (at the subgroup's prevalence) needed for --power; with --cases, the power of that design. AUC: Obuchowski's binormal variance (as R pROC's power.roc.test) or Hanley-McNeil's; sensitivity: the two-proportion z-test. Details: docs/statistics.md.
"""


def command(
    metric: Annotated[str, typer.Argument(help="auc or sensitivity.")],
    reference: Annotated[
        float, typer.Option("--reference", help="The comparator's value (AUC or sensitivity), e.g. 0.85.")
    ] = 0.85,
    deficit: Annotated[
        str, typer.Option("--deficit", help="Deficit(s) to detect below the reference, e.g. 0.05 or 0.02,0.05,0.1.")
    ] = "0.05",
    prevalence: Annotated[float, typer.Option("--prevalence", help="Prevalence in the subgroup.")] = 0.1,
    cases: Annotated[
        int | None, typer.Option("--cases", help="Cases in the subgroup: report the power of this design.")
    ] = None,
    comparator_cases: Annotated[
        int | None,
        typer.Option(
            "--comparator-cases", help="Cases in the comparator (e.g. the rest). Default: a known reference value."
        ),
    ] = None,
    comparator_prevalence: Annotated[
        float | None,
        typer.Option("--comparator-prevalence", help="Prevalence in the comparator. Default: the subgroup's."),
    ] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Two-sided significance level.")] = 0.05,
    power: Annotated[float, typer.Option("--power", help="Power to reach when --cases is not given.")] = 0.8,
    variance: Annotated[
        str, typer.Option("--variance", help="AUC variance: obuchowski or hanley-mcneil.")
    ] = "obuchowski",
    output: Output = None,
    fmt: Format = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Sample size or power for detecting a subgroup's AUC or sensitivity deficit."""
    with handled(verbose, flags={"deficits": "--deficit", "metric": "metric"}):
        from hstool.audit.power_plan import PowerOptions, plan_power
        from hstool.errors import UsageError
        from hstool.io.render import emit

        try:
            deficits = tuple(float(d) for d in deficit.split(",") if d.strip())
        except ValueError:
            raise UsageError(f"--deficit {deficit!r}: expected numbers, e.g. 0.05 or 0.02,0.05") from None
        options = PowerOptions(
            metric=metric,
            reference=reference,
            deficits=deficits,
            prevalence=prevalence,
            cases=cases,
            comparator_cases=comparator_cases,
            comparator_prevalence=comparator_prevalence,
            alpha=alpha,
            power=power,
            variance=variance,
        )
        result = plan_power(options)
        emit(result.table, fmt=fmt, output=output, meta=result.meta)
        if not quiet:
            for line in result.notes:
                say(line)
