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
  C9: Kyrgyzstan felt Russia sided with Tajikistan).

Each has a coefficient in `Parameters` whose value 0 switches it off
(`transit_gain`, `customs_route`, `grievance_courting`, `member_neutrality`); `validate`
knocks each out (validation/world.py). `rules.step` calls these functions.
Shapes as in rules.py; R (replicates) is always the last axis.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from .state import ECONOMY, SECURITY, Setup, State

if TYPE_CHECKING:
    from .rules import MonthNoise

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


def world_offers(offer: np.ndarray, state: State, setup: Setup) -> np.ndarray:
    """Offers with re-routed trade and grievance courting added: (S, M, D, R). (C1, C9, C10, C13)

    Re-routed trade (`rerouted_trade`) adds to the economic offers. A member
    that has lost satisfaction with its alliance weighs third parties'
    security offers `grievance_courting` x the loss more: it looks for an
    outside protector while it stays in (exit, in rules.py, courts them more).
    """
    offer = offer.copy()
    offer[:, :, ECONOMY] += rerouted_trade(state, setup)
    tp = setup.third_party_index
    courting = 1.0 + np.asarray(setup.p.grievance_courting) * grievance(state, setup)  # (S, R)
    offer[:, tp, SECURITY] *= courting[:, None]
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
    stay_out = noise.protect < np.asarray(setup.p.member_neutrality)  # reuse the draw: no new randomness
    for s, other in pairs:
        both = (state.member[s, alliances] > 0) & (state.member[other, alliances] > 0)  # (A, R)
        protect[s] = np.where(both & stay_out[s], 1.0, protect[s])
    return replace(noise, protect=protect)


def neutral_fights(state: State, setup: Setup, noise: MonthNoise, satisfaction: np.ndarray) -> np.ndarray:
    """Neutrality between members is not read as unreliability by the others: (S, I, R). (C8, C9)

    `rules.alliance_politics` lets every member lose `failure_contagion` of
    what an undefended member loses (a leader that fails one ally is less
    reliable to all). When the alliance stayed out of a fight between two
    members (`neutral_alliances`), the other members learn nothing about its
    will to defend them against outsiders: their loss is given back. The
    attacked member keeps its own loss (observed: Kyrgyzstan's grievance).
    """
    neutral = noise.protect >= 1.0  # (S, A, R): set only by neutral_alliances
    if not neutral.any():
        return satisfaction
    p = setup.p
    alliances = setup.security_index
    inside = state.member[:, alliances]
    lost = p.failure_penalty * neutral * state.attack[:, None] * inside  # (S, A, R)
    back = p.failure_contagion * (lost.sum(axis=0) - lost) * inside
    out = satisfaction.copy()
    out[:, alliances] = np.clip(satisfaction[:, alliances] + back, 0.0, 1.0)
    return out
