"""EMA Workbench without glue: a scenario as an EMA `Model`, and an evaluator that runs
every experiment in one `evaluate` call.

    from ema_workbench import perform_experiments
    from balancesim.sweep.ema import BatchEvaluator, EMAModel

    model = EMAModel("scenarios/taiwan_shock.yaml", paths=["parameters.lock_in", "relations.tension"],
                     outcomes=["balance", "share.china[kazakhstan]"], replicates=50)
    experiments, outcomes = perform_experiments(model, 50, evaluator=BatchEvaluator(model))

`EMAModel`'s uncertainties are the scenario's priors of the chosen PATHs
(all of them by default; `balancesim.priors`), so EMA samples them from the
scenario's own distributions; its outcomes are the mean over the replicates
of each outcome at `month` (default: the scenario's horizon), named by
`priors.ema_name` (`share.china[kazakhstan]` -> `share_china_kazakhstan_`).
`BatchEvaluator` hands all the experiments to one `balancesim.evaluate` call
(the packed, vectorised runs of a sweep), where EMA's own
`SequentialEvaluator` would call the model once per experiment, which also
works, slower. The priors the model does not vary are held at the scenario's
values or drawn per replicate, as `uncertainty` says ("none" by default,
see `balancesim.evaluate`).

This module imports `ema_workbench` (not a dependency of balancesim:
`pip install ema_workbench`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ema_workbench import Model, ScalarOutcome
from ema_workbench.em_framework.evaluators import BaseEvaluator

from balancesim.scenario.schema import Scenario
from balancesim.sweep.evaluate import evaluate
from balancesim.sweep.priors import ema_name, priors


class EMAModel(Model):
    """A scenario as an EMA Workbench model (see the module's docstring)."""

    def __init__(
        self,
        scenario: str | Path | Scenario,
        paths: Sequence[str] | None = None,
        outcomes: Sequence[str] | None = None,
        replicates: int | None = None,
        seed: int | None = None,
        month: int | None = None,
        uncertainty: str = "none",
        name: str = "balancesim",
    ) -> None:
        from balancesim.model.outcomes import headline
        from balancesim.scenario.files import load_scenario

        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.replicates = replicates
        self.seed = seed
        self.month = self.scenario.horizon if month is None else month
        self.uncertainty = uncertainty
        self.outcome_names = list(outcomes) if outcomes is not None else [o.name for o in headline()]
        self.calls = 0  # how many times the model called `evaluate`
        super().__init__(name, function=self._one)
        known = priors(self.scenario)
        chosen = known.paths if paths is None else list(paths)
        unknown = [p for p in chosen if p not in known.distributions]
        if unknown:
            raise ValueError(f"paths: {unknown[0]} has no prior in the scenario (its uncertainty: section)")
        self.uncertainties = [u for u in known.uncertainties if u.variable_name[0] in chosen]
        self.outcomes = [ScalarOutcome(ema_name(o), variable_name=o) for o in self.outcome_names]

    def evaluate_points(self, points: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        """Every point (PATH -> value) in one `evaluate` call: outcome name -> (points,) means."""
        self.calls += 1
        frame = evaluate(
            self.scenario,
            points,
            replicates=self.replicates,
            outcomes=self.outcome_names,
            seed=self.seed,
            months=[self.month],
            uncertainty=self.uncertainty,
        )
        means = frame.groupby("point")[self.outcome_names].mean()
        return {ema_name(o): means[o].to_numpy() for o in self.outcome_names}

    def point(self, sample: dict[str, Any]) -> dict[str, Any]:
        """An EMA sample (names as EMA gives them) as a design point (PATH -> value)."""
        paths = {u.name: u.variable_name[0] for u in self.uncertainties}
        return {paths.get(k, k): v for k, v in sample.items()}

    def _one(self, **values: Any) -> dict[str, float]:
        """One experiment (EMA's SequentialEvaluator): keyword arguments are PATHs."""
        out = self.evaluate_points([values])
        return {k: float(v[0]) for k, v in out.items()}


class BatchEvaluator(BaseEvaluator):
    """An EMA evaluator that runs all experiments of `perform_experiments` in one batch
    per model (`EMAModel.evaluate_points`)."""

    def initialize(self) -> None:
        """Nothing to start: the batch runs in this process."""

    def finalize(self) -> None:
        """Nothing to stop."""

    def evaluate_experiments(self, experiments: Iterable[Any], callback: Callable, **kwargs: Any) -> None:
        """Run every experiment in one call per model, then report each to EMA's callback."""
        by_model: dict[str, list[Any]] = {}
        for experiment in experiments:
            by_model.setdefault(experiment.model_name, []).append(experiment)
        models = {m.name: m for m in self._msis}
        for name, batch in by_model.items():
            model = models[name]
            if not isinstance(model, EMAModel):
                raise TypeError(f"BatchEvaluator runs balancesim's EMAModel, not {type(model).__name__}")
            points = [
                model.point({**e.scenario, **e.policy, **{c.name: c.value for c in model.constants}})
                for e in batch
            ]
            results = model.evaluate_points(points)
            for k, experiment in enumerate(batch):
                callback(experiment, {o: float(v[k]) for o, v in results.items()})
