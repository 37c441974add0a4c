"""`balancesim.priors`: a scenario's priors for other tools (SALib, EMA Workbench, scipy).

    priors = balancesim.priors("scenarios/baseline.yaml")
    priors.problem           # SALib's problem dict: names (PATHs), num_vars, bounds, dists
    priors.uncertainties     # EMA Workbench parameters (needs the `ema_workbench` package)
    priors.distribution(p)   # a frozen scipy.stats distribution of PATH p

So a sample drawn by SALib or EMA Workbench follows the scenario's own
priors, not ranges retyped by hand. SALib's `dists` are its names for the
same distributions: uniform `unif` [low, high], log-uniform `logunif`
[low, high], triangular `triang` [low, high, (mode - low) / (high - low)],
normal `truncnorm` [low, high, mean, sd] (truncated to the prior's range, or
the value's admissible range when the prior gives none); SALib has no beta
and no discrete choice, so a beta prior and a choice among values are given
as `unif` over their range (the `kinds` list says which prior each was).
EMA Workbench's parameters are built from the scipy distributions
(`RealParameter.from_dist`), and a choice is a `CategoricalParameter`; EMA
names must be Python identifiers, so each is named after its PATH with `.`
as `__` (`parameters__lock_in`) and carries the PATH as its `variable_name`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from balancesim.scenario.distributions import Distribution
    from balancesim.scenario.schema import Scenario


def ema_name(path: str) -> str:
    """The Python identifier EMA Workbench names a PATH or outcome by: `.` as `__`, other
    non-identifier characters as `_` (`parameters.lock_in` -> `parameters__lock_in`)."""
    name = re.sub(r"\W", "_", path.replace(".", "__"))
    return name if name.isidentifier() else f"_{name}"


@dataclass(frozen=True)
class Priors:
    """A scenario's priors: PATH -> distribution, with each one's range."""

    distributions: dict[str, Distribution]
    ranges: dict[str, tuple[float, float]]

    @property
    def paths(self) -> list[str]:
        return list(self.distributions)

    @property
    def kinds(self) -> list[str]:
        """Each prior's kind, in `paths` order (uniform, log_uniform, triangular, normal, beta, choice)."""
        return [d.distribution for d in self.distributions.values()]

    @property
    def problem(self) -> dict[str, Any]:
        """SALib's problem dict (`names` are the PATHs); see the module's docstring for `dists`."""
        from balancesim.scenario.distributions import LogUniform, Normal, Triangular

        bounds: list[list[float]] = []
        dists = []
        for path, dist in self.distributions.items():
            low, high = self.ranges[path]
            if isinstance(dist, LogUniform):
                dists.append("logunif")
                bounds.append([low, high])
            elif isinstance(dist, Triangular):
                # SALib wants the peak strictly below the end (0 <= c < 1)
                dists.append("triang")
                bounds.append([low, high, min((dist.mode - low) / (high - low), 1 - 1e-12)])
            elif isinstance(dist, Normal):
                dists.append("truncnorm")
                bounds.append([low, high, dist.mean, dist.sd])
            else:
                dists.append("unif")
                bounds.append([low, high])
        return {
            "num_vars": len(self.distributions),
            "names": self.paths,
            "bounds": bounds,
            "dists": dists,
            "kinds": self.kinds,
        }

    def distribution(self, path: str) -> Any:
        """The prior of PATH as a frozen scipy.stats distribution (a choice: scipy's rv_discrete)."""
        from scipy import stats

        from balancesim.scenario.distributions import Beta, Choice, LogUniform, Normal, Triangular

        dist = self.distributions[path]
        low, high = self.ranges[path]
        if isinstance(dist, Choice):
            weights = [1.0] * len(dist.values) if dist.weights is None else list(dist.weights)
            total = sum(weights)
            values = sorted(set(dist.values))
            p = [sum(w for v, w in zip(dist.values, weights, strict=True) if v == x) / total for x in values]
            return stats.rv_discrete(values=(values, p))
        if isinstance(dist, Normal):
            a, b = (low - dist.mean) / dist.sd, (high - dist.mean) / dist.sd
            return stats.truncnorm(a, b, loc=dist.mean, scale=dist.sd)
        if isinstance(dist, LogUniform):
            return stats.loguniform(low, high)
        if isinstance(dist, Triangular):
            return stats.triang((dist.mode - low) / (high - low), loc=low, scale=high - low)
        if isinstance(dist, Beta):
            return stats.beta(dist.a, dist.b, loc=low, scale=high - low)
        return stats.uniform(low, high - low)

    @property
    def uncertainties(self) -> list[Any]:
        """EMA Workbench parameters, one per prior, named by `ema_name` (variable_name: the PATH)."""
        from ema_workbench import CategoricalParameter, RealParameter

        from balancesim.scenario.distributions import Choice

        out = []
        for path, dist in self.distributions.items():
            if isinstance(dist, Choice):
                out.append(CategoricalParameter(ema_name(path), sorted(set(dist.values)), variable_name=path))
            else:
                dist = self.distribution(path)
                out.append(RealParameter.from_dist(ema_name(path), dist, variable_name=path))
        return out


def priors(scenario: str | Path | Scenario) -> Priors:
    """The priors of a scenario (a file or a `Scenario`): its `uncertainty:` section.

    A normal prior without a range of its own is truncated to the value's
    admissible range, as `balancesim run` draws it.
    """
    from balancesim.scenario.distributions import Normal
    from balancesim.scenario.files import load_scenario
    from balancesim.scenario.per_run import bounds
    from balancesim.scenario.schema import Scenario

    spec = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    ranges = {}
    for path, dist in spec.uncertainty.items():
        if isinstance(dist, Normal):
            low, high = bounds(spec, path)
            ranges[path] = (
                float(low if dist.low is None else dist.low),
                float(high if dist.high is None else dist.high),
            )
        else:
            low, high = dist.support()
            ranges[path] = (float(low), float(high))
    return Priors(dict(spec.uncertainty), ranges)
