"""The plan of a sweep: everything that determines its numbers, cut into chunks.

`plan_sweep` loads the scenario, merges its `sweep:` section under the
command line's options, checks the design and fixes the seeds, the months,
the outcomes kept and the chunking. The runs of a sweep are numbered point
by point (`run = point * replicates + replicate`) and a chunk is a range of
consecutive runs, whatever design points they belong to: one engine call in
which every run carries its own point's values (`engine.run_replicates(...,
values=...)`), sized to take a fraction of a second. So a design of many
points and few runs per point runs as fast as one of few points and many
runs. The plan's identity (scenario, design, seeds, months, outcomes,
chunking) is what a resumed sweep must share with its folder; its hash (the
key) is stamped into every chunk file.

Randomness: every design point runs the same replicate seeds (common random
numbers): run (p, k) has seed `engine.replicate_seeds(seed, replicates)[k]`.
Differences between points are therefore the parameters' effect, not noise,
and since the engine's numbers for one run depend only on its seed and its
values, no number depends on the executor, the chunk size, the worker count
or the order in which chunks finish.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from balancesim.model import engine
from balancesim.model.draws import recorded_paths
from balancesim.model.outcomes import OutcomeError, headline, parse_outcomes
from balancesim.model.outcomes import column_index as outcome_columns
from balancesim.model.state import Setup, build_setup
from balancesim.scenario.files import load_scenario
from balancesim.scenario.schema import Scenario
from balancesim.scenario.text import excerpt, read_bounded, scenario_folders
from balancesim.sweep.design import Design, check_paths, file_design, make_design, validate_design
from balancesim.sweep.design_file import DesignFile, read_design_file
from balancesim.sweep.specs import ALL_MONTHS, ParamSpec, SweepError, SweepOptions, section_options

MANIFEST_BYTES = 16 << 20  # a sweep's manifest.json (the resolved scenario and the identity)
FORMAT = 2  # of the manifest and chunk files (2: chunks are ranges of runs over many points)

# ------------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Chunk:
    """One task: runs first..first+count-1 of the sweep, numbered point by point."""

    first: int
    count: int

    @property
    def name(self) -> str:
        """The chunk's file name: deterministic, so a resumed sweep finds it."""
        return f"r{self.first}.parquet"

    def runs(self, replicates: int) -> tuple[np.ndarray, np.ndarray]:
        """(design point, replicate) of each run of the chunk."""
        run = np.arange(self.first, self.first + self.count, dtype=np.int64)
        return run // replicates, run % replicates

    def points(self, replicates: int) -> range:
        """The design points the chunk holds runs of."""
        return range(self.first // replicates, (self.first + self.count - 1) // replicates + 1)


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
    per_run: bool = True  # the engine varies every swept PATH per run (else one call per point)
    base_overrides: dict[str, Any] = field(default_factory=dict)
    options: SweepOptions = field(default_factory=lambda: SweepOptions())  # merged; not identity
    # `--posterior DIR`: a calibration posterior (calibration.posterior.Posterior) less the PATHs
    # the design or `--set` gives; each run draws the rest from it (worker.run_chunk).
    posterior: Any = None
    # The scenario's own per-run draws each run records beside its outcomes (`draws.recorded_paths`:
    # ranged shock severities, random shocks' months), less the PATHs the design or posterior give.
    recorded: tuple[str, ...] = ()

    @property
    def runs(self) -> int:
        """Runs in the whole sweep: design points x replicates."""
        return len(self.design) * self.replicates

    def chunks(self) -> list[Chunk]:
        """Every chunk, in run order."""
        return [Chunk(first, count) for first, count in engine.chunks(self.runs, self.chunk_size)]

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
                    "runs": "run = point * replicates + replicate; a chunk is a range of runs",
                    "months": list(self.months),
                    "outcomes": list(self.measures),
                    "chunk_size": self.chunk_size,
                }
                | ({"posterior": posterior_identity(self.posterior)} if self.posterior is not None else {})
                | ({"recorded": list(self.recorded)} if self.recorded else {})
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
            size = json.loads(read_bounded(manifest, MANIFEST_BYTES))["identity"]["chunk_size"]
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


def posterior_identity(posterior: Any) -> dict[str, Any]:
    """What identifies a sweep's posterior: its PATHs and a hash of its particles and weights.

    A resumed sweep must draw from the same particles; the folder's name alone
    would not notice a calibration rerun into it.
    """
    if hasattr(posterior, "identity"):  # evaluate's prior draws (evaluate.PriorDraws)
        return posterior.identity()
    digest = hashlib.sha256()
    for path in posterior.paths:
        digest.update(path.encode() + b"\0" + np.ascontiguousarray(posterior.values[path], float).tobytes())
    digest.update(np.ascontiguousarray(posterior.weights, float).tobytes())
    return {"paths": posterior.paths, "particles": len(posterior.weights), "sha256": digest.hexdigest()}


def with_posterior(plan: SweepPlan, folder: str | Path | None = None) -> SweepPlan:
    """`plan` whose runs draw, from a calibration posterior, every PATH it covers that
    neither the design nor `--set` gives (those keep their values, as `run --set` does).

    The posterior is the one in `folder` (`--posterior DIR`), else the base
    scenario's own (`uncertainty: {posterior: DIR}`), else there is none and
    `plan` is returned as it is. Replicate k draws the same particle at every
    design point (`worker.posterior_values`), so the numbers do not depend on
    chunking. Raises SweepError for a folder that cannot be used.
    """
    from balancesim.scenario.posterior import PosteriorError, read_posterior

    if folder is None:
        posterior = plan.base.posterior
        if posterior is None:
            return plan
    else:
        try:
            posterior = read_posterior(folder, plan.base, where="--posterior")
        except PosteriorError as e:
            raise SweepError(str(e)) from None
    fixed = [*plan.design.paths, *(p for p in plan.base_overrides if p not in ("seed", "replicates"))]
    posterior = posterior.without(fixed)
    recorded = tuple(p for p in plan.recorded if p not in posterior.paths)
    return replace(plan, posterior=posterior, recorded=recorded)


def plan_sweep(
    scenario_file: str | Path,
    options: SweepOptions,
    overrides: dict[str, Any] | None = None,
    seed: int | None = None,
    posterior: str | Path | None = None,
) -> SweepPlan:
    """Load the scenario, merge its `sweep:` section under `options`, and check everything.

    `overrides` are `--set` values applied to the base scenario; `posterior` a
    calibration folder the runs draw from, in place of the scenario's own
    `uncertainty: {posterior: DIR}` (`with_posterior`). Raises
    ScenarioError for a bad scenario file and SweepError for a bad sweep.
    """
    file = str(scenario_file)
    base_overrides = dict(overrides or {})
    base = load_scenario(file, base_overrides)
    from_file = options.design_file is None  # a `sweep.design_file` of the scenario, if any
    options = options.over(section_options(base.sweep, file))
    source = None
    if options.design_file is not None:
        _check_file_options(options)
        if from_file:  # named by the scenario: relative to its folder, and only inside it
            source = read_design_file(
                Path(file).parent / options.design_file,
                within=scenario_folders(file),
                shown=f"{file}: sweep.design_file {excerpt(options.design_file)}",
            )
        else:
            source = read_design_file(options.design_file)
    plan = _plan(file, base, base_overrides, options, seed, source)
    return with_posterior(plan, posterior)


def plan_points(
    scenario: str | Path | Scenario,
    paths: Sequence[str],
    rows: Sequence[Sequence[float]],
    replicates: int | None = None,
    outcomes: Sequence[str] | None = None,
    seed: int | None = None,
    months: Sequence[int] | None = None,
) -> SweepPlan:
    """The plan of running `scenario` at explicit design points (`rows[p][d]` is PATH d's value).

    For `balancesim.sweep.evaluate`: the points are checked like a design file's
    (messages name `design point P`), then planned exactly as a sweep, so
    both give the same numbers.
    """
    if isinstance(scenario, Scenario):
        file, base = "", scenario
    else:
        file = str(scenario)
        base = load_scenario(file)
    options = SweepOptions(
        replicates=replicates,
        months=tuple(months) if months is not None else None,
        outcomes=tuple(outcomes) if outcomes is not None else None,
    )
    points = np.asarray(rows, dtype=float).reshape(len(rows), len(paths))
    if not np.isfinite(points).all():
        p = int(np.flatnonzero(~np.isfinite(points).all(axis=1))[0])
        raise SweepError(f"design point {p}: NaN/infinity is not allowed")
    if replicates is not None and replicates < 1:
        raise SweepError(f"replicates: expected a whole number of at least 1, got {replicates}")
    source = DesignFile("", tuple(paths), points, tuple(range(len(rows))))
    return _plan(file, base, {}, options, seed, source, option="")


def _plan(
    file: str,
    base: Scenario,
    base_overrides: dict[str, Any],
    options: SweepOptions,
    seed: int | None,
    source: DesignFile | None,
    option: str = "--",
) -> SweepPlan:
    """The plan; `option` prefixes the names of options in messages ('--' for the command
    line, '' for the Python API's arguments)."""
    replicates = options.replicates if options.replicates is not None else base.replicates
    run_seed = base.seed if seed is None else seed
    if seed is not None:
        base_overrides["seed"] = seed
    base = base.model_copy(update={"sweep": None, "seed": run_seed, "replicates": replicates})
    horizon = base.horizon
    if options.months == ALL_MONTHS:
        months = tuple(range(horizon + 1))
    elif options.months is not None:
        bad = [m for m in options.months if not 0 <= m <= horizon]
        if bad:
            raise SweepError(
                f"{option}months: {bad[0]} is outside 0..{horizon} (the scenario's horizon months)"
            )
        months = tuple(sorted(set(options.months)))
    else:
        months = tuple(sorted({m for m in [*base.outputs.months, horizon] if 0 < m <= horizon}))
    if source is not None:
        specs = [
            ParamSpec(
                path, f"column {path}", "file", low=float(source.points[:, d].min()), origin=source.file
            )
            for d, path in enumerate(source.paths)
        ]
        design = file_design(source, check_paths(specs, base, file, base_overrides))
    else:
        integer = check_paths(options.params, base, file, base_overrides)
        design = make_design(
            options.design or "grid",
            options.params,
            options.samples,
            run_seed,
            integer,
            second_order=bool(options.second_order),
        )
    validate_design(design, base, file, base_overrides)
    setup = build_setup(base)
    try:
        chosen = parse_outcomes(options.outcomes) if options.outcomes else headline()
        column_index = outcome_columns(setup, chosen)
    except OutcomeError as e:
        raise SweepError(f"{option}outcomes: {e}") from None
    return SweepPlan(
        scenario_file=file,
        base=base,
        design=design,
        seed=run_seed,
        replicates=replicates,
        months=months,
        measures=tuple(o.name for o in chosen),
        chunk_size=options.chunk_size or default_chunk_size(setup),
        column_index=column_index,
        per_run=engine_varies(base, design.paths),
        base_overrides=base_overrides,
        options=options,
        recorded=recorded_paths(base, design.paths),
    )


def _check_file_options(options: SweepOptions) -> None:
    """--design-file gives the points: built-in design options do not apply."""
    where = f"--design-file {options.design_file}"
    if options.params:
        raise SweepError(f"{where}: the file gives the points; drop --param")
    if options.design not in (None, "file"):
        raise SweepError(f"{where}: the file is the design; drop --design {options.design}")
    if options.samples is not None or options.second_order:
        raise SweepError(f"{where}: --samples and --second-order apply to built-in designs")


def engine_varies(base: Scenario, paths: list[str]) -> bool:
    """Whether the engine can vary every PATH per run within one call (`per_run.resolve`)."""
    from balancesim.scenario.per_run import resolve

    try:
        for path in paths:
            resolve(base, path)
    except ValueError:
        return False
    return True
