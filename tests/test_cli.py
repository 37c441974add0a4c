"""The command line end to end: run, check, schema, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from balancesim.cli.main import main

from .conftest import ROOT

TAIWAN = str(ROOT / "scenarios" / "taiwan_shock.yaml")
BASELINE = str(ROOT / "scenarios" / "baseline.yaml")


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def run_folder(out) -> list:
    return [p for p in out.rglob("manifest.json")]


def test_run_writes_data_summary_plots_and_manifest(tmp_path):
    out = tmp_path / "res"
    r = invoke("run", TAIWAN, "-n", "30", "--seed", "7", "--set", "horizon=36", "--out", str(out))
    assert r.exit_code == 0, r.output
    (manifest,) = run_folder(out)
    folder = manifest.parent
    assert folder == out  # --out is the exact folder the run writes
    pngs = sorted(p.name for p in (folder / "plots").glob("*.png"))
    assert len(pngs) >= 4
    series = pq.read_table(folder / "series.parquet").to_pandas()
    assert list(series.columns) == [
        *("scenario", "replicate", "step", "actor", "partner", "domain", "measure", "value")
    ]
    assert series["replicate"].nunique() == 30 and series["step"].max() == 36
    summary = pd.read_csv(folder / "summary.csv")
    assert {"actor", "measure", "month", "median", "p5", "p95"} <= set(summary.columns)
    m = json.loads(manifest.read_text())
    assert m["seed"] == 7 and m["replicates"] == 30 and m["scenario"]["horizon"] == 36
    assert m["versions"]["mesa"].startswith("3.")
    assert "command" in m and m["files"]["series.parquet"]["bytes"] > 0
    assert str(folder) in r.output and "hedging index" in r.output
    assert not list(tmp_path.rglob(".*.partial"))


def test_same_seed_same_data(tmp_path):
    tables = []
    for name in ("a", "b"):
        r = invoke(
            "run",
            TAIWAN,
            "-n",
            "12",
            "--seed",
            "7",
            "--set",
            "horizon=40",
            "--no-plots",
            "--out",
            str(tmp_path / name),
        )
        assert r.exit_code == 0, r.output
        (manifest,) = run_folder(tmp_path / name)
        tables.append(pq.read_table(manifest.parent / "series.parquet"))
    assert tables[0].equals(tables[1])
    r = invoke(
        "run",
        TAIWAN,
        "-n",
        "12",
        "--seed",
        "8",
        "--set",
        "horizon=40",
        "--no-plots",
        "--out",
        str(tmp_path / "c"),
    )
    (manifest,) = run_folder(tmp_path / "c")
    assert not tables[0].equals(pq.read_table(manifest.parent / "series.parquet"))


def test_run_with_baseline_plots_the_paired_effect(tmp_path):
    r = invoke(
        "run", TAIWAN, "--baseline", BASELINE, "-n", "20", "--set", "horizon=36", "--out", str(tmp_path)
    )
    assert r.exit_code == 0, r.output
    (manifest,) = run_folder(tmp_path)
    folder = manifest.parent
    assert (folder / "plots" / "effect.png").exists()
    assert not (folder / "baseline_series.parquet").exists()  # one table, told apart by `scenario`
    series = pq.read_table(folder / "series.parquet").to_pandas()
    assert series.groupby("scenario", observed=True).size().to_dict() == {
        "scenario": len(series) // 2,
        "baseline": len(series) // 2,
    }
    summary = pd.read_csv(folder / "summary.csv")
    assert set(summary["quantity"]) == {"scenario", "baseline", "effect"}
    # Before the shock (month 30) the two runs share their random numbers exactly.
    before = summary[(summary["quantity"] == "effect") & (summary["month"] == 24)]
    assert (before[["p5", "median", "p95"]].abs() < 1e-12).all().all()
    after = summary[
        (summary["quantity"] == "effect") & (summary["month"] == 36) & (summary["measure"] == "tension")
    ]
    assert (after["median"] > 0).all()
    assert "effect (paired)" in r.output


def test_invalid_scenario_exits_2_with_location_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: " + BASELINE + "\nhorizon: 0\n")
    out = tmp_path / "res"
    result = subprocess.run(
        [sys.executable, "-m", "balancesim", "run", str(bad), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "bad.yaml:2: horizon:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not out.exists()


def test_bad_setting_and_bad_option_exit_2(tmp_path):
    r = CliRunner().invoke(
        main, ["run", TAIWAN, "--set", "parameters.hedging_tensoin=1", "--out", str(tmp_path)]
    )
    assert r.exit_code == 2
    assert "hedging_tension" in r.output  # did-you-mean
    r = CliRunner().invoke(main, ["run", TAIWAN, "--replicates", "0"])
    assert r.exit_code == 2
    assert not any(tmp_path.iterdir())


def test_check_and_schema(tmp_path):
    files = sorted((ROOT / "scenarios").glob("*.yaml"))
    r = invoke("check", *[str(p) for p in files])
    assert r.exit_code == 0 and r.output.count(": ok") == len(files)
    bad = tmp_path / "x.yaml"
    bad.write_text("name: x\nactors: []\nhorizon: 10000\n")
    r = CliRunner().invoke(main, ["check", str(bad)])
    assert r.exit_code == 2
    r = invoke("schema")
    schema = json.loads(r.output)
    assert "parameters" in schema["properties"] and "extends" in schema["properties"]


@pytest.mark.slow
def test_run_command_as_a_user_types_it(tmp_path):
    """The console script, on the full taiwan scenario."""
    exe = ROOT / ".venv" / "bin" / "balancesim"
    if not exe.exists():
        pytest.skip("console script not installed in .venv (run `make test` to set up)")
    result = subprocess.run(
        [str(exe), "run", TAIWAN, "--out", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    (manifest,) = run_folder(tmp_path)
    assert len(list((manifest.parent / "plots").glob("*.png"))) >= 4


BROKEN = ROOT / "tests" / "data" / "broken"


@pytest.mark.parametrize("name", sorted(p.name for p in BROKEN.glob("*.yaml")))
def test_every_broken_file_exits_2_from_the_command_line(name, tmp_path, monkeypatch):
    """`balancesim run` and `check` on each broken file: exit 2, file:line: field messages, no traceback."""
    import re

    text = (BROKEN / name).read_text(encoding="utf-8")
    expected = re.findall(r"^# expect: (.*)$", text, flags=re.MULTILINE)
    monkeypatch.chdir(BROKEN)  # messages name the file as given
    out = tmp_path / "res"
    for args in (["check", name], ["run", name, "--out", str(out)]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2, (args, r.output)
        assert "Traceback" not in r.output
        assert [line for line in r.output.splitlines() if line] == expected
    assert not out.exists()
