"""Priors (`uncertainty:`): drawing is reproducible and independent of chunking, other
priors and the noise; transforms are the distributions' inverse CDFs; the section is
validated, inherited and overridable like every other."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from balancesim import load_scenario
from balancesim.scenario import uncertainty
from balancesim.scenario.distributions import Beta, Choice, LogUniform, Normal, Triangular, Uniform
from balancesim.scenario.files import ScenarioError
from balancesim.scenario.schema import json_schema

from .conftest import ROOT

DATA = Path(__file__).parent / "data"
MINIMAL = (DATA / "minimal.yaml").resolve()
TAIWAN = ROOT / "scenarios" / "taiwan_shock.yaml"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_draws_depend_only_on_seed_path_and_replicate():
    scenario = load_scenario(TAIWAN)
    whole = uncertainty.draw(scenario, 7, 20)
    for first, count in ((0, 5), (3, 9), (13, 7)):
        part = uncertainty.draw(scenario, 7, count, first=first)
        for path, values in whole.items():
            np.testing.assert_array_equal(part[path], values[first : first + count])
    # A prior drawn alone gets the same values as among all the others.
    path = "parameters.lock_in"
    alone = uncertainty.draw({path: scenario.uncertainty[path]}, 7, 20)
    np.testing.assert_array_equal(alone[path], whole[path])
    assert not np.array_equal(uncertainty.draw(scenario, 8, 20)[path], whole[path])
    # Different paths get different uniforms.
    assert not np.array_equal(uncertainty.uniforms(7, "a.b", 20), uncertainty.uniforms(7, "a.c", 20))


def test_uniforms_are_uniform_and_far_from_the_ends():
    u = uncertainty.uniforms(3, "parameters.lock_in", 20_000, first=10**6)
    assert u.min() > 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 0.001


@pytest.mark.parametrize(
    ("dist", "frozen"),
    [
        (Uniform(distribution="uniform", low=1, high=3), stats.uniform(1, 2)),
        (LogUniform(distribution="log_uniform", low=0.01, high=0.1), stats.loguniform(0.01, 0.1)),
        (Triangular(distribution="triangular", low=1, mode=1.5, high=4), stats.triang(1 / 6, loc=1, scale=3)),
        (
            Normal(distribution="normal", mean=0.2, sd=0.05, low=0.1, high=0.4),
            stats.truncnorm(-2, 4, loc=0.2, scale=0.05),
        ),
        (Beta(distribution="beta", a=2, b=5, low=0.2, high=0.8), stats.beta(2, 5, loc=0.2, scale=0.6)),
    ],
    ids=lambda x: getattr(x, "distribution", ""),
)
def test_transform_is_the_inverse_cdf(dist, frozen):
    u = np.linspace(0.001, 0.999, 999)
    np.testing.assert_allclose(uncertainty.transform(dist, u), frozen.ppf(u), rtol=1e-10, atol=1e-12)


def test_choice_follows_its_weights():
    dist = Choice(distribution="choice", values=[24, 30, 36], weights=[1, 2, 1])
    x = uncertainty.transform(dist, uncertainty.uniforms(1, "m", 40_000))
    assert set(np.unique(x)) == {24.0, 30.0, 36.0}
    assert abs(np.mean(x == 30) - 0.5) < 0.01


def test_a_normal_prior_without_ends_stays_within_the_values_bounds():
    scenario = load_scenario(
        MINIMAL, {"uncertainty": {"relations.tension": {"distribution": "normal", "mean": 0.05, "sd": 0.2}}}
    )
    x = uncertainty.draw(scenario, 1, 5000)["relations.tension"]
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.min() < 0.02


def test_priors_are_inherited_replaced_and_removed(tmp_path):
    base = write(
        tmp_path,
        "base.yaml",
        f"""\
        extends: {MINIMAL}
        uncertainty:
          parameters.lock_in: {{distribution: normal, mean: 3, sd: 0.5}}
          relations.tension: {{distribution: uniform, low: 0.1, high: 0.3}}
          actors.china.attention: {{distribution: uniform, low: 0.4, high: 0.6}}
        """,
    )
    child = write(
        tmp_path,
        "child.yaml",
        """\
        extends: base.yaml
        uncertainty:
          parameters.lock_in: {distribution: uniform, low: 2, high: 4}
          relations.tension: null
        """,
    )
    assert set(load_scenario(base).uncertainty) == {
        "parameters.lock_in",
        "relations.tension",
        "actors.china.attention",
    }
    spec = load_scenario(child).uncertainty
    assert set(spec) == {"parameters.lock_in", "actors.china.attention"}
    assert isinstance(spec["parameters.lock_in"], Uniform)  # replaced whole: no leftover mean or sd


def test_prior_problems_name_file_and_line(tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        f"""\
        extends: {MINIMAL}
        uncertainty:
          actors.china.tools.soft: {{distribution: uniform, low: 0.1, high: 0.3}}
          institutions.csto.satisfaction.kazakhstan: {{distribution: uniform, low: 0.5, high: 0.9}}
          institutions.csto.salience.kazakhstan: {{distribution: uniform, low: 0.1, high: 0.2}}
          shocks.border_clash.severity.low: {{distribution: uniform, low: 0.5, high: 0.9}}
          parameters.lock_in: {{distribution: normal, mean: 60, sd: 1}}
        """,
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value).splitlines() == [
        f"{path}:3: uncertainty.actors.china.tools.soft: a tool share cannot be drawn alone: "
        "the three shares must sum to 1",
        f"{path}:6: uncertainty.shocks.border_clash.severity.low: draws could put severity.low (0.9) "
        "above severity.high (0.8)",
        f"{path}:7: uncertainty.parameters.lock_in.mean: 60 is outside the range 0..50",
    ]


def test_the_json_schema_describes_priors():
    schema = json_schema()
    prior = schema["properties"]["uncertainty"]["additionalProperties"]
    kinds = {
        schema["$defs"][ref["$ref"].split("/")[-1]]["properties"]["distribution"]["const"]
        for ref in prior["oneOf"]
    }
    assert kinds == {"uniform", "log_uniform", "triangular", "normal", "beta", "choice"}


def test_baseline_priors_are_narrower_than_admissible():
    from balancesim.scenario.per_run import bounds

    scenario = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    assert len(scenario.uncertainty) > 50
    for path, dist in scenario.uncertainty.items():
        low, high = dist.support()
        lo, hi = bounds(scenario, path)
        assert lo <= low < high <= hi and (high - low) < (hi - lo), path


def test_a_setting_fixes_its_value_and_drops_its_prior():
    path = ROOT / "scenarios" / "taiwan_shock.yaml"
    assert "parameters.hedging_tension" in load_scenario(path).uncertainty
    fixed = load_scenario(path, {"parameters.hedging_tension": 0.0, "actors.russia": {"attention": 0.5}})
    assert "parameters.hedging_tension" not in fixed.uncertainty
    assert "actors.russia.attention" not in fixed.uncertainty
    assert "actors.china.attention" in fixed.uncertainty
