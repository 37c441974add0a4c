"""Experiments: run a scenario many times, compare it with a baseline.

The model (rules, engine, BalanceModel) knows nothing of files or plots; this
module turns a scenario into `Results` (arrays plus their labels), and
`Results` into tidy pandas tables. Writing them to disk is store.py's job,
drawing them plots.py's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from balancesim.model import engine, metrics
from balancesim.model.draws import shock_draws
from balancesim.model.state import Setup, build_setup
from balancesim.model.trace import Trace
from balancesim.model.trace import explain as explain_trace
from balancesim.scenario.schema import Scenario

Engine = Literal["vectorised", "mesa"]
Measures = Literal["all", "essential"]
Uncertainty = Literal["prior", "none"]
# A run keeps every value in memory and writes it as one long table; past this
# many values that table no longer fits comfortably in memory.
MAX_KEPT_VALUES = 150_000_000


class RunTooLarge(ValueError):
    """A run whose kept series would not fit in memory."""


@dataclass
class Results:
    """Measures of every replicate at every month of one scenario run."""

    scenario: Scenario
    setup: Setup
    seed: int
    data: np.ndarray  # (months, R, C)
    columns: metrics.Columns
    months: np.ndarray  # (months,)
    engine: str = "vectorised"
    timings: dict[str, float] = field(default_factory=dict)
    # Per-run values (PATH -> (R,) array): the draws from the priors, or those
    # shared with the scenario this run is the baseline of. Empty: none.
    drawn: dict[str, np.ndarray] = field(default_factory=dict)
    uncertainty: str = "none"  # prior (drawn here), given (passed in) or none
    trace: Trace | None = None  # each month's decision, with run(..., trace=True)
    # The scenario's own per-run draws (PATH -> (R,)): shock severities, months of random
    # shocks (model/draws.py). Recorded, never passed to the engine: the noise makes them.
    recorded: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def replicates(self) -> int:
        return self.data.shape[1]

    @property
    def inputs(self) -> dict[str, np.ndarray]:
        """Every per-run draw: the values drawn or given, then the scenario's own draws."""
        return {**self.drawn, **self.recorded}

    def values(self, actor: str, measure: str) -> np.ndarray:
        """(months, R) values of one measure."""
        return self.data[:, :, self.columns.index(actor, measure)]

    def has(self, actor: str, measure: str) -> bool:
        try:
            self.columns.index(actor, measure)
        except KeyError:
            return False
        return True

    def explain(
        self,
        actor: str,
        start: int | str = 0,
        end: int | str | None = None,
        partner: str | None = None,
        domain: str | None = None,
        baseline: Results | None = None,
    ) -> pd.DataFrame:
        """Why `actor` moved from `start` to `end` (months or "YYYY-MM"): contributions by mechanism.

        A tidy frame (model/trace.py `explain`): variable, partner, domain,
        mechanism, claims, median, low (5%), high (95%), mean over runs.
        With `baseline` (the same runs of the baseline scenario, as `run
        --baseline` makes them) it explains the effect: the paired
        difference of contributions. Needs `run(..., trace=True)`.
        """
        if self.trace is None or (baseline is not None and baseline.trace is None):
            raise ValueError("no decision trace: run with trace=True (balancesim run --trace)")
        return explain_trace(
            self.trace,
            self.setup,
            actor,
            month_index(self.scenario.start, start),
            None if end is None else month_index(self.scenario.start, end),
            partner,
            domain,
            None if baseline is None else baseline.trace,
        )

    @property
    def series(self) -> pd.DataFrame:
        """The time series in tidy long form (see `long_form`)."""
        return long_form(self.data, self.columns, self.months)


SERIES_COLUMNS = ("replicate", "step", "actor", "partner", "domain", "measure", "value")


def long_form(data: np.ndarray, columns: metrics.Columns, months: np.ndarray) -> pd.DataFrame:
    """(months, R, C) array -> tidy DataFrame: replicate, step, actor, partner, domain, measure, value.

    `partner` (an outside power or institution) and `domain` are split out of
    the packed measure names (`metrics.measure_parts`), "" where a measure has
    none, so that a pivot on (actor, partner, domain, measure) has no packed
    names. Text columns are categorical: a label costs a byte or two per row.
    """
    T, R, C = data.shape
    parts = columns.parts
    frame: dict[str, object] = {
        "replicate": np.repeat(np.arange(R, dtype=np.int32), T * C),
        "step": np.tile(np.repeat(months.astype(np.int32), C), R),
    }
    for k, name in enumerate(("actor", "partner", "domain", "measure")):
        labels = pd.Categorical([p[k] for p in parts])
        frame[name] = pd.Categorical.from_codes(np.tile(labels.codes, R * T), labels.categories)
    frame["value"] = data.transpose(1, 0, 2).reshape(-1)
    return pd.DataFrame(frame, columns=list(SERIES_COLUMNS))


def run(
    scenario: Scenario | str | Path,
    replicates: int | None = None,
    seed: int | None = None,
    engine_name: Engine = "vectorised",
    chunk_size: int = engine.DEFAULT_CHUNK,
    progress: Callable[[int], None] | None = None,
    measures: Measures = "all",
    uncertainty: Uncertainty = "none",
    values: Mapping[str, np.ndarray] | None = None,
    trace: bool = False,
) -> Results:
    """Run a scenario: `replicates` replicates (default: the scenario's) from `seed`.

    Replicate k always has seed `engine.replicate_seeds(seed, k + 1)[k]`, so
    results do not depend on the engine, the chunk size or the replicate count.
    `progress` is called with the number of replicates finished, as they finish.
    `measures="essential"` keeps only what the summary and plots need
    (`metrics.essential_index`), for large runs. Raises ValueError when the
    series would not fit in memory (more than MAX_KEPT_VALUES values).

    `uncertainty="prior"` draws each replicate's values from the scenario's
    priors (`uncertainty.draw`: they depend on the seed, the PATH and the
    replicate only). `values` gives per-run values instead (PATH -> one value
    per replicate), e.g. a scenario's draws for its baseline. `trace=True`
    records each month's decision (`Results.trace`, `Results.explain`).
    """
    if not isinstance(scenario, Scenario):
        from balancesim.scenario.files import load_scenario

        scenario = load_scenario(scenario)
    replicates = scenario.replicates if replicates is None else replicates
    seed = scenario.seed if seed is None else seed
    if replicates < 1:
        raise ValueError("replicates must be at least 1")
    setup = build_setup(scenario)
    columns = metrics.columns(setup)
    index = None if measures == "all" else metrics.essential_index(setup)
    kept = replicates * (setup.horizon + 1) * (len(columns) if index is None else len(index))
    if kept > MAX_KEPT_VALUES:
        raise RunTooLarge(
            f"{replicates:,} runs x {setup.horizon + 1} months would keep {kept:,} values "
            f"(limit {MAX_KEPT_VALUES:,}); use fewer replicates"
            + (", or keep only the essential measures" if index is None else "")
            + ", or `balancesim sweep`, which streams end-of-run outcomes to disk"
        )
    source = "given" if values else "none"
    if values is None and uncertainty == "prior" and scenario.uncertain:
        from balancesim.scenario.uncertainty import draw

        values, source = draw(scenario, seed, replicates), "prior"
    elif uncertainty not in ("prior", "none"):
        raise ValueError(f"unknown uncertainty {uncertainty!r} (prior or none)")
    drawn = {p: np.asarray(v, dtype=float) for p, v in (values or {}).items()}
    started = time.perf_counter()
    kept_trace = Trace.empty(setup, replicates) if trace else None
    if engine_name == "mesa":
        data = _run_mesa(scenario, seed, replicates, progress, drawn, kept_trace)
        if index is not None:
            data = data[:, :, index]
    elif engine_name == "vectorised":
        data = engine.simulate(
            setup,
            seed,
            replicates,
            chunk_size=chunk_size,
            progress=progress,
            column_index=index,
            values=drawn,
            trace=kept_trace,
        )
    else:
        raise ValueError(f"unknown engine {engine_name!r} (vectorised or mesa)")
    recorded = shock_draws(
        setup,
        [shock.id for shock in scenario.shocks],
        engine.replicate_seeds(seed, replicates),
        drawn,
        chunk=chunk_size,
    )
    return Results(
        scenario=scenario,
        setup=setup,
        seed=seed,
        data=data,
        columns=columns if index is None else columns.subset(index),
        months=np.arange(setup.horizon + 1),
        engine=engine_name,
        timings={"simulate_s": time.perf_counter() - started},
        drawn=drawn,
        uncertainty=source,
        trace=kept_trace,
        recorded={p: v for p, v in recorded.items() if p not in drawn},
    )


def _run_mesa(
    scenario: Scenario,
    seed: int,
    replicates: int,
    progress: Callable[[int], None] | None,
    drawn: Mapping[str, np.ndarray],
    trace: Trace | None = None,
) -> np.ndarray:
    from balancesim.model.mesa_model import BalanceModel

    parts = []
    for k, s in enumerate(engine.replicate_seeds(seed, replicates)):
        values = {p: v[k] for p, v in drawn.items()}
        model = BalanceModel(scenario, rng=int(s), values=values, trace=trace is not None)
        while model.running:
            model.step()
            if trace is not None and model.decision is not None:
                trace.part(k, 1).record(model.decision)
        parts.append(model.series())
        if progress is not None:
            progress(1)
    return np.stack(parts, axis=1)


def summary(
    results: Results,
    months: Sequence[int] | None = None,
    baseline: Results | None = None,
    measures: Sequence[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Median and 5-95% band of the key measures at chosen months (tidy table).

    One row per actor, partner, domain, measure, month and quantity:
    "scenario"; with a baseline also "baseline" and "effect", the paired
    difference (scenario minus baseline, replicate by replicate on common
    random numbers).
    """
    horizon = int(results.months[-1])
    wanted = results.scenario.outputs.months if months is None else months
    chosen = sorted({m for m in [0, *wanted, horizon] if 0 <= m <= horizon})
    keys = list(measures) if measures is not None else key_measures(results.setup)
    rows = []
    for actor, name in keys:
        values = results.values(actor, name)
        base = None
        if baseline is not None and baseline.has(actor, name):
            base = baseline.values(actor, name)
        for m in chosen:
            rows.append(_row(results, actor, name, m, "scenario", values[m]))
            if base is not None:
                rows.append(_row(results, actor, name, m, "baseline", base[m]))
                rows.append(_row(results, actor, name, m, "effect", values[m] - base[m]))
    return pd.DataFrame(rows)


def _row(results: Results, actor: str, name: str, month: int, quantity: str, v: np.ndarray) -> dict:
    q = np.quantile(v, [0.05, 0.5, 0.95])
    parts = metrics.measure_parts(name)
    return {
        "actor": actor,
        "partner": parts.partner,
        "domain": parts.domain,
        "measure": parts.measure,
        "month": month,
        "date": calendar_month(results.scenario.start, month),
        "quantity": quantity,
        "mean": float(np.mean(v)),
        "median": float(q[1]),
        "p5": float(q[0]),
        "p95": float(q[2]),
    }


def key_measures(setup: Setup) -> list[tuple[str, str]]:
    """The region's headline measures, then each state's balance and hedging."""
    keys = [(metrics.REGION, m) for m in metrics.HEADLINE]
    keys += [(metrics.REGION, f"members.{i}") for i in setup.institution_ids]
    for s in setup.regional_ids:
        keys += [(s, "balance"), (s, "hedging_index"), (s, "third_party_share")]
    return keys


def month_index(start: str, month: int | str) -> int:
    """A month as a step of a run starting at `start`: an int as it is, "YYYY-MM" counted from start."""
    if isinstance(month, str):
        year, mon = (int(x) for x in month.split("-"))
        first_year, first_mon = (int(x) for x in start.split("-"))
        return (year - first_year) * 12 + mon - first_mon
    return int(month)


def calendar_month(start: str, month: int) -> str:
    """'2022-03' + 14 months -> '2023-05'."""
    year, mon = map(int, start.split("-"))
    total = year * 12 + (mon - 1) + month
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def common_random_numbers(a: Setup, b: Setup) -> bool:
    """Whether two scenarios' runs of the same seed share their random draws.

    True when the draws have the same layout (same regional states, outside
    powers and security alliances, in the same order, over the same horizon);
    shocks draw from a separate block, so scenarios that differ only in their
    shocks or parameters qualify.
    """
    return (a.regional_ids, a.partner_ids, a.horizon, len(a.security_index)) == (
        b.regional_ids,
        b.partner_ids,
        b.horizon,
        len(b.security_index),
    )


def shared_values(results: Results, baseline: Scenario) -> dict[str, np.ndarray]:
    """The run's per-run values that `baseline` has too: its baseline draws the same.

    A path the baseline lacks (e.g. a shock only the scenario has) is left out.
    """
    from balancesim.scenario.per_run import ValuesError, resolve

    out = {}
    for path, v in results.drawn.items():
        try:
            resolve(baseline, path)
        except ValuesError:
            continue
        out[path] = v
    return out


def params_table(results: Results) -> pd.DataFrame:
    """The per-run draws as a table: replicate, then one column per PATH (`Results.inputs`)."""
    table = {"replicate": np.arange(results.replicates, dtype=np.int32)}
    table.update(results.inputs)
    return pd.DataFrame(table)
