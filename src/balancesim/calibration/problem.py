"""What a calibration infers, and the vectorised simulator that ELFI calls.

The parameters are the PATHs of the scenario's `uncertainty:` priors (or a
chosen subset of them). Each is calibrated in the **standard-normal space
of its prior's quantiles**: z ~ N(0, 1), u = Phi(z), value = the prior's
inverse CDF at u (`uncertainty.transform`). The prior in z is exactly the
scenario's prior in values, for every kind (uniform, log-uniform,
triangular, truncated normal, beta, choice), and it has no bounds.

Why not ELFI's own scipy priors in the values' units: SMC-ABC proposes
each particle of a new population by a Gaussian step from the last one and
redraws any proposal that falls outside the prior's support in *any*
coordinate. With 100+ bounded priors, nearly every step leaves the box in
some coordinate (0.95^179 < 1e-3 even if each leaves only 5% of the time),
and the proposal loop stalls. In z every step is valid, and the SMC
importance weights prior(z) / proposal(z) are those of the values.

Priors not calibrated (`--param` chose others) stay uncertain: each run
draws them from their priors (`uncertainty.draw`), so the posterior
averages over them instead of fixing them at one value.

A whole batch of particles is one engine call: per-run values (`values=`),
only the months and measure columns that the targets use, and the horizon
cut to the last month a target needs (later months cannot change earlier
ones).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from balancesim.analysis.targets import Targets
    from balancesim.model.metrics import Columns
    from balancesim.model.state import Setup
    from balancesim.scenario.distributions import Distribution
    from balancesim.scenario.schema import Scenario


class CalibrationError(ValueError):
    """A calibration that cannot start: the message says which input is wrong."""


@dataclass
class Problem:
    """A scenario, its targets, and the priors to calibrate."""

    scenario: Scenario  # the scenario, horizon cut to the targets' last month
    targets: Targets
    paths: list[str]  # calibrated PATHs, in the scenario's order
    priors: dict[str, Distribution]  # PATH -> prior (calibrated ones)
    nuisance: dict[str, Distribution]  # priors drawn per run, not calibrated
    bounds: dict[str, tuple[float, float]]  # PATH -> the value's admissible range
    months: np.ndarray  # the model months the targets use
    column_index: np.ndarray  # the measure columns they use
    simulations: int = field(default=0)

    @property
    def dimension(self) -> int:
        return len(self.paths)

    def values(self, z: np.ndarray) -> dict[str, np.ndarray]:
        """Standard-normal coordinates (N, P) -> each PATH's values (N,)."""
        from scipy.special import ndtr

        from balancesim.scenario.distributions import Normal
        from balancesim.scenario.uncertainty import transform

        u = np.clip(ndtr(np.asarray(z, dtype=float)), 1e-12, 1 - 1e-12)
        out = {}
        for j, path in enumerate(self.paths):
            dist = self.priors[path]
            limits = self.bounds[path] if isinstance(dist, Normal) else None
            out[path] = transform(dist, u[:, j], limits)
        return out

    def simulate(self, z: np.ndarray, seed: int) -> np.ndarray:
        """Every target's statistic (N, K) for N particles, in ONE engine call."""
        from balancesim.analysis.targets import statistics
        from balancesim.model import engine
        from balancesim.model.state import build_setup
        from balancesim.scenario.uncertainty import draw

        z = np.atleast_2d(np.asarray(z, dtype=float))
        n = z.shape[0]
        values = self.values(z)
        if self.nuisance:
            values |= draw(self.nuisance, seed, n)
        setup = _setup_cache(self.scenario, build_setup)
        data = engine.simulate(
            setup,
            seed,
            n,
            chunk_size=max(n, 1),
            months=self.months.tolist(),
            column_index=self.column_index,
            values=values,
        )
        self.simulations += n
        return statistics(self.targets, data, self.columns, self.scenario.start, self.months)

    @property
    def columns(self) -> Columns:
        from balancesim.model import metrics
        from balancesim.model.state import build_setup

        setup = _setup_cache(self.scenario, build_setup)
        return metrics.columns(setup).subset(self.column_index)


_SETUPS: dict[int, tuple[Scenario, Setup]] = {}


def _setup_cache(scenario: Scenario, build: Callable[[Scenario], Setup]) -> Setup:
    """One compiled setup per scenario object (building one costs milliseconds per batch otherwise)."""
    key = id(scenario)
    if key not in _SETUPS:
        _SETUPS.clear()
        _SETUPS[key] = (scenario, build(scenario))
    return _SETUPS[key][1]


def build_problem(scenario: Scenario, targets: Targets, only: Sequence[str] = ()) -> Problem:
    """Check the scenario and targets together and set up what to calibrate.

    Raises CalibrationError (no priors, an unknown --param) or TargetFileError
    (a target the scenario cannot compute).
    """
    from balancesim.analysis.expressions import references
    from balancesim.analysis.targets import check_against, model_months
    from balancesim.model import metrics
    from balancesim.model.state import build_setup
    from balancesim.scenario.per_run import bounds

    priors = dict(scenario.uncertainty)
    if scenario.posterior is not None:
        raise CalibrationError(
            "the scenario draws from a posterior (uncertainty: {posterior: ...}): calibrate the scenario "
            "that has the priors"
        )
    if not priors:
        raise CalibrationError(
            "the scenario has no `uncertainty:` priors: they are what a calibration updates "
            "(docs/scenarios.md, 'uncertainty')"
        )
    unknown = [p for p in only if p not in priors]
    if unknown:
        from balancesim.scenario.schema import did_you_mean

        raise CalibrationError(
            "\n".join(
                f"--param {p}: not one of the scenario's priors ({did_you_mean(p, priors)})" for p in unknown
            )
        )
    chosen = [p for p in priors if p in set(only)] if only else list(priors)
    setup = build_setup(scenario)
    columns = metrics.columns(setup)
    check_against(targets, columns, scenario.start, scenario.horizon)
    used: set[int] = set()
    for _, t in targets:
        for text in (t.period, t.since):
            if text is not None:
                used |= {int(m) for m in model_months(text, scenario.start, scenario.horizon)}
    months = np.array(sorted(used))
    horizon = int(months[-1])
    index = sorted(
        {columns.index(ref.actor, ref.measure) for _, t in targets for ref in references(t.formula)}
    )
    short = scenario.model_copy(update={"horizon": horizon})
    return Problem(
        scenario=short,
        targets=targets,
        paths=chosen,
        priors={p: priors[p] for p in chosen},
        nuisance={p: d for p, d in priors.items() if p not in chosen},
        bounds={p: bounds(scenario, p) for p in chosen},
        months=months,
        column_index=np.array(index, dtype=np.intp),
    )
