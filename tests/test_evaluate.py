"""`balancesim.sweep.evaluate`: design points in, a frame of outcomes out, as other tools call it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import balancesim
from balancesim import sweep as sw
from balancesim.scenario.files import load_scenario

from .conftest import ROOT

MINIMAL = str(ROOT / "tests" / "data" / "minimal.yaml")


def test_evaluate_equals_a_sweep_of_the_same_points(tmp_path):
    design = pd.DataFrame({"parameters.lock_in": [1.0, 3.0, 5.0], "shocks.border_clash.month": [4, 6, 8]})
    frame = balancesim.evaluate(
        MINIMAL, design, replicates=5, outcomes=["balance", "member.csto[kyrgyzstan]"]
    )
    assert list(frame.columns) == [
        "point",
        "parameters.lock_in",
        "shocks.border_clash.month",
        "replicate",
        "month",
        "balance",
        "member.csto[kyrgyzstan]",
    ]
    assert frame["shocks.border_clash.month"].dtype == np.int64
    assert len(frame) == 3 * 5 * 3  # points x replicates x months (12, 24, 36)
    csv = tmp_path / "design.csv"
    design.to_csv(csv, index=False)
    options = sw.SweepOptions(
        design_file=str(csv), replicates=5, outcomes=("balance", "member.csto[kyrgyzstan]"), chunk_size=4
    )
    sw.run_sweep(sw.plan_sweep(MINIMAL, options), tmp_path / "s", executor="serial", plots=False)
    chunks = pd.concat(pq.read_table(p).to_pandas() for p in sw.iter_chunk_files(tmp_path / "s"))
    chunks = chunks.sort_values(["point", "replicate", "month"]).reset_index(drop=True)
    for name in ("balance", "member.csto[kyrgyzstan]"):
        assert np.array_equal(frame[name].to_numpy(), chunks[name].to_numpy())


def test_driven_as_ema_workbench_drives_a_model():
    # EMA Workbench calls the model with keyword arguments, one experiment at a
    # time, the values taken from numpy arrays (numpy.int64, numpy.float64), and
    # expects a mapping of outcome name to value back.
    def model(**inputs):
        frame = balancesim.evaluate(MINIMAL, inputs, replicates=4, outcomes=["balance"], months=[36])
        return {"balance": frame["balance"].mean()}

    lock_in = np.array([1, 2, 4], dtype=np.int64)
    tension = np.linspace(0.1, 0.4, 3)
    results = [
        model(**{"parameters.lock_in": a, "relations.tension": b})
        for a, b in zip(lock_in, tension, strict=True)
    ]
    assert isinstance(lock_in[0], np.int64) and isinstance(tension[0], np.float64)
    expected = balancesim.evaluate(
        MINIMAL,
        [{"parameters.lock_in": 1, "relations.tension": 0.1}],
        replicates=4,
        outcomes=["balance"],
        months=[36],
    )
    assert results[0]["balance"] == expected["balance"].mean()
    assert len({r["balance"] for r in results}) == 3


def test_evaluate_takes_a_scenario_object_and_one_mapping():
    scenario = load_scenario(MINIMAL)
    a = balancesim.evaluate(scenario, {"parameters.lock_in": np.float64(2.5)}, replicates=3, seed=11)
    b = balancesim.evaluate(MINIMAL, [{"parameters.lock_in": 2.5}], replicates=3, seed=11)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert set(a.columns) >= {"hedging_index", "balance", "tension"}  # the headline measures


@pytest.mark.parametrize(
    ("design", "message"),
    [
        ([{"parameters.lock_in": 200}], "design point 0: column parameters.lock_in: value 200: "),
        ([{"parameters.lock_in": 2}, {"relations.tension": 0.1}], "design point 1: gives relations.tension"),
        ([{"parameters.lock_in": "high"}], "design point 0: parameters.lock_in: expected a number"),
        ([{"parameters.lock_in": np.nan}], "design point 0: NaN/infinity is not allowed"),
        ([{"parameters.lockin": 2}], "unknown key 'lockin' (did you mean 'lock_in'?)"),
        ([], "design: no points"),
    ],
)
def test_evaluate_errors_name_the_point(design, message):
    with pytest.raises(ValueError) as e:
        balancesim.evaluate(MINIMAL, design, replicates=2)
    assert message in str(e.value)


def test_evaluate_outcome_errors():
    with pytest.raises(ValueError, match="no actor 'kazakstan'"):
        balancesim.evaluate(
            MINIMAL, [{"parameters.lock_in": 2}], replicates=2, outcomes=["balance[kazakstan]"]
        )
