"""Running the checks: every arm and knock-out simulated once (`core.Lab`), then each check
and the influence table measured on the shared runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from balancesim.validation import influence
from balancesim.validation.core import (
    DEFAULT_REPLICATES,
    DEFAULT_SEED,
    MIN_REPLICATES,
    SCENARIO_DIR,
    Check,
    CheckResult,
    KnockOutResult,
    Lab,
    Stats,
    Validation,
    ValidationError,
    _evaluate,
    plan,
)


def count_runs(checks: Sequence[Check], replicates: int, mechanisms: Sequence = ()) -> int:
    arms = {Lab._key(a) for a in influence.arms(tuple(mechanisms))}
    for check in checks:
        for name, arm in check.arms.items():
            arms.add(Lab._key(arm))
            arms.update(Lab._key(ko.apply(name, arm)) for ko in check.knockouts)
    return len(arms) * replicates


def run_checks(
    checks: Sequence[Check],
    replicates: int = DEFAULT_REPLICATES,
    seed: int = DEFAULT_SEED,
    scenario_dir: str | Path = SCENARIO_DIR,
    progress: Callable[[int], None] | None = None,
    mechanisms: Sequence = (),
) -> Validation:
    """Run every check and its knock-outs, and the influence table of `mechanisms`; nothing is written."""
    if replicates < MIN_REPLICATES:
        raise ValidationError(f"replicates must be at least {MIN_REPLICATES}, got {replicates}")
    scenario_dir = Path(scenario_dir)
    if not scenario_dir.is_dir():
        raise ValidationError(f"{scenario_dir}: no such scenarios folder")
    started = time.perf_counter()
    lab = Lab(scenario_dir, replicates, seed, progress)
    plan(checks, lab)
    influence.plan(lab, tuple(mechanisms))
    lab.run_all()
    stats = Stats(replicates, seed)
    results = []
    for check in checks:
        runs = {name: lab.get(arm) for name, arm in check.arms.items()}
        outcome = _evaluate(check, runs, stats)
        kos, ko_runs = [], []
        for ko in check.knockouts:
            kr = {name: lab.get(ko.apply(name, arm)) for name, arm in check.arms.items()}
            kos.append(KnockOutResult(ko, _evaluate(check, kr, stats)))
            ko_runs.append((ko, kr))
        extra = check.conflict.measure(runs, stats) if check.conflict and check.conflict.measure else None
        results.append(CheckResult(check, outcome, kos, runs, ko_runs, extra))
    rows = influence.measure(lab, stats, tuple(mechanisms))
    seconds = time.perf_counter() - started
    return Validation(results, replicates, seed, scenario_dir, seconds, lab.simulated, rows)
