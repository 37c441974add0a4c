"""Every random draw recorded: shock severities and random shocks' months in params.parquet."""

from __future__ import annotations

import numpy as np
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


def test_random_shock_month_is_the_month_it_fired(baseline):
    shock = Shock(
        id="coup",
        name="Coup",
        probability=0.05,
        severity={"low": 0.2, "high": 0.9},
        effects=[{"variable": "tension", "change": "add", "amount": 0.3}],
    )
    scenario = short(baseline, 36).model_copy(update={"shocks": [shock], "uncertainty": {}})
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


def test_severity_is_in_params_and_heads_the_balance_effect(tmp_path):
    """Acceptance: the war's severity is a column of params.parquet and heads the importance table."""
    import pandas as pd

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
    effect = results.values(REGION, "balance")[-1] - base.values(REGION, "balance")[-1]
    table = rank_correlations(results.inputs, effect)
    assert table["path"].iloc[0] == "shocks.taiwan_war.severity"
    assert table["rho"].iloc[0] > 0.5
