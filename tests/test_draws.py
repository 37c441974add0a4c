"""Every random draw recorded: shock severities and random shocks' months in params.parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from balancesim import load_scenario
from balancesim.cli.main import main
from balancesim.experiment import batch as experiment
from balancesim.experiment.importance import rank_correlations
from balancesim.model import engine
from balancesim.model.draws import shock_draws
from balancesim.model.metrics import REGION
from balancesim.model.rules import step
from balancesim.model.state import build_setup, initial_state
from balancesim.scenario.schema import Shock

from .conftest import ROOT, short

TAIWAN = ROOT / "scenarios" / "taiwan_shock.yaml"


def test_recorded_severity_is_the_one_the_run_used():
    """Rerunning with the recorded severities as fixed per-run values gives the very same numbers."""
    scenario = load_scenario(TAIWAN)
    first = experiment.run(scenario, replicates=12, seed=5, uncertainty="none")
    severity = first.recorded["shocks.taiwan_war.severity"]
    assert severity.shape == (12,) and 0.3 <= severity.min() < severity.max() <= 1.0
    again = experiment.run(scenario, replicates=12, seed=5, values={"shocks.taiwan_war.severity": severity})
    np.testing.assert_array_equal(first.data, again.data)
    moved = experiment.run(
        scenario, replicates=12, seed=5, values={"shocks.taiwan_war.severity": severity[::-1].copy()}
    )
    assert not np.array_equal(first.data, moved.data)


def with_coup(baseline):
    """36 months of the baseline with one random shock (5% a month, severity 0.2-0.9), no priors."""
    shock = Shock(
        id="coup",
        name="Coup",
        probability=0.05,
        severity={"low": 0.2, "high": 0.9},
        effects=[{"variable": "tension", "change": "add", "amount": 0.3}],
    )
    return short(baseline, 36).model_copy(update={"shocks": [shock], "uncertainty": {}})


def test_random_shock_month_is_the_month_it_fired(baseline):
    scenario = with_coup(baseline)
    setup = build_setup(scenario)
    seeds = engine.replicate_seeds(9, 40)
    drawn = shock_draws(setup, ["coup"], seeds)
    noise = engine.draw_noise(setup, seeds)
    state = initial_state(setup, len(seeds))
    fired_at = np.full(len(seeds), setup.horizon + 1.0)
    for t in range(1, setup.horizon + 1):
        state = step(state, setup, noise.month(t - 1, setup))
        new = (state.shock_fired[0] > 0) & (fired_at > setup.horizon)
        fired_at[new] = t
    np.testing.assert_array_equal(drawn["shocks.coup.month"], fired_at)
    assert (fired_at <= setup.horizon).sum() > 5 and (fired_at > setup.horizon).sum() > 5
    assert set(drawn) == {"shocks.coup.month", "shocks.coup.severity"}
    # in chunks as at once
    parts = shock_draws(setup, ["coup"], seeds, chunk=7)
    for path, v in drawn.items():
        np.testing.assert_array_equal(parts[path], v)


def test_severity_is_in_params_and_heads_the_tension_effect(tmp_path):
    """The war's severity is a column of params.parquet, and the inputs its effects follow are named.

    Since the war's effect on China has a prior spanning both readings (weakened, or its overland
    interest raised), the balance effect follows that reading first (docs/scenarios.md); the
    severity heads the effect on great-power tension, which it sets directly.
    """
    out = tmp_path / "run"
    r = CliRunner().invoke(
        main,
        ["run", str(TAIWAN), "-n", "200", "--out", str(out), "--no-plots"],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    params = pd.read_parquet(out / "params.parquet")
    assert "shocks.taiwan_war.severity" in params.columns
    scenario = load_scenario(TAIWAN)
    results = experiment.run(scenario, replicates=200, uncertainty="prior")
    base = experiment.run(
        load_scenario(ROOT / "scenarios" / "baseline.yaml"),
        replicates=200,
        values=experiment.shared_values(results, load_scenario(ROOT / "scenarios" / "baseline.yaml")),
    )
    np.testing.assert_array_equal(
        params["shocks.taiwan_war.severity"], results.inputs["shocks.taiwan_war.severity"]
    )
    effect = results.values(REGION, "tension")[-1] - base.values(REGION, "tension")[-1]
    table = rank_correlations(results.inputs, effect)
    assert table["path"].iloc[0] == "shocks.taiwan_war.severity"
    assert table["rho"].iloc[0] > 0.5
    balance = results.values(REGION, "balance")[-1] - base.values(REGION, "balance")[-1]
    table = rank_correlations(results.inputs, balance)
    assert table["path"].iloc[0] == "shocks.taiwan_war.effects.0.amount"  # the reading of the war


def _sweep_rows(folder) -> pd.DataFrame:
    import pyarrow.parquet as pq

    from balancesim import sweep as sw

    parts = [pq.read_table(p).to_pandas() for p in sw.iter_chunk_files(folder)]
    table = pd.concat(parts).sort_values(["point", "replicate", "month"], kind="stable")
    return table.drop_duplicates(["point", "replicate"]).reset_index(drop=True)


@pytest.mark.parametrize("per_run", [True, False])
def test_a_sweep_records_each_runs_severity_as_run_does(tmp_path, per_run):
    """A sweep's runs record the severity `run` records for the same replicate and values.

    The design moves the severity range's top, so the points' draws differ; chunks of 5 runs
    cut across points. Both the packed engine call and the one-call-per-point fallback.
    """
    from dataclasses import replace

    from balancesim import sweep as sw
    from balancesim.analysis.results_data import open_results

    scenario = short(load_scenario(TAIWAN), 36)
    highs = [0.6, 1.0]
    plan = sw.plan_points(
        scenario, ["shocks.taiwan_war.severity.high"], [[h] for h in highs], replicates=7, months=[36]
    )
    plan = replace(plan, chunk_size=5, per_run=per_run)
    assert plan.recorded == ("shocks.taiwan_war.severity",)
    sw.run_sweep(plan, tmp_path / "s", executor="serial", plots=None)
    rows = _sweep_rows(tmp_path / "s")
    for p, high in enumerate(highs):
        point = short(load_scenario(TAIWAN, {"shocks.taiwan_war.severity.high": high}), 36)
        ran = experiment.run(point, replicates=7, uncertainty="none")
        mine = rows[rows["point"] == p].sort_values("replicate")
        np.testing.assert_array_equal(
            mine["shocks.taiwan_war.severity"].to_numpy(), ran.recorded["shocks.taiwan_war.severity"]
        )
        # the sweep's outcome of each run is the run's own: the draws belong to those runs
        balance = ran.values(REGION, "balance")[36]
        np.testing.assert_array_equal(mine["balance"].to_numpy(), balance)
    # discover reads the draw as an input of each run, not as an outcome
    data = open_results(tmp_path / "s")
    assert "shocks.taiwan_war.severity" in data.inputs.columns
    assert ("region", "shocks.taiwan_war.severity") not in data.available
    np.testing.assert_array_equal(
        data.inputs["shocks.taiwan_war.severity"], rows["shocks.taiwan_war.severity"]
    )


def test_a_sweep_records_random_shock_months(tmp_path, baseline):
    """A random shock's month per run, as `run` records it, whatever point the run belongs to."""
    from balancesim import sweep as sw

    scenario = with_coup(baseline)
    plan = sw.plan_points(scenario, ["parameters.lock_in"], [[2.0], [4.0]], replicates=30, months=[36])
    assert set(plan.recorded) == {"shocks.coup.month", "shocks.coup.severity"}
    assert plan.identity()["recorded"] == list(plan.recorded)
    sw.run_sweep(plan, tmp_path / "s", executor="serial", plots=None)
    rows = _sweep_rows(tmp_path / "s")
    ran = experiment.run(scenario, replicates=30, uncertainty="none")
    for p in (0, 1):
        mine = rows[rows["point"] == p].sort_values("replicate")
        for path in plan.recorded:
            np.testing.assert_array_equal(mine[path].to_numpy(), ran.recorded[path])
    months = rows["shocks.coup.month"]
    assert (months <= 36).sum() > 5 and (months > 36).sum() > 5
