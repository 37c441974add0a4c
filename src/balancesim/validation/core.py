"""The machinery of the validation: arms, runs, statistics, checks and their verdicts.

Nothing here knows a pattern; the `checks` package defines them and `report.py`
writes what they found.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from balancesim.model import engine, metrics
from balancesim.model.state import Setup, build_setup
from balancesim.scenario.files import load_scenario
from balancesim.scenario.schema import Scenario

DEFAULT_REPLICATES = 1000
DEFAULT_SEED = 20220301
MIN_REPLICATES = 20  # below this the intervals say nothing
BOOTSTRAP_SAMPLES = 1000
SCENARIO_DIR = Path(__file__).resolve().parents[3] / "scenarios"

PASS, FAIL, UNCLEAR = "pass", "fail", "unclear"

# --------------------------------------------------------------------------
# Arms, runs and the lab that runs them


@dataclass(frozen=True)
class Arm:
    """One scenario variant of an experiment: a scenario file plus overrides."""

    label: str
    scenario: str  # file name in the scenarios folder
    overrides: tuple[tuple[str, str], ...] = ()  # (dotted path, JSON value), sorted

    @staticmethod
    def of(label: str, scenario: str, overrides: dict[str, Any] | None = None) -> Arm:
        items = tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in (overrides or {}).items()))
        return Arm(label, scenario, items)

    def with_overrides(self, extra: dict[str, Any]) -> Arm:
        merged = {k: json.loads(v) for k, v in self.overrides} | extra
        return Arm.of(self.label, self.scenario, merged)

    @property
    def override_dict(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.overrides}

    def command_line(self) -> str:
        """The arm as `balancesim run` options (shock lists are written as YAML flow)."""
        parts = [f"scenarios/{self.scenario}"]
        for k, v in self.overrides:
            parts.append(f"--set '{k}={v}'")
        return " ".join(parts)


@dataclass
class Run:
    """Selected measures of every replicate of one arm at every month."""

    arm: Arm
    setup: Setup
    data: np.ndarray  # (months, R, C)
    index: dict[tuple[str, str], int]

    def values(self, actor: str, measure: str) -> np.ndarray:
        """(months, R) values of one measure."""
        return self.data[:, :, self.index[(actor, measure)]]

    @property
    def regional(self) -> tuple[str, ...]:
        """The states the checks are about: those inside the region (`in_region`)."""
        return self.setup.region_ids

    @property
    def pair(self) -> tuple[str, str]:
        a, b = self.setup.balance_pair
        return self.setup.partner_ids[a], self.setup.partner_ids[b]


Runs = dict[str, Run]


class ValidationError(ValueError):
    """A problem with the validation's inputs (scenario folder, files, options)."""


class Lab:
    """Runs each distinct arm once, with the union of the columns its checks need."""

    def __init__(
        self,
        scenario_dir: Path,
        replicates: int,
        seed: int,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.scenario_dir = Path(scenario_dir)
        self.replicates = replicates
        self.seed = seed
        self.progress = progress
        self._wanted: dict[Arm, set[tuple[str, str]]] = {}
        self._runs: dict[Arm, Run] = {}
        self._named: dict[Arm, Arm] = {}  # the first labelled arm of each distinct run, for messages
        self.simulated = 0

    @staticmethod
    def _key(arm: Arm) -> Arm:
        """Arms that differ only in their label are the same runs: run them once."""
        return Arm("", arm.scenario, arm.overrides)

    def want(self, arm: Arm, columns: Sequence[tuple[str, str]]) -> None:
        self._wanted.setdefault(self._key(arm), set()).update(columns)
        self._named.setdefault(self._key(arm), arm)

    @property
    def pending(self) -> int:
        return len([a for a in self._wanted if a not in self._runs])

    def load(self, arm: Arm) -> Scenario:
        path = self.scenario_dir / arm.scenario
        if not path.is_file():
            raise ValidationError(f"{path}: scenario file not found (use --scenarios to point at the folder)")
        from balancesim.scenario.files import ScenarioError

        try:
            return load_scenario(path, arm.override_dict)
        except ScenarioError as e:
            raise ValidationError(f"arm '{self._named.get(arm, arm).label}': {e}") from None

    def column_index(self, arm: Arm, setup: Setup, keys: list[tuple[str, str]]) -> np.ndarray:
        """The engine's column of each (actor, measure) in `keys`, or ValidationError naming the arm."""
        cols = metrics.columns(setup)
        try:
            return np.array([cols.index(a, m) for a, m in keys], dtype=np.int64)
        except KeyError as e:
            label = self._named[arm].label
            raise ValidationError(f"arm '{label}' ({arm.scenario}): {e.args[0]}") from None

    def run_all(self) -> None:
        for arm, wanted in self._wanted.items():
            if arm in self._runs:
                continue
            setup = build_setup(self.load(arm))
            keys = sorted(wanted)
            idx = self.column_index(arm, setup, keys)
            data = engine.simulate(
                setup, self.seed, self.replicates, column_index=idx, progress=self.progress
            )
            self._runs[arm] = Run(arm, setup, data, {k: j for j, k in enumerate(keys)})
            self.simulated += self.replicates

    def get(self, arm: Arm) -> Run:
        run = self._runs[self._key(arm)]
        return Run(arm, run.setup, run.data, run.index)


# --------------------------------------------------------------------------
# Statistics: point estimates with 95% intervals


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    detail: str = ""  # the figures behind it, in words


class Stats:
    """Intervals over replicates: Wilson for proportions, bootstrap otherwise (both scipy's).

    The bootstrap is scipy's percentile bootstrap over replicates. It resamples
    replicate indices, with a generator seeded afresh from the validation seed
    for every figure, so every arm of every check sees the same resamples:
    paired contrasts stay paired (scipy's `paired=True` does the same, but
    needs arrays of one shape) and the figures are the same on every run.
    """

    def __init__(self, replicates: int, seed: int, samples: int = BOOTSTRAP_SAMPLES) -> None:
        self.replicates = replicates
        self.seed = seed
        self.samples = samples

    def boot(self, fn: Callable[..., np.ndarray], *arrays: np.ndarray, detail: str = "") -> Estimate:
        """`fn` of the replicate means of `arrays` (replicate axis first): estimate and interval.

        `fn` receives means with a leading resample axis and must return one
        value per resample.
        """
        from scipy.stats import bootstrap

        R = self.replicates
        flat = [np.asarray(a, dtype=float).reshape(R, -1) for a in arrays]
        shapes = [np.shape(a)[1:] for a in arrays]

        def of_means(weights: np.ndarray) -> np.ndarray:
            """`fn` of the means under replicate weights (B, R) summing to one per row."""
            return np.ravel(fn(*[(weights @ f).reshape((-1, *s)) for f, s in zip(flat, shapes, strict=True)]))

        def statistic(index: np.ndarray, axis: int = -1) -> np.ndarray:
            # index: (B, R) resampled replicate numbers; counts per replicate are the weights.
            index = np.atleast_2d(index)
            B = index.shape[0]
            counts = np.bincount((index + R * np.arange(B)[:, None]).ravel(), minlength=B * R)
            return of_means(counts.reshape(B, R) / R)

        point = of_means(np.full((1, R), 1.0 / R))[0]
        result = bootstrap(
            (np.arange(R),),
            statistic,
            n_resamples=self.samples,
            vectorized=True,
            method="percentile",
            confidence_level=0.95,
            rng=np.random.default_rng(np.random.SeedSequence([self.seed, 0xB007])),
        )
        ci = result.confidence_interval
        return Estimate(float(point), float(ci.low), float(ci.high), detail)

    def mean(self, x: np.ndarray, detail: str = "") -> Estimate:
        return self.boot(lambda m: m, x, detail=detail)

    @staticmethod
    def proportion(hits: np.ndarray, detail: str = "") -> Estimate:
        """Share of replicates where `hits` is true, with its Wilson 95% interval."""
        from scipy.stats import binomtest

        n, k = int(np.size(hits)), int(np.count_nonzero(hits))
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        return Estimate(k / n, float(ci.low), float(ci.high), detail)

    def risk_ratio(self, treated: np.ndarray, control: np.ndarray, detail: str = "") -> Estimate:
        """P(treated) / P(control) over paired replicates, with half an event added to each
        count (so that a ratio exists when the control has none)."""
        half = 0.5 / self.replicates
        return self.boot(lambda a, b: (a + half) / (b + half), treated, control, detail=detail)


# --------------------------------------------------------------------------
# Checks


@dataclass(frozen=True)
class Threshold:
    """What a figure must satisfy, stated before the figure is computed."""

    figure: str  # what the figure is, in words
    op: str  # ">=" or "<="
    value: float
    why: str  # the reason for this threshold, one line
    fmt: str = "{:.3f}"

    def verdict(self, e: Estimate) -> str:
        if self.op == ">=":
            return PASS if e.low >= self.value else FAIL if e.high < self.value else UNCLEAR
        return PASS if e.high <= self.value else FAIL if e.low > self.value else UNCLEAR

    def text(self) -> str:
        return f"{'≥' if self.op == '>=' else '≤'} {self.fmt.format(self.value)}"


@dataclass(frozen=True)
class KnockOut:
    """A control: the check's experiment with a rule switched off."""

    switch: str  # e.g. "hedging_tension = 0"
    what: str  # what that switches off, in words
    overrides: dict[str, Any] = field(default_factory=dict)  # applied to every arm
    arm_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # per arm name

    def apply(self, name: str, arm: Arm) -> Arm:
        extra = self.overrides | self.arm_overrides.get(name, {})
        return arm.with_overrides(extra) if extra else arm


Measure = Callable[[Runs, Stats], list[Estimate]]
Plot = Callable[[Any, Runs, list[tuple[KnockOut, Runs]]], None]


@dataclass(frozen=True)
class Conflict:
    """A documented conflict between a check's pattern and the observed record.

    Issue 11 asks that where a pattern conflicts with the data the report says
    which and why, instead of the check being loosened. The threshold and the
    verdict stay as they are; the conflict is printed beside the verdict, and an
    optional extra figure (for example the same share with the states whose
    observed record itself crosses the limits left out) is reported next to it,
    clearly labelled, never in place of it.
    """

    summary: str  # one line: which states conflict, and the observed figure
    record: str  # the observed figures with their source, and what the model does there
    figure: str = ""  # what the extra figure is, in words
    measure: Callable[[Runs, Stats], Estimate] | None = None  # the extra figure, if any


@dataclass(frozen=True)
class Check:
    id: str  # "P1", "P2a", ...
    pattern: str  # "P1"
    claims: str
    title: str
    statement: str  # what the pattern says
    experiment: str  # what is run, in words
    arms: dict[str, Arm]
    columns: tuple[tuple[str, str], ...]
    thresholds: tuple[Threshold, ...]
    measure: Measure
    knockouts: tuple[KnockOut, ...]
    plot: Plot
    notes: str = ""
    conflict: Conflict | None = None  # a documented conflict with the observed record


@dataclass
class Outcome:
    estimates: list[Estimate]
    verdicts: list[str]

    @property
    def verdict(self) -> str:
        if all(v == PASS for v in self.verdicts):
            return PASS
        return FAIL if FAIL in self.verdicts else UNCLEAR


@dataclass
class KnockOutResult:
    knockout: KnockOut
    outcome: Outcome

    @property
    def informative(self) -> bool:
        """The check fails clearly without the rule: the rule is shown to matter."""
        return self.outcome.verdict == FAIL

    @property
    def label(self) -> str:
        v = self.outcome.verdict
        return {FAIL: "pattern lost", PASS: "UNINFORMATIVE: still passes", UNCLEAR: "inconclusive"}[v]


@dataclass
class CheckResult:
    check: Check
    outcome: Outcome
    knockouts: list[KnockOutResult]
    runs: Runs
    ko_runs: list[tuple[KnockOut, Runs]]
    extra: Estimate | None = None  # the conflict's extra figure (not the verdict)

    @property
    def passed(self) -> bool:
        return self.outcome.verdict == PASS

    @property
    def controls_ok(self) -> bool:
        return all(k.informative for k in self.knockouts)


@dataclass
class Validation:
    results: list[CheckResult]
    replicates: int
    seed: int
    scenario_dir: Path
    seconds: float
    runs_simulated: int
    influence: list = field(default_factory=list)  # influence.Influence rows, if run

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def controls_ok(self) -> bool:
        return all(r.controls_ok for r in self.results)


# --------------------------------------------------------------------------
# Running


def plan(checks: Sequence[Check], lab: Lab) -> None:
    """Register every arm (and knock-out arm) of `checks` with the lab."""
    for check in checks:
        for name, arm in check.arms.items():
            lab.want(arm, check.columns)
            for ko in check.knockouts:
                lab.want(ko.apply(name, arm), check.columns)


def _evaluate(check: Check, runs: Runs, stats: Stats) -> Outcome:
    estimates = check.measure(runs, stats)
    if len(estimates) != len(check.thresholds):  # pragma: no cover - a programming error
        raise RuntimeError(f"{check.id}: {len(estimates)} figures for {len(check.thresholds)} thresholds")
    return Outcome(estimates, [t.verdict(e) for t, e in zip(check.thresholds, estimates, strict=True)])
