"""balancesim discover: expressions, folder reading, PRIM/CART on known answers, the command end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import prim  # noqa: F401  (declared: a broken install fails here instead of skipping)
import pytest
import sklearn  # noqa: F401
from click.testing import CliRunner

from balancesim.analysis import discover as dc
from balancesim.analysis.expressions import (
    ExpressionError,
    Logic,
    Ref,
    evaluate,
    parse_condition,
    parse_formula,
    slug,
)
from balancesim.analysis.results_data import ResultsError, open_results
from balancesim.cli.main import main
from balancesim.experiment.folders import write_marker

from .conftest import ROOT

BASELINE = str(ROOT / "scenarios" / "baseline.yaml")


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# ------------------------------------------------------------------ known answers


def _inputs(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"parameters.x1": rng.random(n), "parameters.x2": rng.random(n), "parameters.x3": rng.random(n)}
    )


def _truth(x: pd.DataFrame) -> np.ndarray:
    """The outcome happens exactly when x1 > 0.7 and x2 < 0.3."""
    return ((x["parameters.x1"] > 0.7) & (x["parameters.x2"] < 0.3)).to_numpy()


def write_sweep(folder, points: int = 1500, replicates: int = 2, status: str = "complete"):
    """A sweep folder as `balancesim sweep` writes it, whose outcome is known by construction."""
    design = _inputs(points)
    happens = _truth(design)
    (folder / "chunks").mkdir(parents=True)
    design.insert(0, "point", np.arange(points))
    design.to_csv(folder / "design.csv", index=False)
    rows = []
    for p in range(points):
        for r in range(replicates):
            for month in (12, 60):
                value = -0.5 if happens[p] and month == 60 else 0.5
                rows.append({"point": p, "replicate": r, "month": month, "balance": value, "tension": 0.2})
    table = pd.DataFrame(rows)
    table["balance[kazakhstan]"] = table["balance"]
    table.to_parquet(folder / "chunks" / "p0-r0.parquet")
    scenario = {"start": "2022-03", "actors": [{"id": "kazakhstan"}, {"id": "china"}, {"id": "uzbekistan"}]}
    manifest = {
        "balancesim_sweep": 1,
        "status": status,
        "identity": {"scenario": scenario, "months": [12, 60]},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def write_run(folder, replicates: int = 1500, split: bool = False):
    """A run folder with params.parquet and a long-form series, outcome known by construction."""
    folder.mkdir(parents=True)
    params = _inputs(replicates, seed=5)
    happens = _truth(params)
    params.insert(0, "replicate", np.arange(replicates))
    params.sample(frac=1.0, random_state=1).to_parquet(folder / "params.parquet")  # order must not matter
    rows = []
    for r in range(replicates):
        for step in (0, 24):
            share = 0.4 if happens[r] and step == 24 else 0.2
            rows.append(
                {
                    "replicate": r,
                    "step": step,
                    "actor": "kazakhstan",
                    "measure": "share.china.economy",
                    "value": share,
                }
            )
            rows.append({"replicate": r, "step": step, "actor": "region", "measure": "balance", "value": 0.1})
    series = pd.DataFrame(rows)
    version = 1  # layout 1: packed measure names
    if split:  # the current layout: the name split into partner, domain, measure, and a scenario column
        parts = series["measure"].str.split(".", expand=True).fillna("")
        series = series.assign(measure=parts[0], partner=parts[1], domain=parts[2], scenario="scenario")
        baseline = series.assign(scenario="baseline", value=-9.0)  # a --baseline run: must be ignored
        series = pd.concat([series, baseline], ignore_index=True)
        version = 2
    series.to_parquet(folder / "series.parquet")
    manifest = {"balancesim_run": version, "start": "2022-03", "scenario": {"actors": [{"id": "kazakhstan"}]}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def assert_true_box(found: dc.Discovery) -> None:
    lim = found.limits.set_index("input")
    assert set(lim.index) == {"parameters.x1", "parameters.x2"}, found.limits
    assert lim.loc["parameters.x1", "low"] == pytest.approx(0.7, abs=0.03)
    assert lim.loc["parameters.x2", "high"] == pytest.approx(0.3, abs=0.03)
    assert found.box["coverage"] >= 0.8 and found.box["density"] >= 0.9
    assert (lim["qp"] < 1e-6).all()
    best = found.leaves.iloc[0]
    assert best["density"] > 0.95 and "parameters.x1 > 0.7" in best["rule"].replace("0.69", "0.7")


def test_prim_finds_the_box_known_by_construction_in_a_sweep(tmp_path):
    data = open_results(write_sweep(tmp_path / "sweep"))
    assert data.kind == "sweep" and len(data.inputs) == 3000
    found = dc.discover(data, "balance[kazakhstan]@60 < 0")
    assert found.cases == 2 * _truth(_inputs(1500)).sum()
    assert_true_box(found)


@pytest.mark.parametrize("split", [False, True])
def test_prim_finds_the_box_known_by_construction_in_a_run_folder(tmp_path, split):
    data = open_results(write_run(tmp_path / "run", split=split))
    found = dc.discover(data, "share.china.economy[kazakhstan]@24 >= 0.3")
    assert_true_box(found)


def test_chosen_box_rule():
    tr = pd.DataFrame({"box": range(4), "coverage": [1.0, 0.9, 0.8, 0.5], "density": [0.2, 0.5, 0.7, 0.9]})
    assert dc.choose_box(tr, 0.8) == 2
    assert dc.choose_box(tr, 0.5) == 3
    assert dc.choose_box(tr, 1.0) == 0


# -------------------------------------------------------------------- expressions


def test_expressions_parse_and_evaluate():
    node = parse_condition(
        "balance[kazakhstan]@60 - balance[kazakhstan]@0 < -0.1 and not tension@2027-03 > 0.5"
    )
    assert isinstance(node, Logic) and node.op == "and"
    values = {
        Ref("balance", "kazakhstan", 60, 0): np.array([0.0, 0.5]),
        Ref("balance", "kazakhstan", 0, 25): np.array([0.3, 0.3]),
        Ref("tension", "region", "2027-03", 57): np.array([0.2, 0.2]),
    }
    assert evaluate(node, lambda r: values[r]).tolist() == [True, False]
    assert evaluate(
        parse_condition("member.csto[kyrgyzstan]@60 == 0"), lambda r: np.array([0.0, 1.0])
    ).tolist() == [
        True,
        False,
    ]
    assert slug("balance@60 < 0") == "balance-60-lt-0"
    formula = parse_formula("share.china.economy[kazakhstan] - share.russia.economy[kazakhstan]")
    assert evaluate(formula, lambda r: 0.3 if "china" in r.measure else 0.2) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("balance < 0", "'balance' needs a month"),
        ("balance@60 <", "expected a measure or a number, found the end"),
        ("balance@60 = 0", "unexpected character '='"),
        ("balance@60", "expected a comparison"),
        ("1 < 2", "needs a measure on one side"),
        ("__import__('os')@1 > 0", "unexpected character '''"),
        ("", "empty expression"),
        ("(balance@60 < 0", "expected ')'"),
    ],
)
def test_bad_expressions_are_refused_with_the_place(text, message):
    with pytest.raises(ExpressionError, match=None) as e:
        parse_condition(text)
    assert message in str(e.value)


def test_formulas_take_no_month():
    with pytest.raises(ExpressionError, match="month comes from the target"):
        parse_formula("balance@60")


# -------------------------------------------------------------- the command itself


def test_discover_command_writes_outputs_and_names_the_box(tmp_path):
    folder = write_sweep(tmp_path / "sweep", points=600, replicates=1)
    r = invoke("discover", str(folder), "--where", "balance[kazakhstan]@60 < 0")
    assert r.exit_code == 0, r.output
    assert "balance[kazakhstan]@60 < 0: 54 of 600 runs" in r.output  # printed as written, not read as markup
    out = folder / "discover-balance-kazakhstan-60-lt-0"
    assert {p.name for p in out.rglob("*") if p.is_file()} == {
        ".balancesim-output.json",
        "summary.json",
        "trajectory.csv",
        "box.csv",
        "tree.csv",
        "tree.txt",
        "tradeoff.png",
        "box.png",
    }
    summary = json.loads((out / "summary.json").read_text())
    assert {row["input"] for row in summary["limits"]} == {"parameters.x1", "parameters.x2"}
    assert "parameters.x1" in r.output and "chosen" in r.output
    assert not [p for p in folder.glob(".discover*") if p.suffix != ".lock"]  # the lock file stays
    # Run again into the same folder: replaced, nothing left over.
    assert (
        invoke("discover", str(folder), "--where", "balance[kazakhstan]@60 < 0", "--box", "3").exit_code == 0
    )
    assert json.loads((out / "summary.json").read_text())["chosen_box"] == 3
    r = invoke("discover", str(folder), "--where", "balance[kazakhstan]@60 < 0", "--box", "0")
    assert r.exit_code == 0 and "no limit" in r.output  # box 0 is every run
    assert json.loads((out / "summary.json").read_text())["limits"] == []
    r = CliRunner().invoke(main, ["discover", str(folder), "--where", "balance@60 < 0", "--box", "999"])
    assert r.exit_code == 2 and r.output.startswith("--box 999: the trajectory has boxes 0..")
    assert not [p for p in folder.glob(".discover*") if p.suffix != ".lock"]  # the lock file stays


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            "balanse@60 < 0",
            "unknown measure 'balanse' for the region in this sweep (did you mean 'balance'?)",
        ),
        ("balance[kazakstan]@60 < 0", "unknown actor 'kazakstan' (did you mean 'kazakhstan'?)"),
        ("balance[uzbekistan]@60 < 0", "no outcome of 'uzbekistan' was kept in this sweep"),
        ("balance@48 < 0", "month 48 of 'balance' is not in this sweep (months: 12, 60)"),
        ("balance@2026-03 < 0", "month 2026-03 (month 48) of 'balance' is not in this sweep"),
        ("balance@12 < 0", "holds in 0 of 200 runs: never"),
        (
            "balance@60 <",
            "--where 'balance@60 <': expected a measure or a number, found the end (at character 13)",
        ),
    ],
)
def test_discover_input_errors_exit_2_and_write_nothing(tmp_path, where, message):
    folder = write_sweep(tmp_path / "sweep", points=100, replicates=2)
    r = CliRunner().invoke(main, ["discover", str(folder), "--where", where])
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert [p.name for p in folder.iterdir()] == sorted(["chunks", "design.csv", "manifest.json"]) or {
        p.name for p in folder.iterdir()
    } == {"chunks", "design.csv", "manifest.json"}


def test_discover_refuses_folders_it_cannot_explain(tmp_path):
    r = CliRunner().invoke(
        main, ["discover", str(write_sweep(tmp_path / "s", 50, status="running")), "--where", "balance@60<0"]
    )
    assert r.exit_code == 2 and "not complete" in r.output
    run = write_run(tmp_path / "run", replicates=20)
    (run / "params.parquet").unlink()
    r = CliRunner().invoke(main, ["discover", str(run), "--where", "balance@24 < 0"])
    assert r.exit_code == 2 and "no params.parquet" in r.output
    r = CliRunner().invoke(main, ["discover", str(tmp_path / "nothing"), "--where", "balance@24 < 0"])
    assert r.exit_code == 2 and "no such folder" in r.output
    with pytest.raises(ResultsError, match=r"write share\.china\.economy\[kazakhstan\]"):
        dc.discover(open_results(write_run(tmp_path / "r2", replicates=30)), "share.china.economy@24 > 0")


@pytest.mark.slow
def test_discover_on_a_real_sweep(tmp_path):
    folder = tmp_path / "sweep"
    r = invoke(
        "sweep", BASELINE, "--design", "lhs", "--samples", "40", "-n", "6", "--set", "horizon=12",
        "--months", "12", "--executor", "serial", "--no-plots", "--out", str(folder),
        "-p", "actors.china.attention=0.3:0.9", "-p", "parameters.hedging_tension=0:4",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    balance = pd.read_parquet(folder / "chunks")["balance"]
    threshold = float(balance.median())
    r = invoke("discover", str(folder), "--where", f"balance@12 < {threshold}")
    assert r.exit_code == 0, r.output
    summary = json.loads(next(folder.glob("discover-*/summary.json")).read_text())
    assert summary["runs"] == 240 and 0 < summary["cases"] < 240
    # China's attention pulls the region's balance toward China: PRIM restricts it from below.
    limits = {row["input"]: row for row in summary["limits"]}
    assert "actors.china.attention" in limits
    assert limits["actors.china.attention"]["low"] > limits["actors.china.attention"]["full_low"]


@pytest.mark.slow
def test_discover_on_a_real_run_folder_with_params(tmp_path):
    """A real run's series with a params.parquet beside it whose one input drives the outcome."""
    r = invoke("run", BASELINE, "-n", "60", "--set", "horizon=12", "--no-plots", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    (folder,) = [p.parent for p in tmp_path.rglob("manifest.json")]
    series = pd.read_parquet(folder / "series.parquet")
    kz = series[(series.actor == "kazakhstan") & (series.measure == "hedging_index") & (series.step == 12)]
    kz = kz.sort_values("replicate")
    rng = np.random.default_rng(0)
    params = pd.DataFrame(
        {
            "replicate": kz["replicate"].to_numpy(),
            "parameters.driver": kz["value"].rank().to_numpy() / len(kz),
            "parameters.unrelated": rng.random(len(kz)),
        }
    )
    params.to_parquet(folder / "params.parquet")
    write_marker(folder, "run")  # edited by hand: re-listed, or the verified reader calls it damaged
    cut = float(kz["value"].quantile(0.7))
    found = dc.discover(open_results(folder), f"hedging_index[kazakhstan]@12 > {cut}")
    lim = found.limits.set_index("input")
    assert "parameters.driver" in lim.index
    assert lim.loc["parameters.driver", "low"] == pytest.approx(0.7, abs=0.05)


def test_ctrl_c_while_writing_exits_130_and_leaves_nothing(tmp_path, monkeypatch):
    folder = write_sweep(tmp_path / "sweep", points=200, replicates=1)

    def interrupted(d):
        raise KeyboardInterrupt

    # Ctrl-C arrives while the plots are drawn
    monkeypatch.setattr("balancesim.figures.discover.discovery_figures", interrupted)
    r = CliRunner().invoke(main, ["discover", str(folder), "--where", "balance@60 < 0"])
    assert r.exit_code == 130 and "interrupted" in r.output
    assert {p.name for p in folder.iterdir() if p.suffix != ".lock"} == {
        "chunks",
        "design.csv",
        "manifest.json",
    }


def test_discover_on_a_run_folder_drawn_from_priors(tmp_path):
    """`run --uncertainty prior` writes the draws; discover finds the drawn input that decides the outcome.

    China's attention is drawn and never changes in this scenario, so `attention[china]@12 > 0.6`
    holds exactly when the draw exceeds 0.6: the box must be that limit on that input alone, not
    on the border clash's drawn severity, which does not touch it.
    """
    minimal = (ROOT / "tests" / "data" / "minimal.yaml").resolve()
    scenario = tmp_path / "drawn.yaml"
    scenario.write_text(
        f"extends: {minimal}\nhorizon: 12\nuncertainty:\n"
        "  actors.china.attention: {distribution: uniform, low: 0.1, high: 0.9}\n"
        "  shocks.border_clash.severity.low: {distribution: uniform, low: 0.1, high: 0.3}\n"
    )
    out = tmp_path / "runs"
    r = invoke("run", str(scenario), "-n", "150", "--uncertainty", "prior", "--no-plots", "--out", str(out))
    assert r.exit_code == 0, r.output
    (folder,) = [p.parent for p in out.rglob("params.parquet")]
    drawn = pd.read_parquet(folder / "params.parquet")["actors.china.attention"]

    r = invoke("discover", str(folder), "--where", "attention[china]@12 > 0.6")
    assert r.exit_code == 0, r.output
    summary = json.loads(next(folder.glob("discover-*/summary.json")).read_text())
    assert summary["runs"] == 150 and summary["cases"] == int((drawn > 0.6).sum())
    limits = {row["input"]: row for row in summary["limits"]}
    assert set(limits) == {"actors.china.attention"}
    assert limits["actors.china.attention"]["low"] == pytest.approx(0.6, abs=0.03)
    assert summary["density"] == 1.0 and summary["coverage"] >= 0.8

    # A model outcome: more of China's attention pulls Kazakhstan's balance toward China.
    cut = float(
        pd.read_parquet(folder / "series.parquet")
        .query("actor == 'kazakhstan' and measure == 'balance' and step == 12")["value"]
        .quantile(0.3)
    )
    found = dc.discover(open_results(folder), f"balance[kazakhstan]@12 < {cut}")
    lim = found.limits.set_index("input")
    assert lim.loc["actors.china.attention", "low"] > lim.loc["actors.china.attention", "full_low"]


def test_discover_on_an_effect_warns_about_few_cases_and_weak_limits(tmp_path):
    """A condition on the paired effect (effect.MEASURE); few cases and weak limits get plain warnings."""
    from balancesim.analysis.discover import discover
    from balancesim.analysis.results_data import open_results

    out = tmp_path / "run"
    r = CliRunner().invoke(
        main,
        ["run", str(ROOT / "scenarios" / "taiwan_shock.yaml"), "-n", "40", "--out", str(out), "--no-plots"],
    )
    assert r.exit_code == 0, r.output
    data = open_results(out)
    found = discover(data, "effect.balance@60 > 0.03")
    series = pd.read_parquet(out / "series.parquet")
    at = series[(series["actor"] == "region") & (series["measure"] == "balance") & (series["step"] == 60)]
    mine = at[at["scenario"] == "scenario"].set_index("replicate")["value"]
    base = at[at["scenario"] == "baseline"].set_index("replicate")["value"]
    np.testing.assert_array_equal(found.outcome, ((mine - base) > 0.03).sort_index().to_numpy())
    assert found.cases < 30
    assert any("fewer than 30" in w for w in found.warnings)
    if (found.limits["qp"] > 0.05).any():
        assert any("quasi-p is above 0.05" in w for w in found.warnings)
