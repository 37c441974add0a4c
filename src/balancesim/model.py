"""BalanceModel: one replicate of a scenario as a Mesa model.

The same rules as the engine (rules.py) with one replicate, plus Mesa agents
for inspection, a DataCollector, and the hooks the browser view needs
(stepping, firing a shock now). `BalanceModel(scenario, rng=s)` with
s = `engine.replicate_seeds(seed, n)[k]` reproduces replicate k of an engine
run of `seed` exactly. Works with `mesa.batch_run`; extra keyword arguments
override the scenario's parameters, e.g. `BalanceModel(path, hedging_tension=0)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from . import engine, metrics, rules
from .agents import GreatPower, RegionalState, ThirdParty
from .scenario import Scenario
from .state import build_setup, initial_state


def _region(name: str):
    def reporter(model: BalanceModel) -> float:
        return model.measure(metrics.REGION, name)

    reporter.__name__ = name
    reporter.__doc__ = f"Regional {name} (see metrics.py)."
    return reporter


def with_parameters(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """A copy of the scenario with some parameters replaced (validated)."""
    if not overrides:
        return scenario
    from .scenario import Parameters

    params = Parameters.model_validate({**scenario.parameters.model_dump(), **overrides})
    return scenario.model_copy(update={"parameters": params})


class BalanceModel(mesa.Model):
    """Central Asian states balancing between great powers: one replicate.

    Args:
        scenario: a `Scenario` or the path of a scenario file.
        rng: the replicate's seed (an int). Default: replicate 0 of the
            scenario's own seed, i.e. what `balancesim run` reports as replicate 0.
        values: per-run values, PATH -> number (e.g. `{"actors.china.attention":
            0.4}`): with replicate k's seed and replicate k's drawn values
            (`params.parquet`, `uncertainty.draw`), the model reproduces
            replicate k of a run with uncertainty.
        **parameters: overrides of the scenario's parameters.
    """

    def __init__(
        self,
        scenario: Scenario | str | Path,
        rng: int | None = None,
        values: Mapping[str, float] | None = None,
        **parameters: Any,
    ) -> None:
        if not isinstance(scenario, Scenario):
            from .scenario_files import load_scenario

            scenario = load_scenario(scenario)
        spec = with_parameters(scenario, parameters)
        if rng is None:
            rng = int(engine.replicate_seeds(spec.seed, 1)[0])
        if isinstance(rng, np.integer):
            rng = int(rng)
        if not isinstance(rng, int):
            raise TypeError("rng must be an integer replicate seed (see engine.replicate_seeds)")
        super().__init__(rng=rng)
        self.replicate_seed = rng
        self.spec = spec
        self.values = {p: float(v) for p, v in (values or {}).items()}
        # The state holds the replicate twice (engine.MIN_WIDTH), so its arithmetic is
        # the engine's to the last bit; agents and measures read the first copy. Per-run
        # values are widened alike.
        seeds = engine.widen([rng])
        self.setup = build_setup(spec).with_values(engine.widen_values(self.values, 1))
        self.columns = metrics.columns(self.setup)
        self.state = initial_state(self.setup, len(seeds))
        self.noise = engine.draw_noise(self.setup, seeds)
        self.history: list[np.ndarray] = []
        self.fired: list[tuple[int, str]] = []

        for k, a in enumerate(self.setup.regional_ids):
            RegionalState(self, a, _name(spec, a), k)
        for k, a in enumerate(self.setup.partner_ids):
            cls = GreatPower if self.setup.is_great_power[k] else ThirdParty
            cls(self, a, _name(spec, a), k)

        self.datacollector = mesa.DataCollector(
            model_reporters={name: _region(name) for name in (*metrics.HEADLINE, "volatility")},
            agenttype_reporters={
                RegionalState: {
                    "hedging_index": "hedging_index",
                    "balance": "balance",
                    "elite_control": "elite_control",
                },
                GreatPower: {"attention": "attention", "regional_share": "regional_share"},
                ThirdParty: {"attention": "attention", "regional_share": "regional_share"},
            },
        )
        self._record()
        self.running = True

    # -- stepping ---------------------------------------------------------
    @property
    def month(self) -> int:
        return self.state.month

    def step(self) -> None:
        """Advance one month with the shared rules."""
        if self.state.month >= self.setup.horizon:
            self.running = False
            return
        self.state = rules.step(self.state, self.setup, self.noise.month(self.state.month, self.setup))
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
        self.state = rules.fire(self.state, self.setup, k, np.full(self.state.replicates, float(severity)))
        self.fired.append((self.state.month, shock_id))
        self.history[-1] = metrics.measure(self.state, self.setup)[0]

    def _record(self) -> None:
        self.history.append(metrics.measure(self.state, self.setup)[0])
        self.datacollector.collect(self)

    # -- reading ----------------------------------------------------------
    def measure(self, actor: str, name: str) -> float:
        """The current value of one measure (see metrics.py)."""
        return float(self.history[-1][self.columns.index(actor, name)])

    def series(self) -> np.ndarray:
        """All measures of every month so far: (months, C) in `self.columns` order."""
        return np.array(self.history)


def _name(spec: Scenario, actor_id: str) -> str:
    return next(a.name for a in spec.actors if a.id == actor_id)
