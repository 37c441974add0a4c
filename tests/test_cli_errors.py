"""Failures of the command line: one line, the right exit status, nothing written where it must not be.

Exit statuses (exits.py): 1 a failure that is not the input's fault, 2 bad
input, 130 Ctrl-C. Hostile names are printed as text, never as rich markup.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from balancesim.cli import console
from balancesim.cli.exits import Group
from balancesim.cli.main import main
from balancesim.experiment import folders

from .conftest import ROOT

MINIMAL = ROOT / "tests" / "data" / "minimal.yaml"
TAIWAN = str(ROOT / "scenarios" / "taiwan_shock.yaml")


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def sweep(*args: object):
    """`balancesim sweep` of the minimal scenario over two values of lock_in, 2 runs a point."""
    return invoke("sweep", MINIMAL, "-p", "parameters.lock_in=1,2", "-n", "2", *map(str, args))


def no_traceback(r) -> None:
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output


def scenario(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    """A scenario extending a copy of minimal.yaml beside it (a scenario names files only in its folder)."""
    base = tmp_path / "minimal.yaml"
    if not base.exists():
        base.write_text(MINIMAL.read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / name
    path.write_text(f"extends: minimal.yaml\n{text}", encoding="utf-8")
    return path


# ------------------------------------------------------------- unwritable and full


def test_run_into_an_unwritable_folder_fails_before_simulating(tmp_path, monkeypatch):
    """--out below a regular file cannot be created: exit 1 at once, one line, nothing simulated."""
    import balancesim.experiment.batch

    def simulate(*args, **kwargs):
        raise AssertionError("simulated although the results could not be written")

    monkeypatch.setattr(balancesim.experiment.batch, "run", simulate)
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = invoke("run", MINIMAL, "-n", "2", "--out", blocker / "res")
    no_traceback(r)
    assert r.exit_code == 1
    assert r.output.strip().count("\n") == 0
    assert "cannot write there" in r.output and "not a folder" in r.output


def test_full_disk_while_writing_exits_1_and_leaves_nothing(tmp_path, monkeypatch):
    """The disk fills while the data are written (after the probe): one line, exit 1, no partial folder."""
    import pyarrow.parquet

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "x"))

    monkeypatch.setattr(pyarrow.parquet, "write_table", full)
    monkeypatch.setattr(pyarrow.parquet.ParquetWriter, "write_table", full)
    out = tmp_path / "res"
    r = invoke("run", MINIMAL, "-n", "2", "--out", out)
    no_traceback(r)
    assert r.exit_code == 1
    assert "no space left on device (the disk is full)" in r.output
    assert not [p for p in out.rglob("*") if p.is_file()]


def test_schema_onto_a_full_disk_or_missing_folder(tmp_path, monkeypatch):
    r = invoke("schema", "--out", tmp_path / "no" / "such" / "schema.json")
    no_traceback(r)
    assert r.exit_code == 1 and "cannot write" in r.output and "no such file" in r.output

    def full(fd: int) -> None:  # the data reach the disk at fsync
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    target = tmp_path / "schema.json"
    r = invoke("schema", "--out", target)
    monkeypatch.undo()
    no_traceback(r)
    assert r.exit_code == 1 and "the disk is full" in r.output
    assert not target.exists() and not list(tmp_path.glob(".*"))


def _namespace_mount(where: Path, size: str, options: str = "") -> list[str] | None:
    """A command prefix that runs a command with a private tmpfs mounted at `where`, or None."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    mount = f"mount -t tmpfs -o size={size}{',' + options if options else ''} tmpfs '{where}'"
    probe = subprocess.run([unshare, "-rm", "sh", "-c", mount], capture_output=True)
    if probe.returncode != 0:
        return None
    return [unshare, "-rm", "sh", "-c", f'{mount} && exec "$@"', "sh"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [("ro", "read-only file system"), ("", "no space left on device")],
    ids=["read-only", "full"],
)
def test_run_on_a_real_read_only_or_full_filesystem(tmp_path, options, expected):
    """A real tmpfs in a private mount namespace: read-only (fails the probe) or 64 KiB (fills up)."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    wrap = _namespace_mount(mount, "64k", options)
    if wrap is None:
        pytest.skip("cannot mount a private tmpfs here (needs unshare and user namespaces)")
    command = [sys.executable, "-m", "balancesim", "run", TAIWAN, "-n", "50", "--no-compare"]
    command += ["--out", str(mount / "run")]
    result = subprocess.run([*wrap, *command], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr


# ------------------------------------------------------------------- exit statuses


def _group_with(exception: BaseException) -> click.Group:
    @click.group(cls=Group)
    def group() -> None:
        pass

    @group.command()
    def boom() -> None:
        raise exception

    return group


@pytest.mark.parametrize(
    ("exception", "status", "text"),
    [
        (KeyboardInterrupt(), 130, "interrupted"),
        (OSError(errno.EACCES, "Permission denied", "/x/y"), 1, "/x/y: permission denied"),
        (MemoryError(), 1, "out of memory"),
        (BrokenProcessPool("A child process terminated abruptly"), 1, "a worker process died"),
        (RuntimeError("something\nunexpected"), 1, "unexpected RuntimeError: something (a bug"),
    ],
)
def test_every_exception_becomes_one_line_and_a_status(exception, status, text, monkeypatch):
    monkeypatch.delenv("BALANCESIM_TRACEBACK", raising=False)
    r = CliRunner().invoke(_group_with(exception), ["boom"])
    assert r.exit_code == status
    assert text in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_an_unreachable_scheduler_is_not_bad_input(tmp_path):
    r = sweep(
        "--executor",
        "dask",
        "--scheduler",
        "tcp://127.0.0.1:9",
        "--out",
        tmp_path / "sw",
    )
    no_traceback(r)
    assert r.exit_code == 1, r.output


def _wait_for_work(process: subprocess.Popen, module: str = "numpy", timeout: float = 120) -> None:
    """Wait until the command has loaded `module` (it is past start-up and into its work)."""
    maps = Path(f"/proc/{process.pid}/maps")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if module in maps.read_text():
                time.sleep(0.5)
                return
        except OSError:
            pass
        time.sleep(0.1)
    if not maps.parent.exists():
        time.sleep(5)  # no /proc: give start-up plenty of time instead


@pytest.mark.parametrize(
    "args",
    [
        # Within the run-size limit (a larger one is refused at once, before any work).
        ["run", TAIWAN, "-n", "18000", "--measures", "essential", "--chunk-size", "1000"],
        ["validate", "-n", "100000"],
        [
            "sweep",
            TAIWAN,
            "-p",
            "parameters.lock_in=1:5:50",
            "-n",
            "100000",
            "--executor",
            "process",
            "--workers",
            "2",
        ],
    ],
    ids=["run", "validate", "sweep"],
)
def test_ctrl_c_exits_130_without_traceback(tmp_path, args):
    """SIGINT to the process group, as a terminal sends it, while the command is working."""
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "balancesim", *args, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for_work(process)
        assert process.poll() is None, process.communicate()
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr + stdout
    assert "interrupted" in stderr
    if args[0] == "run":
        assert not [p for p in out.rglob("*") if p.is_file()]


# `python -m balancesim` with the sweep's work run inside code compiled from a string, as a
# dataclass's methods are built (dataclasses exec them) when a module is imported mid-command.
# CPython 3.12 remembers a KeyboardInterrupt that ends such code (run_eval_code_obj) and, under
# `-m`, at the very end of the interpreter (Py_RunMain) kills itself with SIGINT even though
# the command handled the interrupt: status -2, not 130, unless the program leaves first
# (exits.run_program). Script files and `-c` skip that check, hence a module here.
CTRL_C_THROUGH_EXEC = """
import sys
from balancesim import sweep
from balancesim.cli.main import program

real = sweep.run_sweep


def run_sweep(*args, **kwargs):
    scope = {"real": real, "args": args, "kwargs": kwargs}
    exec("result = real(*args, **kwargs)", scope)
    return scope["result"]


if __name__ == "__main__":  # the workers import this file too
    sweep.run_sweep = run_sweep
    program()
"""


def test_ctrl_c_that_passed_through_exec_still_exits_130(tmp_path):
    """A real SIGINT to the process group while a process-pool sweep works, its KeyboardInterrupt
    passing through exec'd code on its way out: the status is 130, and the workers are gone."""
    (tmp_path / "balancesim_through_exec.py").write_text(CTRL_C_THROUGH_EXEC)
    out = tmp_path / "out"
    args = ["sweep", TAIWAN, "-p", "parameters.lock_in=1:5:50", "-n", "100000", "--chunk-size", "50"]
    args += ["--executor", "process", "--workers", "2", "--out", str(out)]
    process = subprocess.Popen(
        [sys.executable, "-m", "balancesim_through_exec", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if any(tmp_path.rglob("r*.parquet")):  # a chunk is written: the workers are at work
                break
            time.sleep(0.1)
        assert process.poll() is None, process.communicate()
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, (process.returncode, stderr[-2000:])
    assert "Traceback" not in stderr + stdout
    assert "interrupted: finished chunks are kept" in stderr
    deadline = time.monotonic() + 30  # the workers, forkserver and resource tracker leave too
    while time.monotonic() < deadline and _group_alive(process.pid):
        time.sleep(0.1)
    assert not _group_alive(process.pid)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


CTRL_C_WHILE_WORKERS_START = """
import os, signal, subprocess, sys, threading, time
from balancesim.experiment.executors import _sigint_ignored

signal.signal(signal.SIGINT, signal.default_int_handler)  # as under an interactive shell
if sys.argv[1] == "threads":  # as numpy's BLAS threads or the progress bar, which do not block SIGINT
    threading.Thread(target=threading.Event().wait, daemon=True).start()
CHILD = (
    "import signal; print(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])"
    " or signal.getsignal(signal.SIGINT) == signal.SIG_IGN)"
)


def start_a_worker_and_press_ctrl_c():
    shown = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True).stdout
    print("worker leaves SIGINT alone:", shown.strip(), flush=True)
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.2)
    print("start-up not cut short", flush=True)


try:
    _sigint_ignored(start_a_worker_and_press_ctrl_c)
    time.sleep(0.5)
    print("Ctrl-C lost")
except KeyboardInterrupt:
    print("Ctrl-C reached the parent")
"""


@pytest.mark.parametrize("threads", ["one thread", "threads"])
def test_a_ctrl_c_while_workers_start_is_not_lost(threads):
    """Workers start with SIGINT blocked; a Ctrl-C that comes meanwhile reaches the parent after.

    Starting a forkserver takes up to a second. A SIGINT in that window used to be
    discarded, and the sweep ran on as if nothing had been pressed: first in a
    one-thread process, then (SIGINT ignored process-wide meanwhile) whenever
    another thread could take the signal, as numpy's BLAS threads do. (In its
    own process: its threads and signal masks are the test's.)
    """
    r = subprocess.run(
        [sys.executable, "-c", CTRL_C_WHILE_WORKERS_START, threads], capture_output=True, text=True
    )
    assert r.stdout.splitlines() == [
        "worker leaves SIGINT alone: True",
        "start-up not cut short",
        "Ctrl-C reached the parent",
    ], r


# ------------------------------------------------------------------------ manifests


@pytest.mark.parametrize("content", ["[1, 2]", '{"identity": ', "\xff\xfe", "null"])
def test_a_manifest_that_is_not_an_object_is_bad_input(tmp_path, content):
    folder = tmp_path / "sw"
    folder.mkdir()
    (folder / "manifest.json").write_bytes(content.encode("latin-1"))
    r = sweep(
        "--executor",
        "serial",
        "--out",
        folder,
        "--resume",
    )
    no_traceback(r)
    assert r.exit_code == 2, r.output
    assert "manifest.json: not a manifest" in r.output
    assert len(r.output.strip().splitlines()) == 1


# ------------------------------------------------------------------ where results go


@pytest.mark.parametrize("name", ["...yaml", "..yaml", "a b;c.yaml", ".hidden.yaml"])
def test_results_stay_inside_out_whatever_the_file_name(tmp_path, name, monkeypatch):
    work = tmp_path / "deep" / "work"
    work.mkdir(parents=True)
    path = scenario(work, "replicates: 2\n", name)
    out = work / "out"
    r = invoke("run", path, "--no-plots", "--out", out)
    assert r.exit_code == 0, r.output
    # Beside the folder only its lock file (`.out.lock`, kept outside so that it outlives a swap).
    inputs = (path, work / "minimal.yaml", work / ".out.lock")
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p not in inputs]
    assert files and all(out in p.parents for p in files)
    assert (out / "manifest.json").is_file()
    # Without --out: a new folder under results/<safe name>/, never beside or above it.
    monkeypatch.chdir(work)
    r = invoke("run", path, "--no-plots")
    assert r.exit_code == 0, r.output
    (manifest,) = (work / "results").rglob("manifest.json")
    assert manifest.parent.parent.parent == work / "results"
    assert not manifest.parent.parent.name.startswith(".")


def test_sweep_default_folder_stays_under_results(tmp_path, monkeypatch):
    path = scenario(tmp_path, "replicates: 2\n", "...yaml")
    monkeypatch.chdir(tmp_path)
    r = invoke("sweep", path, "-p", "parameters.lock_in=1,2", "--executor", "serial", "--no-plots")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "results" / "scenario" / "sweep" / "manifest.json").exists()
    assert not (tmp_path.parent / "sweep").exists()


def test_folder_names_are_safe():
    assert folders.folder_name("x/...yaml") == "scenario"
    assert folders.folder_name("taiwan_shock.yaml") == "taiwan_shock"
    assert folders.folder_name("../a b/c d.v2.yaml") == "c_d.v2"
    assert folders.folder_name("évian.yaml") == "vian"


# ------------------------------------------------------------------- hostile names

HOSTILE = "a [/] b [link=file:///etc/passwd]here[/link] $x^$ :smile:"


def test_hostile_names_print_literally_and_plot(tmp_path, monkeypatch):
    """rich markup and matplotlib mathtext in every name: printed as written, plots still written."""
    path = scenario(
        tmp_path,
        f"name: '{HOSTILE}'\nreplicates: 3\nhorizon: 12\n"
        "actors:\n  - id: china\n    name: '$x^$ [/] [bold]'\n"
        "institutions:\n  - id: csto\n    name: '$\\alpha^$ [red]'\n"
        "shocks:\n  - id: border_clash\n    name: '$_$ [/]'\n",
    )
    buffer = io.StringIO()
    monkeypatch.setattr(console, "out", console.guarded_console(file=buffer, force_terminal=True, width=300))
    r = invoke("run", path, "--out", tmp_path / "res")
    assert r.exit_code == 0, r.output
    shown = buffer.getvalue()
    assert HOSTILE in shown
    assert "$x^$ [/] [bold]" in shown
    assert "\x1b]8;" not in shown  # no terminal hyperlink
    (manifest,) = (tmp_path / "res").rglob("manifest.json")
    assert (
        len(list((manifest.parent / "plots").glob("*.png"))) == 5
    )  # with effect.png: it is compared with the file it extends


def test_hostile_names_in_sweep_plots(tmp_path):
    path = scenario(tmp_path, "name: 'cost $x^$'\nactors:\n  - id: russia\n    name: '$\\frac$'\n")
    r = invoke(
        "sweep",
        path,
        "-p",
        "parameters.lock_in=1,2",
        "-n",
        "2",
        "--executor",
        "serial",
        "--out",
        tmp_path / "sw",
    )
    no_traceback(r)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "sw" / "plots" / "response.png").exists()


def test_a_list_manifest_in_a_results_folder_is_bad_input(tmp_path):
    """`discover` reads run and sweep folders: a manifest holding a list is one clean line, exit 2."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "manifest.json").write_text('["balancesim_sweep", "balancesim_run"]')
    r = invoke("discover", folder, "--where", "balance@12 > 0")
    no_traceback(r)
    assert r.exit_code == 2, r.output
    assert "manifest.json: not a manifest (a JSON list, expected an object)" in r.output
