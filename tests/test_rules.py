"""Each rule pushes in the direction its claim says.

The tests build a state from the baseline scenario, change one input, and
compare a rule's output with and without the change (all else equal).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from balancesim import load_scenario
from balancesim.model import metrics, rules
from balancesim.model.engine import draw_noise, replicate_seeds
from balancesim.model.mesa_model import with_parameters
from balancesim.model.state import ECONOMY, SECURITY, SOFT, build_setup, initial_state


def S(setup, name):
    return setup.regional_ids.index(name)


def M(setup, name):
    return setup.partner_ids.index(name)


def zero_noise(setup, R=1):
    noise = draw_noise(setup, replicate_seeds(1, R)).month(0, setup)
    noise.engagement[:] = 0.0
    noise.opinion[:] = 0.0
    noise.protect[:] = 0.5
    noise.threaten[:] = 1.0
    noise.leave[:] = 1.0
    noise.respond[:] = 1.0
    return noise


def target_hedging(setup, state):
    share = rules.shares(state.engagement)
    dshare = rules.domain_shares(state.engagement)
    invited = rules.invitations(state, setup, dshare)
    offer = rules.offers(state, setup, share, dshare, invited)
    accepted = rules.domestic_filter(offer, state, setup, dshare)
    tools = rules.tool_mix(state.attention, setup)
    target = rules.engagement_target(accepted, state, setup, share, tools)
    return metrics.hedging_index(rules.shares(target))


def test_tension_makes_states_hedge(baseline_setup):
    """C3: more great-power tension flattens every state's target engagement."""
    setup = baseline_setup
    calm, tense = initial_state(setup, 1), initial_state(setup, 1)
    tense.tension[:] = setup.tension0 + 0.4
    assert np.all(target_hedging(setup, tense) > target_hedging(setup, calm))


def test_hedging_switched_off_means_no_tension_effect(baseline):
    setup = build_setup(with_parameters(baseline, {"hedging_tension": 0.0, "bargaining_gain": 0.0}))
    calm, tense = initial_state(setup, 1), initial_state(setup, 1)
    tense.tension[:] = setup.tension0 + 0.4
    np.testing.assert_allclose(target_hedging(setup, tense), target_hedging(setup, calm))


def test_competition_raises_offers_to_non_aligned(baseline_setup):
    """C4: bargaining leverage grows with tension, most for evenly placed states."""
    setup = baseline_setup
    st = initial_state(setup, 2)
    st.tension[:] = [0.1, 0.6]
    share, dshare = rules.shares(st.engagement), rules.domain_shares(st.engagement)
    offer = rules.offers(st, setup, share, dshare, np.zeros_like(share))
    total = offer.sum(axis=(1, 2))  # (S, R)
    assert np.all(total[:, 1] > total[:, 0])
    gain = total[:, 1] / total[:, 0]
    kz, tk = S(setup, "kazakhstan"), S(setup, "turkmenistan")
    # Turkmenistan sits more evenly between Russia and China than Kazakhstan in the baseline.
    gp = setup.great_power_index
    even = share[:, gp, 0].min(axis=1) / share[:, gp, 0].max(axis=1)
    assert even[tk] > even[kz]
    assert gain[tk] > gain[kz]


def test_elite_control_filters_pressure(baseline_setup):
    """C2 / P8: the firmer the elite's grip, the less of an ill-fitting offer gets through."""
    setup = baseline_setup
    st = initial_state(setup, 2)
    st.elite_control[:, 0] = 0.2
    st.elite_control[:, 1] = 0.95
    dshare = rules.domain_shares(st.engagement)
    offer = np.ones_like(st.engagement)
    accepted = rules.domestic_filter(offer, st, setup, dshare)
    us = M(setup, "us")  # little support for the ruling regimes: a poor fit in Central Asia
    inside = setup.in_region  # (Armenia's agenda weighs regime security little: the US fits it)
    assert np.all(accepted[inside, us, :, 1] < accepted[inside, us, :, 0])
    # With the filter switched off the grip makes no difference.
    off = build_setup(with_parameters(setup.scenario, {"domestic_filter": 0.0}))
    accepted_off = rules.domestic_filter(offer, st, off, dshare)
    np.testing.assert_allclose(accepted_off[..., 0], accepted_off[..., 1])


def test_engagement_moves_slowly(baseline_setup):
    """C1: only adjustment_rate of the gap to the target closes in a month."""
    setup = baseline_setup
    st = initial_state(setup, 1)
    target = st.engagement * 2.0
    floor = np.zeros_like(st.engagement)
    moved = rules.adjust_engagement(st, target, setup, np.zeros_like(st.engagement), floor)
    np.testing.assert_allclose(moved - st.engagement, setup.p.adjustment_rate * st.engagement)


def test_unmet_security_need_invites_best_third_party(baseline_setup):
    """C3 / P4: an uncovered threat invites a third party; the best-fitting one gets most."""
    setup = baseline_setup
    st = initial_state(setup, 2)
    tj = S(setup, "tajikistan")
    st.threat[tj, 0] = 0.0
    st.threat[tj, 1] = 1.0
    invited = rules.invitations(st, setup, rules.domain_shares(st.engagement))
    assert invited[tj, :, 0].sum() == 0.0
    assert invited[tj, :, 1].sum() > 0.0
    assert np.all(invited[tj, setup.great_power_index, 1] == 0.0)
    best = setup.partner_ids[int(np.argmax(invited[tj, :, 1]))]
    assert best == "india"  # acceptable to Russia, liked in Tajikistan


def test_failed_protection_erodes_alliance(baseline_setup):
    """C9: an attacked member left undefended loses satisfaction; salience rises."""
    setup = baseline_setup
    st = initial_state(setup, 2)
    kg = S(setup, "kyrgyzstan")
    st.attack[kg] = 0.8
    noise = zero_noise(setup, 2)
    noise.protect[:, :, 0] = 0.0  # defended
    noise.protect[:, :, 1] = 1.0  # not defended
    _, _, satisfaction, salience, opinion_change = rules.alliance_politics(st, setup, noise)
    csto = setup.institution_ids.index("csto")
    assert satisfaction[kg, csto, 1] < satisfaction[kg, csto, 0]
    assert salience[kg, csto, 1] > st.salience[kg, csto, 1]
    assert opinion_change[kg, M(setup, "russia"), 1] < 0.0
    assert opinion_change[kg, M(setup, "russia"), 0] == 0.0


def test_exit_threat_comes_before_exit(baseline_setup):
    """C11: a dissatisfied member first threatens; only an unanswered threat becomes exit."""
    setup = baseline_setup
    st = initial_state(setup, 1)
    kz, csto = S(setup, "kazakhstan"), setup.institution_ids.index("csto")
    st.satisfaction[kz, csto] = 0.0
    noise = zero_noise(setup)
    noise.threaten[:] = 0.0
    noise.leave[:] = 0.0
    member, threat, *_ = rules.alliance_politics(st, setup, noise)
    assert member[kz, csto, 0] == 1.0 and threat[kz, csto, 0] == 1.0
    st.exit_threat = threat
    member, threat, *_ = rules.alliance_politics(st, setup, noise)  # respond draw = 1: no answer
    assert member[kz, csto, 0] == 0.0 and threat[kz, csto, 0] == 0.0


def test_public_discontent_alone_does_not_take_a_firm_regime_out(baseline_setup):
    """C2, C10 / P5: high salience and low opinion of the leader, but a satisfied elite: no threat."""
    setup = baseline_setup
    st = initial_state(setup, 1)
    tj, csto = S(setup, "tajikistan"), setup.institution_ids.index("csto")
    st.salience[tj, csto] = 1.0
    st.opinion[tj, M(setup, "russia")] = 0.3
    noise = zero_noise(setup)
    noise.threaten[:] = 0.0  # any positive exit pressure would trigger a threat
    _, threat, *_ = rules.alliance_politics(st, setup, noise)
    assert threat[tj, csto, 0] == 0.0


def test_fading_attention_shifts_tools_to_soft_power(baseline_setup):
    """C14, C15 / P7: less attention, less hard and economic effort, larger soft share."""
    setup = baseline_setup
    st = initial_state(setup, 2)
    ru = M(setup, "russia")
    st.attention[ru, 1] = 0.3 * setup.attention0[ru, 0]
    tools = rules.tool_mix(st.attention, setup)
    work = rules.effort(st, tools, setup)
    assert tools[ru, SOFT, 1] > tools[ru, SOFT, 0]
    assert np.all(work[ru, :, 1] < work[ru, :, 0])
    decayed = rules.regional_attention(
        type(st)(**{**st.__dict__, "attention_decay": np.full_like(st.attention, 0.1)}), setup
    )
    assert np.all(decayed < st.attention + 1e-12)


def test_soft_power_works_better_on_fertile_ground(baseline_setup):
    """C15: the same soft effort raises opinion more where society is receptive."""
    setup = baseline_setup
    st = initial_state(setup, 1)
    st.opinion[:] = 0.5
    tools = rules.tool_mix(st.attention, setup)
    dshare = rules.domain_shares(st.engagement)
    new = rules.public_opinion(st, setup, tools, dshare, np.zeros_like(st.opinion))
    ru = M(setup, "russia")
    kg, tk = S(setup, "kyrgyzstan"), S(setup, "turkmenistan")
    assert setup.fertility[kg] > setup.fertility[tk]
    # Opinion recovery pulls toward each state's initial level; compare the soft-power term only.
    recovery = setup.p.opinion_recovery * (setup.opinion0[:, ru, 0] - 0.5)
    gain = new[:, ru, 0] - 0.5 - recovery
    assert gain[kg] > gain[tk] > 0


def test_china_footprint_costs_opinion(baseline_setup):
    """C7: a larger economic footprint of a power seen as threatening lowers its approval."""
    setup = baseline_setup
    st = initial_state(setup, 2)
    cn, kz = M(setup, "china"), S(setup, "kazakhstan")
    st.engagement[kz, cn, ECONOMY, 1] *= 4.0
    tools = rules.tool_mix(st.attention, setup)
    dshare = rules.domain_shares(st.engagement)
    new = rules.public_opinion(st, setup, tools, dshare, np.zeros_like(st.opinion))
    assert new[kz, cn, 1] < new[kz, cn, 0]


def test_regime_insecurity_raises_coordination_and_overlap_raises_tension(baseline_setup):
    """C5: weak elite control raises coordination. C6: overlap in a domain raises tension."""
    setup = baseline_setup
    st = initial_state(setup, 2)
    st.elite_control[:, 1] = 0.2
    dshare = rules.domain_shares(st.engagement)
    zero = np.zeros_like(st.opinion)
    share = rules.shares(st.engagement)
    coordination, _ = rules.great_power_relations(st, setup, dshare, zero, share)
    assert coordination[1] > coordination[0]

    st = initial_state(setup, 2)
    ru, cn = M(setup, "russia"), M(setup, "china")
    st.engagement[:, cn, SECURITY, 1] = st.engagement[:, ru, SECURITY, 1]  # China matches Russia in security
    dshare = rules.domain_shares(st.engagement)
    share = rules.shares(st.engagement)
    _, tension = rules.great_power_relations(st, setup, dshare, zero, share)
    assert tension[1] > tension[0]


def test_division_of_labour_holds_back_the_non_leader(baseline_setup):
    """C6: with coordination, China offers less security where Russia leads it."""
    setup = baseline_setup
    st = initial_state(setup, 2)
    st.coordination[:] = [0.0, 0.9]
    share, dshare = rules.shares(st.engagement), rules.domain_shares(st.engagement)
    offer = rules.offers(st, setup, share, dshare, np.zeros_like(share))
    cn, kz = M(setup, "china"), S(setup, "kazakhstan")
    assert offer[kz, cn, SECURITY, 1] < offer[kz, cn, SECURITY, 0]


@pytest.mark.parametrize(
    "change, amount, expect", [("add", 0.3, 0.35), ("multiply", 0.5, 0.15), ("set", 0.8, 0.5)]
)
def test_shock_effects_scale_with_severity(baseline_setup, change, amount, expect):
    """C13: effects apply in proportion to severity (0.5 here); no severity, no change."""
    from balancesim.model.state import CompiledEffect

    setup = baseline_setup
    st = initial_state(setup, 2)
    st.tension[:] = 0.2
    rules._apply_effect(st, CompiledEffect("tension", change, amount), np.array([0.0, 0.5]))
    assert st.tension[0] == pytest.approx(0.2)
    assert st.tension[1] == pytest.approx(expect)


# --------------------------------------------------------------------------
# Mechanisms that used to be inert (issue "The model, mechanism by mechanism")

ROOT = Path(__file__).resolve().parent.parent


def _final(scenario, actor: str, measure: str, replicates: int = 40, **overrides) -> np.ndarray:
    """(R,) values of one measure at the last month of `scenario` with `overrides` (same seed)."""
    from balancesim.model import engine

    setup = build_setup(load_scenario(ROOT / "scenarios" / scenario, overrides))
    col = metrics.columns(setup).index(actor, measure)
    out = engine.simulate(setup, 7, replicates, months=[setup.horizon], column_index=np.array([col]))
    return out[0, :, 0]


def test_bargaining_gain_changes_gains_and_hedging():
    """C4: competition pays: without bargaining no gains; with it gains and a different spread."""
    off = {"parameters.bargaining_gain": 0.0}
    on = {"parameters.bargaining_gain": 2.0}
    assert np.all(_final("baseline.yaml", "region", "gains", **off) == 0.0)
    assert np.mean(_final("baseline.yaml", "region", "gains", **on)) > 0.05
    h0 = _final("baseline.yaml", "region", "hedging_index", **off)
    h2 = _final("baseline.yaml", "region", "hedging_index", **on)
    assert abs(np.mean(h2 - h0)) > 0.005


def test_only_the_competing_great_powers_pay_the_bonus(baseline_setup):
    """C4: third parties' offers do not grow with tension; the great powers' do."""
    setup = baseline_setup
    st = initial_state(setup, 2)
    st.tension[:] = [0.1, 0.6]
    share, dshare = rules.shares(st.engagement), rules.domain_shares(st.engagement)
    offer = rules.offers(st, setup, share, dshare, np.zeros_like(share))
    tp, gp = setup.third_party_index, setup.great_power_index
    np.testing.assert_allclose(offer[:, tp, :, 0], offer[:, tp, :, 1])
    assert np.all(offer[:, gp, :, 1].sum(axis=(1, 2)) > offer[:, gp, :, 0].sum(axis=(1, 2)))


def test_deference_changes_shares():
    """C6: a coordinating power holding back where the other leads changes who holds what."""
    off = _final("baseline.yaml", "kazakhstan", "share.china.security", **{"parameters.deference": 0.0})
    on = _final("baseline.yaml", "kazakhstan", "share.china.security", **{"parameters.deference": 1.0})
    assert np.mean(off - on) > 0.01


def test_exit_changes_the_leavers_ties(baseline_setup):
    """C10, C11: after exit, security ties with the former leader decay and third parties are courted."""
    setup = baseline_setup
    kz, ru, csto = S(setup, "kazakhstan"), M(setup, "russia"), setup.institution_ids.index("csto")
    st = initial_state(setup, 2)
    st.member[kz, csto, 1] = 0.0  # replicate 1: Kazakhstan has left
    noise = zero_noise(setup, 2)
    for _ in range(24):
        st = rules.step(st, setup, noise)
    assert st.ties[kz, ru, SECURITY, 1] < 0.8 * st.ties[kz, ru, SECURITY, 0]
    tp = setup.third_party_index
    assert st.engagement[kz, tp, SECURITY, 1].sum() > st.engagement[kz, tp, SECURITY, 0].sum()


def test_approval_moves_alignment_more_where_the_grip_is_weak():
    """C2, C7: the same fall in approval of Russia moves a weakly held state more."""
    drop = {
        "shocks": [
            {
                "id": "drop",
                "name": "approval of Russia falls",
                "month": 1,
                "effects": [
                    {"variable": "opinion", "actor": "kazakhstan", "partner": "russia", "amount": -0.4}
                ],
            }
        ]
    }
    effects = {}
    for control in (0.3, 0.9):
        grip = {"actors.kazakhstan.elite_control": control}
        calm = _final("baseline.yaml", "kazakhstan", "balance", **grip)
        hit = _final("baseline.yaml", "kazakhstan", "balance", **(grip | drop))
        effects[control] = np.mean(hit - calm)
    assert effects[0.3] < effects[0.9] < 0.0


def test_ties_are_not_a_permanent_anchor():
    """C1, C12: a much stronger China and a distracted Russia end Russia's dominance in the long run."""
    world = {
        "horizon": 600,
        "actors.china.capacity.security": 1.0,
        "actors.china.capacity.economy": 3.0,
        "actors.russia.attention": 0.21,
    }
    share = _final("baseline.yaml", "kazakhstan", "share.russia.security", replicates=8, **world)
    assert np.mean(share) < 0.6


def test_assets_hold_engagement_until_their_end(baseline_setup):
    """C1, C12: a base keeps its owner's engagement up to its floor until its end month."""
    from balancesim.model.ties import asset_floor

    setup = baseline_setup
    tj, ru = S(setup, "tajikistan"), M(setup, "russia")
    k = list(setup.scenario.assets).index(next(a for a in setup.scenario.assets if a.id == "base_201"))
    assert asset_floor(setup, 1)[tj, ru, SECURITY, 0] == setup.asset_floor[k, 0]
    assert asset_floor(setup, int(setup.asset_end[k]))[tj, ru, SECURITY, 0] == 0.0


def test_firm_grip_passes_fitting_offers_at_full_strength_or_more(baseline_setup):
    """C2: the filter selects: a firm grip takes up what fits its agenda and screens out what does not."""
    setup = baseline_setup
    st = initial_state(setup, 1)
    st.elite_control[:] = 1.0
    offer = np.ones_like(st.engagement)
    fits = np.zeros_like(st.engagement)  # dominance 0: only the agenda benefit counts
    accepted = rules.domestic_filter(offer, st, setup, fits)
    assert accepted.max() > 1.0
    dominated = np.ones_like(st.engagement)  # full dominance: the sovereignty cost bites
    assert rules.domestic_filter(offer, st, setup, dominated).min() < 1.0


def test_exit_threat_is_weighed_against_the_concession_expected(baseline_setup):
    """C11: with equal dissatisfaction, a leader unlikely to answer is threatened less often."""
    setup = baseline_setup
    st = initial_state(setup, 2)
    kz, csto, ru = S(setup, "kazakhstan"), setup.institution_ids.index("csto"), M(setup, "russia")
    st.satisfaction[kz, csto] = 0.0
    st.attention[ru, 1] = 0.1 * st.attention[ru, 0]  # replicate 1: Russia barely attends to the region
    noise = zero_noise(setup, 2)
    probability = []
    for u in np.linspace(0.0, 1.0, 101)[:-1]:
        noise.threaten[:] = u
        _, threat, *_ = rules.alliance_politics(st, setup, noise)
        probability.append(threat[kz, csto])
    attentive, distracted = np.mean(probability, axis=0)
    assert attentive > distracted > 0.0


def test_installed_arms_hold_falling_security_ties(baseline):
    """C1, C12: falling security ties close (1 - installed_base) of the adjustment, and shake as much less.

    Rising security ties and all trade move at the full rate.
    """
    setup = build_setup(with_parameters(baseline, {"installed_base": 0.6}))
    st = initial_state(setup, 1)
    e, a = st.engagement, setup.p.adjustment_rate
    some = e > 0.01  # above the engagement floor
    still, floor = np.zeros_like(e), np.zeros_like(e)

    down = rules.adjust_engagement(st, 0.5 * e, setup, still, floor)
    np.testing.assert_allclose(
        (down - e)[:, :, SECURITY][some[:, :, SECURITY]],
        (-0.5 * a * 0.4 * e)[:, :, SECURITY][some[:, :, SECURITY]],
    )
    np.testing.assert_allclose(
        (down - e)[:, :, ECONOMY][some[:, :, ECONOMY]], (-0.5 * a * e)[:, :, ECONOMY][some[:, :, ECONOMY]]
    )
    up = rules.adjust_engagement(st, 2.0 * e, setup, still, floor)
    np.testing.assert_allclose((up - e)[some], (a * e)[some])

    shaken = rules.adjust_engagement(st, e, setup, np.ones_like(e), floor) / np.where(some, e, 1.0) - 1.0
    np.testing.assert_allclose(shaken[:, :, SECURITY][some[:, :, SECURITY]], 0.4 * setup.p.engagement_noise)
    np.testing.assert_allclose(shaken[:, :, ECONOMY][some[:, :, ECONOMY]], setup.p.engagement_noise)


def test_hedging_spares_the_installed_ties(baseline):
    """C1, C3: tension redistributes current offers and only `hedging_reach` of the historical ties."""
    moved = {}
    for reach in (0.0, 0.3, 1.0):
        setup = build_setup(with_parameters(baseline, {"hedging_reach": reach}))
        calm, tense = initial_state(setup, 1), initial_state(setup, 1)
        tense.tension[:] = setup.tension0 + 0.4
        moved[reach] = target_hedging(setup, tense) - target_hedging(setup, calm)
    assert np.all(moved[0.0] > 0.0)
    assert np.all(moved[0.0] < moved[0.3]) and np.all(moved[0.3] < moved[1.0])


def test_overlap_at_the_status_quo_breeds_no_friction(baseline_setup, baseline):
    """C6, C12: the overlap of the start is lived with; only encroachment beyond it raises tension."""
    setup = baseline_setup
    quiet = build_setup(with_parameters(baseline, {"tension_rate": 0.0}))
    st = initial_state(setup, 2)
    zero = np.zeros_like(st.opinion)
    share, dshare = rules.shares(st.engagement), rules.domain_shares(st.engagement)
    _, tension = rules.great_power_relations(st, setup, dshare, zero, share)
    _, without = rules.great_power_relations(st, quiet, dshare, zero, share)
    np.testing.assert_array_equal(tension, without)

    ru, cn, kz = M(setup, "russia"), M(setup, "china"), S(setup, "kazakhstan")
    st.engagement[kz, cn, SECURITY, 1] += 0.2  # China steps into Russia's domain in Kazakhstan
    share, dshare = rules.shares(st.engagement), rules.domain_shares(st.engagement)
    _, tension = rules.great_power_relations(st, setup, dshare, zero, share)
    assert tension[1] > tension[0]
    assert st.engagement[kz, ru, SECURITY, 1] == st.engagement[kz, ru, SECURITY, 0]


def test_co_ownership_caps_the_owner_at_its_stake():
    """C6: Russia's Gas Union cannot take over a network China half owns; without the cap it can."""
    from balancesim.model.ties import asset_floor

    def floors(**parameters):
        scenario = load_scenario(ROOT / "scenarios" / "gas_union.yaml")
        setup = build_setup(with_parameters(scenario, parameters))
        return setup, asset_floor(setup, 1)

    setup, capped = floors()
    ru, cn = M(setup, "russia"), M(setup, "china")
    for state in ("kazakhstan", "uzbekistan"):
        s = S(setup, state)
        assert capped[s, ru, ECONOMY, 0] == pytest.approx(0.15)  # Russia's half of 0.3
        assert capped[s, cn, ECONOMY, 0] == pytest.approx(0.15)  # China keeps its half
    _, whole = floors(co_ownership=0.0)
    for state in ("kazakhstan", "uzbekistan"):
        s = S(setup, state)
        assert whole[s, ru, ECONOMY, 0] == pytest.approx(0.3)
        assert whole[s, cn, ECONOMY, 0] == pytest.approx(0.2)  # its own section, uncapped


def test_co_ownership_keeps_russia_from_the_gas_network_trade():
    """C6: capped at its stake the Gas Union moves nothing; uncapped it raises Russia's Uzbek trade."""
    key = ("gas_union.yaml", "uzbekistan", "share.russia.economy")
    capped = _final(*key)
    whole = _final(*key, **{"parameters.co_ownership": 0.0})
    baseline = _final("baseline.yaml", *key[1:])
    assert np.mean(whole - capped) > 0.01
    assert np.mean(np.abs(capped - baseline)) < 0.002
