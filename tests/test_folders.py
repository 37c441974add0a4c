"""Output folders of `run` and `validate`: one writer at a time, no collisions, nothing mixed or left.

Concurrency is tested with real processes, bounded in number and time.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from balancesim import validation
from balancesim.cli.main import main
from balancesim.experiment import store
from balancesim.experiment.folders import (
    OWNER,
    FolderBusy,
    clean_partials,
    locked,
    make_partial,
    written_whole,
)

from .conftest import ROOT

MINIMAL = str(ROOT / "tests" / "data" / "minimal.yaml")


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def hold_lock(folder: Path) -> subprocess.Popen:
    """Another process that holds `folder`'s lock until it is killed (as a running command would)."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from balancesim.experiment.folders import locked
        with locked({str(folder)!r}):
            print("locked", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


# ------------------------------------------------------------------ run ids


def _claim(root: Path, barrier, queue) -> None:
    """Ask for 40 run folders, as fast as possible, once all processes are ready; report them."""
    try:
        barrier.wait(timeout=30)
        queue.put([str(store.new_run_folder(root, "s", 7)[1]) for _ in range(40)])
    except BaseException as e:  # reported to the test, which fails on it
        queue.put(f"error: {e!r}")


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_concurrent_runs_never_collide_on_a_run_id(tmp_path):
    """8 processes asking for 40 run folders each, at once, with the same seed: 320 distinct folders."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(8)
    queue = context.Queue()
    procs = [context.Process(target=_claim, args=(tmp_path, barrier, queue)) for _ in range(8)]
    for p in procs:
        p.start()
    got = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert not [g for g in got if isinstance(g, str)], got
    folders = [f for g in got for f in g]
    assert len(set(folders)) == 8 * 40
    partials = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert len(partials) == 8 * 40 and all(n.endswith(".partial") for n in partials)


# ------------------------------------------------------------- run --out DIR


def test_run_out_is_the_exact_folder_and_replaces_only_an_earlier_run(tmp_path):
    out = tmp_path / "exact"
    args = ["run", MINIMAL, "-n", "3", "--no-plots", "--out", str(out)]
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    first = json.loads((out / "manifest.json").read_text())
    assert sorted(p.name for p in out.iterdir()) == [
        ".balancesim-output.json",  # the folder policy's marker: `run` wrote this, with these files
        "manifest.json",
        "params.parquet",  # the shock severity drawn in each run
        "series.parquet",
        "summary.csv",
    ]
    r = invoke(*args, "--seed", "8")  # an earlier run: replaced
    assert r.exit_code == 0, r.output
    assert json.loads((out / "manifest.json").read_text())["seed"] == 8 != first["seed"]
    (out / "notes.txt").write_text("mine")  # now it holds a user's file: refused, untouched
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    assert "not empty and does not hold an earlier run" in r.output
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "manifest.json").read_text())["seed"] == 8
    assert not list(tmp_path.glob(".*.partial"))


def test_run_into_a_folder_another_process_writes_exits_1(tmp_path):
    out = tmp_path / "busy"
    holder = hold_lock(out)
    try:
        r = invoke("run", MINIMAL, "-n", "3", "--no-plots", "--out", str(out))
    finally:
        holder.kill()
        holder.wait()
    assert r.exit_code == 1, r.output
    assert "another balancesim command is writing this folder" in r.output
    assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
    assert not out.exists() and not list(tmp_path.glob(".*.partial"))


def test_lock_is_exclusive_within_a_process_too(tmp_path):
    with locked(tmp_path / "x"), pytest.raises(FolderBusy, match=r"pid \d+"), locked(tmp_path / "x"):
        pass


# ------------------------------------------------------------ partial folders


def test_partials_of_killed_runs_are_removed_and_others_reported(tmp_path, monkeypatch):
    """A run killed mid-way leaves its partial folder; the next run removes it and reports the rest."""
    results = tmp_path / "results" / "minimal"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "balancesim.cli.main",
            "run",
            MINIMAL,
            "-n",
            "100000",
            "--measures",
            "essential",
            "--no-plots",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(results.glob(f".*.partial/{OWNER}")):
            assert proc.poll() is None
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    (killed,) = results.glob(".*.partial")
    assert json.loads((killed / OWNER).read_text())["pid"] == proc.pid
    live = make_partial(results, "live")  # this process: still being written
    unknown = results / ".older.partial"  # no owner recorded
    unknown.mkdir()
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["run", MINIMAL, "-n", "2", "--no-plots"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert not killed.exists() and live.exists() and unknown.exists()
    assert f"removed 1 unfinished folder(s) of killed commands: {killed.name}" in r.output
    assert f"{live.name} is unfinished: being written by pid {os.getpid()}" in r.output
    assert "older.partial is unfinished: no owner recorded" in r.output
    found = clean_partials(results)
    assert found.removed == [] and len(found.kept) == 2


@pytest.fixture(autouse=True)
def _back_home(monkeypatch):
    monkeypatch.chdir(ROOT)


# ------------------------------------------------------------------ validate


@pytest.fixture(scope="module")
def small_validation():
    return validation.run_validation(20, 3, checks=validation.CHECKS[:1])


def test_write_report_replaces_an_earlier_report_whole(small_validation, tmp_path):
    out = tmp_path / "v"
    with validation.report_folder(out):
        validation.write_report(small_validation, out)
    first = sorted(p.name for p in out.iterdir())
    assert first == [".balancesim-output.json", "p1.png", "report.md", "summary.json", "table.csv"]
    assert validation.is_earlier_report(out)
    with validation.report_folder(out):  # an earlier report may be replaced
        validation.write_report(small_validation, out, command="again")
    assert "`again`" in (out / "report.md").read_text()
    assert not list(tmp_path.glob(".*.partial")) and not list(tmp_path.glob(".*.old-*"))


def test_validate_refuses_a_folder_holding_user_files_before_any_work(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "report.md").write_text("my own report")
    (out / "table.csv").write_text("a,b\n")
    r = invoke("validate", "--replicates", "20", "--out", str(out))
    assert r.exit_code == 2, r.output
    assert "not empty and does not hold an earlier validation report" in r.output
    assert "Traceback" not in r.output and "runs per arm" not in r.output  # refused before running
    assert (out / "report.md").read_text() == "my own report"
    assert sorted(p.name for p in out.iterdir()) == ["report.md", "table.csv"]


def test_validate_into_a_folder_another_process_writes_exits_1(tmp_path):
    out = tmp_path / "v"
    holder = hold_lock(out)
    try:
        r = invoke("validate", "--replicates", "20", "--out", str(out))
    finally:
        holder.kill()
        holder.wait()
    assert r.exit_code == 1, r.output
    assert "another balancesim command is writing this folder" in r.output


FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with an OSError
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
{body}
"""


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE")
def test_a_failed_report_write_leaves_the_earlier_report_whole(small_validation, tmp_path):
    """Files cannot grow past 20 kB (as on a full disk): the PNGs fail; the old report stays as it was."""
    out = tmp_path / "v"
    with validation.report_folder(out):
        validation.write_report(small_validation, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    body = textwrap.dedent(
        f"""
        from balancesim import validation as val
        v = val.run_validation(20, 3, checks=val.CHECKS[:1])
        try:
            with val.report_folder({str(out)!r}):
                val.write_report(v, {str(out)!r}, command="new")
        except OSError as e:
            print("OSError", e.errno)
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", FULL_DISK.format(body=body)], capture_output=True, text=True, timeout=120
    )
    assert r.stdout.startswith("OSError"), r.stdout + r.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not list(tmp_path.glob(".*.partial"))


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE")
def test_validate_onto_a_full_disk_is_one_line_and_exit_1(tmp_path):
    out = tmp_path / "v"
    body = f"from balancesim.cli.main import main\nmain(['validate', '-n', '20', '--out', {str(out)!r}])"
    r = subprocess.run(
        [sys.executable, "-c", FULL_DISK.format(body=body)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines == [f"error: cannot write the report to {out}: file too large"], r.stderr
    assert not out.exists() or not any(out.iterdir())
    assert not list(tmp_path.glob(".*.partial"))


def test_a_scenario_named_dots_writes_inside_results(tmp_path, monkeypatch):
    scenario = tmp_path / "...yaml"
    (tmp_path / "minimal.yaml").write_text(Path(MINIMAL).read_text())  # extends: files in its folder
    scenario.write_text("extends: minimal.yaml\n")
    monkeypatch.chdir(tmp_path)
    r = invoke("run", str(scenario), "-n", "2", "--no-plots")
    assert r.exit_code == 0, r.output
    (manifest,) = (tmp_path / "results").rglob("manifest.json")
    assert manifest.parent.parent == tmp_path / "results" / "scenario"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["...yaml", "minimal.yaml", "results"]


def test_written_whole_swaps_in_complete_folders_only_and_refuses_a_second_writer(tmp_path):
    """discover and hindcast write through `written_whole`: whole, locked, never a mix."""
    out = tmp_path / "out"
    with written_whole(out, "test") as partial:
        (partial / "a.txt").write_text("first")
    assert (out / "a.txt").read_text() == "first" and not list(tmp_path.glob(".out.partial"))

    with pytest.raises(RuntimeError, match="boom"), written_whole(out, "test") as partial:
        (partial / "a.txt").write_text("second")
        raise RuntimeError("boom")
    assert (out / "a.txt").read_text() == "first"  # the earlier output stays whole
    assert not list(tmp_path.glob(".out*.partial"))

    with locked(out), pytest.raises(FolderBusy), written_whole(out, "test"):
        pass
    assert (out / "a.txt").read_text() == "first"
