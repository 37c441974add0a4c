"""Robustness of the patterns: in what share of the prior do P1-P8 (and their knock-outs) hold?

`balancesim validate` checks the patterns at the calibrated values. Most of
those values are assumptions, stated as ranges in the baseline's
`uncertainty:` section. Here every check runs again at many *draws* from
that prior: draw d fixes one value of every uncertain PATH (from
`uncertainty.draw`, so the draws depend only on the seed), every arm of every
check and knock-out runs `runs` replicates with those values, and the check's
own measure and thresholds give a verdict for that draw. The report is, per
check and per knock-out, the share of draws in which it passes, fails or is
unclear.

With a calibration's posterior (`posterior`, as `run --posterior DIR`), the
calibrated PATHs are drawn jointly from its weighted particles (draw d takes
the particle `Posterior.pick` gives replicate d) and the other uncertain
PATHs from their priors: the question becomes whether the patterns hold
across the posterior, not only across the prior.

This is a layer over the checks: it calls each check's `measure` on runs
made with per-draw values and changes nothing in the checks themselves.
Runs of one draw share their replicate seeds across arms (common random
numbers, as in the validation); different draws use different replicates.
A value that an arm or knock-out sets itself (e.g. `hedging_tension = 0`)
keeps the arm's value: the knock-out's switch is not drawn over. Draws are
run a block at a time (about a thousand runs per arm), so memory stays that
of an ordinary validation whatever the number of draws.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from balancesim.model import engine
from balancesim.model.state import build_setup
from balancesim.validation.core import (
    DEFAULT_SEED,
    FAIL,
    PASS,
    SCENARIO_DIR,
    UNCLEAR,
    Arm,
    Check,
    Lab,
    Run,
    Stats,
    ValidationError,
    _evaluate,
    plan,
)

# 30 draws x 400 runs per arm: at 200 runs half of the draws of P5b (exit is rare when the
# alliance protects, so its risk ratio is wide) and P6 (a ratio of standard deviations) were
# "unclear"; at 400 one in five or fewer. 30 draws x 48 arms x 400 runs is about 580,000 runs,
# about 4 minutes of one core's CPU time; the share of draws is then known to about +-9 points.
DEFAULT_DRAWS = 30
DEFAULT_RUNS = 400
BLOCK_RUNS = 1000  # runs per arm held in memory at a time
VERDICTS = (PASS, FAIL, UNCLEAR)


@dataclass
class Shares:
    """How many draws gave each verdict."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))

    def add(self, verdict: str) -> None:
        self.counts[verdict] += 1

    def share(self, verdict: str) -> float:
        total = sum(self.counts.values())
        return self.counts[verdict] / total if total else float("nan")


@dataclass
class RobustCheck:
    """One check's verdicts over the draws, and each knock-out's."""

    check: Check
    shares: Shares
    knockouts: list[tuple[str, Shares]]  # (switch, shares)


@dataclass
class Robustness:
    """The result of `run_robust`."""

    checks: list[RobustCheck]
    draws: int
    runs: int
    seed: int
    paths: list[str]  # the uncertain PATHs drawn
    seconds: float
    runs_simulated: int
    posterior: str | None = None  # the calibration folder drawn from (None: the prior only)
    joint: Shares = field(default_factory=Shares)  # per draw: pass = every check passes there

    @property
    def joint_pass(self) -> float:
        """The share of draws in which ALL checks pass together (the patterns' joint verdict)."""
        return self.joint.share(PASS)


def count_robust_runs(checks: Sequence[Check], draws: int, runs: int) -> int:
    """Runs `run_robust` simulates: every distinct arm, runs x draws each."""
    from balancesim.validation.runner import count_runs

    return count_runs(checks, runs) * draws


class DrawLab(Lab):
    """A Lab whose arms run a block of draws: runs x draws replicates, each draw with its own values."""

    def __init__(
        self,
        scenario_dir: Path,
        runs: int,
        seed: int,
        drawn: dict[str, np.ndarray],
        first_draw: int,
        progress: Callable[[int], None] | None,
    ) -> None:
        draws = len(next(iter(drawn.values())))
        super().__init__(scenario_dir, runs * draws, seed, progress)
        self.runs, self.draws, self.drawn, self.first_draw = runs, draws, drawn, first_draw

    def values_for(self, arm: Arm, scenario: Any) -> dict[str, np.ndarray]:
        """The drawn values that apply to this arm: not set by the arm itself, present in its scenario."""
        from balancesim.scenario.per_run import resolve

        own = list(arm.override_dict)
        out = {}
        for path, values in self.drawn.items():
            if any(path == k or path.startswith(k + ".") for k in own):
                continue
            try:
                resolve(scenario, path)
            except ValueError:
                continue
            out[path] = np.repeat(values, self.runs)  # draw d holds runs d*runs..(d+1)*runs-1
        return out

    def run_all(self) -> None:

        first = self.first_draw * self.runs
        seeds = engine.replicate_seeds(self.seed, self.replicates, first)
        for arm, wanted in self._wanted.items():
            if arm in self._runs:
                continue
            scenario = self.load(arm)
            setup = build_setup(scenario)
            keys = sorted(wanted)
            idx = self.column_index(arm, setup, keys)
            values = self.values_for(arm, scenario)
            data = np.empty((setup.horizon + 1, self.replicates, len(idx)))
            for start, count in engine.chunks(self.replicates, engine.DEFAULT_CHUNK):
                part = slice(start, start + count)
                engine.run_replicates(
                    setup,
                    seeds[part],
                    column_index=idx,
                    out=data[:, part],
                    values={p: v[part] for p, v in values.items()},
                )
                if self.progress is not None:
                    self.progress(count)
            self._runs[arm] = Run(arm, setup, data, {k: j for j, k in enumerate(keys)})
            self.simulated += self.replicates

    def draw(self, arm: Arm, d: int) -> Run:
        """The runs of draw d (within this block) of one arm."""
        run = self._runs[self._key(arm)]
        return Run(arm, run.setup, run.data[:, d * self.runs : (d + 1) * self.runs], run.index)


def run_robust(
    draws: int = DEFAULT_DRAWS,
    runs: int = DEFAULT_RUNS,
    seed: int = DEFAULT_SEED,
    scenario_dir: str | Path = SCENARIO_DIR,
    checks: Sequence[Check] | None = None,
    progress: Callable[[int], None] | None = None,
    posterior: str | Path | None = None,
    runner: Any = None,
) -> Robustness:
    """Every check and knock-out at `draws` draws from the baseline's prior, `runs` runs per arm each.

    `posterior`: a `balancesim calibrate` folder; its PATHs are drawn from its
    particles instead of their priors (a bad folder raises ValidationError).
    `runner`: an executor (`experiment.executors`) that runs blocks of draws in
    parallel; each block's runs depend only on the seed and its first draw, so
    the verdicts are the same on every executor.
    """
    from balancesim.scenario.files import ScenarioError, load_scenario
    from balancesim.scenario.posterior import PosteriorError, read_posterior
    from balancesim.scenario.uncertainty import draw

    if checks is None:
        checks = project_checks()
    if draws < 1 or runs < 2:
        raise ValidationError(f"--robust needs at least 1 draw and 2 runs per arm, got {draws} and {runs}")
    scenario_dir = Path(scenario_dir)
    baseline_file = scenario_dir / "baseline.yaml"
    if not baseline_file.is_file():
        raise ValidationError(f"{baseline_file}: scenario file not found (--scenarios names the folder)")
    try:
        baseline = load_scenario(baseline_file)
    except ScenarioError as e:
        raise ValidationError(str(e)) from None
    if posterior is not None:
        try:
            baseline.set_posterior(read_posterior(posterior, baseline, where="--posterior"))
        except PosteriorError as e:
            raise ValidationError(str(e)) from None
    if not getattr(baseline, "uncertainty", None) and baseline.posterior is None:
        raise ValidationError(f"{baseline_file}: no uncertainty: section, so no prior to draw from")
    started = time.perf_counter()
    drawn = draw(baseline, seed, draws)
    results = [
        RobustCheck(check, Shares(), [(ko.switch, Shares()) for ko in check.knockouts]) for check in checks
    ]
    simulated = 0
    joint = Shares()
    block = max(1, BLOCK_RUNS // runs)
    items = [
        (first, {p: v[first : first + block] for p, v in drawn.items()}) for first in range(0, draws, block)
    ]
    shared = (scenario_dir, runs, seed, None if checks is project_checks() else tuple(checks))
    found: dict[int, tuple[int, list[list[str]]]] = {}
    if runner is None:  # in this process, with the progress of every chunk of runs
        for item in items:
            found[item[0]] = _block(shared, item, progress)
    else:  # blocks on the executor; the progress advances a block at a time
        for item, (count, verdicts) in runner.map_unordered(_block, shared, items):
            found[item[0]] = (count, verdicts)
            if progress is not None:
                progress(count)
    for first in sorted(found):  # in draw order, whatever order the blocks finished in
        count, per_draw = found[first]
        simulated += count
        for verdicts in per_draw:
            patterns = []
            k = 0
            for result in results:
                result.shares.add(verdicts[k])
                patterns.append(verdicts[k])
                k += 1
                for _, shares in result.knockouts:
                    shares.add(verdicts[k])
                    k += 1
            joint.add(PASS if all(v == PASS for v in patterns) else FAIL if FAIL in patterns else UNCLEAR)
    used = baseline.posterior.folder if baseline.posterior is not None else None
    seconds = time.perf_counter() - started
    return Robustness(results, draws, runs, seed, sorted(drawn), seconds, simulated, used, joint)


def project_checks() -> tuple[Check, ...]:
    """The project's checks (imported on use: the checks read the patterns file)."""
    from balancesim.validation.checks import CHECKS

    return CHECKS


def _block(
    shared: tuple[Path, int, int, tuple[Check, ...] | None],
    item: tuple[int, dict[str, np.ndarray]],
    progress: Callable[[int], None] | None = None,
) -> tuple[int, list[list[str]]]:
    """One block of draws: runs simulated, and per draw every check's verdict then its knock-outs'."""
    scenario_dir, runs, seed, checks = shared
    checks = checks if checks is not None else project_checks()
    first, values = item
    stats = Stats(runs, seed)
    lab = DrawLab(scenario_dir, runs, seed, values, first, progress)
    plan(checks, lab)
    lab.run_all()
    out = []
    for d in range(lab.draws):
        verdicts = []
        for check in checks:
            arms = {name: lab.draw(arm, d) for name, arm in check.arms.items()}
            verdicts.append(_evaluate(check, arms, stats).verdict)
            for ko in check.knockouts:
                ko_arms = {name: lab.draw(ko.apply(name, arm), d) for name, arm in check.arms.items()}
                verdicts.append(_evaluate(check, ko_arms, stats).verdict)
        out.append(verdicts)
    return lab.simulated, out


def robust_rows(result: Robustness) -> list[dict[str, Any]]:
    """One row per check and per knock-out: the shares of draws that pass, fail and are unclear."""
    rows = []
    for r in result.checks:
        rows.append(_row(r.check, "", r.shares))
        rows += [_row(r.check, switch, shares) for switch, shares in r.knockouts]
    return rows


def _row(check: Check, knockout: str, shares: Shares) -> dict[str, Any]:
    return {
        "check": check.id,
        "pattern": check.pattern,
        "title": check.title,
        "knockout": knockout,
        **{f"share_{v}": shares.share(v) for v in VERDICTS},
        "draws": sum(shares.counts.values()),
    }


def write_robust(result: Robustness, folder: str | Path) -> list[Path]:
    """robust.csv (the rows) and robust.json (the rows and the settings), written atomically."""
    import pandas as pd

    from balancesim.experiment.store import write_atomic, write_json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = robust_rows(result)
    table = pd.DataFrame(rows).to_csv(index=False, float_format="%.4f")
    write_atomic(folder / "robust.csv", lambda f: f.write(table.encode()))
    from balancesim.validation.patterns import load

    patterns = load()
    write_json(
        folder / "robust.json",
        {
            "patterns": {"file": patterns.path.name, "version": patterns.version, "sha256": patterns.sha256},
            "draws": result.draws,
            "runs_per_arm": result.runs,
            "seed": result.seed,
            "posterior": result.posterior,
            "uncertain_paths": result.paths,
            "runs_simulated": result.runs_simulated,
            "seconds": round(result.seconds, 1),
            "joint": {
                "rule": "a draw passes jointly when every check passes at it; fails when any fails",
                **{f"share_{v}": result.joint.share(v) for v in VERDICTS},
            },
            "rows": rows,
        },
    )
    return [folder / "robust.csv", folder / "robust.json"]
