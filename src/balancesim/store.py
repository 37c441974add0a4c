"""Results on disk: one folder per run, written atomically.

A run folder holds `manifest.json` (the resolved scenario, seeds, versions,
git commit, timings, command line, files), `series.parquet` (tidy long form:
scenario, replicate, step, actor, partner, domain, measure, value; a
`--baseline` run holds both scenarios, told apart by `scenario`),
`summary.csv` and PNG plots. `manifest.json`'s `balancesim_run` is the
layout's version (`FORMAT`); `read_series` reads every version. Everything
is written into a hidden `.<run-id>.partial` folder first and renamed into place at the
end, so a folder without that prefix is always complete. Single files (a
sweep's chunks and manifest) go through `write_atomic`: a hidden temporary
name, fsync, rename.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import experiment, metrics
from .experiment import Results, common_random_numbers, summary

# Layout of a run folder. 1: measure names packed (`share.china.security`), the
# baseline's series in baseline_series.parquet. 2: tidy columns, one table.
FORMAT = 2
SERIES_COLUMNS = ("scenario", *experiment.SERIES_COLUMNS)
GIT_TIMEOUT_S = 3.0
PACKAGES = ("balancesim", "mesa", "numpy", "pandas", "pyarrow", "matplotlib", "pydantic", "scipy")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def source_revision() -> dict[str, Any]:
    """The git commit of the running code and whether the checkout has uncommitted changes.

    Asked of git in the package's own source folder, and only if that folder
    is tracked there (a package installed into a virtual environment that
    happens to sit inside some repository is not that repository's code).
    `modified` covers tracked files only: untracked notes or results do not
    change what ran. Returns {} when git is missing, slow or the code is not a
    checkout: provenance is recorded when it can be, never at the cost of the run.
    """
    here = Path(__file__).resolve().parent
    # A caller's GIT_DIR or GIT_WORK_TREE would point git at another repository.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=here,
            env=env,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=True,
        )
        return done.stdout.strip()

    try:
        git("ls-files", "--error-unmatch", Path(__file__).name)
        commit = git("rev-parse", "HEAD")
        modified = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError):
        return {}
    return {"commit": commit, "modified": modified}


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, write: Callable[[Any], None]) -> None:
    """Write a file so that it either exists complete or not at all.

    `write(f)` fills a binary file object with a temporary hidden name
    (`.name.<pid>.tmp`, which readers and globbing skip); the file is flushed,
    fsynced, renamed into place and the folder fsynced. A crash at any point
    leaves at most the hidden temporary file, removed on the next resume.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_json(path: Path, data: Any) -> None:
    """Write JSON data atomically (see `write_atomic`)."""
    write_atomic(path, lambda f: f.write((json.dumps(data, indent=1) + "\n").encode()))


def write_table(path: Path, frame: pd.DataFrame | pa.Table, metadata: dict[str, str] | None = None) -> None:
    """Write a table as zstd Parquet atomically, with extra schema metadata (the sweep's key)."""
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    write_atomic(path, lambda f: pq.write_table(table, f, compression="zstd"))


def write_series(path: Path, results: Results, baseline: Results | None = None) -> None:
    """Write a run's series (and its baseline's) as one tidy Parquet table, atomically.

    The `scenario` column says which run a row belongs to: "scenario", or
    "baseline" for `--baseline` (the same labels as summary.csv's `quantity`).
    Each run is converted and written as its own row group, so a baseline
    does not double the memory a run needs.
    """
    runs = [("scenario", results)] + ([("baseline", baseline)] if baseline is not None else [])

    def write(f: Any) -> None:
        writer = None
        try:
            for label, run in runs:
                frame = run.series
                frame.insert(0, "scenario", pd.Categorical.from_codes(np.zeros(len(frame), np.int8), [label]))
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(f, table.schema, compression="zstd")
                elif not table.schema.equals(writer.schema, check_metadata=False):
                    # e.g. a baseline with more actors, whose labels need wider dictionary codes
                    table = table.cast(writer.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()

    write_atomic(path, write)


def read_series(folder: str | Path) -> pd.DataFrame:
    """The series of a run folder in the current layout (`SERIES_COLUMNS`), whatever version wrote it.

    Folders of layout 1 (packed measure names, baseline in a separate file)
    are converted; a folder from a newer balancesim raises ValueError saying so.
    """
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        version = manifest["balancesim_run"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(f"{folder}: not a balancesim run folder (no readable manifest.json)") from None
    if version == FORMAT:
        return pd.read_parquet(folder / "series.parquet")
    if version != 1:
        raise ValueError(
            f"{folder}: run folder layout {version!r} is not one this balancesim reads "
            f"(1 to {FORMAT}); it was written by another version"
        )
    frames = []
    for label, name in (("scenario", "series.parquet"), ("baseline", "baseline_series.parquet")):
        if (folder / name).exists():
            frames.append(_tidy(pd.read_parquet(folder / name), label))
    return _concat(frames)


def _tidy(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """A layout-1 series (packed `measure`) in the current layout."""
    packed = frame["measure"].astype("category")
    parts = [metrics.measure_parts(str(m)) for m in packed.cat.categories]
    out = frame.drop(columns="measure")
    for k, name in ((1, "partner"), (2, "domain"), (3, "measure")):
        labels = pd.Categorical([p[k] for p in parts])
        out[name] = pd.Categorical.from_codes(labels.codes[packed.cat.codes], labels.categories)
    out["scenario"] = label
    return out[list(SERIES_COLUMNS)]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate series, keeping text columns categorical."""
    for name in ("scenario", "actor", "partner", "domain", "measure"):
        union = pd.api.types.union_categoricals([f[name].astype("category") for f in frames]).categories
        for f in frames:
            f[name] = f[name].astype("category").cat.set_categories(union)
    return pd.concat(frames, ignore_index=True)


def new_run_folder(root: Path, scenario_name: str, seed: int) -> tuple[Path, Path]:
    """(partial folder to write into, final folder) for a new run."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    base = root / scenario_name
    base.mkdir(parents=True, exist_ok=True)
    run_id = f"{stamp}-seed{seed}"
    n = 1
    while (base / run_id).exists() or (base / f".{run_id}.partial").exists():
        n += 1
        run_id = f"{stamp}-seed{seed}-{n}"
    partial = base / f".{run_id}.partial"
    partial.mkdir()
    return partial, base / run_id


def write_run(
    results: Results,
    root: Path,
    name: str,
    command: list[str],
    baseline: Results | None = None,
    baseline_file: str | None = None,
    scenario_file: str | None = None,
    plot: Callable[[Results, Path, Results | None], list[Path]] | None = None,
) -> Path:
    """Write a run's folder under root/name/ and return its final path."""
    partial, final = new_run_folder(root, name, results.seed)
    try:
        started = time.perf_counter()
        write_series(partial / "series.parquet", results, baseline)
        summary(results, baseline=baseline).to_csv(partial / "summary.csv", index=False, float_format="%.6g")
        timings = dict(results.timings)
        if baseline is not None:
            timings["baseline_simulate_s"] = baseline.timings.get("simulate_s", 0.0)
        timings["write_data_s"] = time.perf_counter() - started
        if plot is not None:
            started = time.perf_counter()
            (partial / "plots").mkdir()
            plot(results, partial / "plots", baseline)
            timings["plots_s"] = time.perf_counter() - started
        manifest = _manifest(results, command, baseline, baseline_file, scenario_file, timings, partial)
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def _manifest(
    results: Results,
    command: list[str],
    baseline: Results | None,
    baseline_file: str | None,
    scenario_file: str | None,
    timings: dict[str, float],
    folder: Path,
) -> dict[str, Any]:
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            files[str(path.relative_to(folder))] = {
                "bytes": path.stat().st_size,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            }
    source = source_revision()
    return {
        "balancesim_run": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "scenario_file": scenario_file,
        "scenario": results.scenario.model_dump(mode="json"),
        "baseline_file": baseline_file,
        "baseline": baseline.scenario.model_dump(mode="json") if baseline is not None else None,
        "common_random_numbers": (
            common_random_numbers(results.setup, baseline.setup) if baseline is not None else None
        ),
        "seed": results.seed,
        "replicates": results.replicates,
        "replicate_seeds": "numpy.random.SeedSequence(seed).generate_state(replicates, uint64)",
        "engine": results.engine,
        "horizon": int(results.months[-1]),
        "start": results.scenario.start,
        "versions": versions(),
        **({"git": source} if source else {}),
        "platform": f"{platform.system()} {platform.machine()}",
        "argv0": sys.argv[0] if sys.argv else None,
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
        "files": files,
    }


class ManifestError(ValueError):
    """A `manifest.json` that cannot be used: unreadable, not JSON, or not a JSON object.

    Its message names the file and what was found, in one line; the command
    line exits with status 2 for it (the folder given is not a valid one).
    """


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest at `path` as a dict, or ManifestError saying why it is not one.

    Every reader of a manifest (resume, baselines, the view) goes through here,
    so a truncated, garbled or hand-edited file gives one clear line instead
    of a traceback deep in the caller.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(64 << 20)  # manifests are a few kB; more is not a manifest
        value = json.loads(data.decode("utf-8"))
    except OSError as e:
        raise ManifestError(f"{path}: cannot read it ({(e.strerror or str(e)).lower()})") from None
    except UnicodeDecodeError:
        raise ManifestError(f"{path}: not a manifest (not UTF-8 text)") from None
    except ValueError as e:  # json.JSONDecodeError
        raise ManifestError(f"{path}: not a manifest (invalid JSON: {str(e)[:80]})") from None
    if not isinstance(value, dict):
        kind = type(value).__name__.replace("NoneType", "null").replace("dict", "object")
        raise ManifestError(f"{path}: not a manifest (a JSON {kind}, expected an object)")
    return value
