"""Per-run values: every addressable PATH maps to its setup field as a full rebuild does;
the engine with per-run values equals BalanceModel with the same values."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from balancesim import BalanceModel, load_scenario
from balancesim.model import engine
from balancesim.model.state import build_setup
from balancesim.scenario import per_run
from balancesim.scenario.per_run import ValuesError

from .conftest import ROOT, SCENARIOS

TAIWAN = ROOT / "scenarios" / "taiwan_shock.yaml"


def _numeric_leaves(data, prefix=""):
    """PATHs of every number in plain scenario data (lists by id, or index for effects)."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _numeric_leaves(v, f"{prefix}.{k}" if prefix else k)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            key = v["id"] if isinstance(v, dict) and "id" in v else i
            yield from _numeric_leaves(v, f"{prefix}.{key}")
    elif isinstance(data, int | float) and not isinstance(data, bool):
        yield prefix


def _lookup(data, path):
    for part in path.split("."):
        if isinstance(data, list):
            data = (
                next((x for x in data if isinstance(x, dict) and x.get("id") == part), None)
                or data[int(part)]
            )
        else:
            data = data[part]
    return data


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_numeric_value_is_addressable(path):
    scenario = load_scenario(path)
    data = scenario.model_dump(mode="json")
    skip = {*per_run.FIXED, "uncertainty"}  # priors are about values, not values themselves
    leaves = {p for p in _numeric_leaves(data) if p.split(".")[0] not in skip}
    assert leaves == set(per_run.paths(scenario))
    for p in leaves:
        per_run.resolve(scenario, p)  # raises if a path has no setup field


def _same(got, expected, name):
    """`got` (a per-run value, maybe with an R axis) equals `expected` (the rebuild) in every replicate."""
    np.testing.assert_array_equal(got, np.broadcast_to(expected, np.shape(got)), err_msg=name)


def _fields_equal(got, expected):
    for f in dataclasses.fields(got):
        x, y = getattr(got, f.name), getattr(expected, f.name)
        if f.name == "p":
            for name, value in vars(x).items():
                _same(value, getattr(y, name), name)
        elif f.name == "shock_effects":
            for ex, ey in zip(x, y, strict=True):
                for e1, e2 in zip(ex, ey, strict=True):
                    _same(e1.amount, e2.amount, "amount")
        elif isinstance(x, np.ndarray) or f.name in ("tension0", "coordination0"):
            _same(x, y, f.name)


def _value_for(scenario, path, rng):
    """A valid new value for PATH, different from the current one where the schema allows."""
    current = _lookup(scenario.model_dump(mode="json"), path)
    _, high = per_run.bounds(scenario, path)
    if ".tools." in path:  # the three shares must still sum to one
        return current
    if path.endswith(".month"):
        return int(rng.integers(1, scenario.horizon + 1))
    if path.endswith("severity.low"):
        return current * rng.uniform(0.3, 1.0)
    return current + rng.uniform(0.1, 0.6) * (high - current)


def test_with_values_matches_a_full_rebuild():
    """For every PATH: a constant per-run value gives the setup that `--set PATH=value` gives."""
    scenario = load_scenario(TAIWAN)
    setup = build_setup(scenario)
    rng = np.random.default_rng(4)
    for path in per_run.paths(scenario):
        value = _value_for(scenario, path, rng)
        expected = build_setup(load_scenario(TAIWAN, {path: value}))
        got = setup.with_values({path: np.full(3, float(value))})
        _fields_equal(got, expected)


def test_unvaried_fields_are_shared():
    setup = build_setup(load_scenario(TAIWAN))
    varied = setup.with_values({"actors.china.attention": np.array([0.2, 0.3, 0.4])})
    assert varied.attention0.shape == (setup.n_partners, 3)
    assert varied.ties is setup.ties and varied.p is setup.p
    russia = setup.partner_ids.index("russia")
    np.testing.assert_array_equal(varied.attention0[russia], setup.attention0[russia, 0])


DRAWN = {
    "parameters.hedging_tension": (0.5, 4.0),
    "parameters.exit_threshold": (0.1, 0.5),
    "actors.china.attention": (0.3, 0.8),
    "actors.kazakhstan.engagement.russia.security": (0.3, 0.9),
    "actors.kyrgyzstan.agenda.sovereignty": (0.05, 0.5),
    "relations.tension": (0.1, 0.5),
    "institutions.csto.reliability": (0.3, 0.9),
    "shocks.taiwan_war.severity.low": (0.2, 0.5),
    "shocks.taiwan_war.effects.0.amount": (0.1, 0.5),
}


def test_engine_with_drawn_values_equals_the_mesa_model():
    """Replicate k with per-run values equals BalanceModel(values=replicate k's values), bit for bit."""
    scenario = load_scenario(TAIWAN)
    scenario = scenario.model_copy(update={"horizon": 30})
    setup = build_setup(scenario)
    seed, R = 5, 5
    rng = np.random.default_rng(1)
    values = {p: rng.uniform(lo, hi, R) for p, (lo, hi) in DRAWN.items()}
    data = engine.simulate(setup, seed, R, chunk_size=2, values=values)
    plain = engine.simulate(setup, seed, R, chunk_size=2)
    assert not np.array_equal(data, plain)
    seeds = engine.replicate_seeds(seed, R)
    for k in (0, 4):
        model = BalanceModel(scenario, rng=int(seeds[k]), values={p: v[k] for p, v in values.items()})
        while model.running:
            model.step()
        np.testing.assert_array_equal(model.series(), data[:, k, :])
    # A lone replicate is doubled with its values: still replicate 4.
    alone = engine.run_replicates(setup, seeds[4:5], values={p: v[4:5] for p, v in values.items()})
    np.testing.assert_array_equal(alone[:, 0], data[:, 4])


def test_per_run_values_do_not_depend_on_chunking():
    setup = build_setup(load_scenario(TAIWAN).model_copy(update={"horizon": 12}))
    values = {"parameters.lock_in": np.linspace(1, 6, 7), "shocks.taiwan_war.month": np.arange(1, 8)}
    a = engine.simulate(setup, 2, 7, chunk_size=7, values=values)
    b = engine.simulate(setup, 2, 7, chunk_size=3, values=values)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"parameters.lock_in": [1.0, 60.0]}, "parameters.lock_in: 60 (replicate 1) is above the maximum 50"),
        ({"parameters.lock_inn": [1.0, 2.0]}, "did you mean 'lock_in'?"),
        ({"actors.chna.attention": [0.1, 0.2]}, "'chna' is not an actor (did you mean 'china'?)"),
        ({"shocks.taiwan_war.month": [3.0, 3.5]}, "3.5 (replicate 1) is not a whole number"),
        ({"shocks.taiwan_war.probability": [0.1, 0.2]}, "taiwan_war is a scheduled shock"),
        ({"horizon": [10.0, 20.0]}, "'horizon' fixes the shape of a run"),
        ({"actors.china.tools.soft": [0.2, 0.5]}, "actors.china.tools: hard + economic + soft must be 1"),
        ({"parameters.lock_in": [1.0, 2.0], "relations.tension": [0.1]}, "of one length"),
        ({"actors.china.attention": [0.1, np.nan]}, "nan (replicate 1) is not a finite number"),
    ],
)
def test_bad_values_are_refused_clearly(values, message):
    setup = build_setup(load_scenario(TAIWAN))
    with pytest.raises(ValuesError, match=None) as err:
        setup.with_values({p: np.asarray(v) for p, v in values.items()})
    assert message in str(err.value)
