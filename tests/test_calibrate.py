"""`balancesim calibrate`: end to end on a tiny budget, recovery of known values, posterior folders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import elfi  # noqa: F401  (declared: a broken install fails here instead of skipping)
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from balancesim.analysis.targets import TargetFile, dump_targets, load_targets
from balancesim.calibration.problem import build_problem
from balancesim.calibration.smc import Budget, run_smc
from balancesim.cli.main import main
from balancesim.scenario.files import load_scenario
from balancesim.scenario.posterior import PosteriorError, read_posterior

from .conftest import ROOT

BASELINE = str(ROOT / "scenarios" / "baseline.yaml")
TARGETS = str(ROOT / "targets" / "central_asia_2021_2023.yaml")


def test_calibrate_tiny_budget_end_to_end(tmp_path):
    out = tmp_path / "cal"
    result = CliRunner().invoke(
        main,
        [
            "calibrate",
            "--method",
            "smc",
            BASELINE,
            "--targets",
            TARGETS,
            "--budget",
            "20",
            "--seed",
            "5",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert {"posterior.parquet", "manifest.json", "report.md", "marginals.png", "predictive.png"} <= names
    assert not list(tmp_path.glob(".*partial"))
    manifest = json.loads((out / "manifest.json").read_text())
    posterior = pd.read_parquet(out / "posterior.parquet")
    assert list(posterior.columns) == [*manifest["parameters"], "weight"]
    assert len(posterior) == 20 and np.isclose(posterior["weight"].sum(), 1.0)
    assert manifest["seed"] == 5 and manifest["budget"]["particles"] == 20
    for path in manifest["parameters"]:  # each parameter named as informed or uninformative
        assert path in result.output
    assert result.output.count(": uninformative") == len(manifest["parameters"]) - len(manifest["informed"])
    assert manifest["versions"]["elfi"] == "0.8.8"
    for pop in manifest["populations"]:
        assert 0 < pop["acceptance"] <= 1 and 1 <= pop["ess"] <= 20
    report = (out / "report.md").read_text()
    assert "Effective sample size" in report and "informed" in report
    for ident in load_targets(TARGETS).ids:  # every target in the posterior predictive
        assert f"| {ident} |" in report
    # The posterior folder is usable as is.
    read_posterior(out, load_scenario(BASELINE))


def test_calibrate_folder_is_locked_and_checked(tmp_path):
    """As `validate --out`: a second writer exits 1 and a user's folder exits 2, before any run."""
    from balancesim.experiment.folders import locked

    out = tmp_path / "cal"
    args = [
        "calibrate",
        "--method",
        "smc",
        BASELINE,
        "--targets",
        TARGETS,
        "--budget",
        "20",
        "--out",
        str(out),
    ]
    with locked(out):  # exclusive within a process too
        r = CliRunner().invoke(main, args)
    assert r.exit_code == 1, r.output
    assert "another balancesim command is writing this folder" in r.output and "Traceback" not in r.output
    assert not out.exists() and not list(tmp_path.glob(".*.partial"))
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert "does not hold an earlier calibration" in r.output
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_calibrate_bad_input_exits_2(tmp_path):
    runner = CliRunner()
    r = runner.invoke(
        main, ["calibrate", "--method", "smc", BASELINE, "--targets", TARGETS, "--budget", "lots"]
    )
    assert r.exit_code == 2 and "--budget lots" in r.output
    r = runner.invoke(
        main, ["calibrate", "--method", "smc", BASELINE, "--targets", TARGETS, "--param", "parameters.nope"]
    )
    assert r.exit_code == 2 and "--param parameters.nope: not one of the scenario's priors" in r.output
    assert not (tmp_path / "results").exists()


def _synthetic(tmp_path, truth_u: dict[str, float], ids: list[str], seed: int = 11):
    """A scenario with only the given priors, and a target file made by the model at known values.

    The targets are the project's `ids` (their measures and periods) with the
    mean statistic of 400 runs at the known values as the observed value and
    the run-to-run sd as its uncertainty.
    """
    from scipy.special import ndtri

    base = load_scenario(BASELINE)
    scenario = base.model_copy(update={"uncertainty": {p: base.uncertainty[p] for p in truth_u}})
    project = load_targets(TARGETS)
    problem = build_problem(scenario, project)
    z = np.tile([ndtri(truth_u[p]) for p in problem.paths], (400, 1))
    truth = {p: float(v[0]) for p, v in problem.values(z[:1]).items()}
    stats = problem.simulate(z, seed)
    targets = {}
    for k, (ident, t) in enumerate(project):
        if ident not in ids:
            continue
        fields = t.model_dump(
            exclude_none=True, exclude={"range", "value", "uncertainty", "mapping", "event", "occurred"}
        )
        fields |= {"value": float(stats[:, k].mean()), "uncertainty": max(float(stats[:, k].std()), 1e-3)}
        targets[ident] = fields
    spec = TargetFile.model_validate({"name": "synthetic", "targets": targets})
    file = tmp_path / "synthetic.yaml"
    file.write_text(dump_targets(spec))
    return scenario, load_targets(file), truth


def _distance(x: float, low: float, high: float) -> float:
    """How far x lies outside [low, high] (0 inside)."""
    return max(low - x, x - high, 0.0)


def test_recovers_known_values_from_synthetic_targets(tmp_path):
    """Truths OUTSIDE the prior's 90% band (quantiles 0.02 and 0.98): the prior alone neither holds
    them nor points at them, so each check below needs information from the targets."""
    truth_u = {
        "actors.tajikistan.engagement.russia.security": 0.02,
        "actors.kyrgyzstan.engagement.china.economy": 0.98,
    }
    # the quantitative targets these two inform: their own country's share, or gap, with that power
    scenario, targets, truth = _synthetic(tmp_path, truth_u, ["tj_russia_arms", "kg_china_russia_gap_2023"])
    problem = build_problem(scenario, targets)
    budget = Budget("test", 300, (0.2, 0.5, 0.5, 0.5), 20_000, 300)
    from balancesim.calibration.report import parameter_table

    # Four independent calibrations (one seed alone is luck either way). In every one, for
    # each value: the posterior mean moves from the prior mean at least a third of the way to
    # the truth, and the posterior's 90% band ends at most a quarter as far from the truth as
    # the prior's. The data narrow the band (posterior sd under 0.8 of the prior's) in at
    # least three of the four. A simulator that ignores its parameters fails all three
    # (moved about 0, same band, sd ratio about 1).
    informed = dict.fromkeys(truth, 0)
    for seed in (1, 2, 3, 4):
        post = run_smc(problem, budget, seed=seed).posterior
        table = parameter_table(problem, problem.values(post.z), post.weights).set_index("path")
        for path, true in truth.items():
            row = table.loc[path]
            where = (seed, path, true, row.to_dict())
            prior_gap = _distance(true, row.prior_p5, row.prior_p95)
            assert prior_gap > 0, where  # the premise: the prior's band misses the truth
            moved = (row.posterior_mean - row.prior_mean) / (true - row.prior_mean)
            assert moved > 1 / 3, where
            assert _distance(true, row.posterior_p5, row.posterior_p95) <= prior_gap / 4, where
            informed[path] += bool(row.sd_ratio < 0.8)
        assert post.ess > 0.2 * len(post.weights)
    assert all(n >= 3 for n in informed.values()), informed


def test_same_seed_same_posterior(tmp_path):
    truth_u = {"actors.tajikistan.engagement.russia.security": 0.5}
    scenario, targets, _ = _synthetic(tmp_path, truth_u, ["tj_russia_arms"])
    budget = Budget("test", 30, (0.3, 0.5), 2_000, 30)
    a = run_smc(build_problem(scenario, targets), budget, seed=9).posterior
    b = run_smc(build_problem(scenario, targets), budget, seed=9).posterior
    np.testing.assert_array_equal(a.z, b.z)
    np.testing.assert_array_equal(a.weights, b.weights)


def _posterior_folder(tmp_path, frame: pd.DataFrame, name: str = "post"):
    folder = tmp_path / name
    folder.mkdir()
    frame.to_parquet(folder / "posterior.parquet", index=False)
    return folder


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"parameters.lock_in": [3.0]}), "no 'weight' column"),
        (pd.DataFrame({"parameters.nope": [3.0], "weight": [1.0]}), "column 'parameters.nope'"),
        (pd.DataFrame({"parameters.lock_in": [-3.0], "weight": [1.0]}), "outside the value's range"),
        (pd.DataFrame({"parameters.lock_in": [3.0], "weight": [-1.0]}), "weights must be at least 0"),
        (pd.DataFrame({"parameters.lock_in": [np.nan], "weight": [1.0]}), "missing or infinite"),
    ],
)
def test_broken_posterior_folders(tmp_path, frame, message):
    folder = _posterior_folder(tmp_path, frame)
    with pytest.raises(PosteriorError, match=message):
        read_posterior(folder, load_scenario(BASELINE))


def test_missing_posterior_folder_or_file(tmp_path):
    with pytest.raises(PosteriorError, match="no such folder"):
        read_posterior(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PosteriorError, match=r"posterior\.parquet: missing"):
        read_posterior(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "posterior.parquet").write_text("not parquet")
    with pytest.raises(PosteriorError, match="not a readable Parquet file"):
        read_posterior(tmp_path / "bad")


def test_posterior_draws_are_weighted_reproducible_and_chunk_independent(tmp_path):
    frame = pd.DataFrame({"parameters.lock_in": [2.0, 3.0, 4.0], "weight": [0.0, 0.25, 0.75]})
    post = read_posterior(_posterior_folder(tmp_path, frame), load_scenario(BASELINE))
    whole = post.draw(7, 4000)["parameters.lock_in"]
    parts = np.concatenate([post.draw(7, 1000, first=f)["parameters.lock_in"] for f in range(0, 4000, 1000)])
    np.testing.assert_array_equal(whole, parts)
    assert 2.0 not in whole  # weight 0 is never picked
    assert abs(np.mean(whole == 4.0) - 0.75) < 0.03
    assert not np.array_equal(whole, post.draw(8, 4000)["parameters.lock_in"])


def test_interrupted_calibration_leaves_nothing(tmp_path):
    out = tmp_path / "cal"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "balancesim.cli.main",
            "calibrate",
            "--method",
            "smc",
            BASELINE,
            "--targets",
            TARGETS,
            "--budget",
            "5000",
            "--out",
            str(out),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until the calibration is under way
        if "screening" in line:
            break
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130, rest
    assert "interrupted: nothing written" in rest
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] in ([], [".cal.lock"])  # only the lock file may stay


def _scenario_with_posterior(tmp_path, folder_text: str) -> str:
    file = tmp_path / "calibrated.yaml"
    file.write_text(
        f"extends: {BASELINE}\n"
        "name: Calibrated baseline\n"
        "replicates: 40\n"
        "uncertainty:\n"
        f"  posterior: {folder_text}\n"
    )
    return str(file)


def test_scenario_posterior_is_drawn_from(tmp_path):
    frame = pd.DataFrame({"parameters.lock_in": [2.5, 4.0], "weight": [0.5, 0.5]})
    _posterior_folder(tmp_path, frame)
    scenario = load_scenario(_scenario_with_posterior(tmp_path, "post"))  # relative to the file
    assert scenario.posterior is not None
    from balancesim.scenario.uncertainty import draw

    values = draw(scenario, 3, 200)
    assert set(values["parameters.lock_in"]) == {2.5, 4.0}
    assert "parameters.hedging_tension" in values  # the other priors are still drawn
    out = tmp_path / "res"
    r = CliRunner().invoke(
        main, ["run", _scenario_with_posterior(tmp_path, "post"), "--out", str(out), "--no-plots"]
    )
    assert r.exit_code == 0, r.output
    params = pd.read_parquet(next(out.rglob("params.parquet")))
    assert set(params["parameters.lock_in"]) <= {2.5, 4.0}


def test_run_with_posterior_option(tmp_path):
    frame = pd.DataFrame({"parameters.lock_in": [2.5, 4.0], "weight": [1.0, 0.0]})
    folder = _posterior_folder(tmp_path, frame)
    out = tmp_path / "res"
    args = ["run", BASELINE, "-n", "30", "--out", str(out), "--no-plots", "--posterior", str(folder)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    params = pd.read_parquet(next(out.rglob("params.parquet")))
    assert set(params["parameters.lock_in"]) == {2.5}


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (None, "no such folder"),
        (pd.DataFrame({"parameters.nope": [3.0], "weight": [1.0]}), "column 'parameters.nope'"),
        (pd.DataFrame({"parameters.lock_in": [99.0], "weight": [1.0]}), "outside the value's range"),
        (pd.DataFrame({"parameters.lock_in": [3.0], "w": [1.0]}), "no 'weight' column"),
    ],
)
def test_broken_posterior_gives_clean_errors(tmp_path, frame, message):
    if frame is not None:
        _posterior_folder(tmp_path, frame)
    file = _scenario_with_posterior(tmp_path, "post")
    r = CliRunner().invoke(main, ["check", file])
    assert r.exit_code == 2
    assert f"{file}:5: uncertainty.posterior: " in r.output and message in r.output
    assert "Traceback" not in r.output
    r = CliRunner().invoke(main, ["run", BASELINE, "-n", "5", "--posterior", str(tmp_path / "post")])
    assert r.exit_code == 2 and r.output.startswith("--posterior: ") and message in r.output


def test_set_fixes_a_value_the_posterior_covers(tmp_path):
    frame = pd.DataFrame({"parameters.lock_in": [2.5, 4.0], "weight": [0.5, 0.5]})
    _posterior_folder(tmp_path, frame)
    file = _scenario_with_posterior(tmp_path, "post")
    from balancesim.scenario.uncertainty import draw

    fixed = load_scenario(file, {"parameters.lock_in": 3.0})
    assert "parameters.lock_in" not in draw(fixed, 3, 10)
    assert set(draw(load_scenario(file), 3, 50)["parameters.lock_in"]) == {2.5, 4.0}
