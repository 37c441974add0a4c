"""Rules of the world that happened: sanctions, grievance and fights inside an alliance.

The baseline starts in March 2022, after Russia's invasion of Ukraine. Three
changes observed in 2022-2023 (the project's observed record) need
mechanisms the article's core rules (rules.py) do not have:

* re-routed trade under sanctions: a sanctioned power buys through the
  regional states what it can no longer buy directly, so their trade with the
  goods' origins (China, the EU, Turkey) grows while its own share does not
  (observed: China's share rose and the EU's held in Kazakhstan; Russia's
  share stayed flat or fell while its volumes grew); the goods come from
  each state's own suppliers, and members of the sanctioned power's customs
  union carry more. Claims C1 (ties with both widen, no restructuring), C13
  (an exogenous event shifts options);
* grievance courting: a member that has lost confidence in its security
  alliance courts an outside protector without leaving (observed: Kyrgyzstan,
  after the CSTO's inaction in the 2022 border war, affirmed its membership
  and bought Turkish drones; Turkey's share of its arms imports rose from 8%
  to 45%). Claims C9, C10 ("Turkey could replace Russia");
* fights between members: an alliance does not defend one member against
  another (observed: the CSTO did not act in the Kyrgyz-Tajik border war;
  C9: Kyrgyzstan felt Russia sided with Tajikistan); the other members do
  not read it as unreliability toward them (C8), and the attacked member is
  held in by its adversary's membership, not by trust in the leader (C10;
  observed: Kyrgyzstan called its membership "inviolable").

Attacks that happened may carry their recorded answer (`defended` on the
attack effect: the CSTO did not defend Armenia in September 2022); the
draw that decides the answer is then set to it (`recorded_answers`).

Each has a coefficient in `Parameters` whose value 0 switches it off
(`transit_gain`, `customs_route`, `grievance_courting`, `member_neutrality`); `validate`
knocks each out (validation/world.py). `rules.step` calls these functions.
Shapes as in rules.py; R (replicates) is always the last axis.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from balancesim.model.state import ECONOMY, SECURITY, Setup, State

if TYPE_CHECKING:
    from balancesim.model.rules.noise import MonthNoise

TINY = 1e-12


def rerouted_trade(state: State, setup: Setup) -> np.ndarray:
    """Extra economic offers from re-routed trade under sanctions: (S, M, R). (C1, C13)

    Route: a state's transit role is the sum over sanctioned powers of their
    `sanctions` times its economic ties with them, `customs_route` times more
    again where it is a member of an economic union the sanctioned power
    leads (a customs union has no customs border with it, so goods bought
    there pass on unchecked: observed, Chinese customs count about 4x
    Kyrgyzstan's own figure of their trade and 1.5x Kazakhstan's, the
    difference being transit and re-export).

    Origin: the goods come from the partners that are not sanctioned, in
    proportion to what the state already buys from each (its current
    economic engagement with them): a state re-exports what it imports
    (Kyrgyzstan mostly China's goods, Kazakhstan China's and the EU's).
    They offer the state `transit_gain` x transit role x their origin share
    more trade. The sanctioned power gains nothing here: its volumes may
    grow, its share not.
    """
    cut = setup.sanctions  # (M, R)
    out = np.zeros((setup.n_regional, setup.n_partners, state.replicates))
    if not cut.any():
        return out
    through = 1.0 + np.asarray(setup.p.customs_route) * customs_union(state, setup)
    route = (cut[None] * state.ties[:, :, ECONOMY] * through).sum(axis=1)  # (S, R)
    supply = np.where(cut > 0, 0.0, 1.0)[None] * state.engagement[:, :, ECONOMY]  # (S, M, R)
    origin = supply / np.maximum(supply.sum(axis=1, keepdims=True), TINY)  # (S, M, R)
    return np.asarray(setup.p.transit_gain) * route[:, None] * origin


def customs_union(state: State, setup: Setup) -> np.ndarray:
    """1 where a state belongs to an economic union the partner leads, else 0: (S, M, R)."""
    out = np.zeros((setup.n_regional, setup.n_partners, state.replicates))
    for i in np.flatnonzero(setup.institution_economic):
        m = setup.leader_index[i]
        out[:, m] = np.maximum(out[:, m], state.member[:, i])
    return out


def grievance(state: State, setup: Setup) -> np.ndarray:
    """How much satisfaction each state has lost in its security alliances: (S, R). (C9, C10)

    The sum over the alliances it still belongs to of the drop of the elite's
    satisfaction below its initial level.
    """
    alliances = setup.security_index
    if len(alliances) == 0:
        return np.zeros((setup.n_regional, state.replicates))
    drop = np.maximum(setup.satisfaction0[:, alliances] - state.satisfaction[:, alliances], 0.0)
    return (drop * state.member[:, alliances]).sum(axis=1)


def world_offers(
    offer: np.ndarray, state: State, setup: Setup, stages: list[np.ndarray] | None = None
) -> np.ndarray:
    """Offers with re-routed trade and grievance courting added: (S, M, D, R). (C1, C9, C10, C13)

    Re-routed trade (`rerouted_trade`) adds to the economic offers. A member
    that has lost satisfaction with its alliance weighs third parties'
    security offers `grievance_courting` x the loss more: it looks for an
    outside protector while it stays in (exit, in rules.py, courts them more).
    With `stages` (a list), the offer after each of the two is appended to it
    (the decision trace, trace.py).
    """
    offer = offer.copy()
    offer[:, :, ECONOMY] += rerouted_trade(state, setup)
    if stages is not None:
        stages.append(offer.copy())
    tp = setup.third_party_index
    courting = 1.0 + np.asarray(setup.p.grievance_courting) * grievance(state, setup)  # (S, R)
    offer[:, tp, SECURITY] *= courting[:, None]
    if stages is not None:
        stages.append(offer.copy())
    return offer


def neutral_alliances(noise: MonthNoise, state: State, setup: Setup) -> MonthNoise:
    """The month's draws with fights between members left undefended. (C9)

    Where an attacked state's threat comes from a fellow member of a security
    alliance (`threat_from`), that alliance stays out with probability
    `member_neutrality`: the draw that decides whether it defends is set to
    "no". The attack still tests the alliance, so the member's satisfaction
    falls as after any failure to protect.
    """
    alliances = setup.security_index
    threat_from = {a.id: getattr(a, "threat_from", None) for a in setup.scenario.actors}
    pairs = [
        (s, setup.regional_ids.index(threat_from[sid]))
        for s, sid in enumerate(setup.regional_ids)
        if threat_from.get(sid) in setup.regional_ids
    ]
    if not pairs or len(alliances) == 0 or not state.attack.any():
        return noise
    protect = noise.protect.copy()
    neutral = np.zeros(protect.shape, dtype=bool)
    stay_out = noise.protect < np.asarray(setup.p.member_neutrality)  # reuse the draw: no new randomness
    for s, other in pairs:
        both = (state.member[s, alliances] > 0) & (state.member[other, alliances] > 0)  # (A, R)
        neutral[s] = both & stay_out[s] & (state.attack[s] > 0)
        protect[s] = np.where(neutral[s], 1.0, protect[s])  # a uniform draw below 1 never reaches it
    return replace(noise, protect=protect, neutral=neutral)


def recorded_answers(noise: MonthNoise, state: State, setup: Setup, month: int) -> MonthNoise:
    """The month's draws with the alliances' recorded answers to attacks that happened. (C9)

    An attack effect of a scheduled shock may record whether the target's
    security alliances defended it (`defended`): the observed event, an
    input as the attack itself is. The draw that decides the answer is set
    to always or never pass; the consequences (satisfaction, opinion of the
    leader, what the other members see, exit) follow the rules as after any
    drawn answer. Attacks without a record are answered by the draw.
    """
    recorded = [
        (k, e)
        for k, effects in enumerate(setup.shock_effects)
        for e in effects
        if e.variable == "attack" and e.defended is not None
    ]
    if not recorded:
        return noise
    protect = noise.protect
    for k, e in recorded:
        now = setup.shock_month[k] == month  # (R,) or (1,)
        if not now.any():
            continue
        if protect is noise.protect:
            protect = protect.copy()
        answer = 0.0 if e.defended else 1.0  # 0 is below any reliability > 0; 1 never passes
        protect[e.actor] = np.where(now, answer, protect[e.actor])
    return noise if protect is noise.protect else replace(noise, protect=protect)


def adversary_inside(state: State, setup: Setup) -> np.ndarray:
    """Whether each member's threat comes from a fellow member of each security alliance: (S, A, R).

    1 where state s and the actor it is threatened by (`threat_from`) both
    belong to alliance a, else 0.
    """
    alliances = setup.security_index
    out = np.zeros((setup.n_regional, len(alliances), state.replicates))
    if len(alliances) == 0:
        return out
    threat_from = {a.id: getattr(a, "threat_from", None) for a in setup.scenario.actors}
    for s, sid in enumerate(setup.regional_ids):
        other = threat_from.get(sid)
        if other in setup.regional_ids:
            o = setup.regional_ids.index(other)
            out[s] = state.member[s, alliances] * state.member[o, alliances]
    return out


def neutral_failures(noise: MonthNoise) -> np.ndarray:
    """Which failures to protect were the alliance staying out of a fight between members: (S, A, R).

    Marked by `neutral_alliances` (none when it marked nothing this month).
    """
    return np.zeros(noise.protect.shape, dtype=bool) if noise.neutral is None else noise.neutral


def kept_close(state: State, setup: Setup, satisfaction: np.ndarray) -> np.ndarray:
    """What membership is worth to a member against its threat: (S, A, R). (C9, C10)

    Against a threat from outside, membership is worth what the elite thinks
    the leader will do for it: its satisfaction with the alliance
    (`rules.alliance_politics` holds members in by threat x that worth). A
    member whose threat comes from a fellow member (Kyrgyzstan, threatened by
    Tajikistan) keeps something else by staying: the alliance's neutrality
    between the two. Leaving would leave its adversary inside, with the
    leader's bases and arms. So, however dissatisfied it is after the
    alliance stayed out, the threat still holds it in with weight
    `member_neutrality`: its grievance goes to outside protectors
    (`grievance_courting`), not to exit (observed: Kyrgyzstan called its
    membership "inviolable" after the 2022 border war and bought Turkish
    drones). Knock-out: `member_neutrality = 0`.
    """
    neutrality = np.asarray(setup.p.member_neutrality) * adversary_inside(state, setup)
    return np.maximum(satisfaction, neutrality)
