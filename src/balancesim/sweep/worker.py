"""The worker side of a sweep: what runs one chunk, in whatever process the executor chose.

A worker receives the sweep's shared `Job` once and a `Task` per chunk; it
builds the design point's scenario from the base scenario and the point's
overrides, and runs the engine on the chunk's replicate seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import engine
from ..state import Setup, build_setup
from .design import point_scenario
from .plan import Chunk
from .specs import SweepError

# ------------------------------------------------------------------ the worker side


@dataclass(frozen=True)
class Job:
    """What every chunk of a sweep shares; shipped once to each worker."""

    key: str
    base_json: str
    seed: int
    months: tuple[int, ...]
    column_index: tuple[int, ...]


@dataclass(frozen=True)
class Task:
    """One chunk and its design point's overrides (so workers need not hold the design)."""

    chunk: Chunk
    overrides: tuple[tuple[str, float | int], ...]


_SETUPS: dict[tuple[str, tuple], Setup] = {}


def run_chunk(job: Job, task: Task) -> np.ndarray:
    """Run one chunk: (months, count, measures) headline outcomes. Runs in a worker.

    Seeds come from the job's run seed and the chunk's replicate range, so the
    numbers depend on nothing else. The design point's Setup is cached: a
    worker usually runs several chunks of the same point in a row.
    """
    from ..executors import relax_malloc_trimming

    relax_malloc_trimming()
    cache_key = (job.key, task.overrides)
    setup = _SETUPS.get(cache_key)
    if setup is None:
        try:
            scenario = point_scenario(job.base_json, dict(task.overrides))
        except ValueError as e:  # only in designs too large to check every point up front
            shown = ", ".join(f"{k}={v}" for k, v in task.overrides)
            raise SweepError(
                f"design point {task.chunk.point} ({shown}) is not a valid scenario: {e}"
            ) from None
        setup = build_setup(scenario)
        if len(_SETUPS) >= 8:
            _SETUPS.pop(next(iter(_SETUPS)))
        _SETUPS[cache_key] = setup
    seeds = engine.replicate_seeds(job.seed, task.chunk.count, task.chunk.first)
    return engine.run_replicates(setup, seeds, job.months, np.asarray(job.column_index))
