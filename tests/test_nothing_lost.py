"""Issue 21: nothing lost, nothing misread.

One output-folder policy for every command (a folder is replaced only when it
is an earlier output of the same command holding nothing else; an input is
never an output; everything is checked before any work) and one reader that
verifies what the tool reads back (sha256 from the folder's marker or
manifest, Parquet page checksums, counts against the manifest). Each finding
of the issue has a test here; the byte-flip tests flip single bytes of a run
folder's series, a sweep chunk and a posterior and ask for zero silent changes.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from balancesim.analysis.results_data import open_results
from balancesim.cli.main import main
from balancesim.experiment import store
from balancesim.scenario.posterior import PosteriorError, read_posterior
from balancesim.scenario.verified import MARKER, DamagedFile

from .conftest import ROOT

MINIMAL = str(ROOT / "tests" / "data" / "minimal.yaml")
BASELINE = str(ROOT / "scenarios" / "baseline.yaml")
TARGETS = str(ROOT / "targets" / "central_asia_2021_2023.yaml")
WHERE = "balance@24 > 0.345"  # in some runs of the small sweep, not all


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def user_folder(path: Path, *earlier: str) -> Path:
    """A folder of a user's: a thesis, a data file in a sub-folder, and `earlier` files of the tool."""
    (path / "sub").mkdir(parents=True)
    (path / "thesis.txt").write_text("three years of work")
    (path / "sub" / "data.csv").write_text("a,b\n1,2\n")
    for name in earlier:
        (path / name).write_text("{}")
    return path


def intact(path: Path) -> bool:
    thesis = (path / "thesis.txt").read_text()
    return thesis == "three years of work" and (path / "sub" / "data.csv").is_file()


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory) -> Path:
    """A small real sweep: 3 points x 8 runs in 3 chunks, months 12, 24, 36."""
    out = tmp_path_factory.mktemp("sweep") / "s"
    args = ["sweep", MINIMAL, "-p", "parameters.lock_in=1:5:3", "-n", "8", "--chunk-size", "8"]
    r = invoke(*args, "--executor", "serial", "--no-plots", "--out", out)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """A small real run folder with drawn values (params.parquet)."""
    out = tmp_path_factory.mktemp("run") / "r"
    r = invoke("run", BASELINE, "-n", "12", "--set", "horizon=12", "--no-plots", "--out", out)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture
def sweep(sweep_folder, tmp_path) -> Path:
    """A copy of the small sweep to damage."""
    return Path(shutil.copytree(sweep_folder, tmp_path / "sweep"))


# ---------------------------------------------------------------- --out deletes user data


def test_discover_out_refuses_a_user_folder_and_keeps_its_files(sweep, tmp_path):
    mine = user_folder(tmp_path / "mine")
    r = invoke("discover", sweep, "--where", WHERE, "--out", mine)
    assert r.exit_code == 2, r.output
    assert "does not hold an earlier discovery" in r.output and len(r.output.strip().splitlines()) == 1
    assert intact(mine) and sorted(p.name for p in mine.iterdir()) == ["sub", "thesis.txt"]
    # an earlier discovery is replaced; with a user's file added it is refused
    out = tmp_path / "d"
    assert invoke("discover", sweep, "--where", WHERE, "--out", out).exit_code == 0
    assert invoke("discover", sweep, "--where", "balance@24 > 0.35", "--out", out).exit_code == 0
    assert "0.35" in json.loads((out / "summary.json").read_text())["expression"]
    (out / "notes.txt").write_text("mine")
    assert invoke("discover", sweep, "--where", WHERE, "--out", out).exit_code == 2
    assert (out / "notes.txt").read_text() == "mine"


def test_hindcast_out_refuses_a_user_folder_before_simulating(tmp_path, monkeypatch):
    from balancesim.experiment import batch

    def no_runs(*args, **kwargs):
        raise AssertionError("simulated before checking --out")

    monkeypatch.setattr(batch, "run", no_runs)
    mine = user_folder(tmp_path / "mine")
    r = invoke("hindcast", BASELINE, "--targets", TARGETS, "-n", "4", "--out", mine)
    assert r.exit_code == 2, r.output
    assert "does not hold an earlier hindcast" in r.output and "simulated" not in r.output
    assert intact(mine)


def test_calibrate_out_refuses_a_folder_with_a_posterior_and_user_files(tmp_path, monkeypatch):
    import balancesim.cli.calibrate as command

    def no_work(*args, **kwargs):
        raise AssertionError("calibrated before checking --out")

    monkeypatch.setattr(command, "_calibrate", no_work)
    mine = user_folder(tmp_path / "mine", "posterior.parquet", "manifest.json")
    r = invoke("calibrate", BASELINE, "--targets", TARGETS, "--budget", "20", "--out", mine)
    assert r.exit_code == 2, r.output
    assert "does not hold an earlier calibration" in r.output
    assert intact(mine) and (mine / "posterior.parquet").read_text() == "{}"


@pytest.mark.parametrize("how", ["same", "dotdot", "symlink", "parent"])
def test_an_input_folder_is_never_the_output(sweep, tmp_path, how):
    before = sorted(p.relative_to(sweep) for p in sweep.rglob("*"))
    out = {
        "same": sweep,
        "dotdot": sweep / "chunks" / "..",
        "symlink": tmp_path / "link",
        "parent": sweep.parent,
    }[how]
    if how == "symlink":
        out.symlink_to(sweep)
    r = invoke("discover", sweep, "--where", WHERE, "--out", out)
    assert r.exit_code == 2, r.output
    assert "an input of this command" in r.output and len(r.output.strip().splitlines()) == 1
    assert sorted(p.relative_to(sweep) for p in sweep.rglob("*")) == before


def test_run_and_sweep_refuse_their_inputs_as_output(tmp_path):
    scenarios = tmp_path / "scen"
    scenarios.mkdir()
    shutil.copy(MINIMAL, scenarios / "m.yaml")
    r = invoke("run", scenarios / "m.yaml", "-n", "2", "--no-plots", "--out", scenarios)
    assert r.exit_code == 2 and "holds an input of this command" in r.output, r.output
    r = invoke("sweep", scenarios / "m.yaml", "-p", "parameters.lock_in=1:2:2", "-n", "2", "--out", scenarios)
    assert r.exit_code == 2 and "holds an input of this command" in r.output, r.output
    assert sorted(p.name for p in scenarios.iterdir()) == ["m.yaml"]


def test_an_unwritable_out_is_reported_as_such(sweep, tmp_path, monkeypatch):
    """Permission denied is 'cannot write', exit 1, never 'another command is writing this folder'.

    Simulated (the tests may run as root, for whom nothing is read-only): the
    folder refuses new entries, and its lock cannot be taken, as filelock
    reports it where flock answers EACCES (it reads that as contention).
    """
    import filelock

    locked_away = tmp_path / "ro"
    locked_away.mkdir()

    def denied(function):
        def guarded(path, *args, **kwargs):
            if str(path).startswith(str(locked_away)):
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return function(path, *args, **kwargs)

        return guarded

    acquire = filelock.FileLock.acquire

    def contended(self, *args, **kwargs):
        if str(self.lock_file).startswith(str(locked_away)):
            raise filelock.Timeout(self.lock_file)
        return acquire(self, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied(os.open))
    monkeypatch.setattr(os, "mkdir", denied(os.mkdir))
    monkeypatch.setattr(filelock.FileLock, "acquire", contended)
    for command in (
        ["discover", sweep, "--where", WHERE],
        ["sweep", MINIMAL, "-p", "parameters.lock_in=1:2:2", "-n", "2", "--executor", "serial"],
    ):
        r = invoke(*command, "--out", locked_away / "x")
        assert r.exit_code == 1, r.output
        assert "cannot write" in r.output and "another balancesim command" not in r.output
        assert "permission denied" in r.output.lower() and len(r.output.strip().splitlines()) == 1


# ------------------------------------------------------------- damaged or foreign data


def flip(path: Path, position: int, mask: int = 0x01) -> None:
    with open(path, "r+b") as f:
        f.seek(position)
        byte = f.read(1)[0]
        f.seek(position)
        f.write(bytes([byte ^ mask]))


def test_one_flipped_byte_in_a_chunk_is_damage_not_other_counts(sweep):
    chunk = sweep / "chunks" / "r8.parquet"
    flip(chunk, chunk.stat().st_size // 3)
    r = invoke("discover", sweep, "--where", WHERE)
    assert r.exit_code == 1, r.output
    assert "chunks/r8.parquet" in r.output and "damaged" in r.output and "--resume" in r.output
    assert len(r.output.strip().splitlines()) == 1
    # the sweep recomputes it on --resume, then discover reads it again
    args = ["sweep", MINIMAL, "-p", "parameters.lock_in=1:5:3", "-n", "8", "--chunk-size", "8"]
    r = invoke(*args, "--executor", "serial", "--no-plots", "--out", sweep, "--resume")
    assert r.exit_code == 0 and "chunks/r8.parquet" in r.output, r.output
    r = invoke("discover", sweep, "--where", WHERE)
    assert r.exit_code == 0 and " of 24 runs" in r.output, r.output


def test_a_stray_parquet_in_chunks_is_not_counted(sweep):
    shutil.copy(sweep / "chunks" / "r0.parquet", sweep / "chunks" / "copy.parquet")
    data = open_results(sweep)
    assert len(data.inputs) == 24
    r = invoke("discover", sweep, "--where", WHERE)
    assert r.exit_code == 0 and " of 24 runs" in r.output, r.output


def test_a_missing_listed_chunk_is_damage(sweep):
    (sweep / "chunks" / "r16.parquet").unlink()
    with pytest.raises(DamagedFile, match=r"r16\.parquet"):
        open_results(sweep)


def test_counts_are_checked_against_the_manifest(sweep):
    manifest = json.loads((sweep / "manifest.json").read_text())
    manifest["runs"] = 30
    (sweep / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DamagedFile, match="24 runs, the manifest says 30"):
        open_results(sweep)


def _positions(path: Path, total: int = 520) -> list[int]:
    """At least `total` byte positions: the header, the footer, and spread over every column chunk."""
    size = path.stat().st_size
    meta = pq.ParquetFile(path).metadata
    footer = int.from_bytes(path.read_bytes()[-8:-4], "little") + 8
    found = set(range(4)) | set(range(size - footer, size, max(1, footer // 60))) | set(range(size - 8, size))
    chunks = []
    for g in range(meta.num_row_groups):
        for c in range(meta.num_columns):
            column = meta.row_group(g).column(c)
            start = column.dictionary_page_offset or column.data_page_offset
            chunks.append((start, column.total_compressed_size))
    each = max(4, (total - len(found)) // max(1, len(chunks)))
    for start, length in chunks:
        found |= {start + int(k) for k in np.linspace(0, length - 1, min(each, length))}
    stride = max(1, size // (total // 4))
    found |= set(range(4, size, stride))
    return sorted(p for p in found if 0 <= p < size)


def _no_silent_change(path: Path, read, minimum: int = 500) -> int:
    """Flip each position in turn: `read()` must give what it gave before or raise a clean error."""
    expected = read()
    positions = _positions(path)
    assert len(positions) >= min(minimum, path.stat().st_size)
    original = path.read_bytes()
    silent = []
    for i, position in enumerate(positions):
        flip(path, position, (0x01, 0x80, 0xFF)[i % 3])
        try:
            got = read()
        except (DamagedFile, PosteriorError, ValueError):
            pass
        else:
            if not _same(got, expected):
                silent.append(position)
        finally:
            path.write_bytes(original)
    assert silent == [], f"{len(silent)} of {len(positions)} flips changed what was read, silently"
    return len(positions)


def _same(a, b) -> bool:
    if isinstance(a, pd.DataFrame):
        return a.equals(b) and list(a.columns) == list(b.columns)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(np.array_equal(a, b))


def test_single_byte_flips_of_a_run_series_are_never_silent(run_folder, tmp_path):
    folder = Path(shutil.copytree(run_folder, tmp_path / "r"))

    def discovered():
        data = open_results(folder)
        return data.inputs, data.values("region", "balance", 12), data.values("kazakhstan", "balance", 6)

    assert _no_silent_change(folder / "series.parquet", lambda: store.read_series(folder)) >= 500
    _no_silent_change(folder / "series.parquet", discovered)


def test_single_byte_flips_of_a_sweep_chunk_are_never_silent(sweep):
    def discovered():
        data = open_results(sweep)
        outcomes = data.values("region", "balance", 24), data.values("region", "tension", 36)
        return data.inputs, data.keys, *outcomes

    _no_silent_change(sweep / "chunks" / "r8.parquet", discovered, minimum=500)


@pytest.fixture
def posterior_folder(tmp_path) -> Path:
    from balancesim.calibration.report import posterior_frame, write_folder

    rng = np.random.default_rng(4)
    values = {
        "parameters.lock_in": rng.uniform(1, 5, 200),
        "parameters.hedging_tension": rng.uniform(0, 4, 200),
    }
    folder = tmp_path / "cal"
    frame = posterior_frame(values, rng.random(200))
    write_folder(folder, {"posterior.parquet": frame, "manifest.json": "{}"})
    return folder


def test_single_byte_flips_of_a_posterior_are_never_silent(posterior_folder):
    def read():
        p = read_posterior(posterior_folder)
        return p.values, p.weights

    _no_silent_change(posterior_folder / "posterior.parquet", read)


def test_a_corrupted_posterior_is_refused_with_one_line_and_exit_1(posterior_folder, tmp_path):
    flip(posterior_folder / "posterior.parquet", 200)
    out = tmp_path / "x"
    r = invoke("run", MINIMAL, "-n", "2", "--no-plots", "--posterior", posterior_folder, "--out", out)
    assert r.exit_code == 1, r.output
    assert "posterior.parquet" in r.output and "damaged" in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "x").exists()


def test_every_output_folder_carries_its_marker(run_folder, sweep_folder, posterior_folder):
    for folder, command in ((run_folder, "run"), (sweep_folder, "sweep"), (posterior_folder, "calibrate")):
        marker = json.loads((folder / MARKER).read_text())
        assert marker["command"] == command
        assert "manifest.json" in marker["files"]


# ------------------------------------------- compare, explain, report: the same policy


def checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, hidden ones too."""
    import hashlib

    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def traced_folder(tmp_path_factory) -> Path:
    """A small run folder with trace.parquet (for explain) and summary.csv (for report)."""
    out = tmp_path_factory.mktemp("traced") / "r"
    r = invoke("run", MINIMAL, "-n", "4", "--trace", "--no-plots", "--out", out)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture
def traced(traced_folder, tmp_path) -> Path:
    return Path(shutil.copytree(traced_folder, tmp_path / "r"))


def test_explain_writes_its_own_folder_and_never_the_run_folder(traced, tmp_path, monkeypatch):
    before = checksums(traced)
    monkeypatch.chdir(tmp_path)
    r = invoke("explain", traced, "--actor", "kazakhstan", "--to", "2023-03", "--top", "3")
    assert r.exit_code == 0, r.output
    out = tmp_path / "results" / "explain" / "r-kazakhstan"
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "contributions.csv", "waterfall.png"]
    assert json.loads((out / MARKER).read_text())["command"] == "explain"
    table = pd.read_csv(out / "contributions.csv", keep_default_na=False)
    assert "total change" in set(table.mechanism) and len(table) > 3
    assert table.mechanism.iloc[0] in r.output  # the printed rows are the CSV's first ones
    # the run folder is an input: never the output, nor a folder holding it; a user's folder is refused
    for target in (traced, tmp_path):
        r = invoke("explain", traced, "--actor", "kazakhstan", "--out", target)
        assert r.exit_code == 2 and "an input of this command" in r.output, r.output
    mine = user_folder(tmp_path / "mine")
    r = invoke("explain", traced, "--actor", "kazakhstan", "--out", mine)
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert intact(mine) and sorted(p.name for p in mine.iterdir()) == ["sub", "thesis.txt"]
    # an earlier explanation is replaced whole; with a user's file in it, refused
    assert invoke("explain", traced, "--actor", "kazakhstan", "--to", "2022-09", "--out", out).exit_code == 0
    (out / "notes.txt").write_text("mine")
    r = invoke("explain", traced, "--actor", "kazakhstan", "--out", out)
    assert r.exit_code == 2 and "does not hold an earlier explanation" in r.output, r.output
    assert (out / "notes.txt").read_text() == "mine"
    assert checksums(traced) == before


def test_explain_of_a_damaged_trace_is_one_line_and_exit_1(traced, tmp_path):
    trace = traced / "trace.parquet"
    flip(trace, trace.stat().st_size // 2)
    r = invoke("explain", traced, "--actor", "kazakhstan", "--out", tmp_path / "e")
    assert r.exit_code == 1, r.output
    assert "trace.parquet" in r.output and "damaged" in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "e").exists()


def test_explain_ignores_a_trace_the_folder_does_not_list(traced, tmp_path):
    marker = json.loads((traced / MARKER).read_text())
    del marker["files"]["trace.parquet"]
    (traced / MARKER).write_text(json.dumps(marker))
    r = invoke("explain", traced, "--actor", "kazakhstan", "--out", tmp_path / "e")
    assert r.exit_code == 2 and "no trace.parquet" in r.output, r.output


def test_compare_checks_its_folder_before_any_work(tmp_path, monkeypatch):
    from balancesim.analysis import compare as analysis

    def no_runs(*args, **kwargs):
        raise AssertionError("simulated before checking --out")

    monkeypatch.setattr(analysis, "compare", no_runs)
    scenarios = tmp_path / "in"
    scenarios.mkdir()
    shutil.copy(BASELINE, scenarios / "baseline.yaml")
    mine = user_folder(tmp_path / "mine")
    before = {"in": checksums(scenarios), "mine": checksums(mine)}
    base = scenarios / "baseline.yaml"
    for target, words in ((mine, "does not hold an earlier comparison"), (scenarios, "holds an input")):
        r = invoke("compare", base, "-n", "4", "--baseline", base, "--out", target)
        assert r.exit_code == 2, r.output
        assert words in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert {"in": checksums(scenarios), "mine": checksums(mine)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "mine"]  # no lock, no partial


def test_report_never_overwrites_a_file_it_did_not_write(traced, tmp_path):
    before = checksums(traced)
    mine = tmp_path / "mine.html"
    mine.write_text("my notes")
    link = tmp_path / "link.html"
    link.symlink_to(mine)
    other = Path(shutil.copytree(traced, tmp_path / "other"))
    for target in (mine, link, traced / "report.html", traced, tmp_path):
        r = invoke("report", traced, "--out", target)
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert mine.read_text() == "my notes" and link.is_symlink()
    # the default, beside the folder; an earlier report of the same folder is replaced
    assert invoke("report", traced).exit_code == 0
    report = tmp_path / "r.html"
    first = report.read_bytes()
    assert b"<html" in first and invoke("report", traced).exit_code == 0
    r = invoke("report", other, "--out", report)  # a report, but of another folder
    assert r.exit_code == 2 and "not an earlier report of" in r.output, r.output
    assert report.read_bytes() == first
    assert checksums(traced) == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_a_failed_report_write_leaves_the_earlier_report_whole(traced, tmp_path, monkeypatch):
    assert invoke("report", traced).exit_code == 0
    report = tmp_path / "r.html"
    first = report.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    r = invoke("report", traced)
    assert r.exit_code == 1 and "disk is full" in r.output, r.output
    assert report.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r", "r.html"]


@pytest.mark.parametrize("name", ["summary.csv", "manifest.json"])
def test_report_of_a_damaged_folder_is_one_line_and_exit_1(traced, tmp_path, name):
    flip(traced / name, 20)
    r = invoke("report", traced)
    assert r.exit_code == 1, r.output
    assert name in r.output and "damaged" in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "r.html").exists()


def test_report_reads_no_figure_the_folder_does_not_list(traced, tmp_path):
    (traced / "plots").mkdir()
    (traced / "plots" / "planted.png").write_bytes(b"\x89PNG not the tool's")
    assert invoke("report", traced).exit_code == 0
    assert "planted" not in (tmp_path / "r.html").read_text()
