"""Parameter sweeps: specs, designs, executors, chunking, resume, SIGKILL, Sobol indices, CLI.

Small on purpose (the minimal scenario, a few design points, tens of
replicates), so the whole file runs in well under a minute; the real Dask
test starts a LocalCluster with two worker processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import distributed
import numpy as np
import pandas as pd
import psutil
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from balancesim import sweep as sw
from balancesim.cli.main import main
from balancesim.experiment.executors import ExecutorUnavailable, make_runner
from balancesim.figures.sweep import sweep_figures
from balancesim.model import engine
from balancesim.model.state import build_setup
from balancesim.scenario.files import load_scenario

from .conftest import ROOT

MINIMAL = str(ROOT / "tests" / "data" / "minimal.yaml")
TAIWAN = str(ROOT / "scenarios" / "taiwan_shock.yaml")


def plan(*params: str, design: str = "grid", samples: int | None = None, replicates: int = 24, **kw):
    options = sw.SweepOptions(
        params=tuple(sw.parse_param(p) for p in params),
        design=design,
        samples=samples,
        replicates=replicates,
        **kw,
    )
    return sw.plan_sweep(MINIMAL, options)


def chunk_frames(folder: Path) -> pd.DataFrame:
    frames = [pq.read_table(p).to_pandas() for p in sw.iter_chunk_files(folder)]
    return pd.concat(frames).sort_values(["point", "replicate", "month"]).reset_index(drop=True)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# ------------------------------------------------------------------------ specs


@pytest.mark.parametrize(
    ("spec", "kind", "values", "bounds"),
    [
        ("0:4:5", "grid", (0.0, 1.0, 2.0, 3.0, 4.0), None),
        ("0:1:11", "grid", tuple(round(0.1 * k, 1) for k in range(11)), None),
        ("0.1,0.25, 0.4", "list", (0.1, 0.25, 0.4), None),
        ("0.3", "list", (0.3,), None),
        ("-1:2", "range", (), (-1.0, 2.0)),
        ("1e-3:2e-1", "range", (), (0.001, 0.2)),
    ],
)
def test_spec_forms(spec, kind, values, bounds):
    p = sw.parse_spec("parameters.lock_in", spec)
    assert p.kind == kind and p.values == values
    if bounds:
        assert (p.low, p.high) == bounds


def test_spec_from_scenario_file_forms():
    assert sw.parse_spec("x", [1, 2.5]).values == (1.0, 2.5)
    assert sw.parse_spec("x", 0.5).values == (0.5,)
    r = sw.parse_spec("x", {"low": 0, "high": 2})
    assert (r.kind, r.low, r.high) == ("range", 0.0, 2.0)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("parameters.lock_in", "expected PATH=SPEC"),
        ("=0:1:3", "expected PATH=SPEC"),
        ("parameters.lock_in=", "empty SPEC"),
        ("parameters.lock_in=a:1:3", "'a' is not a number"),
        ("parameters.lock_in=0:1:x", "the count 'x' is not a whole number"),
        ("parameters.lock_in=0:1:0", "the count must lie in 1.."),
        ("parameters.lock_in=0:1:1", "a count of 1 needs start = stop"),
        ("parameters.lock_in=2:1", "needs low < high"),
        ("parameters.lock_in=0:1:2:3", "expected start:stop:count"),
        ("parameters.lock_in=1,2:3", "mix of ',' and ':'"),
        ("parameters.lock_in=1,1", "listed twice"),
        ("parameters.lock_in=nan:1", "NaN/infinity"),
    ],
)
def test_spec_errors_name_path_and_spec(item, message):
    with pytest.raises(sw.SweepError) as info:
        sw.parse_param(item)
    text = str(info.value)
    assert message in text
    assert text.startswith("--param")


# ---------------------------------------------------------------------- designs


def test_grid_is_the_product_first_parameter_slowest():
    a, b = sw.parse_param("x=0:1:3"), sw.parse_param("y=5,6")
    d = sw.make_design("grid", [a, b])
    assert d.points.tolist() == [[0, 5], [0, 6], [0.5, 5], [0.5, 6], [1, 5], [1, 6]]
    assert d.overrides(3) == {"x": 0.5, "y": 6.0}


def test_lhs_is_stratified_and_reproducible():
    params = [sw.parse_param("x=0:1"), sw.parse_param("y=10:20")]
    d = sw.make_design("lhs", params, samples=10, seed=3)
    assert d.points.shape == (10, 2)
    # one point in each tenth of each range: a Latin hypercube
    assert sorted(np.floor(d.points[:, 0] * 10).astype(int)) == list(range(10))
    assert sorted(np.floor(d.points[:, 1] - 10).astype(int)) == list(range(10))
    assert np.array_equal(d.points, sw.make_design("lhs", params, samples=10, seed=3).points)


def test_sobol_points_are_salibs_in_order():
    from SALib.sample import sobol

    params = [sw.parse_param("x=0:1"), sw.parse_param("y=-1:1"), sw.parse_param("z=2:3")]
    d = sw.make_design("sobol", params, samples=16, seed=5)
    expected = sobol.sample(d.problem(), 16, calc_second_order=False, seed=5)
    assert d.points.shape == (16 * (3 + 2), 3)
    assert np.array_equal(d.points, expected)


@pytest.mark.parametrize(
    ("kind", "specs", "samples", "message"),
    [
        ("grid", ["x=0:1"], None, "a range low:high needs --design lhs, sobol or morris"),
        ("lhs", ["x=0:1:3"], 8, "samples each parameter from a range low:high"),
        ("sobol", ["x=0:1"], None, "needs --samples N"),
        ("sobol", ["x=0:1"], 12, "a Sobol design needs a power of 2"),
        ("grid", ["x=0:1:3"], 8, "--samples 8: applies to lhs, sobol and morris"),
        ("grd", ["x=0:1:3"], None, "did you mean 'grid'"),
        ("grid", [], None, "nothing to sweep"),
    ],
)
def test_design_errors(kind, specs, samples, message):
    with pytest.raises(sw.SweepError, match=message):
        sw.make_design(kind, [sw.parse_param(s) for s in specs], samples)


def test_whole_number_paths_get_whole_values():
    p = plan("shocks.border_clash.month=2:12:6", replicates=2)
    assert p.design.overrides(1) == {"shocks.border_clash.month": 4}
    with pytest.raises(sw.SweepError, match=r"takes whole numbers, got 7\.5"):
        plan("shocks.border_clash.month=3:12:3")
    lhs = plan("shocks.border_clash.month=2:12", design="lhs", samples=5, replicates=2)
    assert all(float(v).is_integer() for v in lhs.design.points[:, 0])


# -------------------------------------------------------- paths and validation


@pytest.mark.parametrize(
    ("param", "message"),
    [
        (
            "parameters.hedging_tensoin=0:1:3",
            "--param parameters.hedging_tensoin=0:1:3: parameters.hedging_tensoin: "
            "unknown key 'hedging_tensoin' (did you mean 'hedging_tension'?)",
        ),
        (
            "actors.chna.attention=0:1:3",
            "'chna' is neither an id nor an index in this list (did you mean 'china'?)",
        ),
        ("name=0:1:3", "name holds 'Minimal test scenario', not a number"),
        ("institutions.csto.members=0:1:3", "holds a list, not a number"),
        ("seed=0:1:3", "'seed' cannot be swept"),
        ("horizon=12:24:3", "'horizon' cannot be swept"),
        (
            "parameters.hedging_tension=0:30:4",
            "--param parameters.hedging_tension=0:30:4: value 30: parameters.hedging_tension: "
            "30 is above the maximum 20",
        ),
        ("actors.china.attention=-0.5,0.5", "value -0.5: actors[1].attention: -0.5 is below the minimum 0"),
        (
            "shocks.border_clash.month=6,40",
            "value 40: shocks[0].month: 40 is past the horizon (months 1..36)",
        ),
        ("actors..attention=0:1:3", "not a valid PATH"),
    ],
)
def test_bad_paths_and_values_get_the_loaders_messages(param, message):
    with pytest.raises(sw.SweepError) as info:
        plan(param)
    assert message in str(info.value)


def test_invalid_combination_names_the_design_point():
    # Each value alone is valid; together they put severity low above high.
    with pytest.raises(sw.SweepError) as info:
        plan("shocks.border_clash.severity.low=0.1,0.7", "shocks.border_clash.severity.high=0.5,0.95")
    text = str(info.value)
    assert text.startswith(
        "design point 2 (shocks.border_clash.severity.low=0.7, shocks.border_clash.severity.high=0.5)"
    )
    assert "must not exceed high" in text


def test_paths_reach_actors_relations_shocks_and_new_entries():
    p = plan(
        "actors.china.attention=0.2,0.6",
        "relations.tension=0.1,0.5",
        "shocks.border_clash.severity=0.5",
        "actors.kazakhstan.engagement.turkey.security=0.2",
        replicates=2,
    )
    s = sw.point_scenario(p.base.model_dump(mode="json"), p.design.overrides(3))
    assert s.actors[1].attention == 0.6 and s.relations.tension == 0.5
    assert s.shocks[0].severity == 0.5
    assert s.actors[3].engagement["turkey"].security == 0.2


def test_sweep_section_in_the_scenario_file_and_options_over_it(tmp_path):
    path = tmp_path / "swept.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            extends: {MINIMAL}
            sweep:
              params:
                parameters.lock_in: "1:3:3"
                relations.tension: [0.1, 0.3]
              replicates: 5
              months: [12, 36]
              executor: serial
            """
        )
    )
    p = sw.plan_sweep(str(path), sw.SweepOptions())
    assert len(p.design) == 6 and p.replicates == 5 and p.months == (12, 36)
    assert p.options.executor == "serial"
    p2 = sw.plan_sweep(
        str(path), sw.SweepOptions(params=(sw.parse_param("parameters.lock_in=2,4"),), replicates=3)
    )
    assert p2.design.paths == ["parameters.lock_in"] and p2.replicates == 3 and p2.months == (12, 36)
    path.write_text(f"extends: {MINIMAL}\nsweep:\n  design: grd\n")
    with pytest.raises(
        sw.SweepError, match=r"swept.yaml: sweep.design: 'grd' is not one of .*did you mean 'grid'"
    ):
        sw.plan_sweep(str(path), sw.SweepOptions())
    path.write_text(f"extends: {MINIMAL}\nsweep:\n  params: {{parameters.lock_in: '1:x'}}\n")
    with pytest.raises(
        sw.SweepError, match=r"swept.yaml: sweep.params: parameters.lock_in=1:x: 'x' is not a number"
    ):
        sw.plan_sweep(str(path), sw.SweepOptions())


# -------------------------------------------------- identical numbers everywhere


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A 3 x 2 grid x 24 replicates, serial, chunks of 7 replicates."""
    p = plan("parameters.lock_in=1:5:3", "relations.tension=0.1,0.4", chunk_size=7)
    folder = tmp_path_factory.mktemp("ref") / "sweep"
    outcome = sw.run_sweep(p, folder, executor="serial")
    return p, folder, outcome


def test_chunks_hold_every_run_and_match_the_engine(reference):
    p, folder, outcome = reference
    data = chunk_frames(folder)
    assert len(data) == 6 * 24 * len(p.months)
    assert list(data.columns) == ["point", "replicate", "month", *p.measures, *p.recorded]
    # point 4 (lock_in 5, tension 0.1) equals a direct engine run with the same seed
    scenario = load_scenario(MINIMAL, {"parameters.lock_in": 5.0, "relations.tension": 0.1})
    setup = build_setup(scenario)
    direct = engine.run_replicates(
        setup, engine.replicate_seeds(scenario.seed, 24), p.months, np.array(p.column_index)
    )
    mine = data[data["point"] == 4].sort_values(["replicate", "month"])
    assert np.array_equal(
        mine[list(p.measures)].to_numpy(), direct.transpose(1, 0, 2).reshape(-1, len(p.measures))
    )
    # common random numbers: all points share replicate seeds, so a parameter
    # without effect at month 12 on tension would give equal values; here we
    # check the summary is complete instead
    assert len(outcome.summary) == 6 * len(p.months) * len(p.measures)
    assert set(outcome.summary.columns) >= {
        "point",
        "parameters.lock_in",
        "measure",
        "month",
        "mean",
        "median",
        "p5",
        "p95",
    }
    m = json.loads((folder / "manifest.json").read_text())
    assert m["status"] == "complete" and m["identity"]["seed"] == 7
    assert m["identity"]["design"]["points"] == p.design.points.tolist()


@pytest.mark.parametrize(
    ("executor", "chunk_size"),
    [("serial", 24), ("serial", 5), ("process", 7), ("process", 11), ("dask", 7)],
)
def test_identical_numbers_across_executors_and_chunk_sizes(reference, tmp_path, executor, chunk_size):
    _, folder0, outcome0 = reference
    p = plan("parameters.lock_in=1:5:3", "relations.tension=0.1,0.4", chunk_size=chunk_size)
    outcome = sw.run_sweep(p, tmp_path / "s", executor=executor, workers=2)
    pd.testing.assert_frame_equal(chunk_frames(tmp_path / "s"), chunk_frames(folder0), check_exact=True)
    pd.testing.assert_frame_equal(outcome.summary, outcome0.summary, check_exact=True)


def test_dask_joins_a_running_scheduler(reference, tmp_path):
    outcome0 = reference[2]
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as c:
        p = plan("parameters.lock_in=1:5:3", "relations.tension=0.1,0.4", chunk_size=7)
        outcome = sw.run_sweep(p, tmp_path / "s", executor="dask", scheduler=c.scheduler_address)
        runner = make_runner("dask", scheduler=c.scheduler_address)
        try:
            assert c.scheduler_address in runner.description
        finally:
            runner.close()
    pd.testing.assert_frame_equal(outcome.summary, outcome0.summary, check_exact=True)


def test_resume_after_losing_chunks_equals_an_uninterrupted_sweep(reference, tmp_path):
    p, folder0, outcome0 = reference
    folder = tmp_path / "s"
    sw.run_sweep(p, folder, executor="serial")
    files = list(sw.iter_chunk_files(folder))
    for f in files[::3]:
        f.unlink()
    (folder / "summary.csv").unlink()
    (folder / "chunks" / ".r0.parquet.123.tmp").write_bytes(b"half a file")
    with pytest.raises(sw.SweepError, match="already holds a sweep"):
        sw.run_sweep(p, folder, executor="serial")
    outcome = sw.run_sweep(p, folder, executor="serial", resume=True)
    assert outcome.chunks_run == len(files[::3]) and outcome.chunks_skipped == len(files) - len(files[::3])
    assert not list(folder.rglob(".*.tmp"))
    pd.testing.assert_frame_equal(outcome.summary, outcome0.summary, check_exact=True)
    assert (folder / "summary.csv").read_bytes() == (folder0 / "summary.csv").read_bytes()


def test_resume_refuses_a_different_sweep(reference, tmp_path):
    p, _, _ = reference
    folder = tmp_path / "s"
    sw.run_sweep(p, folder, executor="serial", plots=False)
    other = plan("parameters.lock_in=1:5:3", "relations.tension=0.1,0.4", chunk_size=7, replicates=25)
    with pytest.raises(sw.SweepError, match=r"cannot resume .*replicates: 24 in the folder, 25 now"):
        sw.run_sweep(other, folder, resume=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(sw.SweepError, match="not a sweep folder"):
        sw.run_sweep(p, tmp_path / "other")


def test_resume_keeps_the_folders_chunk_size_unless_told_otherwise(tmp_path):
    out = str(tmp_path / "s")
    args = [
        "sweep",
        MINIMAL,
        "-p",
        "parameters.lock_in=1:5:3",
        "-n",
        "12",
        "--executor",
        "serial",
        "--out",
        out,
    ]
    assert invoke(*args, "--chunk-size", "5", "--no-plots").exit_code == 0
    (tmp_path / "s" / "chunks" / "r15.parquet").unlink()  # runs 15-19: points 1 and 2
    r = invoke(*args, "--resume", "--no-plots")
    assert r.exit_code == 0 and "(1 chunk run, 7 already done)" in r.output
    r = invoke(*args, "--resume", "--chunk-size", "6")
    assert r.exit_code == 2 and "chunk_size: 5 in the folder, 6 now" in r.output


# ------------------------------------------------------------------- SIGKILL


def session_processes(sid: int) -> list[int]:
    """Pids of the live processes in session `sid` (Linux /proc)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_result(tmp_path):
    args = [
        "sweep",
        MINIMAL,
        "-p",
        "parameters.lock_in=1:5:5",
        "-p",
        "relations.tension=0.1,0.3,0.5",
        "-n",
        "400",
        "--chunk-size",
        "40",
        "--no-plots",
    ]
    killed = tmp_path / "killed"
    command = [*args, "--executor", "process", "--workers", "2", "--out", str(killed)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "balancesim", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(sw.iter_chunk_files(killed))) < 12:
            time.sleep(0.005)
            assert proc.poll() is None, proc.stderr.read().decode()
        os.kill(proc.pid, signal.SIGKILL)  # the client only: its workers must notice and exit
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session_processes(proc.pid) == [], "worker processes outlived the killed client"
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["status"] == "running"
    assert not (killed / "summary.csv").exists()
    files = list(sw.iter_chunk_files(killed))
    assert 12 <= len(files) < 150
    for f in files:  # every visible chunk file is complete
        meta = pq.read_metadata(f)
        assert meta.num_rows == 40 * 3 and meta.metadata[b"balancesim_sweep"].decode() == manifest["key"]
    r = invoke(*args, "--executor", "serial", "--out", str(killed), "--resume")
    assert r.exit_code == 0, r.output
    assert f"{len(files)} already done" in r.output, (len(files), r.output)
    whole = tmp_path / "whole"
    assert invoke(*args, "--executor", "serial", "--out", str(whole)).exit_code == 0
    assert (killed / "summary.csv").read_bytes() == (whole / "summary.csv").read_bytes()
    pd.testing.assert_frame_equal(chunk_frames(killed), chunk_frames(whole), check_exact=True)


# ------------------------------------------------------------------- Sobol


def test_sobol_indices_of_a_known_function():
    # y = 2 x1 + x2 with x uniform on [0, 1]: variances 4/12 and 1/12, so
    # S1 = ST = 0.8 and 0.2; x3 has no effect.
    params = [sw.parse_param(f"x{i}=0:1") for i in (1, 2, 3)]
    design = sw.make_design("sobol", params, samples=1024, seed=1)
    y = 2 * design.points[:, 0] + design.points[:, 1]
    table = sw.sobol_table(design.problem(), {("y", 60): y}, seed=1)
    got = table.set_index("parameter")
    np.testing.assert_allclose(got["S1"], [0.8, 0.2, 0.0], atol=0.03)
    np.testing.assert_allclose(got["ST"], [0.8, 0.2, 0.0], atol=0.03)
    assert (got["S1_conf"][:2] > 0).all() and (got["S1_conf"] < 0.2).all()


def test_sobol_sweep_end_to_end(tmp_path):
    p = plan(
        "relations.tension=0.05:0.6",
        "parameters.stance_threshold=0.1:0.6",
        design="sobol",
        samples=8,
        replicates=6,
        months=(36,),
    )
    outcome = sw.run_sweep(p, tmp_path / "s", executor="serial", plots=sweep_figures)
    assert len(p.design) == 8 * 4
    s = outcome.sobol
    assert set(s.columns) == {"measure", "month", "parameter", "S1", "S1_conf", "ST", "ST_conf"}
    assert len(s) == len(p.measures) * 2
    # the stance threshold only moves the (non-headline) stance measure: no effect here
    threshold = s[s["parameter"] == "parameters.stance_threshold"]
    assert np.allclose(threshold["ST"].fillna(0), 0, atol=1e-9)
    tension = s[(s["parameter"] == "relations.tension") & (s["measure"] == "tension")]
    assert float(tension["ST"].iloc[0]) > 0.5
    assert (tmp_path / "s" / "sobol.csv").exists() and (tmp_path / "s" / "plots" / "sobol.png").exists()
    # SALib's problem of the design, as written: the indices recomputed from it match
    problem = json.loads((tmp_path / "s" / "problem.json").read_text())
    assert problem == {
        "num_vars": 2,
        "names": ["relations.tension", "parameters.stance_threshold"],
        "bounds": [[0.05, 0.6], [0.1, 0.6]],
    }
    assert problem == p.design.problem()
    # the bars are labelled with the full PATH
    figure = sweep_figures(p, outcome.summary, s, None)["sobol.png"]
    labels = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert labels == ["relations.tension", "parameters.stance_threshold"]


# ---------------------------------------------------------- plots and the CLI


def test_response_curve_and_heatmap_plots(tmp_path):
    one = sw.run_sweep(plan("parameters.lock_in=1:5:3", replicates=4), tmp_path / "one", plots=sweep_figures)
    assert [f.name for f in one.files if f.suffix == ".png"] == ["response.png"]
    two = sw.run_sweep(
        plan("parameters.lock_in=1:5:3", "relations.tension=0.1,0.4", replicates=4),
        tmp_path / "two",
        plots=sweep_figures,
    )
    assert [f.name for f in two.files if f.suffix == ".png"] == ["heatmap.png"]


def test_cli_sweep_writes_the_folder(tmp_path):
    out = tmp_path / "cli"
    r = invoke(
        "sweep",
        MINIMAL,
        "-p",
        "parameters.lock_in=1:5:3",
        "-n",
        "8",
        "--executor",
        "serial",
        "--out",
        str(out),
    )
    assert r.exit_code == 0, r.output
    assert "3 design points x 8 runs = 24 runs" in r.output
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(summary["parameters.lock_in"].unique()) == [1, 3, 5]
    assert set(summary["month"]) == {12, 24, 36}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "parameters.lock_in=0:100:3"], "value 100: parameters.lock_in: 100 is above the maximum 50"),
        (["-p", "parameters.lock_in=1:2"], "a range low:high needs --design lhs, sobol or morris"),
        (["-p", "parameters.lock_in=1:2:3", "--months", "12,99"], "--months: 99 is outside 0..36"),
        (["-p", "parameters.lock_in=1:2:3", "--months", "x"], "--months x: expected whole numbers"),
        (["-p", "parameters.lock_in=1:2:3", "--set", "parameters.nope=1"], "unknown key 'nope'"),
        (
            ["-p", "parameters.lock_in=1:2:3", "--executor", "process", "--scheduler", "tcp://h:1"],
            "--scheduler tcp://h:1: needs --executor dask (not process)",
        ),
        (
            ["-p", "parameters.lock_in=1:2:3", "--executor", "dask", "--scheduler", "nonsense"],
            "expected an address like tcp://HOST:PORT",
        ),
        ([], "nothing to sweep"),
    ],
)
def test_cli_bad_input_exits_2_without_traceback_or_files(tmp_path, args, message):
    out = tmp_path / "never"
    r = invoke("sweep", MINIMAL, *args, "--out", str(out))
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output
    assert not out.exists()


def test_cli_bad_scenario_file_exits_2(tmp_path):
    r = invoke("sweep", str(tmp_path / "missing.yaml"), "-p", "parameters.lock_in=1:2:3")
    assert r.exit_code == 2 and "cannot read the file: no such file" in r.output


def test_missing_dask_gives_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now fails
    with pytest.raises(ExecutorUnavailable, match=r"pip install 'balancesim\[dask\]'"):
        make_runner("dask", 2)
    out = tmp_path / "s"
    r = invoke(
        "sweep", MINIMAL, "-p", "parameters.lock_in=1:2:3", "-n", "2", "--executor", "dask", "--out", str(out)
    )
    assert r.exit_code == 1 and "optional extra" in r.output  # an installation problem, not bad input
    assert not (out / "manifest.json").exists()


# ------------------------------------------------- where work runs and is written


@pytest.mark.parametrize(
    ("key", "value", "option"),
    [("scheduler", "tcp://scheduler.example:8786", "--scheduler"), ("out", "../elsewhere", "--out")],
)
def test_a_scenario_file_cannot_say_where_work_runs_or_is_written(tmp_path, key, value, option):
    path = tmp_path / "remote.yaml"
    path.write_text(
        f"extends: {MINIMAL}\nsweep:\n  params: {{parameters.lock_in: '1:2:2'}}\n  {key}: {value}\n"
    )
    for args in (["check", str(path)], ["sweep", str(path), "--out", str(tmp_path / "s")]):
        r = invoke(*args)
        assert r.exit_code == 2, r.output
        assert r.output.strip() == (
            f"{path}:4: sweep.{key}: not allowed in a scenario file: where a sweep runs and where it "
            f"writes come from the command line only; use {option}"
        )
    assert not (tmp_path / "s").exists()


INTRUDER = """
import sys, distributed
security = distributed.security.Security.temporary() if sys.argv[2] == "tls" else None
try:
    client = distributed.Client(sys.argv[1], timeout="5s", security=security)
except BaseException as e:
    print("refused:", type(e).__name__)
    sys.exit(3)
print("connected", client.submit(sum, [1, 2]).result())
"""


def test_local_dask_cluster_admits_only_its_own_client():
    """Another local process (another user) cannot connect to a sweep's cluster, with or without TLS."""
    runner = make_runner("dask", 1)
    try:
        address = runner.cluster.scheduler_address
        assert address.startswith("tls://127.0.0.1:")
        for target, credentials in (
            (address, "none"),
            (address, "tls"),
            (address.replace("tls", "tcp"), "none"),
        ):
            r = subprocess.run(
                [sys.executable, "-c", INTRUDER, target, credentials],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert r.returncode == 3 and r.stdout.startswith("refused"), (
                target,
                credentials,
                r.stdout,
                r.stderr,
            )
        # No dashboard, and the HTTP server Dask always starts answers nothing.
        port = runner.cluster.scheduler.services["dashboard"].port
        for page in ("/status", "/info/main/workers.html", "/json/identity.json", "/health", "/metrics"):
            with pytest.raises(urllib.error.HTTPError, match="404"):
                urllib.request.urlopen(f"http://127.0.0.1:{port}{page}", timeout=5)
        assert [r for _, r in runner.map_unordered(pow, 2, [3])] == [8]
    finally:
        runner.close()


# ------------------------------------------------------------ one writer only


SLOW = [
    "-p",
    "parameters.lock_in=1:5:5",
    "-n",
    "400",
    "--chunk-size",
    "20",
    "--executor",
    "serial",
    "--no-plots",
]


def test_a_second_writer_of_a_sweep_folder_is_refused_with_exit_1(tmp_path):
    """A sweep runs in another process; a second sweep and a --resume into its folder are refused."""
    out = tmp_path / "s"
    proc = subprocess.Popen(
        [sys.executable, "-m", "balancesim", "sweep", MINIMAL, *SLOW, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(sw.iter_chunk_files(out)):
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.02)
        for extra in ([], ["--resume"]):
            r = invoke("sweep", MINIMAL, *SLOW, "--out", str(out), *extra)
            assert r.exit_code == 1, r.output
            assert "another balancesim command is writing this folder" in r.output
            assert len(r.output.strip().splitlines()) == 1
        assert proc.poll() is None, "the first sweep must still be running (make SLOW slower)"
    finally:
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["chunks_skipped"] == 0
    files = list(sw.iter_chunk_files(out))
    assert len(files) == manifest["chunks"]
    assert {pq.read_metadata(f).metadata[b"balancesim_sweep"].decode() for f in files} == {manifest["key"]}


# --------------------------------------------------------------- damaged chunks


def test_a_damaged_chunk_is_found_recomputed_and_reported(reference, tmp_path):
    p, folder0, outcome0 = reference
    folder = tmp_path / "s"
    sw.run_sweep(p, folder, executor="serial", plots=False)
    index = sw.ChecksumIndex(folder).load()
    assert set(index.entries) == {c.name for c in p.chunks()}
    victim = folder / "chunks" / p.chunks()[4].name  # one flipped bit in the middle of the file
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x40
    victim.write_bytes(bytes(data))
    # and one in a data page of another chunk, which Parquet's page checksums catch on reading
    paged = folder / "chunks" / p.chunks()[9].name
    column = pq.read_metadata(paged).row_group(0).column(3)
    data = bytearray(paged.read_bytes())
    data[column.data_page_offset + column.total_compressed_size // 2] ^= 0x40
    paged.write_bytes(bytes(data))
    with pytest.raises(OSError):
        pq.read_table(paged, page_checksum_verification=True)
    told = []
    outcome = sw.run_sweep(p, folder, executor="serial", resume=True, plots=False, notify=told.append)
    assert told == [
        f"2 chunk file(s) damaged (checksum mismatch or unreadable): chunks/{victim.name}, "
        f"chunks/{paged.name}; recomputing them"
    ]
    assert outcome.chunks_run == 2
    pd.testing.assert_frame_equal(outcome.summary, outcome0.summary, check_exact=True)
    assert (folder / "summary.csv").read_bytes() == (folder0 / "summary.csv").read_bytes()


def test_a_chunk_damaged_during_the_sweep_is_recomputed_before_summarising(reference, tmp_path):
    """Every chunk is checked again before the summary: one damaged after it was written is rerun."""
    p, folder0, outcome0 = reference
    folder = tmp_path / "s"
    first = folder / "chunks" / p.chunks()[0].name  # runs 0-6, all of point 0
    damaged = []

    def damage_first_chunk(runs: int, complete: int) -> None:
        if not damaged:
            data = bytearray(first.read_bytes())
            data[len(data) // 2] ^= 0x40
            first.write_bytes(bytes(data))
            damaged.append(first.name)

    told = []
    outcome = sw.run_sweep(
        p, folder, executor="serial", plots=False, progress=damage_first_chunk, notify=told.append
    )
    assert damaged and told == [
        f"1 chunk file(s) damaged (checksum mismatch or unreadable): chunks/{first.name}; recomputing them"
    ]
    assert json.loads((folder / "manifest.json").read_text())["chunks_recomputed"] == 1
    pd.testing.assert_frame_equal(outcome.summary, outcome0.summary, check_exact=True)
    assert (folder / "summary.csv").read_bytes() == (folder0 / "summary.csv").read_bytes()


def test_a_chunk_without_a_recorded_checksum_is_checked_page_by_page(reference, tmp_path):
    """A process killed between writing a chunk and recording its checksum: the chunk is still used."""
    p, _, outcome0 = reference
    folder = tmp_path / "s"
    sw.run_sweep(p, folder, executor="serial", plots=False)
    index = folder / "checksums.jsonl"
    lines = index.read_text().splitlines()
    index.write_text("\n".join(lines[:-2]) + "\n" + lines[-2][:20])  # two lost lines, one torn
    outcome = sw.run_sweep(p, folder, executor="serial", resume=True, plots=False)
    assert outcome.chunks_run == 0
    pd.testing.assert_frame_equal(outcome.summary, outcome0.summary, check_exact=True)
    assert len(sw.ChecksumIndex(folder).load().entries) == len(p.chunks())


# ------------------------------------------------------------ broken executors


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_killed_worker_process_is_one_line_exit_1_and_resumable(tmp_path):
    args = ["-p", "parameters.lock_in=1:5:5", "-n", "400", "--chunk-size", "20", "--no-plots"]
    out = tmp_path / "s"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "balancesim.cli.main",
            "sweep",
            MINIMAL,
            *args,
            "--executor",
            "process",
            "--workers",
            "2",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(sw.iter_chunk_files(out))) < 3:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.01)
        client = psutil.Process(proc.pid)
        workers = [c for c in client.children(recursive=True) if c.ppid() != proc.pid]  # the forkserver's
        assert workers
        workers[0].kill()
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, stderr.decode()
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert "Traceback" not in stderr.decode()
    assert lines[-1].startswith("error: a worker process died") and "add --resume to continue" in lines[-1]
    r = invoke("sweep", MINIMAL, *args, "--executor", "serial", "--out", str(out), "--resume")
    assert r.exit_code == 0, r.output
    whole = tmp_path / "whole"
    assert invoke("sweep", MINIMAL, *args, "--executor", "serial", "--out", str(whole)).exit_code == 0
    assert (out / "summary.csv").read_bytes() == (whole / "summary.csv").read_bytes()


def _slow_square(shared: float, item: int) -> int:
    time.sleep(shared)
    return item * item


def test_losing_every_dask_worker_fails_cleanly(tmp_path):
    """Workers lost mid-sweep: ExecutorFailed, not a hang; a cluster without workers: exit 1, resumable."""
    from balancesim.experiment.executors import DaskRunner, ExecutorFailed

    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as c:
        runner = DaskRunner(1, scheduler=c.scheduler_address, no_workers_s=1)
        try:
            with pytest.raises(ExecutorFailed, match=r"Dask workers were lost|every Dask worker is gone"):
                for i, _ in enumerate(runner.map_unordered(_slow_square, 0.2, range(20))):
                    if i == 1:
                        c.scale(0)
        finally:
            runner.close()
        out = tmp_path / "s"
        args = ["-p", "parameters.lock_in=1:5:3", "-n", "8", "--no-plots", "--out", str(out)]
        r = invoke("sweep", MINIMAL, *args, "--executor", "dask", "--scheduler", c.scheduler_address)
    assert r.exit_code == 1, r.output
    *_, last = r.output.strip().splitlines()
    assert last.startswith("error: no Dask worker to run the sweep") and "add --resume" in last
    assert "Traceback" not in r.output
    assert invoke("sweep", MINIMAL, *args, "--executor", "serial", "--resume").exit_code == 0


def test_an_unreachable_scheduler_exits_1(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "s"
    r = invoke(
        "sweep",
        MINIMAL,
        "-p",
        "parameters.lock_in=1:2:2",
        "-n",
        "2",
        "--scheduler",
        f"tcp://127.0.0.1:{port}",
        "--out",
        str(out),
    )
    assert r.exit_code == 1, r.output
    assert f"cannot connect to the Dask scheduler at tcp://127.0.0.1:{port}" in r.output
    assert not out.exists()


# ------------------------------------------------------------ --posterior


def test_posterior_draws_are_chunk_independent_and_keep_the_design(tmp_path):
    """`sweep --posterior`: each run draws the posterior PATHs the design does not set, by replicate."""
    from balancesim.scenario.posterior import read_posterior

    folder = tmp_path / "post"
    folder.mkdir()
    frame = pd.DataFrame(
        {"parameters.lock_in": [1.0, 5.0], "parameters.opinion_weight": [0.1, 0.9], "weight": [0.5, 0.5]}
    )
    frame.to_parquet(folder / "posterior.parquet", index=False)
    options = dict(params=(sw.parse_param("parameters.lock_in=2:4:2"),), design="grid", replicates=8)
    frames = []
    for size in (3, 8, 16):
        p = sw.plan_sweep(MINIMAL, sw.SweepOptions(**options, chunk_size=size), posterior=folder)
        assert p.posterior.paths == ["parameters.opinion_weight"]  # the design's PATH is not drawn
        sw.run_sweep(p, tmp_path / f"s{size}", executor="serial", plots=False)
        frames.append(chunk_frames(tmp_path / f"s{size}"))
    for other in frames[1:]:
        pd.testing.assert_frame_equal(other, frames[0], check_exact=True)
    # Point 1 (lock_in 4 from the design) equals the engine run with the posterior's draws of
    # replicates 0..7: the particles of point 0's replicates, and of `run --posterior`'s.
    scenario = load_scenario(MINIMAL)
    drawn = read_posterior(folder, scenario).draw(scenario.seed, 8, first=0)
    assert set(drawn["parameters.lock_in"]) == {1.0, 5.0}  # what the posterior would have given
    values = {
        "parameters.lock_in": np.full(8, 4.0),
        "parameters.opinion_weight": drawn["parameters.opinion_weight"],
    }
    direct = engine.run_replicates(
        build_setup(scenario),
        engine.replicate_seeds(scenario.seed, 8),
        p.months,
        np.array(p.column_index),
        values=values,
    )
    mine = frames[0][frames[0]["point"] == 1].sort_values(["replicate", "month"])
    assert np.array_equal(
        mine[list(p.measures)].to_numpy(), direct.transpose(1, 0, 2).reshape(-1, len(p.measures))
    )
    plain = sw.plan_sweep(MINIMAL, sw.SweepOptions(**options, chunk_size=8))
    sw.run_sweep(plain, tmp_path / "plain", executor="serial", plots=False)
    assert not chunk_frames(tmp_path / "plain").equals(frames[0])  # the posterior changed the runs
    assert "posterior" in json.loads((tmp_path / "s8" / "manifest.json").read_text())["identity"]


def test_a_scenarios_own_posterior_is_drawn_and_paired_across_points(tmp_path):
    """`uncertainty: {posterior: DIR}` in the scenario acts as `--posterior DIR` does, and
    replicate k draws the same particle at every design point (paired differences)."""
    folder = tmp_path / "post"
    folder.mkdir()
    pd.DataFrame({"parameters.opinion_weight": [0.05, 0.95], "weight": [0.5, 0.5]}).to_parquet(
        folder / "posterior.parquet", index=False
    )
    own = tmp_path / "own.yaml"
    own.write_text(f"extends: {MINIMAL}\nuncertainty:\n  posterior: post\n")
    options = sw.SweepOptions(
        params=(sw.parse_param("parameters.lock_in=2:4:2"),), design="grid", replicates=6, chunk_size=4
    )
    by_file = sw.plan_sweep(own, options)
    by_flag = sw.plan_sweep(MINIMAL, options, posterior=folder)
    assert by_file.posterior is not None and by_file.posterior.paths == ["parameters.opinion_weight"]
    sw.run_sweep(by_file, tmp_path / "file", executor="serial", plots=False)
    sw.run_sweep(by_flag, tmp_path / "flag", executor="serial", plots=False)
    a, b = chunk_frames(tmp_path / "file"), chunk_frames(tmp_path / "flag")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    picked = by_file.posterior.draw(by_file.seed, 6)["parameters.opinion_weight"]
    assert set(picked) == {0.05, 0.95}  # both particles occur, so pairing is visible
    from balancesim.sweep.worker import posterior_values

    replicate = np.array([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5])  # points 0 and 1
    values = posterior_values(by_file.posterior, by_file.seed, replicate)["parameters.opinion_weight"]
    assert np.array_equal(values[:6], values[6:]) and np.array_equal(values[:6], picked)


def test_sweep_bad_posterior_exits_2(tmp_path):
    r = invoke("sweep", MINIMAL, "-p", "parameters.lock_in=2:4:2", "--posterior", str(tmp_path / "nope"))
    assert r.exit_code == 2 and "--posterior: " in r.output and "no such folder" in r.output
