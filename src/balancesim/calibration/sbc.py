"""Simulation-based calibration (SBC) of the calibration's posterior.

Does the posterior say what it knows? For each of `truths` parameter points
drawn from the prior, the model itself makes a synthetic record: one run at
the truth (the world is one run of a noisy process), plus observation noise
with the variance the likelihood assumes (each value target's observation sd,
inflated by the model discrepancy), and for a yes/no fact whether the event
happened in that run. The posterior for that record is computed as the
calibration computes it (`history.posterior_weights`: prior points weighted by
the synthetic likelihood of their 20-run ensembles,
`analysis.targets.log_likelihood`). If the posterior is calibrated, its 90%
interval holds the truth in 90% of the truths, and the posterior CDF at the
truth (the rank statistic of SBC, Talts et al. 2018) is uniform.

One bank of prior points, each with its replicate ensemble, serves every
truth: the posterior of each truth is an importance-weighted view of the
same bank, so the whole check costs the bank's runs plus one run per truth.
The bank's points must be dense enough for the posterior; the effective
sample size of each truth's weights is reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from balancesim.calibration.history import (
    MIN_REPLICATES,
    effective_size,
    ensemble_statistics,
    posterior_weights,
)
from balancesim.calibration.problem import Problem

LEVEL = 0.9


@dataclass
class SBC:
    """The truths (T, P) in z, each truth's 90% interval (T, P, 2), its posterior CDF at the truth (T, P)."""

    paths: list[str]
    truths: np.ndarray
    intervals: np.ndarray
    cdf: np.ndarray
    ess: np.ndarray  # (T,)
    bank_points: int
    replicates: int
    simulations: int
    seconds: float

    @property
    def covered(self) -> np.ndarray:
        """(T, P): does each 90% interval hold its truth?"""
        return (self.intervals[..., 0] <= self.truths) & (self.truths <= self.intervals[..., 1])

    def coverage(self) -> dict[str, float]:
        """The share of truths each parameter's 90% interval holds, and over all parameters ("all")."""
        cov = self.covered
        return {p: float(cov[:, j].mean()) for j, p in enumerate(self.paths)} | {"all": float(cov.mean())}


def weighted_quantiles(x: np.ndarray, weights: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """Quantiles of x under normalised weights (the midpoint rule of the weighted CDF)."""
    order = np.argsort(x)
    cdf = np.cumsum(weights[order]) - 0.5 * weights[order]
    return np.interp(qs, cdf, x[order])


def synthetic_record(problem: Problem, world: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Observed values (T, K) from one run per truth (T, K): value targets get observation noise with
    the likelihood's variance; events become 1 (happened in the run) or 0."""
    from balancesim.analysis.targets import DISCREPANCY

    out = np.empty_like(world)
    for k, (_, t) in enumerate(problem.targets):
        if t.kind == "event":
            out[:, k] = t.happens(world[:, k]).astype(float)
        else:
            sd = t.sd() * np.sqrt(1 + DISCREPANCY**2)
            out[:, k] = world[:, k] + rng.normal(0.0, sd, len(world))
    return out


def run_sbc(
    problem: Problem,
    truths: int = 100,
    bank_points: int = 300,
    replicates: int = MIN_REPLICATES,
    seed: int = 0,
    runner: Any = None,
) -> SBC:
    """SBC of `problem`'s calibrated priors: `truths` synthetic records, one bank of prior points."""
    from balancesim.analysis.targets import log_likelihood

    started = time.perf_counter()
    before = problem.simulations
    rng = np.random.default_rng([seed, 0x5BC])
    p = problem.dimension
    bank = rng.standard_normal((bank_points, p))
    stats = ensemble_statistics(problem, bank, replicates, seed, runner)
    true_z = rng.standard_normal((truths, p))
    world = problem.simulate(true_z, seed + 1)
    observed = synthetic_record(problem, world, rng)
    intervals = np.empty((truths, p, 2))
    cdf = np.empty((truths, p))
    ess = np.empty(truths)
    flat = np.ones(bank_points)
    tail = (1 - LEVEL) / 2
    for t in range(truths):
        w = posterior_weights(flat, log_likelihood(problem.targets, stats, observed[t]))
        ess[t] = effective_size(w)
        for j in range(p):
            intervals[t, j] = weighted_quantiles(bank[:, j], w, (tail, 1 - tail))
            cdf[t, j] = float(w[bank[:, j] <= true_z[t, j]].sum())
    return SBC(
        paths=list(problem.paths),
        truths=true_z,
        intervals=intervals,
        cdf=cdf,
        ess=ess,
        bank_points=bank_points,
        replicates=replicates,
        simulations=problem.simulations - before,
        seconds=time.perf_counter() - started,
    )
