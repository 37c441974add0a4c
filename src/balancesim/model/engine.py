"""The vectorised engine: steps many replicates at once with the rules of rules.py.

Randomness. A run has one seed. Replicate k gets its own seed, the k-th word
of `numpy.random.SeedSequence(seed)`'s state (`replicate_seeds`), and draws
its whole block of noise up front from its own generator (`replicate_generator`:
SFC64, the fastest of numpy's bit generators for this volume of normal draws)
in a fixed order (`draw_noise`). So replicate k's numbers depend only on the
run seed and k, never on how many replicates run, how they are chunked, which
executor runs them or in which order chunks finish. `BalanceModel(scenario,
rng=replicate_seed)` draws the very same block, which is why engine and Mesa
model agree to rounding.

Per-run values. `values` (PATH -> one value per replicate, see per_run.py)
lets scenario values differ from one replicate to the next within one call:
replicate k runs with entry k of each array, whatever the chunking, and
`BalanceModel(scenario, rng=seed_k, values={PATH: value_k})` reproduces it.

Noise is drawn in separate blocks (engagement and opinion normals, alliance
uniforms, shock uniforms), so a scenario that only adds shocks keeps the
baseline's other draws: comparisons use common random numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from balancesim.model import metrics
from balancesim.model.rules import MonthNoise, step
from balancesim.model.state import Setup, initial_state
from balancesim.model.trace import Trace, Tracer

DEFAULT_CHUNK = 1000
# numpy sums a contiguous run of eight or more values in a different order
# (hence with different rounding) than a strided one. With replicates on the
# last axis, a single replicate makes the summed axes contiguous, so runs are
# stepped at least this many replicates wide (a lone replicate is doubled):
# the numbers are then identical for every chunk size, and for BalanceModel.
MIN_WIDTH = 2


def widen(seeds: Sequence[int] | np.ndarray) -> np.ndarray:
    """The seeds to step: `seeds`, repeated up to MIN_WIDTH replicates."""
    seeds = np.asarray(seeds, dtype=np.uint64)
    return seeds if len(seeds) >= MIN_WIDTH else np.resize(seeds, MIN_WIDTH)


def replicate_seeds(seed: int, count: int, first: int = 0) -> np.ndarray:
    """Seeds of replicates first..first+count-1 of a run seeded with `seed` (uint64)."""
    return np.random.SeedSequence(seed).generate_state(first + count, np.uint64)[first:]


def replicate_generator(seed: int) -> np.random.Generator:
    """The random generator of the replicate with this seed."""
    return np.random.Generator(np.random.SFC64(int(seed)))


@dataclass
class NoiseBlock:
    """All random draws of a set of replicates for a whole run, month-major, replicates last."""

    normal: np.ndarray  # (T, S*M*(D+1), R)
    uniform: np.ndarray  # (T, 4*S*A, R), A security alliances
    shock: np.ndarray  # (T, K, R)
    severity: np.ndarray  # (K, R)

    def month(self, t: int, setup: Setup) -> MonthNoise:
        """The draws consumed by the step from month t to t + 1."""
        S, M, A = setup.n_regional, setup.n_partners, len(setup.security_index)
        R = self.normal.shape[-1]
        n_eng = S * M * 2
        normal = self.normal[t]
        uni = self.uniform[t].reshape(4, S, A, R)
        return MonthNoise(
            engagement=normal[:n_eng].reshape(S, M, 2, R),
            opinion=normal[n_eng:].reshape(S, M, R),
            protect=uni[0],
            threaten=uni[1],
            leave=uni[2],
            respond=uni[3],
            shock=self.shock[t],
            severity=self.severity,
        )


def draw_noise(setup: Setup, seeds: Sequence[int] | np.ndarray) -> NoiseBlock:
    """Draw every replicate's block of noise, replicate by replicate in a fixed order."""
    T, S, M = setup.horizon, setup.n_regional, setup.n_partners
    n_alliances, K = len(setup.security_index), setup.n_shocks
    R = len(seeds)
    normal = np.empty((R, T, S * M * 3))
    uniform = np.empty((R, T, 4 * S * n_alliances))
    shock = np.empty((R, T, K))
    severity = np.empty((R, K))
    for k, seed in enumerate(seeds):
        rng = replicate_generator(seed)
        rng.standard_normal(out=normal[k])
        rng.random(out=uniform[k])
        rng.random(out=shock[k])
        rng.random(out=severity[k])
    return NoiseBlock(
        normal=np.ascontiguousarray(normal.transpose(1, 2, 0)),
        uniform=np.ascontiguousarray(uniform.transpose(1, 2, 0)),
        shock=np.ascontiguousarray(shock.transpose(1, 2, 0)),
        severity=np.ascontiguousarray(severity.T),
    )


def widen_values(values: Mapping[str, np.ndarray | float] | None, n: int) -> dict[str, np.ndarray]:
    """Per-run values for `n` replicates, repeated as `widen` repeats their seeds."""
    out = {}
    for path, v in (values or {}).items():
        v = np.atleast_1d(np.asarray(v, dtype=float))
        if len(v) != n:
            raise ValueError(f"{path}: {len(v)} per-run values for {n} replicates")
        out[path] = v if n >= MIN_WIDTH else np.resize(v, MIN_WIDTH)
    return out


def run_replicates(
    setup: Setup,
    seeds: Sequence[int] | np.ndarray,
    months: Sequence[int] | None = None,
    column_index: np.ndarray | None = None,
    out: np.ndarray | None = None,
    values: Mapping[str, np.ndarray] | None = None,
    trace: Trace | None = None,
) -> np.ndarray:
    """Run the given replicates over the whole horizon.

    Returns measures as (len(months), R, C): months default to every step
    0..horizon; `column_index` selects measure columns (default: all). With
    `out` (an array of that shape, e.g. a slice of a larger result), the
    measures are written there and `out` is returned. `values` maps PATHs
    to one value per replicate (arrays of len(seeds)): replicate k runs with
    entry k of each (see per_run.py). With `trace` (`Trace.empty(setup,
    len(seeds))` or a part of a larger one), each month's decision is
    recorded there (trace.py); the measures are the same either way.
    """
    keep = _months(setup, months)
    slot = {m: k for k, m in enumerate(keep)}
    n = len(seeds)
    if values:
        setup = setup.with_values(widen_values(values, n))
    seeds = widen(seeds)
    noise = draw_noise(setup, seeds)
    state = initial_state(setup, len(seeds))
    if out is None:
        out = _result(setup, len(keep), n, column_index)
    by_measure = out.transpose(0, 2, 1)  # (months, C, R): contiguous rows with `_result`'s layout
    tracer = None if trace is None else Tracer(setup)
    for t in range(setup.horizon + 1):
        if tracer is not None and t > 0:
            state, decision = tracer.step(state, noise.month(t - 1, setup))
            assert trace is not None  # a tracer exists only with a trace
            trace.record(decision)
        elif t > 0:
            state = step(state, setup, noise.month(t - 1, setup))
        if t in slot:
            measured = metrics.measure_columns(state, setup)
            if column_index is not None:
                measured = measured[column_index]
            by_measure[slot[t]] = measured[:, :n]
    return out


def _result(setup: Setup, months: int, replicates: int, column_index: np.ndarray | None) -> np.ndarray:
    """An empty (months, R, C) result, laid out month by measure by replicate in memory.

    The measures are computed as (C, R) blocks; storing them in that order
    makes every write a contiguous copy (a transposed layout costs a strided
    copy of every value, every month). The (months, R, C) shape is a view.
    """
    width = len(metrics.columns(setup)) if column_index is None else len(column_index)
    return np.empty((months, width, replicates)).transpose(0, 2, 1)


def _months(setup: Setup, months: Sequence[int] | None) -> list[int]:
    keep = list(range(setup.horizon + 1)) if months is None else sorted(set(months))
    if keep and (keep[0] < 0 or keep[-1] > setup.horizon):
        raise ValueError(f"months must lie in 0..{setup.horizon}")
    return keep


def chunks(replicates: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """(first, count) of each chunk of a run of `replicates`."""
    if chunk_size < 1:
        raise ValueError("chunk size must be at least 1")
    for first in range(0, replicates, chunk_size):
        yield first, min(chunk_size, replicates - first)


def simulate(
    setup: Setup,
    seed: int,
    replicates: int,
    chunk_size: int = DEFAULT_CHUNK,
    months: Sequence[int] | None = None,
    column_index: np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
    values: Mapping[str, np.ndarray] | None = None,
    trace: Trace | None = None,
) -> np.ndarray:
    """Run `replicates` replicates in chunks; returns (months, R, C) as `run_replicates`.

    `progress`, if given, is called with the number of replicates finished
    after each chunk. `values` maps PATHs to arrays of length `replicates`
    (one value per replicate; each chunk gets its slice). `trace`
    (`Trace.empty(setup, replicates)`) receives every month's decision.
    """
    out = _result(setup, len(_months(setup, months)), replicates, column_index)
    seeds = replicate_seeds(seed, replicates)  # once: each call recomputes the words before `first`
    values = {p: np.asarray(v, dtype=float) for p, v in (values or {}).items()}
    for path, v in values.items():
        if v.shape != (replicates,):
            raise ValueError(f"{path}: per-run values of shape {v.shape}, expected ({replicates},)")
    for first, count in chunks(replicates, chunk_size):
        part = slice(first, first + count)
        chunk_values = {p: v[part] for p, v in values.items()}
        chunk_trace = None if trace is None else trace.part(first, count)
        run_replicates(
            setup, seeds[part], months, column_index, out=out[:, part], values=chunk_values, trace=chunk_trace
        )
        if progress is not None:
            progress(count)
    return out
