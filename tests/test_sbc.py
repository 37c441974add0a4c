"""Simulation-based calibration, reduced: three priors, 200 synthetic truths, one bank of 400 points.

The full check (every screened prior, more truths) is `benchmarks/sbc.py`, its figure in
docs/calibration.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from balancesim import load_scenario
from balancesim.analysis.targets import load_targets
from balancesim.calibration import sbc as sbc_module
from balancesim.calibration.problem import build_problem
from balancesim.calibration.sbc import run_sbc

from .conftest import ROOT

# Three priors the record informs: Tajikistan's security tie with Russia (tj_russia_arms),
# Kyrgyzstan's trade tie with China (kg_china_russia_gap_2023), the Kazakh approval shock
# (the approval targets). The others stay at the scenario's values.
PATHS = [
    "actors.tajikistan.engagement.russia.security",
    "actors.kyrgyzstan.engagement.china.economy",
    "shocks.war_opinion.effects.0.amount",
]
TRUTHS = 200
PRIOR_WIDTH = 2 * 1.6449  # a 90% interval of the prior in z (standard normal)


def _problem():
    base = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    scenario = base.model_copy(update={"uncertainty": {p: base.uncertainty[p] for p in PATHS}})
    return build_problem(scenario, load_targets(ROOT / "targets" / "central_asia_2021_2023.yaml"))


def _check(result) -> None:
    cov = result.coverage()
    # 600 intervals (200 truths x 3): the binomial sd of a 90% share is 0.012, so 85-95% is
    # four sd either side; each parameter's 200 intervals (sd 0.021): 80-97%, about three.
    assert 0.85 <= cov["all"] <= 0.95, cov
    for path in PATHS:
        assert 0.80 <= cov[path] <= 0.97, (path, cov)
    # A posterior that ignores the data (the prior) is calibrated too: it must also be narrower.
    width = (result.intervals[..., 1] - result.intervals[..., 0]).mean(axis=0)
    assert width[PATHS.index("shocks.war_opinion.effects.0.amount")] < 0.6 * PRIOR_WIDTH, width
    assert np.median(result.ess) > 20, np.median(result.ess)


def test_posterior_intervals_cover_synthetic_truths_90_percent():
    result = run_sbc(_problem(), truths=TRUTHS, bank_points=400, seed=1)
    assert result.covered.shape == (TRUTHS, len(PATHS))
    _check(result)


def test_an_overconfident_posterior_fails_the_check(monkeypatch):
    """The check can fail: a likelihood four times too sharp gives intervals that miss."""
    from balancesim.analysis import targets

    sharp = targets.log_likelihood
    monkeypatch.setattr(targets, "log_likelihood", lambda *a, **k: 4 * sharp(*a, **k))
    result = run_sbc(_problem(), truths=TRUTHS, bank_points=400, seed=1)
    with pytest.raises(AssertionError):
        _check(result)
    assert sbc_module.LEVEL == 0.9
