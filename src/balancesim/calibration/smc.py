"""SMC-ABC with ELFI: populations of particles, each batch of particles one engine call.

ELFI's `SMC` sampler (Beaumont et al. 2009, as implemented in ELFI 0.8):
population 0 draws from the prior and keeps the `quantiles[0]` share of
simulations closest to the targets; each later population proposes from
a Gaussian mixture around the last one and accepts particles whose distance
is below the weighted `quantiles[r]` quantile of the last population's
distances. Weights are prior / proposal density.

The distance is `targets.replicate_distance`: each value target adds
((statistic - observed) / its sd)^2, each direction target a penalty when
the run moves the wrong way; so targets count by their uncertainty.

The run is driven batch by batch (`iterate`), which gives a progress bar
per population and a budget: past `max_simulations` the run stops and
keeps the last complete population (the manifest says so). One batch runs
at a time (`max_parallel_batches=1`), so the result depends on the seed
only, not on how many cores the machine has.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from balancesim.calibration.problem import CalibrationError, Problem
from balancesim.scenario.text import excerpt


@dataclass(frozen=True)
class Budget:
    """How much simulation a calibration may spend."""

    name: str
    particles: int  # particles per population
    quantiles: tuple[float, ...]  # population 0: share of prior runs kept; then the threshold quantiles
    max_simulations: int  # stop (keeping the last complete population) past this many runs
    batch_size: int  # particles simulated in one engine call
    parameters: int = 12  # at most this many priors calibrated (the rest screened out, see screen.py)
    pilot: int = 4000  # prior runs of the screening
    predictive: int = 400  # runs of the prior and posterior predictive

    @property
    def populations(self) -> int:
        return len(self.quantiles)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "particles": self.particles,
            "populations": self.populations,
            "quantiles": list(self.quantiles),
            "max_simulations": self.max_simulations,
            "batch_size": self.batch_size,
            "parameters": self.parameters,
            "pilot": self.pilot,
            "predictive": self.predictive,
        }


QUANTILES = (0.1, 0.5, 0.5, 0.5)
BUDGETS = {
    # seconds: a look at the pipeline end to end
    "small": Budget("small", 200, (0.2, 0.5, 0.5), 8_000, 500, parameters=6, pilot=1000, predictive=100),
    # under 10 minutes on 2 cores (docs/calibration.md gives the measured time)
    "default": Budget("default", 1000, QUANTILES, 200_000, 1000),
}


def parse_budget(text: str) -> Budget:
    """'small', 'default' or N (particles per population, the default's populations)."""
    if text in BUDGETS:
        return BUDGETS[text]
    if not re.fullmatch(r"[0-9]{1,6}", text.strip()) or not 10 <= int(text) <= 100_000:
        raise CalibrationError(  # the digits are counted first: int() of 5,000 digits raises
            f"--budget {excerpt(text, 20)}: expected small, default or a number of particles "
            "from 10 to 100000"
        )
    n = int(text)
    small = n < 200
    return Budget(
        str(n),
        n,
        (0.2, 0.5, 0.5) if small else QUANTILES,
        200 * n,
        min(n, 1000),
        parameters=6 if small else 12,
        pilot=max(10 * n, 200) if small else 4000,
        predictive=max(n, 50) if small else 400,
    )


@dataclass
class Population:
    """One SMC population: particles in z (N, P), their weights and distances."""

    z: np.ndarray
    weights: np.ndarray
    distances: np.ndarray
    threshold: float
    simulations: int  # runs it took
    seconds: float

    @property
    def ess(self) -> float:
        w = self.weights / self.weights.sum()
        return float(1.0 / np.sum(w**2))

    @property
    def acceptance(self) -> float:
        return len(self.weights) / max(self.simulations, 1)


@dataclass
class Outcome:
    """A finished calibration: every population, the last being the posterior."""

    populations: list[Population]
    budget: Budget
    seed: int
    stopped_early: bool
    seconds: float
    elfi_version: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def posterior(self) -> Population:
        return self.populations[-1]


Progress = Callable[[int, int, int, int], None]  # (population, populations, accepted, simulations)


def run_smc(problem: Problem, budget: Budget, seed: int, progress: Progress | None = None) -> Outcome:
    """Run ELFI's SMC-ABC on `problem` within `budget`; the same seed gives the same posterior."""
    import elfi

    from balancesim.analysis.targets import observed_vector, replicate_distance

    model = elfi.ElfiModel(name="balancesim")
    names = [f"p{j}" for j in range(problem.dimension)]
    priors = [elfi.Prior("norm", 0.0, 1.0, model=model, name=n) for n in names]

    def simulator(*params: np.ndarray, batch_size: int = 1, random_state: Any = None) -> np.ndarray:
        z = np.column_stack([np.broadcast_to(np.asarray(p, dtype=float), (batch_size,)) for p in params])
        rs = random_state or np.random.RandomState(seed)
        run_seed = int(rs.randint(0, 2**62, dtype=np.int64))  # ELFI derives it from (seed, batch)
        return problem.simulate(z, run_seed)

    def discrepancy(simulated: np.ndarray, observed: tuple) -> np.ndarray:
        return replicate_distance(np.atleast_2d(simulated), problem.targets)

    observed = observed_vector(problem.targets)[None, :]
    sim = elfi.Simulator(simulator, *priors, observed=observed, name="statistics", model=model)
    distance = elfi.Discrepancy(discrepancy, sim, name="distance", model=model)
    sampler = _sampler_class(elfi)(distance, batch_size=budget.batch_size, seed=seed, max_parallel_batches=1)
    sampler.bar = False  # our own progress bar (`sample()` sets this; we drive `iterate()`)
    started = time.perf_counter()
    sampler.set_objective(budget.particles, quantiles=list(budget.quantiles))
    populations: list[Population] = []
    first = problem.simulations  # runs before SMC (the screening's) do not count against the budget
    done_sims, round_started, stopped = first, started, False
    while not sampler.finished:
        sampler.iterate()
        complete = len(sampler._populations)
        while len(populations) < complete:  # a population just completed
            now = time.perf_counter()
            populations.append(_population(sampler._populations[len(populations)], names))
            populations[-1].simulations = problem.simulations - done_sims
            populations[-1].seconds = now - round_started
            done_sims, round_started = problem.simulations, now
        if progress is not None:
            accepted = _accepted(sampler, budget.particles)
            progress(sampler.state["round"], budget.populations, accepted, problem.simulations - first)
        if problem.simulations - first >= budget.max_simulations and not sampler.finished:
            stopped = True
            break
    if not stopped:
        sample = sampler.extract_result()
        last = _population(sample.populations[-1], names)
        last.simulations = problem.simulations - done_sims
        last.seconds = time.perf_counter() - round_started
        populations.append(last)
    if not populations:
        raise CalibrationError(
            f"the budget's {budget.max_simulations:,} runs did not complete the first population "
            "of {budget.particles} particles: give a larger --budget"
        )
    return Outcome(
        populations=populations,
        budget=budget,
        seed=seed,
        stopped_early=stopped,
        seconds=time.perf_counter() - started,
        elfi_version=elfi.__version__,
        settings={
            "sampler": "elfi.SMC",
            "space": "standard normal of each prior's quantile (z = Phi^-1(F(value)))",
            "prior": "norm(0, 1) per parameter",
            "proposal": "one Gaussian with the last population's weighted mean and covariance "
            "(independence proposal; ELFI's own kernel degenerates the weights here)",
            "discrepancy": "analysis.targets.replicate_distance",
            "batch_size": budget.batch_size,
            "max_parallel_batches": 1,
        },
    )


def _sampler_class(elfi: Any) -> type:
    """ELFI's SMC with one Gaussian proposal fitted to the last population.

    ELFI proposes from a mixture of Gaussians centred on the last population's
    particles, with a shared covariance of twice their weighted variance
    (Beaumont et al. 2009). Measured on the baseline (12 parameters, 200
    particles), the weights prior / proposal then spread so far that the
    effective sample size fell to 25 after one step and 5 after two; a
    narrower kernel (Silverman's bandwidth) did no better (8 after one
    step): a kernel density of a few hundred points in 12 dimensions is
    all holes. Where the data say little the posterior is close to the
    prior, so a smooth proposal is what keeps the weights even: one Gaussian
    with the population's weighted mean and covariance (an independence
    proposal, as in population Monte Carlo). The weights stay exact
    importance weights: the same Gaussian proposes and weighs.
    """
    from elfi.methods.utils import GMDistribution

    class GaussianSMC(elfi.SMC):
        def _compute_weights_means_and_cov(self, pop: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            params = np.column_stack([pop.outputs[p] for p in self.parameter_names])
            if self._populations:
                log_w = self._prior.logpdf(params) - GMDistribution.logpdf(params, *self._gm_params)
                w = np.exp(log_w - np.max(log_w))
            else:
                w = np.ones(len(params))
            if not np.any(w > 0):
                raise RuntimeError("every particle's weight is zero")
            mean, cov = weighted_moments(params, w)
            if not hasattr(self, "_proposals"):
                self._proposals = []
            # Two equal components at the same mean: ELFI squeezes a (1, d) mean to d components.
            self._proposals.append((np.vstack([mean, mean]), cov, np.ones(2)))
            return params.copy(), w, cov

        @property
        def _gm_params(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            return self._proposals[len(self._populations) - 1]

    return GaussianSMC


def weighted_moments(params: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean (d,) and covariance (d, d) of points (N, d), kept positive definite."""
    w = weights / weights.sum()
    mean = w @ params
    centred = params - mean
    cov = np.atleast_2d((centred * w[:, None]).T @ centred)
    return mean, cov + 1e-6 * np.eye(params.shape[1])


def _population(sample: Any, names: list[str]) -> Population:
    z = np.column_stack([np.asarray(sample.outputs[n], dtype=float) for n in names])
    weights = np.asarray(sample.weights, dtype=float)
    distances = np.asarray(sample.discrepancies, dtype=float)
    threshold = float(sample.threshold) if sample.threshold is not None else float(distances.max())
    return Population(z, weights, distances, threshold, 0, 0.0)


def _accepted(sampler: Any, particles: int) -> int:
    """Particles of the current population accepted so far (for the progress bar)."""
    rejection = sampler._rejection
    samples = rejection.state.get("samples")
    if samples is None:
        return 0
    threshold = rejection.objective.get("threshold")
    d = samples[rejection.discrepancy_name][: rejection.state["n_sim"]]
    if threshold is None or (isinstance(threshold, float) and math.isnan(threshold)):
        # population 0 keeps the best share of a fixed number of runs
        total = rejection.objective.get("n_batches", 1) * rejection.batch_size
        return min(particles, int(particles * rejection.state["n_sim"] / max(total, 1)))
    return min(particles, int(np.sum(d <= threshold)))
