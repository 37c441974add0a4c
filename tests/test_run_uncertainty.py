"""`run --uncertainty`: runs drawn from the priors, written to params.parquet, shared with the
baseline, reproducible, and wider than runs at the calibrated values alone."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
from click.testing import CliRunner

from balancesim import load_scenario
from balancesim.cli.main import main
from balancesim.experiment import batch as experiment
from balancesim.experiment.importance import leading, noise_level, rank_correlations
from balancesim.model.metrics import REGION

from .conftest import ROOT

TAIWAN = str(ROOT / "scenarios" / "taiwan_shock.yaml")
BASELINE = str(ROOT / "scenarios" / "baseline.yaml")


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_run_with_priors_writes_params_and_repeats_exactly(tmp_path):
    folders = []
    for name in ("a", "b"):
        out = tmp_path / name
        r = invoke("run", TAIWAN, "-n", "16", "--seed", "3", "--out", str(out), "--no-plots")
        assert r.exit_code == 0, r.output
        (manifest,) = out.rglob("manifest.json")
        folders.append(manifest.parent)
    params = [pq.read_table(f / "params.parquet").to_pandas() for f in folders]
    scenario = load_scenario(TAIWAN)
    assert list(params[0].columns) == ["replicate", *scenario.uncertainty, "shocks.taiwan_war.severity"]
    assert list(params[0]["replicate"]) == list(range(16))
    assert params[0].equals(params[1])
    series = [pq.read_table(f / "series.parquet").to_pandas() for f in folders]
    assert series[0].equals(series[1])
    m = json.loads((folders[0] / "manifest.json").read_text())
    assert m["uncertainty"]["mode"] == "prior" and m["files"]["params.parquet"]["bytes"] > 0
    prior = m["uncertainty"]["priors"]["parameters.hedging_tension"]
    assert prior["prior"]["distribution"] == "triangular" and 1 <= prior["p5"] <= prior["p95"] <= 3.5
    assert "Drawn inputs that matter most" in r.output


def test_run_without_priors_writes_no_params(tmp_path):
    r = invoke("run", TAIWAN, "-n", "4", "--uncertainty", "none", "--out", str(tmp_path), "--no-plots")
    assert r.exit_code == 0, r.output
    (manifest,) = tmp_path.rglob("manifest.json")
    # only the scenario's own draws (the war's severity), no priors
    params = pq.read_table(manifest.parent / "params.parquet").to_pandas()
    assert list(params.columns) == ["replicate", "shocks.taiwan_war.severity"]
    assert json.loads(manifest.read_text())["uncertainty"] == {
        "mode": "none",
        "file": "params.parquet",
        "recorded": ["shocks.taiwan_war.severity"],
    }
    r = invoke(
        "run", BASELINE, "-n", "4", "--uncertainty", "none", "--out", str(tmp_path / "b"), "--no-plots"
    )
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "b" / "params.parquet").exists()


def test_parametric_uncertainty_widens_the_band():
    """Acceptance: the 90% band of the hedging index at the horizon is wider with the priors."""
    widths = {}
    for mode in ("prior", "none"):
        results = experiment.run(TAIWAN, replicates=120, seed=5, uncertainty=mode)
        v = results.values(REGION, "hedging_index")[-1]
        widths[mode] = np.quantile(v, 0.95) - np.quantile(v, 0.05)
    assert widths["prior"] > 1.25 * widths["none"]


def test_baseline_shares_the_draws_and_the_effect_stays_paired(tmp_path):
    r = invoke(
        "run",
        TAIWAN,
        "--baseline",
        BASELINE,
        "-n",
        "10",
        "--seed",
        "2",
        "--set",
        "horizon=32",
        "--out",
        str(tmp_path),
    )
    assert r.exit_code == 0, r.output
    (manifest,) = tmp_path.rglob("manifest.json")
    folder = manifest.parent
    m = json.loads(manifest.read_text())
    # the baseline shares every draw of a value it has; the war's own priors (China's attention and
    # capacity under the war, both ways) are the scenario's alone
    own = {p for p in load_scenario(TAIWAN).uncertainty if p.startswith("shocks.taiwan_war.")}
    assert own == {"shocks.taiwan_war.effects.0.amount", "shocks.taiwan_war.effects.1.amount"}
    assert m["uncertainty"]["baseline_shares"] == sorted(set(load_scenario(TAIWAN).uncertainty) - own)
    series = pq.read_table(folder / "series.parquet").to_pandas()
    a, b = (series[series["scenario"] == label] for label in ("scenario", "baseline"))
    before = (a["step"] < 30).to_numpy()  # the war starts at month 30
    np.testing.assert_array_equal(a["value"].to_numpy()[before], b["value"].to_numpy()[before])
    assert (folder / "plots" / "effect.png").exists()
    assert "effect (paired) follows" in r.output


def test_mesa_engine_draws_the_same_runs():
    scenario = load_scenario(TAIWAN, {"horizon": 32})
    runs = [
        experiment.run(scenario, replicates=3, seed=4, engine_name=name, uncertainty="prior")
        for name in ("vectorised", "mesa")
    ]
    np.testing.assert_array_equal(runs[0].data, runs[1].data)


def test_rank_correlation_finds_the_input_an_outcome_follows():
    rng = np.random.default_rng(0)
    drawn = {name: rng.uniform(size=400) for name in ("a", "b", "c")}
    outcome = np.exp(3 * drawn["b"]) + 0.3 * rng.normal(size=400)  # monotone, not linear
    frame = rank_correlations(drawn, outcome)
    assert frame["path"][0] == "b" and frame["rho"][0] > 0.9
    assert [p for p, _ in leading(drawn, outcome)] == ["b"]
    assert noise_level(400, 3) > noise_level(400, 1)
    assert rank_correlations(drawn, np.ones(400))["rho"].abs().max() == 0.0


def test_a_draw_the_scenario_cannot_take_exits_2(tmp_path):
    minimal = (ROOT / "tests" / "data" / "minimal.yaml").resolve()
    zero = "{distribution: choice, values: [0]}"
    weights = ("regime_security", "development", "sovereignty", "territorial_security")
    lines = [f"extends: {minimal}", "uncertainty:"]
    lines += [f"  actors.kazakhstan.agenda.{w}: {zero}" for w in weights]
    path = tmp_path / "zero.yaml"
    path.write_text("\n".join(lines) + "\n")
    r = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "out"), "--no-plots"])
    assert r.exit_code == 2
    assert "actors.kazakhstan.agenda: all weights are zero (replicate 0)" in r.output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("manifest.json"))
