"""Effects by default (compare_with), signs in words, and runs to 2030 (--until)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from balancesim import load_scenario
from balancesim.cli.main import main
from balancesim.experiment import batch as experiment
from balancesim.experiment.effects import direction, effect_table
from balancesim.model.metrics import REGION
from balancesim.scenario.files import compared_with

from .conftest import ROOT, SCENARIOS

TAIWAN = ROOT / "scenarios" / "taiwan_shock.yaml"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_default_comparison_is_the_extended_file_when_it_differs(tmp_path):
    assert compared_with(load_scenario(TAIWAN)) == str(ROOT / "scenarios" / "baseline.yaml")
    assert compared_with(load_scenario(ROOT / "scenarios" / "baseline.yaml")) is None
    same = tmp_path / "renamed.yaml"
    same.write_text(f"extends: {ROOT / 'scenarios' / 'baseline.yaml'}\nname: Renamed\nreplicates: 7\n")
    assert compared_with(load_scenario(same)) is None  # the same world under another name
    off = tmp_path / "off.yaml"
    off.write_text(f"extends: {TAIWAN}\ncompare_with: none\n")
    assert compared_with(load_scenario(off)) is None
    named = tmp_path / "named.yaml"
    named.write_text(f"extends: {TAIWAN}\ncompare_with: renamed.yaml\n")
    assert compared_with(load_scenario(named)) == str(tmp_path / "renamed.yaml")


def test_run_prints_the_effect_first_per_state_with_signs_in_words(tmp_path):
    r = invoke("run", str(TAIWAN), "-n", "24", "--out", str(tmp_path / "a"), "--no-plots")
    assert r.exit_code == 0, r.output
    effect_at = r.output.index("Effect of 'War over Taiwan (2024)'")
    assert effect_at < r.output.index("Levels (the runs themselves)")
    for state in ("Kazakhstan", "Kyrgyzstan", "Tajikistan", "Uzbekistan", "Turkmenistan"):
        assert f"{state}: Russia–China balance" in r.output
        assert f"{state}: hedging index" in r.output
    assert ": toward Russia" in r.output
    r = invoke("run", str(TAIWAN), "-n", "8", "--out", str(tmp_path / "b"), "--no-plots", "--no-compare")
    assert r.exit_code == 0 and "Effect of" not in r.output
    assert (tmp_path / "a" / "manifest.json").read_text().count("baseline.yaml") >= 1


def test_effect_rows_are_the_paired_differences():
    scenario = load_scenario(TAIWAN)
    results = experiment.run(scenario, replicates=30, uncertainty="none")
    base = experiment.run(load_scenario(ROOT / "scenarios" / "baseline.yaml"), replicates=30)
    rows = {(r.actor, r.measure): r for r in effect_table(results, base)}
    diff = results.values("uzbekistan", "balance")[-1] - base.values("uzbekistan", "balance")[-1]
    assert rows[("uzbekistan", "balance")].median == pytest.approx(np.median(diff))
    assert rows[(REGION, "balance")].direction == "toward Russia"
    assert direction(results, "balance", -0.1) == "toward China"
    assert direction(results, "hedging_index", -0.02) == "less hedging"
    assert direction(results, "hedging_index", 0.0) == "no change"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_scenario_runs_to_2030(path):
    scenario = load_scenario(path, {"until": "2030-12"})
    assert scenario.horizon == 105 and scenario.own_horizon == 60
    results = experiment.run(scenario, replicates=4, uncertainty="prior")
    assert results.months[-1] == 105 and np.isfinite(results.data).all()
    assert experiment.calendar_month(scenario.start, int(results.months[-1])) == "2030-12"


def test_until_on_the_command_line_prints_the_assumptions(tmp_path):
    r = invoke(
        "run", str(TAIWAN), "-n", "4", "--until", "2030-12", "--out", str(tmp_path / "a"), "--no-plots"
    )
    assert r.exit_code == 0, r.output
    assert "month 105 (2030-12)" in r.output
    assert "From 2027-03 (the scenario's own end) to 2030-12" in r.output
    assert "China: capacity" in r.output
    r = CliRunner().invoke(main, ["run", str(TAIWAN), "--until", "2030-13", "--out", str(tmp_path / "b")])
    assert r.exit_code == 2 and "until" in r.output and "Traceback" not in r.output
