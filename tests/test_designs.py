"""Designs and outcomes from outside: design files, Morris, chosen outcomes, numpy scalars."""

from __future__ import annotations

import numpy as np
import pytest

from balancesim import morris, outcomes
from balancesim.scenario_files import load_scenario
from balancesim.state import build_setup
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
    from balancesim import metrics

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
