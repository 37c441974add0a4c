"""One implementation, two drivers: the engine and BalanceModel agree; results do not
depend on chunking; invariants hold over many seeds."""

from __future__ import annotations

import mesa
import numpy as np
import pandas as pd
import pytest

from balancesim import BalanceModel, load_scenario, run
from balancesim.model import engine, metrics
from balancesim.model.agents import GreatPower, RegionalState
from balancesim.model.state import build_setup

from .conftest import SCENARIOS, short


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_engine_equals_mesa_model(path):
    """Replicate k of an engine run equals BalanceModel with replicate k's seed, all measures and months."""
    scenario = load_scenario(path)
    setup = build_setup(scenario)
    seed, R = 11, 6
    data = engine.simulate(setup, seed, R, chunk_size=4)
    seeds = engine.replicate_seeds(seed, R)
    for k in (0, 3, 5):
        model = BalanceModel(scenario, rng=int(seeds[k]))
        while model.running:
            model.step()
        series = model.series()
        assert series.shape == data[:, k, :].shape
        np.testing.assert_array_equal(series, data[:, k, :])  # bit for bit


def test_results_do_not_depend_on_chunk_size_or_count(baseline):
    scenario = short(baseline, 18)
    setup = build_setup(scenario)
    a = engine.simulate(setup, 3, 10, chunk_size=10)
    b = engine.simulate(setup, 3, 10, chunk_size=3)
    np.testing.assert_array_equal(a, engine.simulate(setup, 3, 10, chunk_size=1))
    c = engine.simulate(setup, 3, 25, chunk_size=7)[:, :10]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_months_and_columns_select_without_changing_values(baseline):
    scenario = short(baseline, 12)
    setup = build_setup(scenario)
    full = engine.simulate(setup, 3, 5)
    cols = np.array([0, 7, 100])
    part = engine.simulate(setup, 3, 5, months=[12, 4], column_index=cols)
    np.testing.assert_array_equal(part, full[[4, 12]][:, :, cols])


def test_different_seeds_differ(baseline):
    setup = build_setup(short(baseline, 12))
    assert not np.array_equal(engine.simulate(setup, 1, 3), engine.simulate(setup, 2, 3))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_invariants_over_many_seeds(path):
    """Shares in [0, 1] summing to one, no NaN, memberships 0/1, bounded indices."""
    scenario = load_scenario(path)
    results = run(scenario, replicates=300, seed=5)
    data = results.data
    assert np.isfinite(data).all()
    cols = results.columns
    measures = np.array(cols.measures)
    share_cols = np.array([m.startswith("share.") for m in measures])
    assert (data[:, :, share_cols] >= 0).all() and (data[:, :, share_cols] <= 1 + 1e-12).all()
    for s in results.setup.regional_ids:
        total = sum(results.values(s, f"share.{p}") for p in results.setup.partner_ids)
        np.testing.assert_allclose(total, 1.0, atol=1e-9)
        for d in ("security", "economy"):
            total = sum(results.values(s, f"share.{p}.{d}") for p in results.setup.partner_ids)
            np.testing.assert_allclose(total, 1.0, atol=1e-9)
        assert (
            (results.values(s, "hedging_index") >= 0) & (results.values(s, "hedging_index") <= 1 + 1e-12)
        ).all()
        assert (np.abs(results.values(s, "balance")) <= 1 + 1e-12).all()
        for i in results.setup.institution_ids:
            assert set(np.unique(results.values(s, f"member.{i}"))) <= {0.0, 1.0}
    for m in ("tension", "coordination"):
        v = results.values(metrics.REGION, m)
        assert ((v >= 0) & (v <= 1)).all()


def test_mesa_engine_option_gives_same_numbers(baseline):
    scenario = short(baseline, 10)
    a = run(scenario, replicates=3, seed=4)
    b = run(scenario, replicates=3, seed=4, engine_name="mesa")
    np.testing.assert_array_equal(a.data, b.data)


def test_batch_run_with_explicit_seeds(baseline, tmp_path):
    """BalanceModel works under mesa.batch_run; explicit seeds reproduce engine replicates."""
    path = tmp_path / "short.yaml"
    from balancesim.scenario.files import dump_scenario

    path.write_text(dump_scenario(short(baseline, 12)))
    seeds = [int(s) for s in engine.replicate_seeds(9, 2)]
    rows = mesa.batch_run(
        BalanceModel,
        parameters={"scenario": str(path), "hedging_tension": [0.0, 2.0]},
        rng=seeds,
        max_steps=12,
        number_processes=1,
        data_collection_period=-1,
        display_progress=False,
    )
    runs = {r["RunId"]: r for r in rows}  # batch_run adds one row per agent to each run
    assert len(runs) == 4
    assert {r["hedging_tension"] for r in runs.values()} == {0.0, 2.0}
    data = engine.simulate(build_setup(load_scenario(path)), 9, 2)
    cols = metrics.columns(build_setup(load_scenario(path)))
    k = cols.index(metrics.REGION, "hedging_index")
    expected = {float(v) for v in data[-1, :, k]}
    got = {r["regional_hedging_index"] for r in runs.values() if r["hedging_tension"] == 2.0}
    assert got == expected
    assert {r["replicate_seed"] for r in runs.values()} == set(seeds)


def _short_file(scenario, tmp_path, horizon=12):
    from balancesim.scenario.files import dump_scenario

    path = tmp_path / "short.yaml"
    path.write_text(dump_scenario(short(scenario, horizon)))
    return path


def test_batch_run_without_seeds_gives_different_reproducible_runs(baseline, tmp_path):
    """Mesa's convention: rng=None (what `iterations=3` passes) draws a fresh seed; the model records it."""
    path = _short_file(baseline, tmp_path)
    rows = mesa.batch_run(
        BalanceModel,
        parameters={"scenario": str(path)},
        rng=[None] * 3,
        max_steps=12,
        number_processes=1,
        display_progress=False,
    )
    runs = {r["RunId"]: r for r in rows}
    assert len(runs) == 3
    assert len({r["replicate_seed"] for r in runs.values()}) == 3
    assert len({r["regional_balance"] for r in runs.values()}) == 3
    for r in runs.values():  # the recorded seed reproduces its run
        again = BalanceModel(path, rng=r["replicate_seed"])
        while again.running:
            again.step()
        assert again.measure(metrics.REGION, "balance") == r["regional_balance"]


def test_batch_run_rows_keep_regional_and_state_measures_apart(baseline, tmp_path):
    """Model and agent reporters have distinct names, so batch_run's merged rows mix nothing."""
    path = _short_file(baseline, tmp_path)
    rows = mesa.batch_run(
        BalanceModel,
        parameters={"scenario": str(path)},
        rng=[5],
        max_steps=12,
        number_processes=1,
        display_progress=False,
    )
    model = BalanceModel(path, rng=5)
    while model.running:
        model.step()
    states = {a.unique_id: a for a in model.agents_by_type[RegionalState]}
    assert {r["AgentID"] for r in rows} >= set(states)
    for r in rows:
        assert r["regional_hedging_index"] == model.measure(metrics.REGION, "hedging_index")
        assert r["regional_balance"] == model.measure(metrics.REGION, "balance")
        if r["AgentID"] in states:
            assert r["hedging_index"] == states[r["AgentID"]].hedging_index
            assert r["balance"] == states[r["AgentID"]].balance
    state_values = {r["balance"] for r in rows if r["AgentID"] in states}
    assert model.measure(metrics.REGION, "balance") not in state_values


def test_model_seed_forms(baseline):
    scenario = short(baseline, 2)
    assert BalanceModel(scenario).replicate_seed != BalanceModel(scenario).replicate_seed
    seq = np.random.SeedSequence(4)
    assert BalanceModel(scenario, rng=seq).replicate_seed == int(seq.generate_state(1, np.uint64)[0])
    assert BalanceModel(scenario, rng=np.uint64(2**64 - 1)).replicate_seed == 2**64 - 1
    with pytest.raises(ValueError, match="2\\*\\*64"):
        BalanceModel(scenario, rng=2**64)
    with pytest.raises(ValueError, match="from 0"):
        BalanceModel(scenario, rng=-1)
    with pytest.raises(TypeError, match="replicate seed"):
        BalanceModel(scenario, rng="7")


def test_datacollector_is_the_only_history(baseline):
    """BalanceModel keeps no history of its own: series() and measure() read the DataCollector,
    which also holds the state after a shock fired by hand."""
    from .conftest import ROOT

    model = BalanceModel(ROOT / "scenarios" / "taiwan_shock.yaml", rng=1)
    assert not hasattr(model, "history")
    for _ in range(3):
        model.step()
    table = model.datacollector.get_table_dataframe("measures")
    assert table.shape == (4, len(model.columns))
    np.testing.assert_array_equal(table.to_numpy(), model.series())
    assert table[("region", "", "", "tension")].iloc[-1] == model.measure(metrics.REGION, "tension")
    before = model.datacollector.get_model_vars_dataframe()
    model.fire_shock("taiwan_war")
    after = model.datacollector.get_model_vars_dataframe()
    assert len(after) == 4 and len(model.series()) == 4
    assert after["tension"].iloc[-1] > before["tension"].iloc[-1]
    assert after["tension"].iloc[-1] == model.measure(metrics.REGION, "tension")
    pd.testing.assert_frame_equal(after.iloc[:3], before.iloc[:3])
    china = next(a for a in model.agents_by_type[GreatPower] if a.actor_id == "china")
    records = model.datacollector.get_agent_vars_dataframe()
    assert records.loc[(model.time, china.unique_id), "attention"] == china.attention
    assert len(records) == 4 * len(model.agents)
    model.step()
    assert len(model.datacollector.get_model_vars_dataframe()) == 5
    assert len(model.datacollector.get_agent_vars_dataframe()) == 5 * len(model.agents)


def test_batch_run_rows_name_the_actors(baseline, tmp_path):
    """batch_run's rows carry each agent's actor id, name, kind and whether the region counts it;
    the agent variables come through Mesa's public API, and the in-region states average to
    the regional reporter (Armenia, simulated but outside the region, excluded)."""
    path = _short_file(baseline, tmp_path, horizon=3)
    rows = mesa.batch_run(
        BalanceModel,
        parameters={"scenario": str(path)},
        rng=[5],
        max_steps=3,
        number_processes=1,
        data_collection_period=-1,
        display_progress=False,
    )
    by_actor = {r["actor_id"]: r for r in rows}
    assert set(by_actor) == {a.id for a in baseline.actors}
    assert by_actor["kazakhstan"]["name"] == "Kazakhstan" and by_actor["kazakhstan"]["in_region"]
    assert by_actor["armenia"]["kind"] == "regional" and not by_actor["armenia"]["in_region"]
    assert by_actor["china"]["kind"] == "great_power" and by_actor["china"]["hedging_index"] is None
    inside = [r["hedging_index"] for r in rows if r["in_region"]]
    assert len(inside) == 5
    assert np.mean(inside) == pytest.approx(by_actor["china"]["regional_hedging_index"], abs=1e-12)
    gains = [r["gains"] for r in rows if r["in_region"]]
    assert np.mean(gains) == pytest.approx(by_actor["china"]["regional_gains"], abs=1e-12)
    assert by_actor["china"]["members.csto"] == 3  # Kazakhstan, Kyrgyzstan, Tajikistan (not Armenia)
    assert by_actor["kazakhstan"]["memberships"] == 3  # CSTO, EAEU, SCO

    model = BalanceModel(path, rng=5)
    frame = model.datacollector.get_agent_vars_dataframe()
    assert not frame.empty and set(frame["actor_id"]) == set(by_actor)
    assert frame["gains"].notna().sum() == 6


def test_no_private_mesa_attribute_in_src():
    """Only Mesa's public API: no `_`-prefixed attribute of a Mesa DataCollector or Model is
    named anywhere in src/ (a Mesa upgrade may change them)."""
    import re

    from .conftest import ROOT

    private = {
        n
        for obj in (mesa.DataCollector(), mesa.Model())
        for n in (*vars(obj), *dir(type(obj)))
        if n.startswith("_") and not n.startswith("__")
    }
    assert {"_agent_records", "_collection_steps", "_agenttype_records"} <= private
    pattern = re.compile(r"\.(" + "|".join(map(re.escape, sorted(private))) + r")\b")
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in sorted((ROOT / "src").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == []


def test_scheduled_shock_fired_by_hand_does_not_fire_again():
    """Firing the war over Taiwan by hand before its month leaves one war: tension jumps once."""
    from .conftest import ROOT

    scenario = load_scenario(ROOT / "scenarios" / "taiwan_shock.yaml")
    month = next(s.month for s in scenario.shocks if s.id == "taiwan_war")
    model = BalanceModel(scenario, rng=1)
    for _ in range(month - 6):
        model.step()
    model.fire_shock("taiwan_war")
    while model.month < month + 1:
        model.step()
    untouched = BalanceModel(scenario, rng=1)
    while untouched.month < month + 1:
        untouched.step()
    for m, jumps in ((model, [month - 6]), (untouched, [month])):
        tension = m.datacollector.get_model_vars_dataframe()["tension"].to_numpy()
        # the war adds 0.25 x severity (at least 0.3) to tension in the month it happens
        assert [k + 1 for k in np.flatnonzero(np.diff(tension) > 0.07) if k + 1 >= month - 6] == jumps


def test_model_agents_are_views_of_the_state(baseline):
    from balancesim.model.agents import GreatPower, RegionalState, ThirdParty

    model = BalanceModel(short(baseline, 6), rng=3)
    states = model.agents_by_type[RegionalState]
    assert len(states) == 6 and len(model.agents_by_type[GreatPower]) == 2  # five and Armenia
    assert model.setup.region_ids == ("kazakhstan", "kyrgyzstan", "tajikistan", "uzbekistan", "turkmenistan")
    assert len(model.agents_by_type[ThirdParty]) == 4
    kz = next(a for a in states if a.actor_id == "kazakhstan")
    before = kz.engagement_shares
    assert sum(before.values()) == pytest.approx(1.0)
    for _ in range(6):
        model.step()
    assert not model.running
    assert kz.engagement_shares != before
    assert kz.memberships["csto"] in {"member", "threatening exit", "left"}
    frame = model.datacollector.get_model_vars_dataframe()
    assert len(frame) == 7 and "regional_hedging_index" in frame


def test_fire_shock_changes_the_state(tmp_path):
    from .conftest import ROOT

    model = BalanceModel(ROOT / "scenarios" / "taiwan_shock.yaml", rng=1)
    before = model.measure(metrics.REGION, "tension")
    china = next(a for a in model.agents if getattr(a, "actor_id", "") == "china")
    attention = china.attention
    model.fire_shock("taiwan_war")
    assert model.measure(metrics.REGION, "tension") > before
    assert china.attention < attention
    with pytest.raises(KeyError, match="no shock"):
        model.fire_shock("nothing")
