"""The behavioural rules: pure functions over the state arrays.

Each function takes arrays whose last axis is the replicate (R) and returns
new arrays; nothing here knows whether it is stepping one replicate for the
Mesa model or ten thousand for the engine. Each docstring names the claims of
the source article it implements (C1..C15; docs/ODD.md has the table).

Updating is synchronous: every rule reads the same snapshot of the month
(after that month's shocks) and `step` assembles the next state from their
results.

The rules of some concepts have modules of their own, which `step` calls:
the shocks (rules_shocks.py), alliance politics (rules_alliances.py), ties
and long-run trends (ties.py) and the mechanisms of the world that happened
(rules_world.py). Their public rules stay importable from here (`rules.fire`,
`rules.alliance_politics`, ...).

Shapes: S regional states, M outside powers, G great powers, Q third
parties, D domains, I institutions, K shocks, R replicates (always last).

Setup values already carry their own trailing replicate axis (length 1 for a
scenario value, R for a value drawn per replicate; see state.py), and the
coefficients in `setup.p` are floats or (R,) arrays. Rules never add
`[..., None]` to setup arrays: they index the actor axes and let numpy
broadcast the last axis against the state's. Write arithmetic on
coefficients with numpy functions (`np.maximum`, not `max`) so that it holds
for arrays too.
"""

from __future__ import annotations

import numpy as np

from balancesim.model.rules.alliances import alliance_politics, replaceability, seen_by_others  # noqa: F401

# Re-exported: model.py and the tests call rules.fire, rules.seen_by_others, ...
from balancesim.model.rules.noise import MonthNoise
from balancesim.model.rules.shocks import _apply_effect, apply_shocks, fire  # noqa: F401
from balancesim.model.rules.world import neutral_alliances, recorded_answers, world_offers
from balancesim.model.state import (
    DEVELOPMENT,
    ECONOMIC,
    ECONOMY,
    ENGAGEMENT_FLOOR,
    HARD,
    REGIME_SECURITY,
    SECURITY,
    SOFT,
    SOVEREIGNTY,
    TERRITORIAL,
    Setup,
    State,
)
from balancesim.model.ties import asset_floor, left_alliances, trends, update_ties

TINY = 1e-12


# --------------------------------------------------------------------------
# Derived quantities


def shares(engagement: np.ndarray) -> np.ndarray:
    """Each partner's share of a state's total engagement, domains pooled: (S, M, R)."""
    total = engagement[:, :, SECURITY] + engagement[:, :, ECONOMY]
    return total / total.sum(axis=1, keepdims=True)


def domain_shares(engagement: np.ndarray) -> np.ndarray:
    """Each partner's share of a state's engagement within each domain: (S, M, D, R)."""
    return engagement / engagement.sum(axis=1, keepdims=True)


def by_leader(x: np.ndarray, setup: Setup) -> np.ndarray:
    """Per-institution values (S, I, R) summed onto each institution's leader: (S, M, R)."""
    out = np.zeros((x.shape[0], setup.n_partners, x.shape[-1]))
    for i, m in enumerate(setup.leader_index):
        out[:, m] += x[:, i]
    return out


def tool_mix(attention: np.ndarray, setup: Setup) -> np.ndarray:
    """A power's tool mix (hard, economic, soft) given its regional attention. (C14, C15)

    As attention falls below its initial level, the power shifts effort toward
    soft power (NGOs, media, movements), which is cheap to sustain from afar;
    hard and economic tools shrink in proportion. Returns (M, 3, R).
    """
    tools0 = setup.tools0  # (M, 3, R)
    fading = 1.0 - np.minimum(attention / np.maximum(setup.attention0, 1e-9), 1.0)  # (M, R)
    soft0 = tools0[:, SOFT]
    soft = soft0 + setup.p.soft_power_shift * (1.0 - soft0) * fading
    rest = (1.0 - soft) / np.maximum(1.0 - soft0, 1e-9)
    return np.stack([tools0[:, HARD] * rest, tools0[:, ECONOMIC] * rest, soft], axis=1)


def effort(state: State, tools: np.ndarray, setup: Setup) -> np.ndarray:
    """What each power puts into the region by domain: capacity x attention x tool weight.

    The tool weight is the current share of the domain's instrument (hard for
    security, economic for the economy) relative to the initial mix, so the
    calibrated capacities hold at step 0. (C14, C15) Each power works through
    the domains it is strong in: `specialisation` 1 uses its capacity by
    domain, 0 spreads its mean capacity evenly over the domains (no division
    of labour by domain, C6). Returns (M, D, R).
    """
    s = setup.p.specialisation
    capacity = state.capacity
    if np.any(s != 1.0):
        capacity = s * capacity + (1.0 - s) * capacity.mean(axis=1, keepdims=True)
    base = setup.tools0[:, [HARD, ECONOMIC]]  # (M, D, R)
    weight = np.where(base > 0, tools[:, [HARD, ECONOMIC]] / np.maximum(base, TINY), 0.0)
    return capacity * state.attention[:, None] * weight


def security_cover(state: State, setup: Setup) -> np.ndarray:
    """How much security a state can count on from its partners: (S, R). (C3, C8, C10)

    Security engagement with a partner counts in proportion to trust: for the
    leader of a security alliance the state belongs to, the elite's
    satisfaction with that alliance; otherwise public opinion of the partner.
    """
    alliance = state.member * setup.institution_security[:, None]  # (S, I, R)
    led = by_leader(alliance, setup)  # (S, M, R) memberships in p's alliances
    led_trust = by_leader(alliance * state.satisfaction, setup)
    in_alliance = np.minimum(led, 1.0)
    trust = (1.0 - in_alliance) * state.opinion + in_alliance * led_trust / np.maximum(led, 1.0)
    return setup.p.cover_weight * (state.engagement[:, :, SECURITY] * trust).sum(axis=1)


def acceptability_to_patrons(share: np.ndarray, setup: Setup) -> np.ndarray:
    """How acceptable each partner is to the great powers, weighted by their share: (S, M, R). (C3)"""
    gp = setup.great_power_index
    weight = share[:, gp]  # (S, G, R)
    weight = weight / weight.sum(axis=1, keepdims=True)
    out = np.zeros_like(share)
    for k, g in enumerate(gp):
        out += setup.acceptability[:, g][None] * weight[:, k][:, None]
    return out


# --------------------------------------------------------------------------
# Rules


def invitations(state: State, setup: Setup, dshare: np.ndarray) -> np.ndarray:
    """Unmet security needs draw in the third party that fits best. (C3, C10)

    Unmet need is the external threat not covered by trusted security
    engagement. It is directed at third parties by fit: security capacity,
    responsiveness, public opinion of them, and how acceptable they are to the
    great powers the state depends on for its security (so as to provoke
    neither): the invitation is for security, so each great power's objection
    counts by its share of the state's security ties, not of all its ties (a
    guest on the border works beside the power that guards it, C3). A sharp
    exponent makes the best fit take most of it. Returns (S, M, R), zero for
    great powers.
    """
    tp = setup.third_party_index
    invited = np.zeros_like(dshare[:, :, SECURITY])
    if len(tp) == 0:
        return invited
    unmet = np.maximum(state.threat - security_cover(state, setup), 0.0)  # (S, R)
    tolerance = acceptability_to_patrons(dshare[:, :, SECURITY], setup)[:, tp]  # (S, Q, R)
    fit = (
        state.capacity[tp, SECURITY][None] * setup.responsiveness[tp][None] * state.opinion[:, tp] * tolerance
    )
    weight = np.where(fit > 0, fit**setup.p.invitation_focus, 0.0)
    total = weight.sum(axis=1, keepdims=True)
    weight = np.divide(weight, total, out=np.zeros_like(weight), where=total > 0)
    invited[:, tp] = unmet[:, None] * weight
    return invited


def offers(
    state: State,
    setup: Setup,
    share: np.ndarray,
    dshare: np.ndarray,
    invited: np.ndarray,
    stages: list[np.ndarray] | None = None,
) -> np.ndarray:
    """What each outside power offers each state by domain: (S, M, D, R).

    - Base offer: the power's effort in the domain (capacity, attention, tool mix). (C14, C15)
    - Bargaining: the competing great powers offer a non-aligned state more,
      in proportion to tension times how evenly it sits between them
      (`competition_bonus`); third parties do not compete for it and pay no
      such bonus. (C4)
    - Division of labour: a great power holds back where another great power
      leads the domain in that state, the more so the more they coordinate. (C5, C6)
    - Institutions: the leader of a security alliance offers its members extra
      security (an economic union's leader, extra trade), and more again to a
      member threatening to leave. (C8, C11)
    - Invitation: an invited third party offers security in proportion to the
      invitation and its readiness to answer. Its capacity is not counted
      again: it already decided who is invited (`invitations`). (C3)
    - Outside options after exit: a state that has left a security alliance
      courts the third parties, whose security offers weigh `exit_courting`
      more per alliance left. (C10, C11)

    With `stages` (a list), the offer after each of these steps is appended
    to it, starting with the base offer: the decision trace (trace.py)
    switches the mechanisms on one at a time this way.
    """
    p = setup.p
    gp = setup.great_power_index
    base = effort(state, tool_mix(state.attention, setup), setup)  # (M, D, R)
    S, R = share.shape[0], share.shape[-1]
    offer = np.broadcast_to(base[None], (S, *base.shape[:-1], R)).copy()  # (S, M, D, R)
    if stages is not None:  # inline: a call per stage would cost the untraced engine
        stages.append(offer.copy())
    offer[:, gp] *= competition_bonus(state, setup, share)[:, None, None]
    if stages is not None:
        stages.append(offer.copy())

    # Largest share held in each domain by another great power.
    gshare = dshare[:, gp]  # (S, G, D, R)
    if len(gp) == 2:
        other = gshare[:, ::-1]
    else:
        ranked = np.sort(gshare, axis=1)
        top, second = ranked[:, -1:], ranked[:, -2:-1]
        other = np.where(gshare >= top, second, top)
    lead_gap = np.maximum(other - gshare, 0.0)
    offer[:, gp] *= 1.0 - p.deference * state.coordination * lead_gap
    if stages is not None:
        stages.append(offer.copy())

    for domain, kind in ((SECURITY, setup.institution_security), (ECONOMY, setup.institution_economic)):
        if kind.any():
            members = state.member * kind[:, None]  # (S, I, R)
            bonus = by_leader(members * (1.0 + state.exit_threat), setup)  # (S, M, R)
            offer[:, :, domain] *= 1.0 + p.membership_bonus * bonus
    if stages is not None:
        stages.append(offer.copy())

    offer[:, :, SECURITY] += p.invitation_gain * invited * setup.responsiveness[None]
    if stages is not None:
        stages.append(offer.copy())
    tp = setup.third_party_index
    gone = left_alliances(state, setup).sum(axis=1)  # (S, R)
    offer[:, tp, SECURITY] *= (1.0 + p.exit_courting * gone)[:, None]
    if stages is not None:
        stages.append(offer.copy())
    return offer


def competition_bonus(state: State, setup: Setup, share: np.ndarray) -> np.ndarray:
    """How much more the competing great powers offer each state: (S, R), 1 = nothing more. (C4)

    The bonus grows with great-power tension and with how evenly the state
    sits between the great powers (a state aligned with one is not competed for).
    """
    gp_share = share[:, setup.great_power_index]  # (S, G, R)
    evenness = gp_share.min(axis=1) / np.maximum(gp_share.max(axis=1), TINY)  # (S, R)
    return 1.0 + setup.p.bargaining_gain * state.tension * evenness


def agenda_fit(setup: Setup) -> tuple[np.ndarray, np.ndarray]:
    """How each partner's offers serve the regime's agenda: benefit (S, M, D, R), sovereignty (S, R). (C2)

    Security offers serve regime security (weighted by the partner's support
    for the ruling regime) and territorial security; economic offers serve
    development, and regime security again (conditions attached by partners
    that do not support the regime fit badly).
    """
    a = setup.agenda  # (S, 4, R)
    rs, dev, ter = a[:, None, REGIME_SECURITY], a[:, None, DEVELOPMENT], a[:, None, TERRITORIAL]  # (S, 1, R)
    support = setup.regime_support[None]  # (1, M, R)
    security = (rs * support + ter) / np.maximum(rs + ter, TINY)
    economy = (dev + rs * support) / np.maximum(dev + rs, TINY)
    return np.stack([security, economy], axis=2), a[:, SOVEREIGNTY]


def domestic_filter(offer: np.ndarray, state: State, setup: Setup, dshare: np.ndarray) -> np.ndarray:
    """The regime lets through what fits its agenda, the more selectively the firmer its grip. (C2)

    Fit is the agenda benefit of the offer (`agenda_fit`) less a sovereignty
    cost, `sovereignty_weight` times the regime's sovereignty weight times the
    partner's dominance of that domain. A weak elite cannot screen offers, so
    they pass as they come; a firm one selects: an offer of fit f passes at
    (1 - grip) + grip x `filter_selectivity` x f of its strength, so what fits
    the agenda well is taken up at full strength or more (the regime uses it,
    as with a law it wanted anyway) and what fits badly is screened out.
    Returns the accepted part of each offer, (S, M, D, R).
    """
    p = setup.p
    benefit, sovereignty = agenda_fit(setup)
    fit = np.clip(benefit - p.sovereignty_weight * sovereignty[:, None, None] * dshare, 0.0, 1.0)
    grip = p.domestic_filter * state.elite_control[:, None, None]
    return offer * (1.0 - grip + grip * p.filter_selectivity * fit)


def engagement_target(
    accepted: np.ndarray, state: State, setup: Setup, share: np.ndarray, tools: np.ndarray
) -> np.ndarray:
    """Where each state would like its engagement to be: (S, M, D, R). (C1, C2, C3, C4, C7, C15)

    Value of a partner in a domain: historical ties (`state.ties`, which
    depreciate and are rebuilt by engagement, see ties.py) plus accepted
    offers, scaled by public approval of the partner and by its soft-power
    networks in society:

    - approval weighs in the less, the firmer the elite's grip: its weight is
      `opinion_weight` x (1 - elite control) (C2, C7);
    - soft power works through society (NGOs, media, movements) on the value
      of engaging: `soft_presence` x the partner's soft effort x fertility (C15).

    The state spreads its engagement over partners by value. As great-power
    tension rises above the scenario's reference level it hedges: values are
    flattened, each partner in proportion to how acceptable it is to the great
    powers the state depends on (the great powers themselves fully, a partner
    they object to hardly at all), so hedging favours partners that provoke
    no one. Hedging redistributes what is open to negotiation: the current
    offers and `hedging_reach` of the historical ties; the rest of what past
    engagement built (arms in service, routes, habits) stays with its partner,
    so tension changes where new business goes more than it undoes old ties
    (C1, C3). At or below the reference level nothing changes. Total
    engagement follows total value, so ties with several partners can deepen
    at once.
    """
    p = setup.p
    approval, presence = approval_and_presence(state, setup, tools)
    kept = (1.0 - p.hedging_reach) * p.lock_in * state.ties  # (S, M, D, R): out of hedging's reach
    open_ = p.hedging_reach * p.lock_in * state.ties + accepted * (approval * presence)[:, :, None]
    excess = np.maximum(state.tension - setup.tension0, 0.0)  # (R,)
    gamma = np.exp(-p.hedging_tension * excess * acceptability_to_patrons(share, setup))  # (S, M, R)
    flattened = (open_ / open_.max(axis=1, keepdims=True)) ** gamma[:, :, None]
    hedged = open_.sum(axis=1, keepdims=True) * flattened / flattened.sum(axis=1, keepdims=True)
    return (kept + hedged) / (1.0 + p.lock_in)


def approval_and_presence(state: State, setup: Setup, tools: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Public approval of each partner and its soft-power presence: factors on accepted offers. (C2, C7, C15)

    Approval weighs in the less, the firmer the elite's grip; presence is 1 +
    `soft_presence` x the partner's soft effort x fertility
    (`engagement_target`). Returns (S, M, R), (S, M, R).
    """
    p = setup.p
    weight = p.opinion_weight * (1.0 - state.elite_control)  # (S, R)
    approval = np.maximum(1.0 - weight[:, None] * (1.0 - state.opinion), 0.0)  # (S, M, R)
    presence = 1.0 + p.soft_presence * soft_effort(state, setup, tools)[None] * setup.fertility[:, None]
    return approval, presence


def soft_effort(state: State, setup: Setup, tools: np.ndarray) -> np.ndarray:
    """Each power's soft-power effort in the region: (M, R). (C14, C15)

    Its soft tools times their effectiveness, at the larger of its current and
    initial attention: soft power is cheap to run from afar, so a power whose
    attention fades keeps its soft effort at the earlier level while the soft
    share of its tools grows.
    """
    reach = np.maximum(state.attention, setup.attention0)
    return reach * tools[:, SOFT] * setup.soft_effectiveness


def adjust_engagement(
    state: State, target: np.ndarray, setup: Setup, noise: np.ndarray, floor: np.ndarray | float
) -> np.ndarray:
    """Engagement moves slowly toward its target, with noise. (C1, C12, C13)

    Only a fraction of the gap closes each month (treaties, contracts and
    habits change slowly). Noise is relative to the level and grows with
    shock-induced volatility. Bases, leases and pipelines (`floor`, from
    `ties.asset_floor`) keep their owner's engagement up while they last.

    Installed arms systems hold security ties further (C1, C12): the arms a
    state has bought stay in service for decades, and their spares,
    ammunition and training keep it with their supplier, so security
    engagement falls toward a lower target at only (1 - `installed_base`) of
    the adjustment rate; and as a stock of systems in service, which changes
    through deliveries and retirements rather than with the news, its
    month-to-month noise is (1 - `installed_base`) of trade's. New security
    ties (an invited partner, a new supplier's drones) and all trade move at
    the full rate.
    """
    p = setup.p
    lock = 1.0 - np.asarray(p.installed_base)  # (R,) or scalar
    gap = target - state.engagement
    held = np.ones_like(gap)
    held[:, :, SECURITY] = np.where(gap[:, :, SECURITY] < 0.0, lock, 1.0)
    moved = state.engagement + p.adjustment_rate * held * gap
    shake = p.engagement_noise * (1.0 + state.volatility) * noise
    shake[:, :, SECURITY] *= lock
    return np.maximum(moved * (1.0 + shake), np.maximum(floor, ENGAGEMENT_FLOOR))


def public_opinion(
    state: State, setup: Setup, tools: np.ndarray, dshare: np.ndarray, noise: np.ndarray
) -> np.ndarray:
    """Public opinion of each outside power: (S, M, R). (C7, C15)

    Soft power (the power's soft effort, its effectiveness in the region and the
    society's receptiveness) raises approval, and grows when a pivoting power
    shifts its tools toward it; a large economic footprint of a
    power seen as threatening lowers it; memories of events fade back toward
    the initial level; noise stands for news.
    """
    recovery, soft, footprint, news = opinion_terms(state, setup, tools, dshare, noise)
    return state.opinion + recovery + soft - footprint + news


def opinion_terms(
    state: State, setup: Setup, tools: np.ndarray, dshare: np.ndarray, noise: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The month's terms of `public_opinion`: recovery, soft power, footprint (subtracted), noise. (C7, C15)

    Each (S, M, R); the decision trace (trace.py) records them as they are.
    """
    p = setup.p
    soft = soft_effort(state, setup, tools)[None] * setup.fertility[:, None]
    footprint = setup.threat_perception[None] * dshare[:, :, ECONOMY]
    op = state.opinion
    return (
        p.opinion_recovery * (setup.opinion0 - op),
        p.soft_power_rate * soft * (1.0 - op),
        p.footprint_threat * footprint * op,
        p.opinion_noise * (1.0 + state.volatility) * noise,
    )


def great_power_relations(
    state: State, setup: Setup, dshare: np.ndarray, invited: np.ndarray, share: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Coordination and tension between the great powers: (R,), (R,). (C5, C6, C12)

    Coordination grows with their shared interest in regime stability (weak
    elite control anywhere in the region) and erodes with tension. Tension
    grows where one great power steps on the other's feet (C6): where their
    overlap in a domain of a state (the product of their shares) grows beyond
    the overlap of the scenario's start, the status quo both already live with
    (C12), by more than `overlap_tolerance`. It also grows when a state
    invites a third party one of them dislikes, or invites it more than last
    month (a standing arrangement is absorbed: states "avoid making them
    compete", C3); coordination dampens the overlap effect; tension relaxes
    toward the scenario's reference level. Only the states inside the region
    (`in_region`) count: the relations are those over this region.
    """
    p = setup.p
    gp = setup.great_power_index
    # Relations over the region: states outside it (`in_region` false) do not count
    inside = setup.in_region_only
    insecurity = inside(1.0 - state.elite_control).mean(axis=0)
    coordination = (
        state.coordination
        + p.coordination_rate * p.regime_stability_interest * insecurity * (1.0 - state.coordination)
        - p.coordination_decay * state.tension * state.coordination
    )
    # Friction is encroachment: overlap beyond the status quo of the scenario's start,
    # which both powers already live with ("coexistence is possible", C12).
    encroachment = pair_overlap(dshare, gp) - pair_overlap(domain_shares(setup.ties), gp)  # (S, D, R)
    friction = inside(np.maximum(encroachment - p.overlap_tolerance, 0.0)).mean(axis=(0, 1))
    disliked = 1.0 - acceptability_to_patrons(share, setup)  # (S, M, R)
    provoked = inside(np.maximum(invited - state.invitation, 0.0) * disliked).sum(axis=(0, 1))
    tension = (
        state.tension
        + p.tension_rate * friction * (1.0 - state.coordination)
        + p.provocation * provoked
        - p.tension_relaxation * (state.tension - setup.tension0)
    )
    return np.clip(coordination, 0.0, 1.0), np.clip(tension, 0.0, 1.0)


def pair_overlap(dshare: np.ndarray, gp: np.ndarray) -> np.ndarray:
    """Sum over pairs of great powers of the product of their shares, per state and domain: (S, D, R). (C6)"""
    g = dshare[:, gp]  # (S, G, D, R)
    return (g.sum(axis=1) ** 2 - (g**2).sum(axis=1)) / 2.0


def regional_attention(state: State, setup: Setup) -> np.ndarray:
    """A power's regional attention decays toward a floor when it pivots elsewhere. (C14)"""
    floor = setup.p.attention_floor * setup.attention0
    decayed = state.attention - state.attention_decay * (state.attention - floor)
    return np.where(state.attention > floor, decayed, state.attention)


def domestic_recovery(state: State, setup: Setup) -> tuple[np.ndarray, np.ndarray]:
    """Elite control re-consolidates and external threats recede after shocks. (C2, C5, C12)

    Great-power coordination speeds the recovery of a shaken regime (joint
    action against unrest, C5): the rate is `control_recovery` x (1 +
    `control_support` x coordination).
    """
    p = setup.p
    rate = p.control_recovery * (1.0 + p.control_support * state.coordination)  # (R,)
    control = state.elite_control + np.minimum(rate, 1.0) * (setup.elite_control0 - state.elite_control)
    threat = state.threat + p.threat_relaxation * (setup.threat0 - state.threat)
    return np.clip(control, 0.0, 1.0), np.clip(threat, 0.0, 1.0)


# --------------------------------------------------------------------------
# One month


def step(state: State, setup: Setup, noise: MonthNoise) -> State:
    """Advance every replicate by one month (synchronous update)."""
    month = state.month + 1
    x = apply_shocks(state, setup, month, noise)  # the snapshot every rule reads

    share = shares(x.engagement)
    dshare = domain_shares(x.engagement)
    tools = tool_mix(x.attention, setup)

    invited = invitations(x, setup, dshare)
    offer = offers(x, setup, share, dshare, invited)
    # Re-routed trade under sanctions and grievance courting (rules_world.py)
    offer = world_offers(offer, x, setup)
    accepted = domestic_filter(offer, x, setup, dshare)
    target = engagement_target(accepted, x, setup, share, tools)
    engagement = adjust_engagement(x, target, setup, noise.engagement, asset_floor(setup, month))
    # What competition brought in: the bonus part of the great powers' accepted offers (C4).
    bonus = competition_bonus(x, setup, share)  # (S, R)
    gains = (accepted[:, setup.great_power_index] * (1.0 - 1.0 / bonus)[:, None, None]).sum(axis=(1, 2))

    # Attacks answered as recorded, and fights between members (rules_world.py)
    alliance_noise = neutral_alliances(recorded_answers(noise, x, setup, month), x, setup)
    member, exit_threat, satisfaction, salience, opinion_hit = alliance_politics(x, setup, alliance_noise)
    opinion = public_opinion(x, setup, tools, dshare, noise.opinion) + opinion_hit
    coordination, tension = great_power_relations(x, setup, dshare, invited, share)
    capacity, attention = trends(x, setup, regional_attention(x, setup))
    control, threat = domestic_recovery(x, setup)

    return State(
        engagement=engagement,
        opinion=np.clip(opinion, 0.0, 1.0),
        elite_control=control,
        threat=threat,
        attention=attention,
        attention_decay=x.attention_decay,
        capacity=capacity,
        tension=tension,
        coordination=coordination,
        volatility=x.volatility * (1.0 - setup.p.volatility_decay),
        member=member,
        exit_threat=exit_threat,
        satisfaction=satisfaction,
        salience=salience,
        attack=np.zeros_like(x.attack),  # this month's attacks have been answered
        shock_fired=x.shock_fired,
        invitation=invited,
        ties=update_ties(x, setup, engagement),
        gains=gains,
        month=month,
    )
