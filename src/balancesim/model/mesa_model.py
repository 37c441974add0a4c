"""BalanceModel: one replicate of a scenario as a Mesa model.

The same rules as the engine (rules.py) with one replicate, plus Mesa agents
for inspection, a DataCollector, and the hooks the browser view needs
(stepping, firing a shock now). `BalanceModel(scenario, rng=s)` with
s = `engine.replicate_seeds(seed, n)[k]` reproduces replicate k of an engine
run of `seed` exactly. Without `rng` the model draws a fresh seed, as Mesa
models do, and records it (`replicate_seed`, and the `replicate_seed` model
variable of its DataCollector), so `mesa.batch_run(..., rng=[None] * 3)` gives
three different runs, each reproducible. Extra keyword arguments override the
scenario's parameters, e.g. `BalanceModel(path, hedging_tension=0)`.

The DataCollector is the model's only record of its history: its model
variables hold the regional outcomes (named `regional_*` where the states
have a measure of the same name, so that `batch_run`'s merged rows keep the
two apart) and the institutions' member and exit-threat counts
(`members.csto`, `exit_threats.csto`), its agent variables each actor's id,
name, kind, whether it is counted in the region (`in_region`) and its own
figures (None where a figure does not apply to that kind of actor), and its
table `measures` every measure at every month (columns keyed (actor,
partner, domain, measure), see metrics.py). Every reporter reads the table at
the model's time, so the collector is rebuilt through Mesa's public API alone
(a fresh `DataCollector`, collected month by month) when a shock fired by hand
changes the current month's record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from balancesim.model import engine, metrics, rules
from balancesim.model.agents import Actor, GreatPower, OutsidePower, RegionalState, ThirdParty
from balancesim.model.state import State, build_setup, initial_state
from balancesim.model.trace import DECISION_COLUMNS, Decision, Tracer, decision_rows
from balancesim.scenario.schema import Scenario

MEASURES = "measures"  # the DataCollector table holding every measure
DECISIONS = "decisions"  # with trace=True: each month's contributions (trace.decision_rows)
# Model reporters: name -> regional measure. Means over the states carry
# `regional_`, since the states report `hedging_index` and `balance` themselves.
REGIONAL_REPORTERS = {
    "regional_hedging_index": "hedging_index",
    "regional_balance": "balance",
    "regional_restructuring": "restructuring",
    "regional_third_party_share": "third_party_share",
    "regional_gains": "gains",
    "tension": "tension",
    "coordination": "coordination",
    "volatility": "volatility",
}
SEED_RANGE = 2**64  # replicate seeds are uint64 words (engine.replicate_seeds)


# Agent reporters: name -> the measure each kind of actor reports under it
# (None: the name does not apply to that kind, and the agent reports None).
STATE_REPORTERS = ("hedging_index", "balance", "elite_control", "gains")
POWER_REPORTERS = ("attention", "regional_share")


def _region(name: str) -> Callable[[BalanceModel], float]:
    def reporter(model: BalanceModel) -> float:
        return model.measure_at(metrics.REGION, name, int(model.time))

    reporter.__name__ = name
    reporter.__doc__ = f"Regional {name} (see metrics.py)."
    return reporter


def _own(name: str, kind: type) -> Callable[[Actor], float | None]:
    def reporter(agent: Actor) -> float | None:
        if not isinstance(agent, kind):
            return None
        return agent.model.measure_at(agent.actor_id, name, int(agent.model.time))

    reporter.__name__ = name
    return reporter


def _memberships(agent: Actor) -> int | None:
    """How many institutions the state is a member of this month (None for the powers)."""
    if not isinstance(agent, RegionalState):
        return None
    model = agent.model
    return sum(
        int(model.measure_at(agent.actor_id, f"member.{i}", int(model.time)) > 0)
        for i in model.setup.institution_ids
    )


def replicate_seed(rng: Any) -> int:
    """The replicate seed a `BalanceModel` runs with, from what was passed as `rng`.

    An int is used as it is (0 <= rng < 2**64); None draws fresh entropy from
    the operating system (Mesa's convention); a `numpy.random.SeedSequence` or
    `Generator` gives one word of its stream. Whatever was passed, the model
    records the resulting int, which reproduces the run.
    """
    if rng is None:
        rng = np.random.SeedSequence()
    if isinstance(rng, np.random.SeedSequence):
        return int(rng.generate_state(1, np.uint64)[0])
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(SEED_RANGE, dtype=np.uint64))
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        if not 0 <= int(rng) < SEED_RANGE:
            raise ValueError(f"rng must be a seed from 0 to 2**64 - 1, got {int(rng)}")
        return int(rng)
    raise TypeError(
        "rng must be an integer replicate seed (see engine.replicate_seeds), None for a fresh one, "
        f"a numpy SeedSequence or Generator; got {type(rng).__name__}"
    )


def with_parameters(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """A copy of the scenario with some parameters replaced (validated)."""
    if not overrides:
        return scenario
    from balancesim.scenario.parameters import Parameters

    params = Parameters.model_validate({**scenario.parameters.model_dump(), **overrides})
    return scenario.model_copy(update={"parameters": params})


class BalanceModel(mesa.Model):
    """Central Asian states balancing between great powers: one replicate.

    Args:
        scenario: a `Scenario` or the path of a scenario file.
        rng: the replicate's seed (an int; `engine.replicate_seeds(seed, n)[k]`
            is replicate k of `balancesim run --seed seed`). None draws a fresh
            seed; see `replicate_seed`. The seed used is `self.replicate_seed`.
        values: per-run values, PATH -> number (e.g. `{"actors.china.attention":
            0.4}`): with replicate k's seed and replicate k's drawn values
            (`params.parquet`, `uncertainty.draw`), the model reproduces
            replicate k of a run with uncertainty.
        trace: record each month's decision (trace.py): why each state moved,
            by mechanism. Each regional state agent's `decision` holds its
            last month's, and the DataCollector's table `decisions` all of them.
        **parameters: overrides of the scenario's parameters.
    """

    time: float  # Mesa's simulation clock (an Observable on mesa.Model, untyped)

    def __init__(
        self,
        scenario: Scenario | str | Path,
        rng: int | np.random.SeedSequence | np.random.Generator | None = None,
        values: Mapping[str, float] | None = None,
        trace: bool = False,
        **parameters: Any,
    ) -> None:
        if not isinstance(scenario, Scenario):
            from balancesim.scenario.files import load_scenario

            scenario = load_scenario(scenario)
        spec = with_parameters(scenario, parameters)
        seed = replicate_seed(rng)
        super().__init__(rng=seed)
        self.replicate_seed = seed
        self.spec = spec
        self.values = {p: float(v) for p, v in (values or {}).items()}
        # The state holds the replicate twice (engine.MIN_WIDTH), so its arithmetic is
        # the engine's to the last bit; agents and measures read the first copy. Per-run
        # values are widened alike.
        seeds = engine.widen([seed])
        self.setup = build_setup(spec).with_values(engine.widen_values(self.values, 1))
        self.columns = metrics.columns(self.setup)
        self.state = initial_state(self.setup, len(seeds))
        self.noise = engine.draw_noise(self.setup, seeds)
        self.fired: list[tuple[int, str]] = []
        self.tracer = Tracer(self.setup) if trace else None
        self.decision: Decision | None = None  # the last month's, with trace=True
        self._before_shocks: State | None = None  # the state before this month's shocks fired by hand
        self._keys = [tuple(p) for p in self.columns.parts]  # the `measures` table's columns

        for k, a in enumerate(self.setup.regional_ids):
            RegionalState(self, a, _name(spec, a), k, in_region=bool(self.setup.in_region[k]))
        for k, a in enumerate(self.setup.partner_ids):
            cls = GreatPower if self.setup.is_great_power[k] else ThirdParty
            cls(self, a, _name(spec, a), k, in_region=False)

        self.datacollector = self._new_datacollector()
        self._record()
        self.running = True

    def _new_datacollector(self) -> mesa.DataCollector:
        counts = {
            f"{kind}.{i}": _region(f"{kind}.{i}")
            for i in self.setup.institution_ids
            for kind in ("members", "exit_threats")
        }
        return mesa.DataCollector(
            model_reporters={
                "replicate_seed": "replicate_seed",
                **{name: _region(m) for name, m in REGIONAL_REPORTERS.items()},
                **counts,
            },
            agent_reporters={
                "actor_id": "actor_id",
                "name": "name",
                "kind": "kind",
                "in_region": "in_region",
                **{m: _own(m, RegionalState) for m in STATE_REPORTERS},
                "memberships": _memberships,
                **{m: _own(m, OutsidePower) for m in POWER_REPORTERS},
            },
            tables={
                MEASURES: self._keys,
                **({DECISIONS: list(DECISION_COLUMNS)} if self.tracer is not None else {}),
            },
        )

    # -- stepping ---------------------------------------------------------
    @property
    def month(self) -> int:
        return self.state.month

    def step(self) -> None:
        """Advance one month with the shared rules."""
        if self.state.month >= self.setup.horizon:
            self.running = False
            return
        noise = self.noise.month(self.state.month, self.setup)
        if self.tracer is None:
            self.state = rules.step(self.state, self.setup, noise)
        else:
            self.state, self.decision = self.tracer.step(self.state, noise, before=self._before_shocks)
            self._record_decision()
        self._before_shocks = None
        self._record()
        if self.state.month >= self.setup.horizon:
            self.running = False

    def fire_shock(self, shock_id: str, severity: float | None = None) -> None:
        """Apply a scenario shock now (browser button; 'what if it happened this month').

        Severity defaults to the middle of the shock's range. Changes the run:
        it no longer equals the seeded replicate.
        """
        ids = [s.id for s in self.spec.shocks]
        if shock_id not in ids:
            raise KeyError(f"no shock {shock_id!r} in this scenario (shocks: {', '.join(ids) or 'none'})")
        k = ids.index(shock_id)
        if severity is None:
            severity = 0.5 * (self.setup.severity_low[k, 0] + self.setup.severity_high[k, 0])
        if self._before_shocks is None:
            self._before_shocks = self.state  # the next month's decision counts the shock
        self.state = rules.fire(self.state, self.setup, k, np.full(self.state.replicates, float(severity)))
        self.fired.append((self.state.month, shock_id))
        # This month's record now describes the state after the shock.
        self._forget_last_record()
        self._record()

    @property
    def shocks_fired_now(self) -> bool:
        """Whether shocks were fired by hand this month (the next Step's decision counts them)."""
        return self._before_shocks is not None

    def next_decision(self) -> Decision | None:
        """The decision the next Step will record, without taking it (with trace=True).

        None without the trace or at the horizon. After a shock fired by hand, its
        "shocks this month" term is what that shock will do to the coming month.
        """
        if self.tracer is None or self.state.month >= self.setup.horizon:
            return None
        noise = self.noise.month(self.state.month, self.setup)
        return self.tracer.step(self.state, noise, before=self._before_shocks)[1]

    def _record(self) -> None:
        """Collect this month: every measure into the table, then the reporters (which read it)."""
        row = metrics.measure(self.state, self.setup)[0].tolist()
        # What add_table_row does, without building and checking a dict of every column each month.
        for values, value in zip(self.datacollector.tables[MEASURES].values(), row, strict=True):
            values.append(value)
        self.datacollector.collect(self)

    def _record_decision(self) -> None:
        """Append the month's decision to the DataCollector's `decisions` table."""
        table = self.datacollector.tables[DECISIONS]
        assert self.decision is not None  # recorded only after a traced step
        for key, values in decision_rows(self.decision, self.setup).items():
            table[key].extend(values)

    def _forget_last_record(self) -> None:
        """Drop the last month from the DataCollector: a fresh collector, filled month by
        month from the measures table (every reporter reads the table at `self.time`)."""
        table = self.datacollector.tables[MEASURES]
        for values in table.values():
            values.pop()
        now: float = self.time
        fresh = self._new_datacollector()
        fresh.tables[MEASURES] = table
        if self.tracer is not None:  # the months' decisions stand: a shock fired now counts in the next
            fresh.tables[DECISIONS] = self.datacollector.tables[DECISIONS]
        self.datacollector = fresh
        try:
            for month in range(len(next(iter(table.values())))):
                self.time = month
                fresh.collect(self)
        finally:
            self.time = now

    # -- reading ----------------------------------------------------------
    def measure(self, actor: str, name: str) -> float:
        """The current value of one measure (see metrics.py)."""
        return self.datacollector.tables[MEASURES][self._keys[self.columns.index(actor, name)]][-1]

    def measure_at(self, actor: str, name: str, month: int) -> float:
        """The value of one measure at a month so far (see metrics.py)."""
        return self.datacollector.tables[MEASURES][self._keys[self.columns.index(actor, name)]][month]

    def series(self) -> np.ndarray:
        """All measures of every month so far: (months, C) in `self.columns` order."""
        table = self.datacollector.tables[MEASURES]
        return np.array([table[key] for key in self._keys]).T


def _name(spec: Scenario, actor_id: str) -> str:
    return next(a.name for a in spec.actors if a.id == actor_id)
