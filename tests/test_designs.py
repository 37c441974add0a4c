"""Designs and outcomes from outside: design files, Morris, chosen outcomes, numpy scalars."""

from __future__ import annotations

import numpy as np
import pytest

from balancesim.model import outcomes
from balancesim.model.state import build_setup
from balancesim.scenario.files import load_scenario
from balancesim.sweep import morris
from balancesim.sweep.design_file import DesignFileError, check_values, read_design_file

from .conftest import ROOT

MINIMAL = str(ROOT / "tests" / "data" / "minimal.yaml")


# ------------------------------------------------------------------ outcomes


def test_outcomes_name_region_and_actor_measures():
    setup = build_setup(load_scenario(MINIMAL))
    chosen = outcomes.parse_outcomes(["balance, share.china.economy[kazakhstan]", "member.csto[kyrgyzstan]"])
    assert [o.name for o in chosen] == [
        "balance",
        "share.china.economy[kazakhstan]",
        "member.csto[kyrgyzstan]",
    ]
    index = outcomes.column_index(setup, chosen)
    from balancesim.model import metrics

    columns = metrics.columns(setup)
    assert [(columns.actors[k], columns.measures[k]) for k in index] == [
        ("region", "balance"),
        ("kazakhstan", "share.china.economy"),
        ("kyrgyzstan", "member.csto"),
    ]
    assert outcomes.parse_outcome("balance[region]") == outcomes.parse_outcome("balance")


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["share.china[kazakstan]"], "no actor 'kazakstan' (did you mean 'kazakhstan'?)"),
        (
            ["share.chna[kazakhstan]"],
            "no measure 'share.chna' for 'kazakhstan' (did you mean 'share.china'?)",
        ),
        (["share.china"], "measures of one actor take it in brackets"),
        (["balance[kazakhstan"], "expected MEASURE or MEASURE[ACTOR]"),
        (["balance,balance"], "listed twice"),
    ],
)
def test_outcome_errors_say_what_is_wrong(names, message):
    setup = build_setup(load_scenario(MINIMAL))
    with pytest.raises(outcomes.OutcomeError) as e:
        outcomes.column_index(setup, outcomes.parse_outcomes(names))
    assert message in str(e.value)


# ---------------------------------------------------------------- design files


def test_design_file_reads_columns_rows_and_lines(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("point,parameters.lock_in,relations.tension\n0,2,0.1\n\n1,3.5,0.2\n")
    design = read_design_file(path)
    assert design.paths == ("parameters.lock_in", "relations.tension")
    assert design.points.tolist() == [[2.0, 0.1], [3.5, 0.2]]
    assert design.lines == (2, 4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "d.csv: empty file"),
        ("parameters.lock_in\n", "d.csv: no design points"),
        ("parameters.lock_in,\n1,2\n", "d.csv:1: column 2 has no name"),
        ("a,a\n1,2\n", "d.csv:1: column a appears twice"),
        ("parameters.lock_in\n1\n2,3\n", "d.csv:3: 2 values, expected 1"),
        ("parameters.lock_in\n1\nhigh\n", "d.csv:3: column parameters.lock_in: 'high' is not a number"),
        ("parameters.lock_in,x\n1,\n", "d.csv:2: column x: an empty cell is not a number"),
        ("parameters.lock_in\nnan\n", "d.csv:2: column parameters.lock_in: NaN/infinity is not allowed"),
    ],
)
def test_design_file_errors_name_file_line_and_column(tmp_path, text, message):
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(DesignFileError) as e:
        read_design_file(path)
    assert str(e.value).startswith(f"{tmp_path}/d.csv")
    assert message in str(e.value)


def test_design_file_values_checked_with_file_line_and_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("parameters.lock_in,shocks.month\n2,12\n30,13\n3,14.5\n")
    design = read_design_file(path)

    def check(overrides):
        return "30 is above the maximum 20" if overrides.get("parameters.lock_in", 0) > 20 else None

    with pytest.raises(DesignFileError) as e:
        check_values(design, frozenset(), check, whole_rows=False, base={})
    assert str(e.value) == f"{path}:3: column parameters.lock_in: value 30: 30 is above the maximum 20"
    with pytest.raises(DesignFileError) as e:
        check_values(design, frozenset({"shocks.month"}), lambda o: None, whole_rows=False, base={})
    assert str(e.value) == f"{path}:4: column shocks.month: shocks.month takes whole numbers, got 14.5"

    def combination(overrides):
        return "bad pair" if overrides == {"parameters.lock_in": 3.0, "shocks.month": 14.5} else None

    with pytest.raises(DesignFileError) as e:
        check_values(design, frozenset(), combination, whole_rows=True, base={})
    assert str(e.value) == f"{path}:4: bad pair"


# ---------------------------------------------------------------------- Morris


def test_morris_ranks_inputs_of_a_known_function():
    problem = {"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[0, 1]] * 3}
    points = morris.sample(problem, 40, seed=3)
    assert points.shape == (40 * 4, 3)
    assert np.array_equal(points, morris.sample(problem, 40, seed=3))
    y = 5 * points[:, 0] + points[:, 1] ** 2 + 0 * points[:, 2]
    frame = morris.table(problem, points, {("y", 60): y, ("flat", 60): np.zeros(len(y))}, seed=3)
    mu = frame[frame["measure"] == "y"].set_index("parameter")["mu_star"]
    assert mu["a"] == pytest.approx(5) and mu["a"] > mu["b"] > mu["c"] == 0
    assert (frame[frame["measure"] == "flat"]["mu_star"] == 0).all()


# ---------------------------------------------------------------- numpy values


def test_overrides_accept_numpy_scalars():
    scenario = load_scenario(
        MINIMAL,
        {
            "replicates": np.int64(3),
            "parameters.hedging_tension": np.float64(1.5),
            "relations.tension": np.float32(0.25),
        },
    )
    assert scenario.replicates == 3 and type(scenario.replicates) is int
    assert scenario.parameters.hedging_tension == 1.5
    assert scenario.relations.tension == pytest.approx(0.25)


# ------------------------------------------------------------ the sweep command


def sweep_cli(*args: str):
    from click.testing import CliRunner

    from balancesim.cli.main import main

    return CliRunner().invoke(main, ["sweep", MINIMAL, "--executor", "serial", *args], catch_exceptions=False)


def test_cli_design_file_outcomes_and_monthly_series(tmp_path):
    import pandas as pd

    design = tmp_path / "points.csv"
    design.write_text("parameters.lock_in,shocks.border_clash.month\n1.5,4\n4,10\n")
    out = tmp_path / "s"
    r = sweep_cli(
        "--design-file", str(design), "-n", "3", "--outcomes", "balance,share.china.economy[kazakhstan]",
        "--months", "all", "--out", str(out), "--no-plots",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "2 design points x 3 runs = 6 runs" in r.output
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["measure"]) == {"balance", "share.china.economy[kazakhstan]"}
    assert sorted(summary["month"].unique()) == list(range(37))  # every month of the horizon
    assert summary["shocks.border_clash.month"].tolist()[:1] == [4]
    assert pd.read_csv(out / "design.csv").to_dict("list") == {
        "point": [0, 1],
        "parameters.lock_in": [1.5, 4.0],
        "shocks.border_clash.month": [4, 10],
    }


def test_sweep_section_months_all_is_the_monthly_series(tmp_path):
    """`months: all` in a scenario's `sweep:` section means what `--months all` means."""
    from balancesim.sweep.specs import ALL_MONTHS, parse_months, section_options

    options = section_options({"months": "all"}, "s.yaml")
    assert options.months == ALL_MONTHS == parse_months("all")
    assert section_options({"months": [30, 12]}, "s.yaml").months == (30, 12)


@pytest.mark.parametrize(
    ("text", "extra", "message"),
    [
        ("parameters.lock_in\n2\n99\n", [], "points.csv:3: column parameters.lock_in: value 99: "),
        ("shocks.border_clash.month\n4\n5.5\n", [], "points.csv:3: column shocks.border_clash.month: "
         "shocks.border_clash.month takes whole numbers, got 5.5"),
        ("parameters.lockin\n2\n", [], "points.csv: column parameters.lockin: parameters.lockin: unknown"),
        ("seed\n2\n", [], "points.csv: column seed: 'seed' cannot be swept"),
        ("parameters.lock_in\n2\n", ["-p", "relations.tension=0:1:3"], "the file gives the points"),
        ("parameters.lock_in\n2\n", ["--outcomes", "balance[kazakstan]"], "outcome 'balance[kazakstan]'"),
    ],
)  # fmt: skip
def test_cli_design_file_errors_exit_2_naming_file_line_and_column(tmp_path, text, extra, message):
    design = tmp_path / "points.csv"
    design.write_text(text)
    r = sweep_cli("--design-file", str(design), "-n", "2", "--out", str(tmp_path / "s"), *extra)
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "s").exists()


def test_cli_morris_sweep_writes_effects_and_plot(tmp_path):
    import pandas as pd

    out = tmp_path / "m"
    r = sweep_cli(
        "--design", "morris", "--samples", "4", "-n", "4", "--months", "36", "--out", str(out),
        "-p", "relations.tension=0.05:0.6", "-p", "parameters.stance_threshold=0.1:0.6",
        "--outcomes", "tension,balance[kazakhstan]",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "Morris elementary effects at month 36" in r.output and "balance[kazakhstan]" in r.output
    effects = pd.read_csv(out / "morris.csv")
    assert len(effects) == 2 * 2 and set(effects.columns) >= {"mu", "mu_star", "sigma", "mu_star_conf"}
    tension = effects[effects["measure"] == "tension"].set_index("parameter")["mu_star"]
    # the stance threshold moves only the stance measure; the initial tension moves tension
    assert tension["relations.tension"] > 0 and tension["parameters.stance_threshold"] == 0
    assert (out / "plots" / "morris.png").exists()
    assert len(pd.read_csv(out / "design.csv")) == 4 * 3  # trajectories x (D + 1)


def test_sobol_second_order_sample_and_indices(tmp_path):
    from balancesim import sweep as sw

    options = sw.SweepOptions(
        params=(sw.parse_param("relations.tension=0.05:0.6"), sw.parse_param("parameters.lock_in=1:6")),
        design="sobol",
        samples=8,
        second_order=True,
        replicates=2,
        months=(36,),
    )
    plan = sw.plan_sweep(MINIMAL, options)
    assert len(plan.design) == 8 * (2 * 2 + 2)
    outcome = sw.run_sweep(plan, tmp_path / "s", executor="serial", plots=False)
    assert {"S2.parameters.lock_in", "S2_conf.relations.tension"} <= set(outcome.sobol.columns)
    row = outcome.sobol[(outcome.sobol["measure"] == "tension")].set_index("parameter")
    assert (
        row.loc["relations.tension", "S2.parameters.lock_in"]
        == row.loc["parameters.lock_in", "S2.relations.tension"]
    )
    with pytest.raises(sw.SweepError, match="--second-order applies to sobol designs"):
        sw.plan_sweep(
            MINIMAL, sw.SweepOptions(params=options.params, design="lhs", samples=4, second_order=True)
        )
