"""Parameter sweeps: run a scenario over a design of parameter values, in chunks, resumably.

A sweep varies numeric values of a scenario (a coefficient, an actor's
initial value, a shock's severity or month) over a *design* (grid, lhs,
sobol, morris, or the rows of a CSV file). The package is split by
concept, each module readable alone:

* `specs`: parameter specs (`PATH=SPEC`), options, the file's `sweep:` section;
* `design`, `design_file`: the design points (built in, or from a CSV file)
  and the check that each is a valid scenario;
* `plan`: everything that fixes the numbers (seeds, months, outcomes, chunking);
* `worker`: running one chunk of packed runs, in whatever process the executor chose;
* `chunks`: the chunk files on disk;
* `run`: the folder, the executor loop and the manifest;
* `summary`: statistics over replicates, Sobol indices, Morris effects, output files;
* `figures`: response curves, heatmaps, Sobol bars, Morris mu* against sigma.

Outputs (see docs/sweeps.md): `chunks/*.parquet` (every run's chosen
outcomes at the chosen months; a chunk is a range of runs, possibly of many
design points, run as one engine call with per-run values), `design.csv`,
`summary.csv` and `summary.parquet` (per design point: mean, median, 5% and
95% of each outcome at each chosen month), `sobol.csv` (Sobol designs) or
`morris.csv` (Morris designs), and plots.
"""

from __future__ import annotations

from balancesim.sweep.chunks import (
    ChecksumIndex,
    chunk_table,
    iter_chunk_files,
    iter_chunks,
    read_chunk,
    write_chunk,
)
from balancesim.sweep.design import (
    Design,
    check_paths,
    file_design,
    make_design,
    point_scenario,
    validate_design,
)
from balancesim.sweep.design_file import DesignFile, DesignFileError, read_design_file
from balancesim.sweep.plan import FORMAT, Chunk, SweepPlan, default_chunk_size, plan_points, plan_sweep
from balancesim.sweep.run import FolderState, SweepFailed, SweepOutcome, check_folder, run_sweep
from balancesim.sweep.specs import (
    DESIGNS,
    ParamSpec,
    SweepError,
    SweepOptions,
    parse_months,
    parse_param,
    parse_spec,
    section_options,
)
from balancesim.sweep.summary import (
    QUANTILES,
    design_table,
    morris_indices,
    point_statistics,
    sobol_indices,
    sobol_table,
    summarise,
    write_outputs,
)
from balancesim.sweep.worker import Job, Task, make_job, make_tasks, run_chunk, run_chunk_recorded

__all__ = [
    "DESIGNS",
    "FORMAT",
    "QUANTILES",
    "ChecksumIndex",
    "Chunk",
    "Design",
    "DesignFile",
    "DesignFileError",
    "FolderState",
    "Job",
    "ParamSpec",
    "SweepError",
    "SweepFailed",
    "SweepOptions",
    "SweepOutcome",
    "SweepPlan",
    "Task",
    "check_folder",
    "check_paths",
    "chunk_table",
    "default_chunk_size",
    "design_table",
    "file_design",
    "iter_chunk_files",
    "iter_chunks",
    "make_design",
    "make_job",
    "make_tasks",
    "morris_indices",
    "parse_months",
    "parse_param",
    "parse_spec",
    "plan_points",
    "plan_sweep",
    "point_scenario",
    "point_statistics",
    "read_chunk",
    "read_design_file",
    "run_chunk",
    "run_chunk_recorded",
    "run_sweep",
    "section_options",
    "sobol_indices",
    "sobol_table",
    "summarise",
    "validate_design",
    "write_chunk",
    "write_outputs",
]
