"""The plan of a sweep: everything that determines its numbers, cut into chunks.

`plan_sweep` loads the scenario, merges its `sweep:` section under the
command line's options, checks the design and fixes the seeds, the months
and the chunking. A chunk is one design point and a range of replicates (one
engine call, sized to take a fraction of a second). The plan's identity
(scenario, design, seeds, months, chunking) is what a resumed sweep must
share with its folder; its hash (the key) is stamped into every chunk file.

Randomness: every design point runs the same replicate seeds (common random
numbers): replicate k of every point has seed `engine.replicate_seeds(seed,
k + 1)[k]`. Differences between points are therefore the parameters' effect,
not noise, and no number depends on the executor, the chunk size, the worker
count or the order in which chunks finish.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from .. import engine, metrics
from ..scenario import Scenario
from ..scenario_files import load_scenario
from ..state import Setup, build_setup
from .design import Design, check_paths, make_design, validate_design
from .specs import SweepError, SweepOptions, section_options

FORMAT = 1  # of the manifest and chunk files

# ------------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Chunk:
    """One task: replicates first..first+count-1 of design point `point`."""

    point: int
    first: int
    count: int

    @property
    def name(self) -> str:
        """The chunk's file name: deterministic, so a resumed sweep finds it."""
        return f"p{self.point}-r{self.first}.parquet"


@dataclass(frozen=True)
class SweepPlan:
    """Everything that determines a sweep's numbers (and nothing that does not)."""

    scenario_file: str
    base: Scenario  # resolved, with the sweep's seed and replicates, no sweep section
    design: Design
    seed: int
    replicates: int
    months: tuple[int, ...]
    measures: tuple[str, ...]
    chunk_size: int
    column_index: tuple[int, ...]
    base_overrides: dict[str, Any] = field(default_factory=dict)
    options: SweepOptions = field(default_factory=lambda: SweepOptions())  # merged; not identity

    @property
    def runs(self) -> int:
        """Runs in the whole sweep: design points x replicates."""
        return len(self.design) * self.replicates

    def chunks(self) -> list[Chunk]:
        """Every chunk, point by point, in replicate order."""
        per_point = list(engine.chunks(self.replicates, self.chunk_size))
        return [Chunk(p, first, count) for p in range(len(self.design)) for first, count in per_point]

    def chunks_of(self, point: int) -> list[Chunk]:
        """The chunks of one design point, in replicate order."""
        return [
            Chunk(point, first, count) for first, count in engine.chunks(self.replicates, self.chunk_size)
        ]

    def identity(self) -> dict[str, Any]:
        """What a resumed sweep must share with the folder's manifest (JSON data)."""
        return self._identity

    @cached_property
    def _identity(self) -> dict[str, Any]:
        return json.loads(
            json.dumps(
                {
                    "format": FORMAT,
                    "scenario": self.base.model_dump(mode="json"),
                    "design": self.design.as_dict(),
                    "seed": self.seed,
                    "replicates": self.replicates,
                    "replicate_seeds": "numpy.random.SeedSequence(seed).generate_state(replicates, uint64), "
                    "the same for every design point",
                    "months": list(self.months),
                    "measures": [f"{metrics.REGION}.{m}" for m in self.measures],
                    "chunk_size": self.chunk_size,
                }
            )
        )

    def key(self) -> str:
        """A hash of the identity, stamped into every chunk file."""
        return self._key

    @cached_property
    def _key(self) -> str:
        text = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def resuming(self, folder: str | Path) -> SweepPlan:
        """This plan, with the chunk size of the sweep in `folder` if the user chose none.

        So `--resume` works without repeating `--chunk-size`; an explicit,
        different chunk size is still refused by `check_folder`.
        """
        manifest = Path(folder) / "manifest.json"
        if self.options.chunk_size is not None or not manifest.exists():
            return self
        try:
            size = json.loads(manifest.read_text())["identity"]["chunk_size"]
        except (OSError, ValueError, KeyError, TypeError):
            return self
        if isinstance(size, int) and size >= 1 and size != self.chunk_size:
            return replace(self, chunk_size=size)
        return self


def default_chunk_size(setup: Setup) -> int:
    """Replicates per chunk: about 0.1-0.5 s of engine time, bounded memory.

    The engine's cost per replicate grows with the horizon and the number of
    actors; 60 months and a dozen actors run ~1,000 replicates in ~0.2 s.
    """
    work = setup.horizon * (setup.n_regional * setup.n_partners + 1)
    return int(min(5000, max(10, round(60 * 1000 * 31 / work))))


def plan_sweep(
    scenario_file: str | Path,
    options: SweepOptions,
    overrides: dict[str, Any] | None = None,
    seed: int | None = None,
) -> SweepPlan:
    """Load the scenario, merge its `sweep:` section under `options`, and check everything.

    `overrides` are `--set` values applied to the base scenario. Raises
    ScenarioError for a bad scenario file and SweepError for a bad sweep.
    """
    file = str(scenario_file)
    base_overrides = dict(overrides or {})
    base = load_scenario(file, base_overrides)
    options = options.over(section_options(base.sweep, file))
    replicates = options.replicates if options.replicates is not None else base.replicates
    run_seed = base.seed if seed is None else seed
    if seed is not None:
        base_overrides["seed"] = seed
    base = base.model_copy(update={"sweep": None, "seed": run_seed, "replicates": replicates})
    horizon = base.horizon
    if options.months is not None:
        bad = [m for m in options.months if not 0 <= m <= horizon]
        if bad:
            raise SweepError(f"--months: {bad[0]} is outside 0..{horizon} (the scenario's horizon months)")
        months = tuple(sorted(set(options.months)))
    else:
        months = tuple(sorted({m for m in [*base.outputs.months, horizon] if 0 < m <= horizon}))
    integer = check_paths(options.params, base, file, base_overrides)
    design = make_design(options.design or "grid", options.params, options.samples, run_seed, integer)
    validate_design(design, base, file, base_overrides)
    setup = build_setup(base)
    columns = metrics.columns(setup)
    measures = tuple(metrics.HEADLINE)
    column_index = tuple(columns.index(metrics.REGION, m) for m in measures)
    return SweepPlan(
        scenario_file=file,
        base=base,
        design=design,
        seed=run_seed,
        replicates=replicates,
        months=months,
        measures=measures,
        chunk_size=options.chunk_size or default_chunk_size(setup),
        column_index=column_index,
        base_overrides=base_overrides,
        options=options,
    )
