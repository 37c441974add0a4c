"""Scenarios side by side: chances and times of tipping, exits, and effects against the baseline.

`compare` runs every scenario on the same seed (so the same replicate seeds:
common random numbers, and the same prior draws for the PATHs they share)
and sums up, per scenario and regional state:

* the chance that the Russia–China balance tips toward the second power of
  the balance pair (below `threshold`, for `sustained` months in a row) by
  month `by`, and the first month it does (median and 90% interval over the
  runs that tip);
* for each institution the state belongs to at the start, the chance of an
  exit threat and of an exit by month `by`;
* the paired effect against the baseline scenario at month `by` on the
  balance and the hedging index (median and 90% band).

It returns data (`Comparison`), never prints; the command is cli/compare.py,
the figure figures/compare.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from balancesim.experiment import batch
from balancesim.scenario.schema import Scenario


@dataclass
class Comparison:
    table: pd.DataFrame  # one row per scenario and state (see `compare`)
    scenarios: dict[str, str]  # key -> display name, in order
    baseline: str  # key of the baseline scenario
    states: dict[str, str]  # id -> display name
    institutions: dict[str, str]  # id -> display name
    by: int  # month
    by_date: str
    start: str
    threshold: float
    sustained: int
    replicates: int
    seed: int
    towards: str  # the power a tip goes toward (below the threshold)
    away: str  # the other one of the balance pair

    @property
    def definition(self) -> str:
        """The definitions the figures rest on, in words (printed with every output)."""
        months = "a month" if self.sustained == 1 else f"{self.sustained} months in a row"
        return (
            f"Tipping: a state's {self.away}–{self.towards} balance crosses below {self.threshold:+g} "
            f"(toward {self.towards}) and stays there for {months}, by {self.by_date} (month {self.by}); "
            f"a state that starts below must come back above first; first tip: the first "
            f"such month, median [5%–95%] over the runs that tip. Exit threat / exit: in any month by "
            f"{self.by_date}, of the institutions the state belongs to at the start. Effects: paired "
            f"difference from the baseline at {self.by_date}, median [5%–95%]. {self.replicates} runs per "
            f"scenario, seed {self.seed}, common random numbers."
        )


def first_tip(balance: np.ndarray, threshold: float = 0.0, sustained: int = 1) -> np.ndarray:
    """(months, R) balance from month 0 -> each run's first tipping month (NaN: never).

    A run tips at month m >= 1 when its balance crosses below `threshold`
    there: at or above it in month m - 1, below it in months
    m .. m + sustained - 1 (all within the series). A state that starts below
    has to come back above first.
    """
    below = balance < threshold  # months 0..
    if sustained > 1:
        counts = np.vstack([np.zeros((1, below.shape[1])), np.cumsum(below, axis=0)])
        run = np.zeros_like(below)
        run[: len(below) - sustained + 1] = (counts[sustained:] - counts[:-sustained]) >= sustained
    else:
        run = below
    crossing = run[1:] & ~below[:-1]  # month m = k + 1
    tipped = crossing.any(axis=0)
    return np.where(tipped, crossing.argmax(axis=0) + 1.0, np.nan)


def _band(values: np.ndarray) -> tuple[float, float, float]:
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return (np.nan, np.nan, np.nan)
    q = np.quantile(values, [0.5, 0.05, 0.95])
    return float(q[0]), float(q[1]), float(q[2])


def compare(
    scenarios: Mapping[str, Scenario],
    baseline: str,
    by: int,
    threshold: float = 0.0,
    sustained: int = 1,
    replicates: int = 400,
    seed: int = 20220301,
    progress: Callable[[int], None] | None = None,
) -> Comparison:
    """Run each scenario `replicates` times from `seed` and compare them (see the module's text).

    `scenarios` maps a key (e.g. the file's stem) to a scenario whose horizon
    reaches month `by`; `baseline` is the key of the one the effects are
    measured against. Runs draw from the scenarios' priors (or posterior).
    """
    if baseline not in scenarios:
        raise ValueError(f"the baseline '{baseline}' is not among the scenarios")
    if sustained < 1:
        raise ValueError("sustained must be at least 1 month")
    runs: dict[str, batch.Results] = {}
    for key, spec in scenarios.items():
        if spec.horizon < by:
            raise ValueError(f"{key}: its runs end at month {spec.horizon}, before month {by}")
        runs[key] = batch.run(
            spec,
            replicates=replicates,
            seed=seed,
            measures="essential",
            uncertainty="prior",
            progress=progress,
        )
    base = runs[baseline]
    first = runs[baseline].scenario
    a, b = first.balance_pair
    names = {x.id: x.name for x in first.actors}
    states = {s.id: s.name for s in first.regional if s.in_region}
    institutions: dict[str, str] = {}
    rows = []
    for key, res in runs.items():
        spec = res.scenario
        institutions |= {i.id: i.name for i in spec.institutions}
        for state in states:
            if state not in res.setup.regional_ids:
                continue
            balance = res.values(state, "balance")[: by + 1]
            tips = first_tip(balance, threshold, sustained)
            median, p5, p95 = _band(tips)
            row = {
                "scenario": key,
                "scenario_name": spec.name,
                "state": state,
                "state_name": states[state],
                "tip_chance": float(np.isfinite(tips).mean()),
                "starts_below": float((balance[0] < threshold).mean()),
                "first_tip_median": median,
                "first_tip_p5": p5,
                "first_tip_p95": p95,
            }
            for name, stat in (("balance", "balance_effect"), ("hedging_index", "hedging_effect")):
                if base.has(state, name):
                    diff = res.values(state, name)[by] - base.values(state, name)[by]
                    med, lo, hi = _band(diff)
                else:
                    med = lo = hi = np.nan
                row |= {f"{stat}_median": med, f"{stat}_p5": lo, f"{stat}_p95": hi}
            for inst in spec.institutions:
                if state not in inst.members:
                    continue
                member = res.values(state, f"member.{inst.id}")[: by + 1]
                threat = res.values(state, f"exit_threat.{inst.id}")[: by + 1]
                row[f"exit_threat_{inst.id}"] = float((threat[1:] > 0.5).any(axis=0).mean())
                row[f"exit_{inst.id}"] = float((member[1:] < 0.5).any(axis=0).mean())
            rows.append(row)
    table = pd.DataFrame(rows)
    return Comparison(
        table=table,
        scenarios={k: r.scenario.name for k, r in runs.items()},
        baseline=baseline,
        states=states,
        institutions=institutions,
        by=by,
        by_date=batch.calendar_month(first.start, by),
        start=first.start,
        threshold=threshold,
        sustained=sustained,
        replicates=replicates,
        seed=seed,
        towards=names[b],
        away=names[a],
    )


def month_label(start: str, month: float) -> str:
    """A month number as its calendar month ('—' for NaN)."""
    return "—" if not np.isfinite(month) else batch.calendar_month(start, round(month))
