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

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from balancesim.experiment.folders import check_inputs, locked, write_marker
from balancesim.experiment.store import ManifestError, read_manifest, write_json
from balancesim.sweep.chunks import ChecksumIndex, file_sha256, write_chunk
from balancesim.sweep.plan import FORMAT, Chunk, SweepPlan
from balancesim.sweep.specs import SweepError
from balancesim.sweep.summary import DrawFigures, morris_indices, sobol_indices, summarise, write_outputs
from balancesim.sweep.worker import make_job, make_tasks, run_chunk_recorded, runs_per_point

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


@dataclass
class FolderState:
    """What `check_folder` found: finished chunks, files to remove, damaged chunks, the checksums."""

    done: set[str]
    stale: list[Path]
    damaged: list[str]
    index: ChecksumIndex


def check_folder(folder: Path, plan: SweepPlan, resume: bool) -> FolderState:
    """Check the sweep folder without changing it.

    A fresh sweep needs a folder that is new or empty. With `resume`, a folder
    holding a sweep must hold *this* sweep (same identity); its chunk files
    stamped with this sweep's key, holding the right number of rows and
    matching their recorded sha256 (or, unrecorded, passing every page
    checksum) are finished. Stale files are hidden temporaries (from a killed
    write) and chunk files that fail that check; those that fail it are also
    listed as damaged, so the user is told.
    """
    manifest = folder / "manifest.json"
    stale: list[Path] = []
    index = ChecksumIndex(folder)
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
        index.load()
        done: set[str] = set()
        damaged: list[str] = []
        key = plan.key()
        for chunk in plan.chunks():
            path = folder / "chunks" / chunk.name
            if path.exists():
                if index.verify(path, key, chunk.count * len(plan.months)):
                    done.add(chunk.name)
                else:
                    stale.append(path)
                    damaged.append(chunk.name)
        index.entries = {name: sha for name, sha in index.entries.items() if name in done}
        return FolderState(done, stale, damaged, index)
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
    return FolderState(set(), stale, [], index)


def _manifest(plan: SweepPlan, status: str, extra: dict[str, Any]) -> dict[str, Any]:
    from balancesim.experiment.store import versions

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
        "chunk_files": "chunks/r<first run>.parquet (run = point * replicates + replicate): "
        "point, replicate, month, one column per outcome",
        "versions": versions(),
        **extra,
    }


# ---------------------------------------------------------------------------- running


class SweepFailed(RuntimeError):
    """The sweep could not finish for a reason that is not the input's (exit status 1)."""


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
    morris: pd.DataFrame | None = None


Progress = Callable[[int, int], None]  # (runs just finished, design points complete)


def run_sweep(
    plan: SweepPlan,
    folder: str | Path,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    plots: DrawFigures | None = None,
    command: list[str] | None = None,
    on_start: Callable[[int, int, str], None] | None = None,
    notify: Callable[[str], None] | None = None,
) -> SweepOutcome:
    """Run (or resume) a sweep into `folder` and write its summary, design and the `plots` it draws.

    The folder is locked for the whole sweep (`folders.FolderBusy` if another
    command writes it). `progress(runs, points_complete)` is called after each
    chunk is written; `on_start(pending_runs, points_complete,
    executor_description)` once the executor is up; `notify(message)` when a
    damaged chunk is found and recomputed. Results are identical whatever
    the executor, the worker count, the chunk size or the order of completion.
    """
    folder = Path(folder)
    posterior = getattr(plan.posterior, "folder", None)
    check_inputs(folder, [p for p in (plan.scenario_file, plan.options.design_file, posterior) if p])
    with locked(folder):
        return _run_locked(
            plan, folder, executor, workers, scheduler, resume, progress, plots, command, on_start, notify
        )


def _run_locked(
    plan: SweepPlan,
    folder: Path,
    executor: str,
    workers: int | None,
    scheduler: str | None,
    resume: bool,
    progress: Progress | None,
    plots: DrawFigures | None,
    command: list[str] | None,
    on_start: Callable[[int, int, str], None] | None,
    notify: Callable[[str], None] | None,
) -> SweepOutcome:
    from balancesim.experiment.executors import make_runner

    tell = notify or (lambda message: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if resume:
        plan = plan.resuming(folder)
    state = check_folder(folder, plan, resume)
    if state.damaged:
        tell(_damaged_message(state.damaged))
    chunks = plan.chunks()
    pending = [c for c in chunks if c.name not in state.done]
    # runs still to do per design point, for the progress report
    remaining = np.full(len(plan.design), plan.replicates, dtype=np.int64)
    for c in chunks:
        if c.name in state.done:
            remaining -= runs_per_point(c, plan)
    complete = int((remaining == 0).sum())
    job = make_job(plan)
    timings["prepare_s"] = time.perf_counter() - started
    started = time.perf_counter()
    # Start the executor before writing anything: if it is unavailable, the folder stays as it was.
    runner = make_runner(executor, workers, scheduler) if pending else None
    timings["executor_start_s"] = time.perf_counter() - started
    extra = {"command": command, "executor": executor, "workers": workers, "scheduler": scheduler}
    index = state.index
    try:
        (folder / "chunks").mkdir(parents=True, exist_ok=True)
        for path in state.stale:
            path.unlink(missing_ok=True)
        write_json(folder / "manifest.json", _manifest(plan, "running", extra))
        index.rewrite()
    except BaseException:
        if runner is not None:
            runner.close()
        raise

    def run(todo: list[Chunk], runner: Any) -> None:
        nonlocal complete
        tasks = make_tasks(plan, todo)
        try:
            for task, (data, recorded) in runner.map_unordered(run_chunk_recorded, job, tasks):
                chunk = task.chunk
                index.add(chunk.name, write_chunk(folder, plan, chunk, data, recorded))
                held = chunk.points(plan.replicates)
                remaining[held.start : held.stop] -= runs_per_point(chunk, plan)[held.start : held.stop]
                complete += int((remaining[held.start : held.stop] == 0).sum())
                if progress is not None:
                    progress(chunk.count, complete)
        finally:
            runner.close()

    started = time.perf_counter()
    if runner is not None:
        if on_start is not None:
            on_start(sum(c.count for c in pending), complete, runner.description)
        run(pending, runner)
    # Check every chunk against its checksum before using it: a chunk damaged
    # on disk since it was written is recomputed (once), never summarised.
    rerun = _damaged(folder, plan, index)
    if rerun:
        tell(_damaged_message([c.name for c in rerun]))
        for c in rerun:
            remaining += runs_per_point(c, plan)
        complete = int((remaining == 0).sum())
        run(rerun, make_runner(executor, workers, scheduler))
        still = _damaged(folder, plan, index)
        if still:
            raise SweepFailed(
                f"{folder}: {len(still)} chunk(s) are damaged again right after being rewritten "
                f"(e.g. chunks/{still[0].name}); the disk may be failing"
            )
    timings["simulate_s"] = time.perf_counter() - started
    started = time.perf_counter()
    summary = summarise(folder, plan)
    sobol = sobol_indices(summary, plan) if plan.design.kind == "sobol" else None
    morris = morris_indices(summary, plan) if plan.design.kind == "morris" else None
    files = write_outputs(folder, plan, summary, sobol, plots, morris)
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
                "chunks_recomputed": len(state.damaged) + len(rerun),
                "timings_s": {k: round(v, 4) for k, v in timings.items()},
                "outputs": [str(p.relative_to(folder)) for p in files],
            },
        ),
    )
    _mark(folder, files, index)
    return SweepOutcome(
        folder, plan, summary, sobol, files, len(pending), len(chunks) - len(pending), timings, morris
    )


def _mark(folder: Path, files: list[Path], index: ChecksumIndex) -> None:
    """The folder's marker: the sweep's files with their checksums (the chunks' as just verified).

    Readers (`discover`) read only the chunks it lists and check each against
    its sha256; files it does not list (a stray `.parquet`) are not the sweep's.
    """
    from balancesim.scenario.verified import entry

    listed = {f"chunks/{name}": {"sha256": sha} for name, sha in sorted(index.entries.items())}
    for path in [*files, folder / "manifest.json", folder / ChecksumIndex.NAME]:
        listed[path.relative_to(folder).as_posix()] = entry(path)
    write_marker(folder, "sweep", listed)


def _damaged(folder: Path, plan: SweepPlan, index: ChecksumIndex) -> list[Chunk]:
    """The chunks whose file is missing or no longer matches its recorded sha256."""
    bad = []
    for chunk in plan.chunks():
        expected = index.entries.get(chunk.name)
        if expected is None or file_sha256(folder / "chunks" / chunk.name) != expected:
            bad.append(chunk)
    return bad


def _damaged_message(names: list[str]) -> str:
    shown = ", ".join(f"chunks/{n}" for n in names[:3]) + (", ..." if len(names) > 3 else "")
    return f"{len(names)} chunk file(s) damaged (checksum mismatch or unreadable): {shown}; recomputing them"
