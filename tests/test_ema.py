"""EMA Workbench and SALib drive the model without glue: the scenario's priors exported
(`balancesim.priors`), many points in one `evaluate` call, priors drawn or held as asked."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ema_workbench import perform_experiments
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import sobol as sobol_sample

import balancesim
from balancesim.scenario.files import load_scenario
from balancesim.sweep import ema
from balancesim.sweep.priors import ema_name

from .conftest import ROOT

BASELINE = ROOT / "scenarios" / "baseline.yaml"
PATHS = ["parameters.lock_in", "relations.tension"]


@pytest.fixture(scope="module")
def short():
    return load_scenario(BASELINE, {"horizon": 12})


def test_priors_as_salib_problem_and_ema_uncertainties():
    scenario = load_scenario(BASELINE)
    priors = balancesim.priors(BASELINE)
    problem = priors.problem
    assert problem["names"] == list(scenario.uncertainty) and problem["num_vars"] == len(scenario.uncertainty)
    json.dumps(problem)  # plain data
    k = problem["names"].index("parameters.lock_in")
    lock_in = scenario.uncertainty["parameters.lock_in"]
    assert problem["dists"][k] == "triang"
    low, high, c = problem["bounds"][k]
    assert (low, high) == (lock_in.low, lock_in.high)
    assert c == pytest.approx((lock_in.mode - lock_in.low) / (lock_in.high - lock_in.low))
    k = problem["names"].index("relations.tension")
    tension = scenario.uncertainty["relations.tension"]
    assert problem["dists"][k] == "truncnorm"
    assert problem["bounds"][k] == [tension.low, tension.high, tension.mean, tension.sd]

    uncertainties = priors.uncertainties
    assert len(uncertainties) == len(scenario.uncertainty)
    by_path = {u.variable_name[0]: u for u in uncertainties}
    assert set(by_path) == set(scenario.uncertainty)
    assert all(u.name.isidentifier() for u in uncertainties)
    assert by_path["parameters.lock_in"].name == ema_name("parameters.lock_in") == "parameters__lock_in"
    assert (by_path["parameters.lock_in"].lower_bound, by_path["parameters.lock_in"].upper_bound) == (
        lock_in.low,
        lock_in.high,
    )
    # the scipy distribution is the prior: its median is the one `run` draws at u = 0.5
    from balancesim.scenario.uncertainty import transform

    dist = priors.distribution("parameters.lock_in")
    assert dist.ppf(0.3) == pytest.approx(float(transform(lock_in, np.array([0.3]))[0]))


def test_perform_experiments_runs_50_points_in_one_batch(short, monkeypatch):
    calls = []
    real = ema.evaluate

    def counted(*args, **kwargs):
        calls.append(len(args[1]))
        return real(*args, **kwargs)

    monkeypatch.setattr(ema, "evaluate", counted)
    model = ema.EMAModel(short, paths=PATHS, outcomes=["balance", "share.china[kazakhstan]"], replicates=3)
    experiments, outcomes = perform_experiments(model, 50, evaluator=ema.BatchEvaluator(model))
    assert calls == [50]  # all 50 points in one evaluate call
    assert len(experiments) == 50 and set(outcomes) == {"balance", "share__china_kazakhstan_"}
    points = [{p: row[ema_name(p)] for p in PATHS} for _, row in experiments.iterrows()]
    lock_in = short.uncertainty["parameters.lock_in"]
    assert all(lock_in.low <= p["parameters.lock_in"] <= lock_in.high for p in points)
    frame = real(short, points, replicates=3, outcomes=["balance"], months=[12])
    np.testing.assert_array_equal(outcomes["balance"], frame.groupby("point")["balance"].mean().to_numpy())


def test_sequential_evaluator_gives_the_same_numbers(short):
    from ema_workbench import Sample

    model = ema.EMAModel(short, paths=PATHS, outcomes=["balance"], replicates=2)
    scenarios = [Sample(**{"parameters__lock_in": v, "relations__tension": 0.2}) for v in (2.0, 4.0)]
    _, sequential = perform_experiments(model, scenarios)
    _, batch = perform_experiments(model, scenarios, evaluator=ema.BatchEvaluator(model))
    np.testing.assert_array_equal(sequential["balance"], batch["balance"])


def test_salib_samples_the_priors_and_analyses_evaluate(short):
    problem = balancesim.priors(short).problem
    keep = [problem["names"].index(p) for p in PATHS]
    sub = {key: [problem[key][k] for k in keep] for key in ("names", "bounds", "dists")}
    sub["num_vars"] = len(keep)
    x = sobol_sample.sample(sub, 8, calc_second_order=False, seed=1)
    lock_in = short.uncertainty["parameters.lock_in"]
    assert x[:, 0].min() >= lock_in.low and x[:, 0].max() <= lock_in.high
    points = [dict(zip(PATHS, row, strict=True)) for row in x]
    frame = balancesim.evaluate(short, points, replicates=2, outcomes=["balance"], months=[12])
    y = frame.groupby("point")["balance"].mean().to_numpy()
    indices = sobol_analyze.analyze(sub, y, calc_second_order=False, seed=1)
    assert np.isfinite(indices["ST"]).all()


def test_evaluate_says_which_priors_it_draws(short):
    """Default: every other prior held at the scenario's value; "prior": drawn per replicate,
    exactly as `run --set PATH=value --uncertainty prior` draws them."""
    point = [{"parameters.lock_in": 2.0}]
    held = balancesim.evaluate(short, point, replicates=5, seed=3, months=[12], outcomes=["balance"])
    assert held.attrs["drawn"] == [] and len(held.attrs["fixed"]) == len(short.uncertainty)
    drawn = balancesim.evaluate(
        short, point, replicates=5, seed=3, months=[12], outcomes=["balance"], uncertainty="prior"
    )
    assert drawn.attrs["fixed"] == ["parameters.lock_in"]
    assert len(drawn.attrs["drawn"]) == len(short.uncertainty) - 1
    fixed = load_scenario(BASELINE, {"horizon": 12, "parameters.lock_in": 2.0})
    series = balancesim.run(fixed, replicates=5, seed=3, uncertainty="prior").series
    expected = series.query("actor == 'region' and measure == 'balance' and step == 12")["value"].to_numpy()
    np.testing.assert_array_equal(drawn["balance"].to_numpy(), expected)
    assert held["balance"].std() < drawn["balance"].std()
    with pytest.raises(ValueError, match=r"^uncertainty: expected one of none, prior"):
        balancesim.evaluate(short, point, uncertainty="posterior")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outcomes": ["nope"]}, "^outcomes: outcome 'nope'"),
        ({"months": [99]}, "^months: 99 is outside"),
        ({"replicates": 0}, "^replicates: expected a whole number"),
    ],
)
def test_api_errors_name_arguments_not_options(short, kwargs, message):
    with pytest.raises(ValueError, match=message):
        balancesim.evaluate(short, [{"parameters.lock_in": 2.0}], **kwargs)
    with pytest.raises(ValueError, match=r"^design column parameters\.lock_inn: "):
        balancesim.evaluate(short, [{"parameters.lock_inn": 2.0}])
