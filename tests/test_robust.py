"""`validate --robust`: the share of prior draws in which a check and its knock-outs hold."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from balancesim.cli.main import main
from balancesim.scenario.files import load_scenario
from balancesim.scenario.uncertainty import draw
from balancesim.validation import Arm, Check, KnockOut, Threshold
from balancesim.validation.robust import run_robust

from .conftest import ROOT

MINIMAL = ROOT / "tests" / "data" / "minimal.yaml"
PRIOR = """
uncertainty:
  relations.tension: {distribution: uniform, low: 0.05, high: 0.6}
  parameters.lock_in: {distribution: uniform, low: 1, high: 4}
"""


@pytest.fixture
def scenarios(tmp_path):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "baseline.yaml").write_text(MINIMAL.read_text() + PRIOR)
    return folder


def tension_check() -> Check:
    """Holds when the initial tension is at least 0.3: true in a known share of the prior."""

    def measure(runs, stats):
        return [stats.mean(runs["base"].values("region", "tension")[0])]

    return Check(
        id="T",
        pattern="T",
        claims="-",
        title="Tension starts high",
        statement="",
        experiment="",
        arms={"base": Arm.of("base", "baseline.yaml")},
        columns=(("region", "tension"),),
        thresholds=(Threshold("initial tension", ">=", 0.3, "by construction"),),
        measure=measure,
        knockouts=(KnockOut("tension = 0.1", "sets the tension itself", {"relations.tension": 0.1}),),
        plot=lambda *a: None,
    )


def test_share_of_draws_is_the_share_of_the_prior_where_the_check_holds(scenarios):
    result = run_robust(draws=40, runs=5, seed=3, scenario_dir=scenarios, checks=[tension_check()])
    drawn = draw(load_scenario(scenarios / "baseline.yaml"), 3, 40)["relations.tension"]
    r = result.checks[0]
    assert r.shares.counts == {
        "pass": int((drawn >= 0.3).sum()),
        "fail": int((drawn < 0.3).sum()),
        "unclear": 0,
    }
    assert 0 < r.shares.share("pass") < 1
    # the knock-out sets the tension itself: it is not drawn over, and the check always fails
    assert r.knockouts[0][0] == "tension = 0.1" and r.knockouts[0][1].share("fail") == 1.0
    assert result.paths == ["parameters.lock_in", "relations.tension"]
    assert result.runs_simulated == 2 * 40 * 5  # two arms


def tension_below_check() -> Check:
    """Holds when the initial tension is at most 0.45: overlaps `tension_check` in part of the prior."""
    import dataclasses

    return dataclasses.replace(
        tension_check(),
        id="U",
        title="Tension starts moderate",
        thresholds=(Threshold("initial tension", "<=", 0.45, "by construction"),),
        knockouts=(),
    )


def test_joint_share_is_the_share_of_draws_where_every_check_passes(scenarios):
    """Not the product or the minimum of the checks' shares: the draws where all pass at once."""
    result = run_robust(
        draws=40, runs=5, seed=3, scenario_dir=scenarios, checks=[tension_check(), tension_below_check()]
    )
    tension = draw(load_scenario(scenarios / "baseline.yaml"), 3, 40)["relations.tension"]
    both = (tension >= 0.3) & (tension <= 0.45)
    assert result.joint.counts["pass"] == int(both.sum())
    assert result.joint.counts["fail"] == 40 - int(both.sum())
    shares = [c.shares.share("pass") for c in result.checks]
    assert 0 < result.joint_pass < min(shares)


def test_blocks_of_draws_do_not_change_the_verdicts(scenarios, monkeypatch):
    from balancesim.validation import robust

    one = run_robust(draws=7, runs=4, seed=3, scenario_dir=scenarios, checks=[tension_check()])
    monkeypatch.setattr(robust, "BLOCK_RUNS", 8)  # two draws per block
    blocks = run_robust(draws=7, runs=4, seed=3, scenario_dir=scenarios, checks=[tension_check()])
    assert one.checks[0].shares.counts == blocks.checks[0].shares.counts


def test_without_a_prior_validate_robust_exits_2(tmp_path):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "baseline.yaml").write_text(MINIMAL.read_text())
    r = CliRunner().invoke(
        main, ["validate", "--robust", "--scenarios", str(folder), "--out", str(tmp_path / "v")]
    )
    assert r.exit_code == 2 and "no uncertainty: section" in r.output


def test_cli_robust_writes_the_shares(tmp_path):
    # The project's baseline and checks, at the smallest cost: one draw, 20 runs per arm.
    r = CliRunner().invoke(
        main, ["validate", "--robust", "--draws", "1", "-n", "20", "--out", str(tmp_path / "v")]
    )
    assert r.exit_code == 0, r.output
    assert "Robustness over the baseline's prior: 1 draw of" in r.output
    data = json.loads((tmp_path / "v" / "robust.json").read_text())
    patterns = {row["pattern"] for row in data["rows"]}
    assert {"P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"} <= patterns
    assert all(
        np.isclose(row["share_pass"] + row["share_fail"] + row["share_unclear"], 1) for row in data["rows"]
    )
    assert (tmp_path / "v" / "robust.csv").exists()
    assert set(data["joint"]) == {"rule", "share_pass", "share_fail", "share_unclear"}
    assert "All checks pass together in" in r.output


def test_robust_into_a_folder_another_command_writes_exits_1(tmp_path):
    """The folder is locked as `validate` locks it: a second writer stops at once, writing nothing."""
    from balancesim.experiment.folders import locked

    out = tmp_path / "v"
    with locked(out):  # exclusive within a process too
        r = CliRunner().invoke(main, ["validate", "--robust", "--draws", "1", "-n", "20", "--out", str(out)])
    assert r.exit_code == 1, r.output
    assert "another balancesim command is writing this folder" in r.output
    assert "Traceback" not in r.output
    assert not (out / "robust.csv").exists() and not (out / "robust.json").exists()


def _posterior(tmp_path, tension: list[float], weight: list[float]):
    import pandas as pd

    folder = tmp_path / "calibration"
    folder.mkdir()
    frame = pd.DataFrame({"relations.tension": tension, "weight": weight})
    frame.to_parquet(folder / "posterior.parquet", index=False)
    return folder


def test_posterior_draws_replace_the_prior_of_the_paths_it_covers(scenarios, tmp_path):
    """Over the prior the check holds in part of the draws; a posterior that puts all its weight
    on a tension above the threshold makes it hold in every draw, and the other prior is still drawn."""
    prior = run_robust(draws=30, runs=4, seed=3, scenario_dir=scenarios, checks=[tension_check()])
    assert 0 < prior.checks[0].shares.share("pass") < 1 and prior.posterior is None
    folder = _posterior(tmp_path, [0.1, 0.5], [0.0, 1.0])
    post = run_robust(
        draws=30, runs=4, seed=3, scenario_dir=scenarios, checks=[tension_check()], posterior=folder
    )
    assert post.checks[0].shares.counts == {"pass": 30, "fail": 0, "unclear": 0}
    assert post.posterior == str(folder)
    assert post.paths == ["parameters.lock_in", "relations.tension"]
    # the knock-out still sets the tension itself, over the posterior as over the prior
    assert post.checks[0].knockouts[0][1].share("fail") == 1.0
    (tmp_path / "low").mkdir()
    low = _posterior(tmp_path / "low", [0.1, 0.5], [1.0, 0.0])
    fails = run_robust(
        draws=30, runs=4, seed=3, scenario_dir=scenarios, checks=[tension_check()], posterior=low
    )
    assert fails.checks[0].shares.counts["fail"] == 30


def test_validate_posterior_errors_exit_2(tmp_path):
    r = CliRunner().invoke(main, ["validate", "--posterior", str(tmp_path), "--out", str(tmp_path / "v")])
    assert r.exit_code == 2 and "--posterior: only with --robust" in r.output
    args = ["validate", "--robust", "--draws", "1", "-n", "20", "--out", str(tmp_path / "v")]
    r = CliRunner().invoke(main, [*args, "--posterior", str(tmp_path / "nope")])
    assert r.exit_code == 2 and r.output.startswith("--posterior: ") and "no such folder" in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "v" / "robust.json").exists()


def test_cli_robust_over_a_posterior(tmp_path):
    folder = _posterior(tmp_path, [0.15, 0.25], [0.5, 0.5])
    out = tmp_path / "v"
    args = ["validate", "--robust", "--draws", "2", "-n", "20", "--out", str(out), "--posterior", str(folder)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "Robustness over the baseline's posterior" in r.output
    data = json.loads((out / "robust.json").read_text())
    assert data["posterior"] == str(folder) and "relations.tension" in data["uncertain_paths"]


def test_cli_defaults_are_the_modules():
    """`--draws` is written out in validate_command.py (importing robust.py would load numpy for --help)."""
    from balancesim.validation import robust

    params = {p.name: p for p in main.commands["validate"].params}
    assert params["draws"].default == robust.DEFAULT_DRAWS


def test_process_pool_gives_the_same_verdicts_as_one_process():
    """Blocks of draws on two worker processes: the same shares, whatever order blocks finish in."""
    from balancesim.experiment.executors import make_runner
    from balancesim.validation import robust

    one = run_robust(draws=3, runs=4, seed=5)
    runner = make_runner("process", 2)
    try:
        import unittest.mock

        with unittest.mock.patch.object(robust, "BLOCK_RUNS", 4):  # one draw per block: three blocks
            pooled = run_robust(draws=3, runs=4, seed=5, runner=runner)
    finally:
        runner.close()
    assert [r.shares.counts for r in one.checks] == [r.shares.counts for r in pooled.checks]
    assert [[s.counts for _, s in r.knockouts] for r in one.checks] == [
        [s.counts for _, s in r.knockouts] for r in pooled.checks
    ]
    assert one.joint.counts == pooled.joint.counts and one.runs_simulated == pooled.runs_simulated
