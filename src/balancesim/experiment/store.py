"""Results on disk: one folder per run, written atomically.

A run folder holds `manifest.json` (the resolved scenario, seeds, versions,
git commit, timings, command line, files), `series.parquet` (tidy long form:
scenario, replicate, step, actor, partner, domain, measure, value; a
`--baseline` run holds both scenarios, told apart by `scenario`),
`summary.csv`, PNG plots and, for runs with drawn values, `params.parquet`
(replicate and one column per drawn PATH). `manifest.json`'s `balancesim_run` is the
layout's version (`FORMAT`); `read_series` reads every version. Everything
is written into a hidden `.<run-id>.partial` folder first and renamed into
place at the end, so a folder without that prefix is always complete
(`folders.py` holds the locks, partial folders and the swap). Run ids cannot
collide, even for concurrent runs. Single files (a sweep's chunks and
manifest) go through `write_atomic`: a hidden temporary name, fsync, rename.
Parquet files carry page checksums.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from balancesim.experiment import batch as experiment
from balancesim.experiment.batch import Results, common_random_numbers, params_table, summary
from balancesim.experiment.folders import (
    check_output,
    clean_partials,
    foreign,
    fsync_dir,
    locked,
    make_partial,
    safe_name,
    swap_in,
    write_marker,
)
from balancesim.model import metrics
from balancesim.scenario import verified

# Every Parquet file gets page checksums, so a damaged page is an error on reading, not wrong numbers.
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "write_page_checksum": True}
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
    fsync_dir(path.parent)


def write_json(path: Path, data: Any) -> None:
    """Write JSON data atomically (see `write_atomic`)."""
    write_atomic(path, lambda f: f.write((json.dumps(data, indent=1) + "\n").encode()))


def write_table(path: Path, frame: pd.DataFrame | pa.Table, metadata: dict[str, str] | None = None) -> None:
    """Write a table as zstd Parquet atomically, with extra schema metadata (the sweep's key)."""
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    if metadata:
        extra = {k.encode(): v.encode() for k, v in metadata.items()}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
    write_atomic(path, lambda f: pq.write_table(table, f, **PARQUET_OPTIONS))


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
        schema = pa.schema([])  # then the first run's, which the writer is opened with
        try:
            for label, run in runs:
                frame = run.series
                codes = np.zeros(len(frame), np.int8)
                labels = pd.Categorical.from_codes(codes, pd.Index([label]))
                # pandas-stubs leave extension arrays such as Categorical out of insert's values
                frame.insert(0, "scenario", labels)  # type: ignore[arg-type]
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    schema = table.schema
                    writer = pq.ParquetWriter(f, schema, **PARQUET_OPTIONS)
                elif not table.schema.equals(schema, check_metadata=False):
                    # e.g. a baseline with more actors, whose labels need wider dictionary codes
                    table = table.cast(schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()

    write_atomic(path, write)


def write_trace(path: Path, results: Results, baseline: Results | None = None) -> None:
    """The decision trace (model/trace.py `to_frame`), with a `scenario` column as series.parquet has."""
    from balancesim.model.trace import to_frame

    frames = []
    for label, part in (("scenario", results), ("baseline", baseline)):
        if part is not None and part.trace is not None:
            frame = to_frame(part.trace, part.setup)
            labels = pd.Categorical([label] * len(frame), ("scenario", "baseline"))
            # pandas-stubs omit Categorical from insert's accepted values (pandas takes any array-like)
            frame.insert(0, "scenario", labels)  # type: ignore[arg-type]
            frames.append(frame)
    write_table(path, pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0])


def read_series(folder: str | Path) -> pd.DataFrame:
    """The series of a run folder in the current layout (`SERIES_COLUMNS`), whatever version wrote it.

    Folders of layout 1 (packed measure names, baseline in a separate file)
    are converted; a folder from a newer balancesim raises ValueError saying so.
    Each file is verified (`scenario.verified`): against the sha256 the folder
    lists where it lists one, and its Parquet page checksums; the runs are
    counted against the manifest. Damage raises `verified.DamagedFile`.
    """
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        version = manifest["balancesim_run"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(f"{folder}: not a balancesim run folder (no readable manifest.json)") from None
    listed = verified.listing(folder) or {}
    if version == FORMAT:
        frame = verified.read_table(folder / "series.parquet", listed.get("series.parquet")).to_pandas()
        check_runs(folder / "series.parquet", frame, manifest)
        return frame
    if version != 1:
        raise ValueError(
            f"{folder}: run folder layout {version!r} is not one this balancesim reads "
            f"(1 to {FORMAT}); it was written by another version"
        )
    frames = []
    for label, name in (("scenario", "series.parquet"), ("baseline", "baseline_series.parquet")):
        if (folder / name).exists() or name in listed:
            table = verified.read_table(folder / name, listed.get(name)).to_pandas()
            check_runs(folder / name, table, manifest)
            frames.append(_tidy(table, label))
    return _concat(frames)


def check_runs(path: Path, frame: pd.DataFrame, manifest: dict[str, Any]) -> None:
    """DamagedFile unless the series holds the manifest's number of runs (per scenario)."""
    expected = manifest.get("replicates")
    if not isinstance(expected, int) or "replicate" not in frame.columns:
        return
    groups = frame.groupby("scenario", observed=True) if "scenario" in frame.columns else [("", frame)]
    for _, part in groups:
        found = part["replicate"].nunique()
        if found != expected:
            raise verified.DamagedFile(path, f"damaged: {found} runs, the manifest says {expected}")


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
    """(partial folder to write into, final folder) for a new run under root/scenario_name/.

    The run id is the time and the seed, with a suffix `-2`, `-3`, ... when
    another run took it: the partial folder is created exclusively (mkdir
    fails if it exists), so concurrent runs started in the same second with
    the same seed never share or collide on a folder.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    base = root / safe_name(scenario_name)
    for n in itertools.count(1):
        run_id = f"{stamp}-seed{seed}" + (f"-{n}" if n > 1 else "")
        if (base / run_id).exists():
            continue
        try:
            partial = make_partial(base, run_id)
        except FileExistsError:
            continue
        if (base / run_id).exists():  # finished by another run between the two checks
            shutil.rmtree(partial, ignore_errors=True)
            continue
        return partial, base / run_id
    raise AssertionError("unreachable")  # pragma: no cover


def is_earlier_run(folder: Path) -> bool:
    """Does `folder` hold a run written by `balancesim run` before runs were marked, and nothing else?

    Its manifest lists every file of the run; a folder holding any other
    file is someone else's, and is not replaced (folders written since carry
    the policy's marker, `folders.is_earlier_output`).
    """
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or "balancesim_run" not in manifest:
        return False
    files = manifest.get("files")
    if not isinstance(files, dict):
        return False
    return not foreign(folder, {*files, "manifest.json"})


@dataclass
class Destination:
    """Where a run is written: a hidden partial folder, swapped to `final` when complete."""

    partial: Path
    final: Path
    notes: list[str] = field(default_factory=list)


@contextlib.contextmanager
def run_destination(
    out: Path | None, root: Path, name: str, seed: int, inputs: tuple[str | Path, ...] = ()
) -> Iterator[Destination]:
    """Prepare a run's folder before any simulation; remove the partial folder if the block fails.

    `out` given: exactly that folder, under the output-folder policy of `run`
    (`folders.check_output`: new, empty or an earlier run holding nothing
    else, never one of the `inputs`; FolderRefused otherwise), locked for the
    whole block (FolderBusy if another command writes it). Otherwise a new
    `root/name/<run-id>/`. Partial folders left beside it by killed runs are
    removed first.
    """
    if out is not None:
        check_output(out, "run", inputs, legacy=is_earlier_run)
        with locked(out):
            check_output(out, "run", inputs, legacy=is_earlier_run)
            leftovers = clean_partials(out.parent)
            partial = make_partial(out.parent, out.name)
            with _discard_on_error(partial):
                yield Destination(partial, out, leftovers.notes())
        return
    leftovers = clean_partials(root / safe_name(name))
    partial, final = new_run_folder(root, name, seed)
    with _discard_on_error(partial):
        yield Destination(partial, final, leftovers.notes())


@contextlib.contextmanager
def _discard_on_error(partial: Path) -> Iterator[None]:
    try:
        yield
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def write_run(
    results: Results,
    destination: Destination | Path,
    name: str | None = None,
    command: list[str] | None = None,
    baseline: Results | None = None,
    baseline_file: str | None = None,
    scenario_file: str | None = None,
    plot: Callable[[Results, Path, Results | None], list[Path]] | None = None,
) -> Path:
    """Write a run and swap it into place; returns the final folder.

    `destination` is one prepared by `run_destination` (the command line
    prepares it before simulating), or a root folder under which a new
    `root/name/<run-id>/` is made.
    """
    if not isinstance(destination, Destination):
        with run_destination(None, Path(destination), str(name), results.seed) as prepared:
            return write_run(results, prepared, None, command, baseline, baseline_file, scenario_file, plot)
    partial, final = destination.partial, destination.final
    timings = dict(results.timings)
    if baseline is not None:
        timings["baseline_simulate_s"] = baseline.timings.get("simulate_s", 0.0)
    try:
        # The data are written in a second thread while this one draws the plots: Parquet's
        # encoding and compression run without the GIL, so the two overlap on two cores.
        # Matplotlib stays in the calling thread. Leaving the block waits for the writer,
        # also when the plots fail, so nothing writes into the folder once it is removed.
        with ThreadPoolExecutor(1, thread_name_prefix="balancesim-write") as writer:
            data = writer.submit(_write_data, partial, results, baseline)
            if plot is not None:
                started = time.perf_counter()
                (partial / "plots").mkdir()
                plot(results, partial / "plots", baseline)
                timings["plots_s"] = time.perf_counter() - started
            timings["write_data_s"] = data.result()
        manifest = _manifest(results, command, baseline, baseline_file, scenario_file, timings, partial)
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        files = dict(manifest["files"])
        files["manifest.json"] = verified.entry(partial / "manifest.json")
        write_marker(partial, "run", files)
        swap_in(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def _write_data(partial: Path, results: Results, baseline: Results | None) -> float:
    """series.parquet, params.parquet, trace.parquet and summary.csv of a run; returns the seconds taken."""
    started = time.perf_counter()
    write_series(partial / "series.parquet", results, baseline)
    if results.inputs:
        write_table(partial / "params.parquet", params_table(results))
    if results.trace is not None:
        write_trace(partial / "trace.parquet", results, baseline)
    summary(results, baseline=baseline).to_csv(partial / "summary.csv", index=False, float_format="%.6g")
    return time.perf_counter() - started


def _manifest(
    results: Results,
    command: list[str] | None,
    baseline: Results | None,
    baseline_file: str | None,
    scenario_file: str | None,
    timings: dict[str, float],
    folder: Path,
) -> dict[str, Any]:
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            files[str(path.relative_to(folder))] = {
                "bytes": path.stat().st_size,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            }
    source = source_revision()
    return {
        "balancesim_run": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command or [],
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
        "uncertainty": _uncertainty(results, baseline),
        "horizon": int(results.months[-1]),
        "start": results.scenario.start,
        "versions": versions(),
        **({"git": source} if source else {}),
        "platform": f"{platform.system()} {platform.machine()}",
        "argv0": sys.argv[0] if sys.argv else None,
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
        "files": files,
    }


def _uncertainty(results: Results, baseline: Results | None) -> dict[str, Any]:
    """How per-run values were chosen: the priors, the spread of the draws, what the baseline shared."""
    from balancesim.scenario.uncertainty import summary as draws_summary

    record: dict[str, Any] = {"mode": results.uncertainty}
    if results.recorded:
        record["file"] = "params.parquet"
        record["recorded"] = sorted(results.recorded)
    if results.drawn:
        spec = results.scenario.uncertainty
        record["file"] = "params.parquet"
        record["uniforms"] = (
            "Philox(key=[seed, crc32('balancesim.uncertainty') << 32 | crc32(path)]), output k"
        )
        if results.uncertainty == "prior":
            record["priors"] = draws_summary(spec, results.drawn)
        else:
            record["paths"] = sorted(results.drawn)
        if baseline is not None:
            record["baseline_shares"] = sorted(baseline.drawn)
    return record


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
