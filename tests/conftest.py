"""Shared fixtures: the project's scenarios, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancesim import load_scenario
from balancesim.model.state import build_setup

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="session")
def baseline():
    return load_scenario(ROOT / "scenarios" / "baseline.yaml")


@pytest.fixture(scope="session")
def baseline_setup(baseline):
    return build_setup(baseline)


def short(scenario, horizon: int = 24, **parameters):
    """A copy of a scenario with a shorter horizon (shocks past it dropped) and some parameters changed."""
    from balancesim.model.mesa_model import with_parameters

    shocks = [s for s in scenario.shocks if s.month is None or s.month <= horizon]
    return with_parameters(scenario.model_copy(update={"horizon": horizon, "shocks": shocks}), parameters)
