"""History matching in waves: rule out the inputs the record and the patterns make implausible.

Each wave draws parameter points (wave 1 from the prior, later waves from a
Gaussian fitted to the points not ruled out so far, inflated, with
importance weights prior / proposal), runs `replicates` (at least 20) runs
at every point, and computes each target's implausibility from the
replicates' mean and spread (`analysis.targets.implausibility`: observation
variance, model discrepancy, the ensemble's variance and the variance of
its mean). A point is ruled out **by the data** when its second-largest
implausibility over the targets exceeds `cutoff` (3: Pukelsheim's three
sigma rule; the second largest, so one target alone cannot rule out a
point), and **by the patterns** when any of the pattern checks P1-P8 fails
at it (pattern-oriented modelling: the checks run at the point, their own
arms and thresholds, `pattern_runs` runs per arm; "unclear" does not rule
out). The shares ruled out by the data alone, the patterns alone and both
are measured on wave 1, i.e. on prior draws.

The points of the last wave not ruled out, with their importance weights,
are the posterior folder's particles (`scenario.posterior` format). Runs go
through the project's executors (`experiment.executors`): points are
chunked, each chunk's seed fixed from (seed, wave, chunk), so the numbers do
not depend on the executor or the number of workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from balancesim.calibration.problem import Problem

CUTOFF = 3.0
MIN_REPLICATES = 20
CHUNK_POINTS = 25
STRONG = 0.18  # |rho| with the implausibility below this is not screened in, whatever the noise


@dataclass
class Wave:
    """One wave: the points (N, P) in z, weights, implausibilities (N, K) and the verdicts."""

    z: np.ndarray
    weights: np.ndarray
    implausibility: np.ndarray
    loglik: np.ndarray  # (N,) the synthetic log-likelihood (`analysis.targets.log_likelihood`)
    by_data: np.ndarray  # (N,) ruled out by the data
    by_patterns: np.ndarray | None  # (N,) ruled out by the patterns (None: not checked)
    seconds: float

    @property
    def kept(self) -> np.ndarray:
        out = ~self.by_data
        if self.by_patterns is not None:
            out &= ~self.by_patterns
        return out

    def shares(self) -> dict[str, float]:
        """Shares of the wave's points ruled out: by the data, the patterns, both, either."""
        d = self.by_data
        p = self.by_patterns if self.by_patterns is not None else np.zeros_like(d)
        return {
            "data": float(d.mean()),
            "patterns": float(p.mean()),
            "both": float((d & p).mean()),
            "either": float((d | p).mean()),
            "kept": float(self.kept.mean()),
        }


@dataclass
class Matching:
    waves: list[Wave]
    replicates: int
    cutoff: float
    seed: int
    simulations: int
    seconds: float
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """The last wave's points not ruled out (z) and their normalised weights: importance weight
        (prior / proposal) x synthetic likelihood (`posterior_weights`)."""
        last = next((w for w in reversed(self.waves) if w.kept.any()), self.waves[-1])
        keep = last.kept if last.kept.any() else np.ones(len(last.z), dtype=bool)
        return last.z[keep], posterior_weights(last.weights[keep], last.loglik[keep])


def posterior_weights(prior_weights: np.ndarray, loglik: np.ndarray) -> np.ndarray:
    """Normalised posterior weights of points: their importance weights times the likelihood.

    Ruling out (implausibility above 3) only removes points the likelihood
    gives almost no weight; within what is kept, the synthetic likelihood
    weighs each point, so the posterior's intervals are Bayesian credible
    intervals (checked by simulation-based calibration, `calibration.sbc`),
    not the whole not-ruled-out box.
    """
    ll = np.asarray(loglik, dtype=float)
    w = np.asarray(prior_weights, dtype=float) * np.exp(ll - ll.max())
    return w / w.sum()


def effective_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of normalised weights."""
    return float(1.0 / np.sum(np.asarray(weights) ** 2))


def second_max(impl: np.ndarray) -> np.ndarray:
    """The second-largest implausibility of each point (N, K) -> (N,)."""
    if impl.shape[1] < 2:
        return impl.max(axis=1)
    return np.sort(impl, axis=1)[:, -2]


def _simulate_chunk(shared: tuple[Problem, int], item: tuple[int, np.ndarray, int]) -> np.ndarray:
    """Statistics (n, R, K) of a chunk of n points, R replicates each (one engine call)."""
    problem, replicates = shared
    _, z, seed = item
    stats = problem.simulate(np.repeat(z, replicates, axis=0), seed)
    return stats.reshape(len(z), replicates, -1)


def ensemble_statistics(
    problem: Problem, z: np.ndarray, replicates: int, seed: int, runner: Any = None
) -> np.ndarray:
    """Every target's statistic at every point, `replicates` runs each: (N, R, K)."""
    from balancesim.experiment.executors import SerialRunner

    runner = runner or SerialRunner()
    seeds = np.random.SeedSequence([seed, 0x415]).generate_state(
        max(1, -(-len(z) // CHUNK_POINTS)), np.uint64
    )
    items = [
        (k, z[start : start + CHUNK_POINTS], int(seeds[k] >> np.uint64(2)))
        for k, start in enumerate(range(0, len(z), CHUNK_POINTS))
    ]
    out = np.empty((len(z), replicates, len(problem.targets)))
    before = problem.simulations  # a serial runner counts in `problem` itself, a process pool does not
    for (k, chunk, _), stats in runner.map_unordered(_simulate_chunk, (problem, replicates), items):
        out[k * CHUNK_POINTS : k * CHUNK_POINTS + len(chunk)] = stats
    problem.simulations = before + len(z) * replicates
    return out


def patterns_fail(
    problem: Problem, z: np.ndarray, runs: int, seed: int, scenario_dir: Any = None, runner: Any = None
) -> np.ndarray:
    """Per point: does any pattern check P1-P8 FAIL there ("unclear" does not rule out)?

    Blocks of points run on `runner` (`validation.robust`'s blocks, knock-outs left out); each
    block's runs depend only on the seed and its first point, so the verdicts do not depend on
    the executor.
    """
    import dataclasses

    from balancesim.validation.core import FAIL, SCENARIO_DIR
    from balancesim.validation.robust import BLOCK_RUNS, _block, project_checks

    checks = tuple(dataclasses.replace(c, knockouts=()) for c in project_checks())
    values = problem.values(z)
    block = max(1, BLOCK_RUNS // runs)
    shared = (scenario_dir or SCENARIO_DIR, runs, seed, checks)
    items = [
        (first, {p: v[first : first + block] for p, v in values.items()}) for first in range(0, len(z), block)
    ]
    out = np.zeros(len(z), dtype=bool)
    if runner is None:
        results = ((item, _block(shared, item)) for item in items)
    else:
        results = runner.map_unordered(_block, shared, items)
    for (first, _), (count, per_point) in results:
        problem.simulations += count
        for d, verdicts in enumerate(per_point):
            out[first + d] = FAIL in verdicts
    return out


Progress = Callable[[str], None]


def history_match(
    problem: Problem,
    points: int = 200,
    waves: int = 3,
    replicates: int = MIN_REPLICATES,
    cutoff: float = CUTOFF,
    seed: int = 0,
    patterns: bool = True,
    pattern_runs: int = 60,
    runner: Any = None,
    progress: Progress | None = None,
) -> Matching:
    """History matching of `problem`'s calibrated priors in `waves` waves of `points` points."""
    from scipy.stats import multivariate_normal

    from balancesim.analysis.targets import implausibilities, log_likelihood

    if replicates < MIN_REPLICATES:
        raise ValueError(f"history matching needs at least {MIN_REPLICATES} replicates per point")
    started = time.perf_counter()
    rng = np.random.default_rng([seed, 0x4157])
    p = problem.dimension
    prior = multivariate_normal(np.zeros(p), np.eye(p))
    done: list[Wave] = []
    mean, cov = np.zeros(p), np.eye(p)
    for k in range(waves):
        t0 = time.perf_counter()
        if k == 0:
            z = rng.standard_normal((points, p))
            weights = np.ones(points)
        else:
            proposal = multivariate_normal(mean, cov, allow_singular=True)
            z = np.atleast_2d(proposal.rvs(size=points, random_state=rng)).reshape(points, p)
            weights = np.exp(prior.logpdf(z) - proposal.logpdf(z))
        stats = ensemble_statistics(problem, z, replicates, seed * 1000 + k, runner)
        impl = implausibilities(problem.targets, stats)
        loglik = log_likelihood(problem.targets, stats)
        by_data = second_max(impl) > cutoff
        # Patterns are checked on wave 1 (the prior: the shares reported) and on the last wave
        # (the posterior); in between only the data guide the proposal.
        check_patterns = patterns and (k == 0 or k == waves - 1)
        by_patterns = (
            patterns_fail(problem, z, pattern_runs, seed + k, runner=runner) if check_patterns else None
        )
        wave = Wave(z, weights, impl, loglik, by_data, by_patterns, time.perf_counter() - t0)
        done.append(wave)
        if progress is not None:
            s = wave.shares()
            progress(
                f"wave {k + 1}/{waves}: {points} points x {replicates} runs; ruled out by the data "
                f"{s['data']:.0%}, by the patterns {s['patterns']:.0%}, kept {s['kept']:.0%} "
                f"({wave.seconds:.0f} s)"
            )
        kept = z[wave.kept] if wave.kept.sum() > p else z[np.argsort(second_max(impl))[: max(p + 1, 10)]]
        mean = kept.mean(axis=0)
        cov = np.cov(kept.T).reshape(p, p) * 1.5**2 + 1e-6 * np.eye(p)
    return Matching(
        waves=done,
        replicates=replicates,
        cutoff=cutoff,
        seed=seed,
        simulations=problem.simulations,
        seconds=time.perf_counter() - started,
        settings={
            "method": "history matching in waves",
            "implausibility": "analysis.targets.implausibility: |mean - observed| / sqrt(sd_obs^2 (1 + d^2) "
            "+ var_R (1 + 1/R)); events: Phi^-1(1 - q/2)",
            "discrepancy": "model-discrepancy sd = 0.5 x the observation sd",
            "rule": f"ruled out by the data when the second-largest implausibility > {cutoff}; by the "
            "patterns when any check P1-P8 fails at the point",
            "proposal": "wave 1: the prior; later waves: a Gaussian (1.5 x the kept points' sd) with "
            "importance weights prior / proposal",
            "posterior": "the last wave's points not ruled out, weighted by importance weight x synthetic "
            "likelihood (analysis.targets.log_likelihood)",
            "points": points,
            "waves": waves,
            "replicates": replicates,
            "pattern_runs": pattern_runs if patterns else 0,
        },
    )


def screen_by_implausibility(
    problem: Problem, points: int, replicates: int, seed: int, keep: int, runner: Any = None
) -> list[tuple[str, float]]:
    """Rank every calibrated prior by |Spearman rho| with the points' summed squared implausibility.

    Returns (path, rho) for all, strongest first; the first `keep` above the
    noise level and `STRONG` are the ones worth calibrating (measured on the
    baseline with 2,000 points x 20 runs, the four strongest, |rho| 0.21-0.73,
    stand apart from the rest, at most 0.16, for every seed). The implausibility, not any
    one statistic, is what the data say about a point.
    """
    from scipy.stats import spearmanr

    from balancesim.analysis.targets import implausibilities
    from balancesim.experiment.importance import noise_level

    rng = np.random.default_rng([seed, 0x5C2EE7])
    z = rng.standard_normal((points, problem.dimension))
    impl = implausibilities(problem.targets, ensemble_statistics(problem, z, replicates, seed, runner))
    score = np.log((impl**2).sum(axis=1))
    rho = np.array([spearmanr(z[:, j], score).statistic for j in range(problem.dimension)])
    rho = np.nan_to_num(rho)
    noise = noise_level(points, problem.dimension)
    order = np.argsort(-np.abs(rho), kind="stable")
    ranked = [(problem.paths[j], float(rho[j])) for j in order]
    level = max(noise, STRONG)
    return [(p, r) for i, (p, r) in enumerate(ranked) if i < keep and abs(r) > level] or ranked[:1]
