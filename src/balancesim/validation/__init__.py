"""Pattern-oriented validation: does the model reproduce the patterns P1-P8?

The source article (claims C1-C15) implies eight patterns the baseline must
reproduce (P1-P8, see the project's claims list and docs/ODD.md). Each is
checked here as a seeded experiment over many replicates:

* an experiment is a set of *arms*: a scenario file plus overrides (the same
  dotted paths as `balancesim run --set`), all run with the same seed, so arm
  k and arm j of replicate r share their random draws (common random
  numbers) and contrasts are paired replicate by replicate;
* a check turns the arms' runs into one or more *figures* (a proportion of
  runs, a mean paired difference, a ratio), each with a 95% interval
  (Wilson for proportions, bootstrap over replicates otherwise);
* every figure is compared with a *threshold* fixed in this file, with a
  one-line reason, before any result is seen. A criterion passes only when
  its whole interval is on the passing side, fails when its whole interval
  is on the failing side, and is "unclear" otherwise (more replicates needed);
* every check has knock-out controls: the same experiment with the rule that
  should produce the pattern switched off through a documented parameter. A
  knock-out should make the check fail; if the check still passes, the check
  proves nothing about that rule, and the report says so ("uninformative").

The mechanism influence table (`influence.py`) switches off, one at a time,
every mechanism that cites a claim and reports the paired change of each
headline outcome, so that a mechanism that does nothing shows as inert.

A last check compares the baseline with observed behaviour: none of the five
states voted for the UN General Assembly resolutions condemning Russia in
2022-23 (the `stance` measure, see metrics.py).

Nothing here feeds back into the model: the checks only read its outputs.
`run_validation` runs everything; `write_report` writes the Markdown report
with one figure per pattern (docs/validation.md explains how to read it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from balancesim.validation.checks import CHECKS
from balancesim.validation.core import (
    DEFAULT_REPLICATES,
    DEFAULT_SEED,
    FAIL,
    MIN_REPLICATES,
    PASS,
    SCENARIO_DIR,
    UNCLEAR,
    Arm,
    Check,
    CheckResult,
    Conflict,
    Estimate,
    KnockOut,
    Stats,
    Threshold,
    Validation,
    ValidationError,
)
from balancesim.validation.influence import MECHANISMS as CORE_MECHANISMS
from balancesim.validation.influence import NOISE_BAND, Influence, Mechanism
from balancesim.validation.report import (
    conflict_line,
    is_earlier_report,
    report_folder,
    report_markdown,
    summary_json,
    table_rows,
    write_report,
)
from balancesim.validation.runner import count_runs, run_checks
from balancesim.validation.world import WORLD_MECHANISMS

# The core mechanisms and those of the world that happened (rules_world.py)
MECHANISMS = CORE_MECHANISMS + WORLD_MECHANISMS

__all__ = [
    "CHECKS",
    "DEFAULT_REPLICATES",
    "DEFAULT_SEED",
    "FAIL",
    "MECHANISMS",
    "MIN_REPLICATES",
    "NOISE_BAND",
    "PASS",
    "SCENARIO_DIR",
    "UNCLEAR",
    "Arm",
    "Check",
    "CheckResult",
    "Conflict",
    "Estimate",
    "Influence",
    "KnockOut",
    "Mechanism",
    "Stats",
    "Threshold",
    "Validation",
    "ValidationError",
    "conflict_line",
    "count_runs",
    "is_earlier_report",
    "report_folder",
    "report_markdown",
    "run_checks",
    "run_validation",
    "summary_json",
    "table_rows",
    "write_report",
]


def run_validation(
    replicates: int = DEFAULT_REPLICATES,
    seed: int = DEFAULT_SEED,
    scenario_dir: str | Path = SCENARIO_DIR,
    checks: Sequence[Check] = CHECKS,
    progress: Callable[[int], None] | None = None,
    mechanisms: Sequence[Mechanism] = MECHANISMS,
) -> Validation:
    """Run `checks` (default: all), their knock-outs and the mechanism influence table; nothing is written."""
    return run_checks(checks, replicates, seed, scenario_dir, progress, mechanisms)
