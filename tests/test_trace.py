"""The decision trace (model/trace.py): an exact split of each month's change by mechanism."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from balancesim import BalanceModel, load_scenario
from balancesim.model import engine, rules
from balancesim.model.agents import RegionalState
from balancesim.model.mesa_model import DECISIONS, with_parameters
from balancesim.model.state import build_setup, initial_state
from balancesim.model.trace import ENGAGEMENT_TERMS, OPINION_TERMS, Trace
from balancesim.scenario.uncertainty import draw
from balancesim.validation import MECHANISMS

from .conftest import ROOT

SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
MINIMAL = ROOT / "tests" / "data" / "minimal.yaml"
SWITCHES = [t.parameter for t in ENGAGEMENT_TERMS + OPINION_TERMS if t.parameter]


def levels(setup, seed: int, replicates: int, values=None) -> tuple[np.ndarray, np.ndarray]:
    """Engagement and opinion at every month, stepped with the plain rules."""
    if values:
        setup = setup.with_values(engine.widen_values(values, replicates))
    noise = engine.draw_noise(setup, engine.widen(engine.replicate_seeds(seed, replicates)))
    state = initial_state(setup, max(replicates, engine.MIN_WIDTH))
    eng, op = [state.engagement], [state.opinion]
    for t in range(setup.horizon):
        state = rules.step(state, setup, noise.month(t, setup))
        eng.append(state.engagement)
        op.append(state.opinion)
    return np.array(eng)[..., :replicates], np.array(op)[..., :replicates]


def traced(setup, seed: int, replicates: int, values=None) -> tuple[np.ndarray, Trace]:
    trace = Trace.empty(setup, replicates)
    data = engine.simulate(setup, seed, replicates, values=values, trace=trace)
    return data, trace


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(SCENARIOS),
    seed=st.integers(0, 2**32),
    horizon=st.integers(1, 30),
    replicates=st.integers(1, 5),
    zeros=st.sets(st.sampled_from(SWITCHES), max_size=4),
    prior=st.booleans(),
)
def test_contributions_sum_to_the_change(path, seed, horizon, replicates, zeros, prior) -> None:
    scenario = with_parameters(load_scenario(path), dict.fromkeys(zeros, 0.0))
    setup = dataclasses.replace(build_setup(scenario), horizon=horizon)
    values = draw(scenario, seed, replicates) if prior and scenario.uncertain else None
    _, trace = traced(setup, seed, replicates, values)
    eng, op = levels(setup, seed, replicates, values)
    np.testing.assert_allclose(trace.engagement.sum(axis=1), np.diff(eng, axis=0), rtol=0, atol=1e-9)
    np.testing.assert_allclose(trace.opinion.sum(axis=1), np.diff(op, axis=0), rtol=0, atol=1e-9)


def test_the_trace_changes_no_number() -> None:
    setup = build_setup(load_scenario(ROOT / "scenarios" / "taiwan_shock.yaml"))
    plain = engine.simulate(setup, 3, 5, chunk_size=2)
    data, trace = traced(setup, 3, 5)
    np.testing.assert_array_equal(plain, data)
    assert np.abs(trace.engagement).sum() > 0


# Where each mechanism acts within 30 months (default: the war over Taiwan)
ACTS_IN = {"asset_strength": "russia_pivot.yaml", "failure_penalty": "csto_crisis.yaml"}
RARE = ("exit_courting",)  # acts only after a state has left its alliance


@pytest.mark.parametrize("parameter", SWITCHES)
def test_a_knocked_out_mechanism_contributes_nothing(parameter: str) -> None:
    scenario = load_scenario(ROOT / "scenarios" / ACTS_IN.get(parameter, "taiwan_shock.yaml"))
    horizon = 60 if parameter in ACTS_IN else 30
    setup = dataclasses.replace(build_setup(with_parameters(scenario, {parameter: 0.0})), horizon=horizon)
    _, trace = traced(setup, 11, 3)
    _, live = traced(dataclasses.replace(build_setup(scenario), horizon=horizon), 11, 3)
    for terms, knocked, alive in (
        (ENGAGEMENT_TERMS, trace.engagement, live.engagement),
        (OPINION_TERMS, trace.opinion, live.opinion),
    ):
        for k, term in enumerate(terms):
            if term.parameter == parameter:
                assert np.all(knocked[:, k] == 0.0), term.name
                # ...and it was not zero to begin with (the mechanism acts in this scenario)
                assert parameter in RARE or np.abs(alive[:, k]).max() > 0, term.name


def test_a_knocked_out_mechanism_contributes_nothing_per_run() -> None:
    """A coefficient drawn 0 in one replicate only: that replicate's contribution is zero."""
    setup = dataclasses.replace(
        build_setup(load_scenario(ROOT / "scenarios" / "taiwan_shock.yaml")), horizon=30
    )
    values = {"parameters.hedging_tension": np.array([0.0, 2.0, 3.0])}
    _, trace = traced(setup, 4, 3, values)
    k = [t.name for t in ENGAGEMENT_TERMS].index("partner-aware hedging")
    assert np.all(trace.engagement[:, k, ..., 0] == 0.0)
    assert np.abs(trace.engagement[:, k, ..., 1:]).max() > 0


def test_a_case_worked_by_hand() -> None:
    """Month 1 of the minimal scenario with bargaining the only mechanism on.

    Kazakhstan's trade with Russia: engagement 0.3, ties 0.3, Russia's effort
    capacity 0.3 x attention 0.6 = 0.18; lock_in 3.6, adjustment_rate 0.08.
    Ties and effort: target (3.6 x 0.3 + 0.18) / 4.6 = 1.26 / 4.6, so the
    month moves 0.08 x (1.26 / 4.6 - 0.3) = -0.0020869565...
    Bargaining: tension 0.25, Kazakhstan's ties with Russia 0.9 and with China
    0.5 (evenness 5/9), so Russia offers 0.4 x 0.25 x 5/9 = 1/18 more, 0.18 / 18
    = 0.01, of which the month takes 0.08 x 0.01 / 4.6 = 0.00017391304...
    """
    off = {p: 0.0 for p in SWITCHES if p not in ("bargaining_gain", "opinion_recovery")}
    scenario = with_parameters(load_scenario(MINIMAL), {**off, "hedging_tension": 0.0})
    model = BalanceModel(scenario, rng=1, trace=True)
    model.step()
    split = dict(
        zip([t.name for t in ENGAGEMENT_TERMS], model.decision.engagement[:, 0, 0, 1, 0], strict=True)
    )
    assert split.pop("ties and effort") == pytest.approx(0.08 * (1.26 / 4.6 - 0.3), abs=1e-15)
    assert split.pop("bargaining") == pytest.approx(0.08 * 0.01 / 4.6, abs=1e-15)
    assert all(v == 0.0 for v in split.values()), split
    # China is not paid a bonus by Turkey's standing: third parties pay none
    turkey = model.decision.engagement[[t.name for t in ENGAGEMENT_TERMS].index("bargaining"), 0, 2, :, 0]
    assert np.all(turkey == 0.0)


def test_balance_model_gives_the_engines_numbers() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "taiwan_shock.yaml")
    setup = build_setup(scenario)
    _, trace = traced(setup, 9, 3)
    model = BalanceModel(scenario, rng=int(engine.replicate_seeds(9, 3)[2]), trace=True)
    while model.running:
        model.step()
        assert model.decision.month == model.month
    table = model.datacollector.tables[DECISIONS]
    S, M, K, K2 = setup.n_regional, setup.n_partners, len(ENGAGEMENT_TERMS), len(OPINION_TERMS)
    per_state = K * M * 2 + K2 * M
    values = np.array(table["value"]).reshape(setup.horizon, S, per_state)
    eng = values[:, :, : K * M * 2].reshape(setup.horizon, S, K, M, 2)
    op = values[:, :, K * M * 2 :].reshape(setup.horizon, S, K2, M)
    np.testing.assert_array_equal(eng, trace.engagement[..., 2].transpose(0, 2, 1, 3, 4))
    np.testing.assert_array_equal(op, trace.opinion[..., 2].transpose(0, 2, 1, 3))
    kazakhstan = next(a for a in model.agents_by_type[RegionalState] if a.actor_id == "kazakhstan")
    last = np.array(kazakhstan.decision["value"])
    np.testing.assert_array_equal(last, values[-1, setup.regional_ids.index("kazakhstan")])


def test_a_shock_fired_by_hand_counts_as_the_months_shock() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "taiwan_shock.yaml")
    taiwan = next(s.id for s in scenario.shocks if s.month is not None and s.month > 3)
    plain, fired = (BalanceModel(scenario, rng=5, trace=True) for _ in range(2))
    for model in (plain, fired):
        model.step()
    before = fired.state.engagement
    fired.fire_shock(taiwan)
    for model in (plain, fired):
        model.step()
    assert np.abs(fired.decision.engagement[-1] - plain.decision.engagement[-1]).max() > 1e-4
    np.testing.assert_allclose(
        fired.decision.engagement.sum(axis=0), fired.state.engagement - before, atol=1e-12
    )
    # firing rebuilds the DataCollector: the months already decided stay in its table
    decided = [fired.datacollector.tables[DECISIONS]["step"], plain.datacollector.tables[DECISIONS]["step"]]
    assert decided[0] == decided[1] and sorted(set(decided[0])) == [1, 2]


def test_the_terms_are_the_influence_tables_mechanisms() -> None:
    """Every mechanism term names a row of the influence table with the same coefficient."""
    rows = {m.name.removeprefix("world: "): m for m in MECHANISMS}
    for term in ENGAGEMENT_TERMS + OPINION_TERMS:
        if term.parameter and not term.remainder and term.name in rows:
            assert f"parameters.{term.parameter}" in rows[term.name].switch, term.name
    named = [t.name for t in ENGAGEMENT_TERMS[1:] + OPINION_TERMS[1:] if not t.remainder]
    missing = [n for n in named if n not in rows]
    assert missing == ["courting after exit", "opinion recovery"], missing


def test_run_trace_and_explain_on_the_command_line(tmp_path) -> None:
    from click.testing import CliRunner

    from balancesim.cli.main import main

    runner = CliRunner()
    folder = tmp_path / "run"
    args = ["run", str(MINIMAL), "--replicates", "4", "--trace", "--no-plots", "--out", str(folder)]
    assert runner.invoke(main, args).exit_code == 0
    manifest = (folder / "manifest.json").read_text()
    assert '"trace.parquet"' in manifest
    why = tmp_path / "why"
    args = ["explain", str(folder), "--actor", "kazakhstan", "--to", "2023-03", "--out", str(why)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "total change" in result.output
    assert (why / "waterfall.png").stat().st_size > 0 and (why / "contributions.csv").is_file()
    assert not (folder / "plots").exists()  # the run folder is an input, never written
    bad = runner.invoke(main, ["explain", str(folder), "--actor", "narnia"])
    assert bad.exit_code == 2 and "--actor" in bad.output


def test_the_engine_imports_no_pandas() -> None:
    """Importing pandas sets a context variable (decimal's) that slows every numpy operation
    after it; the engine, trace or not, must not pay that (benchmarks/trace.py)."""
    import subprocess
    import sys

    code = (
        "import contextvars, sys\n"
        "from balancesim.model import engine, trace\n"
        "print(len(contextvars.copy_context()), 'pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "False"], done.stdout
