"""`balancesim compare`: tipping chances and first-tip months, exits, effects; the command's files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from balancesim import load_scenario
from balancesim.analysis.compare import compare, first_tip
from balancesim.cli.main import main
from balancesim.experiment import batch as experiment

from .conftest import ROOT

BASELINE = ROOT / "scenarios" / "baseline.yaml"
PIVOT = ROOT / "scenarios" / "russia_pivot.yaml"


def test_first_tip_is_a_crossing_below_the_threshold():
    balance = np.array(
        [[0.2, -0.1, 0.3], [0.1, -0.2, 0.2], [-0.1, 0.1, 0.1], [-0.2, -0.1, 0.2], [0.1, -0.3, 0.1]]
    )
    np.testing.assert_array_equal(first_tip(balance), [2.0, 3.0, np.nan])
    np.testing.assert_array_equal(first_tip(balance, sustained=2), [2.0, 3.0, np.nan])
    np.testing.assert_array_equal(first_tip(balance, sustained=3), [np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(first_tip(balance, threshold=0.15), [1.0, np.nan, 2.0])


def test_uzbekistan_under_the_pivot_matches_the_series():
    """Acceptance: the tipping chance and first-tip month, checked against the runs themselves."""
    specs = {"baseline": load_scenario(BASELINE), "russia_pivot": load_scenario(PIVOT)}
    result = compare(specs, "baseline", by=60, replicates=80, seed=11)
    row = result.table.set_index(["scenario", "state"]).loc[("russia_pivot", "uzbekistan")]
    runs = experiment.run(load_scenario(PIVOT), replicates=80, seed=11, uncertainty="prior")
    series = runs.values("uzbekistan", "balance")
    firsts = []
    for r in range(80):  # by hand: the first month at or above 0 before and below 0 then
        month = next((m for m in range(1, 61) if series[m, r] < 0 <= series[m - 1, r]), None)
        if month is not None:
            firsts.append(month)
    assert row["tip_chance"] == pytest.approx(len(firsts) / 80)
    assert row["tip_chance"] > 0.5
    assert row["first_tip_median"] == pytest.approx(np.median(firsts))
    assert row["first_tip_p5"] == pytest.approx(np.quantile(firsts, 0.05))
    base = experiment.run(load_scenario(BASELINE), replicates=80, seed=11, uncertainty="prior")
    effect = series[60] - base.values("uzbekistan", "balance")[60]
    assert row["balance_effect_median"] == pytest.approx(np.median(effect))
    assert row["balance_effect_median"] < 0  # the pivot moves Uzbekistan toward China
    assert set(result.table["scenario"]) == {"baseline", "russia_pivot"}
    kaz = result.table.set_index(["scenario", "state"]).loc[("baseline", "kazakhstan")]
    assert 0 <= kaz["exit_threat_csto"] <= 1 and 0 <= kaz["exit_csto"] <= 1
    assert "Tipping:" in result.definition and "2027-03" in result.definition


def test_compare_command_writes_table_figure_and_manifest(tmp_path):
    out = tmp_path / "cmp"
    r = CliRunner().invoke(
        main,
        [
            "compare",
            str(BASELINE),
            str(PIVOT),
            "-n",
            "12",
            "--by",
            "2030-12",
            "--baseline",
            str(BASELINE),
            "--out",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    assert "Scenarios compared by 2030-12" in r.output and "Uzbekistan" in r.output
    assert "tips" in r.output and "toward China" in r.output and "Tipping:" in r.output
    table = pd.read_csv(out / "comparison.csv")
    assert len(table) == 2 * 5
    assert (out / "comparison.png").stat().st_size > 10_000
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["by"] == "2030-12" and manifest["replicates"] == 12
    marker = json.loads((out / ".balancesim-output.json").read_text())
    assert marker["command"] == "compare"
    assert sorted(marker["files"]) == ["comparison.csv", "comparison.png", "manifest.json"]
    # an earlier comparison may be replaced; a folder of other files is refused
    r = CliRunner().invoke(
        main, ["compare", str(BASELINE), "-n", "4", "--baseline", str(BASELINE), "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    r = CliRunner().invoke(
        main, ["compare", str(BASELINE), "-n", "4", "--baseline", str(BASELINE), "--out", str(other)]
    )
    assert r.exit_code == 2 and (other / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_tips_and_exits_count_only_months_up_to_the_date():
    """`by` before the horizon: tips, exit threats and exits after it do not count (by hand)."""
    specs = {"baseline": load_scenario(BASELINE), "russia_pivot": load_scenario(PIVOT)}
    by = 36
    result = compare(specs, "baseline", by=by, replicates=40, seed=3)
    table = result.table.set_index(["scenario", "state"])
    runs = experiment.run(load_scenario(PIVOT), replicates=40, seed=3, uncertainty="prior")
    for state in ("uzbekistan", "kazakhstan"):
        series = runs.values(state, "balance")
        tipped = [any(series[m, r] < 0 <= series[m - 1, r] for m in range(1, by + 1)) for r in range(40)]
        later = [any(series[m, r] < 0 <= series[m - 1, r] for m in range(1, 61)) for r in range(40)]
        assert table.loc[("russia_pivot", state), "tip_chance"] == pytest.approx(np.mean(tipped))
        if state == "uzbekistan":
            assert sum(later) > sum(tipped)  # some tip only after the date: the date matters
    row = table.loc[("russia_pivot", "kazakhstan")]
    threat = runs.values("kazakhstan", "exit_threat.csto")[1 : by + 1]
    member = runs.values("kazakhstan", "member.csto")[1 : by + 1]
    assert row["exit_threat_csto"] == pytest.approx(np.mean([(threat[:, r] == 1).any() for r in range(40)]))
    assert row["exit_csto"] == pytest.approx(np.mean([(member[:, r] == 0).any() for r in range(40)]))
    assert 0 < row["exit_threat_csto"] < 1
