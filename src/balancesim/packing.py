"""Packed chunks: one engine call runs many design points, each run with its own values.

A design of many points and few runs per point (Latin hypercubes, Sobol',
Morris) would otherwise cost one engine call per point, far below the
engine's speed. Here the runs of a sweep are numbered point by point
(`run = point * replicates + replicate`) and cut into chunks of consecutive
runs, whatever points they belong to. A chunk is one engine call: the base
scenario's Setup, the replicate seeds of its runs, and each swept value as an
array with one entry per run (`engine.run_replicates(..., values=...)`).

Randomness does not change: run (p, k) uses replicate k's seed,
`engine.replicate_seeds(seed, replicates)[k]`, as every point did before
(common random numbers), and the engine's numbers for one run depend only on
its seed and its values, never on the other runs of its call. So a packed
chunk gives the same numbers as running each point alone, whatever the chunk
size, executor, worker count or order of completion.

Values the engine cannot vary per run (those that change the scenario's
structure, e.g. a calibrated tie that the base scenario does not hold) fall
back to one engine call per point within the chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import engine


@dataclass(frozen=True)
class Chunk:
    """Runs first..first+count-1 of a sweep, numbered point by point."""

    first: int
    count: int

    @property
    def name(self) -> str:
        """The chunk's file name: deterministic, so a resumed sweep finds it."""
        return f"r{self.first}.parquet"

    def runs(self, replicates: int) -> tuple[np.ndarray, np.ndarray]:
        """(point, replicate) of each run of the chunk."""
        run = np.arange(self.first, self.first + self.count, dtype=np.int64)
        return run // replicates, run % replicates

    def point_range(self, replicates: int) -> range:
        """The design points the chunk holds runs of."""
        return range(self.first // replicates, (self.first + self.count - 1) // replicates + 1)


def chunks(points: int, replicates: int, chunk_size: int) -> list[Chunk]:
    """Every chunk of a sweep of `points` x `replicates` runs, in run order."""
    return [Chunk(first, count) for first, count in engine.chunks(points * replicates, chunk_size)]


def runs_per_point(chunk: Chunk, replicates: int, points: int) -> np.ndarray:
    """How many of each point's runs the chunk holds: (points,) counts."""
    point, _ = chunk.runs(replicates)
    return np.bincount(point, minlength=points)


@dataclass(frozen=True)
class Job:
    """What every chunk of a sweep shares; shipped once to each worker."""

    key: str
    base_json: str
    seed: int
    replicates: int
    months: tuple[int, ...]
    column_index: tuple[int, ...]
    paths: tuple[str, ...]
    integer: frozenset[str]
    per_run: bool  # the engine can vary every path per run within one call
    check_points: bool  # validate each point (designs too large to check up front)


@dataclass(frozen=True)
class Task:
    """One chunk and the values of the design points it touches (workers need not hold the design)."""

    chunk: Chunk
    first_point: int
    points: np.ndarray  # (points touched, D)

    def overrides(self, local: int, integer: frozenset[str], paths: Sequence[str]) -> dict[str, float | int]:
        """The scenario overrides (PATH -> value) of the chunk's `local`-th point."""
        return {
            path: (round(v) if path in integer else float(v))
            for path, v in zip(paths, self.points[local], strict=True)
        }


def tasks(chunk_list: Iterable[Chunk], design_points: np.ndarray, replicates: int) -> Iterator[Task]:
    """The task of each chunk, with the rows of the design it needs."""
    for chunk in chunk_list:
        span = chunk.point_range(replicates)
        yield Task(chunk, span.start, design_points[span.start : span.stop])


class PointError(ValueError):
    """A design point that is not a valid scenario (found while running a large design)."""


_SETUPS: dict[tuple[str, Any], Any] = {}
_SEEDS: dict[tuple[int, int], np.ndarray] = {}


def _setup(key: tuple[str, Any], make: Any) -> Any:
    setup = _SETUPS.get(key)
    if setup is None:
        setup = make()
        if len(_SETUPS) >= 8:
            _SETUPS.pop(next(iter(_SETUPS)))
        _SETUPS[key] = setup
    return setup


def replicate_seeds(seed: int, replicates: int) -> np.ndarray:
    """Every replicate's seed, computed once per worker (each call derives all words up to the last)."""
    seeds = _SEEDS.get((seed, replicates))
    if seeds is None:
        _SEEDS.clear()
        seeds = _SEEDS[(seed, replicates)] = engine.replicate_seeds(seed, replicates)
    return seeds


def run_chunk(job: Job, task: Task) -> np.ndarray:
    """Run one chunk: (months, count, outcomes). Runs in a worker.

    Seeds come from the job's run seed and each run's replicate number, so
    the numbers depend on nothing else.
    """
    from .executors import relax_malloc_trimming
    from .state import build_setup
    from .sweep import point_scenario

    relax_malloc_trimming()
    point, replicate = task.chunk.runs(job.replicates)
    seeds = replicate_seeds(job.seed, job.replicates)[replicate]
    columns = np.asarray(job.column_index)
    local = point - task.first_point

    def scenario_of(k: int) -> Any:
        overrides = task.overrides(k, job.integer, job.paths)
        try:
            return point_scenario(job.base_json, overrides)
        except ValueError as e:
            shown = ", ".join(f"{p}={v}" for p, v in overrides.items())
            raise PointError(f"design point {task.first_point + k} ({shown}) is not a valid scenario: {e}") from None

    if job.per_run:
        if job.check_points:
            for k in range(len(task.points)):
                scenario_of(k)
        base = _setup((job.key, None), lambda: build_setup(point_scenario(job.base_json, {})))
        values = {path: task.points[local, d] for d, path in enumerate(job.paths)}
        return engine.run_replicates(base, seeds, job.months, columns, values=values)
    out = None
    for k in range(len(task.points)):
        rows = np.flatnonzero(local == k)
        setup = _setup((job.key, task.points[k].tobytes()), lambda k=k: build_setup(scenario_of(k)))
        if out is None:
            out = np.empty((len(job.months), task.chunk.count, len(columns)))
        engine.run_replicates(setup, seeds[rows], job.months, columns, out=out[:, rows[0] : rows[-1] + 1])
    assert out is not None
    return out


def summary_stats(
    blocks: Iterable[np.ndarray], replicates: int, points: int, quantiles: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Per point: the mean and quantiles over replicates, from (months, runs, C) blocks in run order.

    Returns mean (P, T, C) and quantiles (Q, P, T, C). Blocks are consumed as
    they come, so memory holds about one chunk and one point's runs at a time
    whatever the sweep's size.
    """
    mean: np.ndarray | None = None
    quant: np.ndarray | None = None
    pending: list[np.ndarray] = []
    held = 0
    done = 0
    for block in blocks:
        block = block.transpose(1, 0, 2)  # (runs, T, C)
        if mean is None:
            _, T, C = block.shape
            mean = np.empty((points, T, C))
            quant = np.empty((len(quantiles), points, T, C))
        pending.append(block)
        held += len(block)
        ready = held // replicates
        if ready == 0:
            continue
        runs = np.concatenate(pending) if len(pending) > 1 else pending[0]
        whole = runs[: ready * replicates].reshape(ready, replicates, *runs.shape[1:])
        mean[done : done + ready] = whole.mean(axis=1)
        quant[:, done : done + ready] = np.quantile(whole, quantiles, axis=1)
        done += ready
        rest = runs[ready * replicates :]
        pending = [rest] if len(rest) else []
        held = len(rest)
    if mean is None or done != points:
        raise ValueError(f"the chunks hold {done} complete design points, expected {points}")
    return mean, quant
