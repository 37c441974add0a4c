"""Every command against hostile names, paths, folders and option values (issue 21, item 7).

A table of hostile inputs drives each command in-process (click's CliRunner),
and Hypothesis adds scenario names and option strings. For each call: no
traceback and no "bug" line, the documented exit status (0, or 2 for bad
input), nothing in the input folder changed and nothing written outside the
`--out` folders. Sizes are tiny (a few runs), so the whole file takes about a
minute.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from balancesim.cli.main import main

from .conftest import ROOT

SERIAL = ("--executor", "serial", "--out")
MINIMAL = ROOT / "tests" / "data" / "minimal.yaml"
TARGETS = ROOT / "targets" / "central_asia_2021_2023.yaml"
OSC8 = "\x1b]8;;file:///etc/passwd\x1b\\x\x1b]8;;\x1b\\"
NAMES = [
    "[link=file:///etc/passwd]x[/link]",
    "Budget $x^$",
    "[/] [bold",
    "<script>alert(1)</script>",
    "\u202egnp.exe",
    ":smile: $\\frac$",
]


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` (outside `out*` folders) with its content's hash."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        dirnames[:] = [d for d in dirnames if not (rel == Path(".") and d.startswith("out"))]
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_fifo() or path.is_symlink():
                found[str(path.relative_to(root))] = "special"
                continue
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Path:
    """inputs/: scenarios (hostile names included), targets, a FIFO, a run and a sweep folder."""
    root = tmp_path_factory.mktemp("fuzz")
    inputs = root / "inputs"
    inputs.mkdir()
    (inputs / "minimal.yaml").write_text(MINIMAL.read_text())
    (inputs / "ok.yaml").write_text("extends: minimal.yaml\nreplicates: 2\nhorizon: 12\n")
    for k, name in enumerate(NAMES):
        quoted = name.replace("'", "''")
        (inputs / f"named{k}.yaml").write_text(f"extends: minimal.yaml\nname: '{quoted}'\nhorizon: 12\n")
    (inputs / "escape.yaml").write_text("extends: ../../../../../../etc/passwd\n")
    (inputs / "absolute.yaml").write_text("extends: /etc/passwd\n")
    (inputs / "design_out.yaml").write_text("extends: minimal.yaml\nsweep:\n  design_file: /etc/passwd\n")
    (inputs / "targets.yaml").write_text(TARGETS.read_text())
    os.mkfifo(inputs / "fifo.yaml")
    (inputs / "zero.yaml").symlink_to("/dev/zero")
    (inputs / "points.csv").write_text("parameters.lock_in\n1\n2\n")
    runner = CliRunner()
    r = runner.invoke(
        main,
        ["run", str(inputs / "ok.yaml"), "--set", "horizon=12", "--out", str(inputs / "run"), "--no-plots"],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        main,
        [
            "sweep",
            str(inputs / "ok.yaml"),
            "-p",
            "parameters.lock_in=1,2",
            "-n",
            "2",
            *SERIAL,
            str(inputs / "sweep"),
        ],
    )
    assert r.exit_code == 0, r.output
    return root


def call(sandbox: Path, args: list[str], statuses: tuple[int, ...]) -> str:
    """Invoke in `sandbox`; check the status, the output and that only out* folders changed."""
    before = snapshot(sandbox)
    cwd = os.getcwd()
    os.chdir(sandbox)
    try:
        r = CliRunner().invoke(main, args)
    finally:
        os.chdir(cwd)
    shown = " ".join(args)[:200]
    assert r.exit_code in statuses, f"{shown}: status {r.exit_code}\n{r.output}"
    assert "Traceback" not in r.output and "a bug in balancesim" not in r.output, f"{shown}\n{r.output}"
    assert not isinstance(r.exception, Exception) or isinstance(r.exception, SystemExit), shown
    assert "\x1b]8;" not in r.output and "\x1b[" not in r.output, f"{shown}: escape sequence in output"
    assert "root:x:0:0" not in r.output, f"{shown}: echoed /etc/passwd"
    assert snapshot(sandbox) == before, f"{shown}: changed a file outside --out"
    return r.output


OK, BAD = (0,), (2,)
CASES = [
    # run
    (["run", "inputs/ok.yaml", "-n", "2", "--no-plots", "--out", "out/run"], OK),
    *[(["run", f"inputs/named{k}.yaml", "-n", "2", "--out", f"out/named{k}"], OK) for k in range(len(NAMES))],
    (["run", "inputs/fifo.yaml", "--out", "out/x"], BAD),
    (["run", "inputs/zero.yaml", "--out", "out/x"], BAD),
    (["run", "inputs", "--out", "out/x"], BAD),
    (["run", "inputs/escape.yaml", "--out", "out/x"], BAD),
    (["run", "inputs/absolute.yaml", "--out", "out/x"], BAD),
    (["run", "inputs/ok.yaml", "-n", "-1"], BAD),
    (["run", "inputs/ok.yaml", "-n", "9" * 5000], BAD),
    (["run", "inputs/ok.yaml", "--seed", "1e999"], BAD),
    (["run", "inputs/ok.yaml", "--set", "actors=[]"], BAD),
    (["run", "inputs/ok.yaml", "--set", f"name={OSC8}"], BAD),
    (["run", "inputs/ok.yaml", "--set", "a" * 10000 + "=1"], BAD),
    (["run", "inputs/ok.yaml", "--set", "parameters.lock_in=" + "[" * 1000], BAD),
    (["run", "inputs/ok.yaml", "--posterior", "inputs/fifo.yaml"], BAD),
    (["run", "inputs/ok.yaml", "--baseline", "inputs/fifo.yaml"], BAD),
    # check, schema
    (["check", "inputs/ok.yaml", *(f"inputs/named{k}.yaml" for k in range(len(NAMES)))], OK),
    (["check", "inputs/fifo.yaml"], BAD),
    (["check", "inputs/zero.yaml"], BAD),
    (["check", f"inputs/{OSC8}.yaml"], BAD),
    (["check", "inputs/escape.yaml", "inputs/absolute.yaml"], BAD),
    (["schema", "--out", "out/schema.json"], OK),
    # sweep
    (
        ["sweep", "inputs/named1.yaml", "-p", "parameters.lock_in=1,2", "-n", "1", *SERIAL, "out/sweep"],
        OK,
    ),
    (["sweep", "inputs/ok.yaml", "--design-file", "inputs/fifo.yaml", "-n", "1", "--out", "out/x"], BAD),
    (["sweep", "inputs/ok.yaml", "--design-file", "inputs/zero.yaml", "-n", "1", "--out", "out/x"], BAD),
    (["sweep", "inputs/design_out.yaml", "-n", "1", "--out", "out/x"], BAD),
    (["sweep", "inputs/ok.yaml", "-p", "parameters.lock_in=" + "9" * 5000, "--out", "out/x"], BAD),
    (["sweep", "inputs/ok.yaml", "-p", f"{OSC8}=1,2", "--out", "out/x"], BAD),
    # validate (failures only: a real validation needs 20 runs per arm)
    (["validate", "--scenarios", "inputs/fifo.yaml", "--out", "out/x"], BAD),
    (["validate", "--robust", "--posterior", "inputs/run", "--out", "out/x"], BAD),
    (["validate", "-n", "9" * 5000], BAD),
    # calibrate (failures only: the smallest calibration takes a minute)
    (["calibrate", "inputs/ok.yaml", "--targets", "inputs/fifo.yaml"], BAD),
    (["calibrate", "inputs/ok.yaml", "--targets", "inputs/zero.yaml"], BAD),
    (["calibrate", "inputs/ok.yaml", "--targets", "inputs/targets.yaml", "--budget", "9" * 5000], BAD),
    (["calibrate", "inputs/ok.yaml", "--targets", "inputs/targets.yaml", "--param", OSC8], BAD),
    # discover
    # (4 runs: the outcome may hold in all of them, which is bad input too)
    (["discover", "inputs/sweep", "--where", "balance@12 > 0", "--out", "out/disc"], (0, 2)),
    (["discover", "inputs/sweep", "--where", "(" * 1000 + "balance@12 > 0" + ")" * 1000], BAD),
    (["discover", "inputs/sweep", "--where", f"balance@12 > {OSC8}"], BAD),
    (["discover", "inputs/sweep", "--where", "[link=file:///etc/passwd]x[/link] > 0"], BAD),
    (["discover", "inputs/fifo.yaml", "--where", "balance@12 > 0"], BAD),
    (["discover", "inputs", "--where", "balance@12 > 0"], BAD),
    # hindcast
    (
        ["hindcast", "inputs/named0.yaml", "--targets", "inputs/targets.yaml", "-n", "2", "--out", "out/h"],
        BAD,
    ),
    (["hindcast", "inputs/ok.yaml", "--targets", "inputs/fifo.yaml"], BAD),
    (["hindcast", "inputs/fifo.yaml", "--targets", "inputs/targets.yaml"], BAD),
    (["hindcast", "inputs/escape.yaml", "--targets", "inputs/targets.yaml"], BAD),
]


@pytest.mark.parametrize(("args", "statuses"), CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_hostile_input(sandbox, args, statuses):
    call(sandbox, args, statuses)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=1, max_size=40))
def test_any_scenario_name_is_checked_or_refused_in_one_line(sandbox, name):
    path = sandbox / "inputs" / "hypothesis.yaml"
    quoted = name.replace("'", "''")
    try:
        path.write_text(f"extends: minimal.yaml\nname: '{quoted}'\n", encoding="utf-8")
    except UnicodeEncodeError:  # a lone surrogate cannot even be written
        return
    try:
        call(sandbox, ["check", "inputs/hypothesis.yaml"], (0, 2))
    finally:
        path.unlink()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.text(alphabet=st.sampled_from("()<>=!+-*/@[].,0123456789 abnortdlce"), max_size=60))
def test_any_where_expression_is_answered_or_refused(sandbox, where):
    call(sandbox, ["discover", "inputs/sweep", "--where", where or " ", "--out", "out/hyp"], (0, 2))
