"""Running a sweep: check the folder, run the pending chunks, write each as it finishes.

The work is run by an executor (`executors.py`); each finished chunk is
written as its own Parquet file, atomically (temporary name, fsync,
rename). The manifest is written first and records the design, the resolved
base scenario, the seeds and the chunking; `resume=True` checks the folder's
manifest matches and skips the chunks already on disk. Killing the process
at any moment loses at most the chunks in flight: a file without a leading
dot is always complete, and `manifest.json` says `"status": "complete"`
only once the summary is written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..store import ManifestError, read_manifest, write_json, write_table
from .chunks import chunk_ok, chunk_table
from .plan import FORMAT, SweepPlan
from .specs import SweepError
from .summary import sobol_indices, summarise, write_outputs
from .worker import Job, Task, run_chunk

# ---------------------------------------------------------------------- the folder


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out += _differences(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
        return out
    if a != b:
        if isinstance(a, list | dict) or isinstance(b, list | dict):
            return [path or "(all)"]
        return [f"{path}: {a!r} in the folder, {b!r} now"]
    return []


def check_folder(folder: Path, plan: SweepPlan, resume: bool) -> tuple[set[str], list[Path]]:
    """Check the sweep folder without changing it: (finished chunk names, stale files).

    A fresh sweep needs a folder that is new or empty. With `resume`, a folder
    holding a sweep must hold *this* sweep (same identity); its chunk files
    stamped with this sweep's key and holding the right number of rows are
    finished. Stale files are hidden temporaries (from a killed write) and
    chunk files that fail that check.
    """
    manifest = folder / "manifest.json"
    stale: list[Path] = []
    if folder.exists():
        if not folder.is_dir():
            raise SweepError(f"--out {folder}: exists and is not a folder")
        stale += [*folder.glob(".*.tmp"), *folder.glob("chunks/.*.tmp")]
    if manifest.exists():
        if not resume:
            raise SweepError(
                f"{folder} already holds a sweep (manifest.json): add --resume to continue it, "
                "or choose another --out"
            )
        try:
            old = read_manifest(manifest)
        except ManifestError as e:
            raise SweepError(str(e)) from None
        differ = _differences(old.get("identity"), plan.identity())
        if differ:
            shown = "; ".join(differ[:5]) + ("; ..." if len(differ) > 5 else "")
            raise SweepError(
                f"cannot resume {folder}: this sweep differs from the one it holds ({shown}); "
                "choose another --out for a new sweep"
            )
        done: set[str] = set()
        key = plan.key()
        for chunk in plan.chunks():
            path = folder / "chunks" / chunk.name
            if path.exists():
                if chunk_ok(path, key, chunk.count * len(plan.months)):
                    done.add(chunk.name)
                else:
                    stale.append(path)
        return done, stale
    if folder.exists():
        visible = [p for p in folder.iterdir() if not p.name.startswith(".")]
        chunk_dir = folder / "chunks"
        if chunk_dir.is_dir() and not any(not p.name.startswith(".") for p in chunk_dir.iterdir()):
            visible.remove(chunk_dir)
        if visible:
            raise SweepError(
                f"--out {folder}: the folder exists and is not a sweep folder (no manifest.json); "
                "choose another --out"
            )
    return set(), stale


def _manifest(plan: SweepPlan, status: str, extra: dict[str, Any]) -> dict[str, Any]:
    from ..store import versions

    return {
        "balancesim_sweep": FORMAT,
        "status": status,
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        "scenario_file": plan.scenario_file,
        "base_overrides": plan.base_overrides,
        "key": plan.key(),
        "identity": plan.identity(),
        "design_points": len(plan.design),
        "runs": plan.runs,
        "chunks": len(plan.chunks()),
        "chunk_files": "chunks/p<point>-r<first replicate>.parquet: "
        "point, replicate, month, one column per measure",
        "versions": versions(),
        **extra,
    }


# ---------------------------------------------------------------------------- running


@dataclass
class SweepOutcome:
    """What `run_sweep` did and where it put it."""

    folder: Path
    plan: SweepPlan
    summary: pd.DataFrame
    sobol: pd.DataFrame | None
    files: list[Path]
    chunks_run: int
    chunks_skipped: int
    timings: dict[str, float]


Progress = Callable[[int, int], None]  # (runs just finished, design points complete)


def run_sweep(
    plan: SweepPlan,
    folder: str | Path,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    plots: bool = True,
    command: list[str] | None = None,
    on_start: Callable[[int, int, str], None] | None = None,
) -> SweepOutcome:
    """Run (or resume) a sweep into `folder` and write its summary, design and plots.

    `progress(runs, points_complete)` is called after each chunk is written;
    `on_start(pending_runs, points_complete, executor_description)` once the
    executor is up. Results are identical whatever the executor, the worker
    count, the chunk size or the order of completion.
    """
    from ..executors import make_runner

    folder = Path(folder)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if resume:
        plan = plan.resuming(folder)
    done, stale = check_folder(folder, plan, resume)
    chunks = plan.chunks()
    pending = [c for c in chunks if c.name not in done]
    remaining = {p: len(plan.chunks_of(p)) for p in range(len(plan.design))}
    for c in chunks:
        if c.name in done:
            remaining[c.point] -= 1
    complete = sum(1 for r in remaining.values() if r == 0)
    key = plan.key()
    job = Job(key, json.dumps(plan.base.model_dump(mode="json")), plan.seed, plan.months, plan.column_index)
    tasks = (Task(c, tuple(plan.design.overrides(c.point).items())) for c in pending)
    timings["prepare_s"] = time.perf_counter() - started
    started = time.perf_counter()
    # Start the executor before writing anything: if it is unavailable, the folder stays as it was.
    runner = make_runner(executor, workers, scheduler) if pending else None
    timings["executor_start_s"] = time.perf_counter() - started
    extra = {"command": command, "executor": executor, "workers": workers, "scheduler": scheduler}
    try:
        (folder / "chunks").mkdir(parents=True, exist_ok=True)
        for path in stale:
            path.unlink(missing_ok=True)
        write_json(folder / "manifest.json", _manifest(plan, "running", extra))
    except BaseException:
        if runner is not None:
            runner.close()
        raise
    started = time.perf_counter()
    if runner is not None:
        try:
            if on_start is not None:
                on_start(sum(c.count for c in pending), complete, runner.description)
            for task, data in runner.map_unordered(run_chunk, job, tasks):
                chunk = task.chunk
                write_table(
                    folder / "chunks" / chunk.name, chunk_table(plan, chunk, data), {"balancesim_sweep": key}
                )
                remaining[chunk.point] -= 1
                if remaining[chunk.point] == 0:
                    complete += 1
                if progress is not None:
                    progress(chunk.count, complete)
        finally:
            runner.close()
    timings["simulate_s"] = time.perf_counter() - started
    started = time.perf_counter()
    summary = summarise(folder, plan)
    sobol = sobol_indices(summary, plan) if plan.design.kind == "sobol" else None
    files = write_outputs(folder, plan, summary, sobol, plots)
    timings["summarise_s"] = time.perf_counter() - started
    write_json(
        folder / "manifest.json",
        _manifest(
            plan,
            "complete",
            {
                **extra,
                "chunks_run": len(pending),
                "chunks_skipped": len(chunks) - len(pending),
                "timings_s": {k: round(v, 4) for k, v in timings.items()},
                "outputs": [str(p.relative_to(folder)) for p in files],
            },
        ),
    )
    return SweepOutcome(
        folder, plan, summary, sobol, files, len(pending), len(chunks) - len(pending), timings
    )
