"""The worker side of a sweep: what runs one chunk, in whatever process the executor chose.

A worker receives the sweep's shared `Job` once and a `Task` per chunk: a
range of runs and the values of the design points they belong to. The whole
chunk is one engine call on the base scenario's Setup, each run carrying its
own point's values as per-run arrays (`engine.run_replicates(..., values=...)`)
and its replicate's seed. `run_chunk_recorded` also returns each run's own
draws (shock severities, random shocks' months: `draws.shock_draws`), the
same that `balancesim run` records in params.parquet for that replicate.
The engine's numbers for a run depend only on its seed and its values, so
packing many points into one call changes nothing but the speed.

Paths the engine cannot vary per run (`per_run.resolve` refuses them) fall
back to one engine call per design point within the chunk, on that point's
own scenario: the same numbers, at the old speed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from balancesim.model import engine
from balancesim.model.draws import shock_draws
from balancesim.model.state import Setup, build_setup
from balancesim.scenario.per_run import ValuesError
from balancesim.sweep.design import invalid_point, point_scenario
from balancesim.sweep.plan import Chunk, SweepPlan
from balancesim.sweep.specs import SweepError

# ------------------------------------------------------------------ the worker side


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
    per_run: bool  # the engine varies every path per run within one call
    posterior: Any = None  # `--posterior`: the PATHs each run draws (plan.SweepPlan.posterior)
    shock_ids: tuple[str, ...] = ()  # the base scenario's shocks, in order
    recorded: tuple[str, ...] = ()  # the per-run draws each run records (plan.SweepPlan.recorded)


@dataclass(frozen=True)
class Task:
    """One chunk and the values of the design points it holds runs of."""

    chunk: Chunk
    first_point: int
    points: np.ndarray  # (points held, D): rows first_point.. of the design

    def overrides(self, local: int, job: Job) -> dict[str, float | int]:
        """The scenario overrides (PATH -> value) of the chunk's `local`-th point."""
        return {
            path: (round(v) if path in job.integer else float(v))
            for path, v in zip(job.paths, self.points[local], strict=True)
        }


def make_job(plan: SweepPlan) -> Job:
    """The job every chunk of `plan` shares."""
    return Job(
        key=plan.key(),
        base_json=json.dumps(plan.base.model_dump(mode="json")),
        seed=plan.seed,
        replicates=plan.replicates,
        months=plan.months,
        column_index=plan.column_index,
        paths=tuple(plan.design.paths),
        integer=plan.design.integer,
        per_run=plan.per_run,
        posterior=plan.posterior,
        shock_ids=tuple(shock.id for shock in plan.base.shocks),
        recorded=plan.recorded,
    )


def make_tasks(plan: SweepPlan, chunks: Iterable[Chunk]) -> Iterator[Task]:
    """The task of each chunk, carrying the rows of the design it needs."""
    for chunk in chunks:
        held = chunk.points(plan.replicates)
        yield Task(chunk, held.start, plan.design.points[held.start : held.stop])


def runs_per_point(chunk: Chunk, plan: SweepPlan) -> np.ndarray:
    """How many runs of each design point the chunk holds: (points,) counts."""
    point, _ = chunk.runs(plan.replicates)
    return np.bincount(point, minlength=len(plan.design))


_SETUPS: dict[tuple[str, Any], Setup] = {}
_SEEDS: dict[tuple[int, int], np.ndarray] = {}


def _cached_setup(key: tuple[str, Any], make: Any) -> Setup:
    setup = _SETUPS.get(key)
    if setup is None:
        setup = make()
        if len(_SETUPS) >= 8:
            _SETUPS.pop(next(iter(_SETUPS)))
        _SETUPS[key] = setup
    return setup


def replicate_seeds(seed: int, replicates: int) -> np.ndarray:
    """Every replicate's seed, derived once per worker (each derivation computes all words up to the last)."""
    seeds = _SEEDS.get((seed, replicates))
    if seeds is None:
        _SEEDS.clear()
        seeds = _SEEDS[(seed, replicates)] = engine.replicate_seeds(seed, replicates)
    return seeds


def posterior_values(posterior: Any, seed: int, replicate: np.ndarray) -> dict[str, np.ndarray]:
    """Each run's values of the posterior's PATHs: those of the particle its replicate picks."""
    first = int(replicate.min())
    drawn = posterior.draw(seed, int(replicate.max()) - first + 1, first)
    return {path: v[replicate - first] for path, v in drawn.items()}


def run_chunk(job: Job, task: Task) -> np.ndarray:
    """Run one chunk: (months, runs, outcomes). Runs in a worker (see `run_chunk_recorded`)."""
    return _run_chunk(job, task, record=False)[0]


def run_chunk_recorded(job: Job, task: Task) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Run one chunk: (months, runs, outcomes) and each run's own draws (`Job.recorded` PATH -> (runs,)).

    Run r of the chunk is replicate r % replicates of point r // replicates;
    its seed is that replicate's, whatever the point, so the numbers depend
    on nothing but the job and the run. With a posterior, run r also draws the
    PATHs the posterior covers (and the design does not) as replicate
    r % replicates: every design point's replicate k gets the same particle
    (and the same noise), the particle of `run --posterior` replicate k, so
    differences between points are paired and do not depend on the chunk.
    A run's recorded draws are those `balancesim run` records for the same
    replicate with the point's values (`draws.shock_draws`).
    """
    return _run_chunk(job, task, record=True)


def _run_chunk(job: Job, task: Task, record: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """`run_chunk_recorded`; the draws only with `record` (else an empty dict)."""
    from balancesim.experiment.executors import relax_malloc_trimming

    relax_malloc_trimming()
    point, replicate = task.chunk.runs(job.replicates)
    seeds = replicate_seeds(job.seed, job.replicates)[replicate]
    columns = np.asarray(job.column_index)
    local = point - task.first_point
    drawn = {} if job.posterior is None else posterior_values(job.posterior, job.seed, replicate)

    def scenario_of(k: int) -> Any:
        overrides = task.overrides(k, job)
        try:
            return point_scenario(job.base_json, overrides)
        except ValueError as e:  # only in designs too large to check every point up front
            shown = ", ".join(f"{p}={v}" for p, v in overrides.items())
            raise SweepError(
                f"design point {task.first_point + k} ({shown}) is not a valid scenario: {invalid_point(e)}"
            ) from None

    if job.per_run:
        # The engine checks every run's values against their bounds and against
        # each other (`per_run.with_values`), all at once; if a point fails,
        # the scenario loader names it.
        base = _cached_setup((job.key, None), lambda: build_setup(point_scenario(job.base_json, {})))
        values = {path: task.points[local, d] for d, path in enumerate(job.paths)} | drawn
        try:
            data = engine.run_replicates(base, seeds, job.months, columns, values=values)
        except ValuesError as e:  # only in designs too large to check every point up front
            for k in range(len(task.points)):
                scenario_of(k)
            last = task.chunk.first + task.chunk.count - 1
            raise SweepError(f"runs {task.chunk.first}..{last}: {e}") from None
        recorded = {} if not record else _recorded(job, base, seeds, values)
        return data, recorded
    # laid out as the engine's own results (month, measure, run), so its writes are contiguous
    out = np.empty((len(job.months), len(columns), task.chunk.count)).transpose(0, 2, 1)
    recorded = {path: np.empty(task.chunk.count) for path in job.recorded} if record else {}
    for k in range(len(task.points)):
        rows = np.flatnonzero(local == k)
        setup = _cached_setup((job.key, task.points[k].tobytes()), lambda k=k: build_setup(scenario_of(k)))
        own = {path: v[rows] for path, v in drawn.items()}
        engine.run_replicates(
            setup, seeds[rows], job.months, columns, out=out[:, rows[0] : rows[-1] + 1], values=own
        )
        for path, v in (_recorded(job, setup, seeds[rows], own) if record else {}).items():
            recorded[path][rows] = v
    return out, recorded


def _recorded(job: Job, setup: Setup, seeds: np.ndarray, values: dict[str, Any]) -> dict[str, np.ndarray]:
    """The runs' own draws of `job.recorded`, as `balancesim run` records them (`shock_draws`)."""
    if not job.recorded:
        return {}
    return shock_draws(setup, job.shock_ids, seeds, values, paths=job.recorded)
