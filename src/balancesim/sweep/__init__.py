"""Parameter sweeps: run a scenario over a design of parameter values, in chunks, resumably.

A sweep varies numeric values of a scenario (a coefficient, an actor's
initial value, a shock's severity or month) over a *design* (grid, lhs or
sobol). The package is split by concept, each module readable alone:

* `specs`: parameter specs (`PATH=SPEC`), options, the file's `sweep:` section;
* `design`: the design points and the check that each is a valid scenario;
* `plan`: everything that fixes the numbers (seeds, months, chunking);
* `worker`: running one chunk, in whatever process the executor chose;
* `chunks`: the chunk files on disk;
* `run`: the folder, the executor loop and the manifest;
* `summary`: statistics over replicates, Sobol indices, output files;
* `figures`: response curves, heatmaps, Sobol bars.

Outputs (see docs/sweeps.md): `chunks/*.parquet` (every run's headline
outcomes at the chosen months), `design.csv`, `summary.csv` and
`summary.parquet` (per design point: mean, median, 5% and 95% of each
headline outcome at each chosen month), `sobol.csv` for Sobol designs, and
plots.
"""

from __future__ import annotations

from .chunks import ChecksumIndex, chunk_table, iter_chunk_files, read_point, write_chunk
from .design import Design, check_paths, make_design, point_scenario, validate_design
from .figures import sweep_figures
from .plan import FORMAT, Chunk, SweepPlan, default_chunk_size, plan_sweep
from .run import FolderState, SweepFailed, SweepOutcome, check_folder, run_sweep
from .specs import (
    DESIGNS,
    ParamSpec,
    SweepError,
    SweepOptions,
    parse_months,
    parse_param,
    parse_spec,
    section_options,
)
from .summary import QUANTILES, design_table, sobol_indices, sobol_table, summarise, write_outputs
from .worker import Job, Task, run_chunk

__all__ = [
    "DESIGNS",
    "FORMAT",
    "QUANTILES",
    "ChecksumIndex",
    "Chunk",
    "Design",
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
    "iter_chunk_files",
    "make_design",
    "parse_months",
    "parse_param",
    "parse_spec",
    "plan_sweep",
    "point_scenario",
    "read_point",
    "run_chunk",
    "run_sweep",
    "section_options",
    "sobol_indices",
    "sobol_table",
    "summarise",
    "sweep_figures",
    "validate_design",
    "write_chunk",
    "write_outputs",
]
