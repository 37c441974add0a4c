"""Alliance politics: tests under attack, satisfaction, exit threats and exits.

The monthly rules of security alliances (the source's case is the CSTO):
an attack on a member tests the alliance; the members' elites judge the
leader by its record, the public by its view of the leader; an external
threat holds members in unless a third party could replace the leader; above
a threshold members threaten to leave, and an unanswered threat can end in
exit. Claims C8, C9, C10, C11 (docs/ODD.md has the table).

Economic and political bodies keep their members. Attacks answered as
recorded and fights between members come from the world that happened
(`neutral_failures`, `kept_close` in rules_world.py). `rules.step` calls
`alliance_politics`. Shapes as in rules.py, plus A security alliances; R
(replicates) is always the last axis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from balancesim.model.rules.world import kept_close, neutral_failures
from balancesim.model.state import SECURITY, Setup, State

if TYPE_CHECKING:
    from balancesim.model.rules.noise import MonthNoise


def alliance_politics(
    state: State, setup: Setup, noise: MonthNoise
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Satisfaction, salience, exit threats and exits in security alliances. (C8, C9, C10, C11)

    - An attack on a member tests the alliance: the leader defends it with the
      alliance's reliability (scaled by the leader's attention). Failure cuts
      the elite's satisfaction and public opinion of the leader; success raises
      satisfaction. Either way the alliance becomes a public issue (salience). (C9)
      The other members see a failure too and lose `failure_contagion` of the
      same satisfaction: a leader that fails one ally is less reliable to all
      (in the same theatre: `seen_by_others`). (C8, C9)
    - Otherwise the elite's satisfaction drifts back toward its initial view
      of the alliance as the memory of a test fades: it follows the leader's
      record, not the public's mood (C2, C8). The public sees the alliance as
      the leader's instrument (C8): its view enters exit pressure below as
      disapproval of the leader.
    - Exit pressure mixes the elite's dissatisfaction (weight: elite control)
      and the public's (salience times disapproval of the leader; weight: the
      rest). An external threat holds a member in, unless the alliance has lost
      credibility or a third party could replace the leader. (C2, C10)
    - Above a threshold, members first threaten to leave, the more readily the
      likelier the leader is to answer (a threat is weighed against the
      concession expected: `threat_leverage`); an attentive leader may answer
      with concessions; an unanswered threat can turn into exit, which is
      final within a run. (C11)

    Only security alliances have these dynamics (the source's case is the
    CSTO); economic and political bodies keep their members. Returns (member,
    exit_threat, satisfaction, salience) for all institutions, and the change
    in public opinion (S, M, R).
    """
    p = setup.p
    alliances = setup.security_index
    member, exit_threat = state.member.copy(), state.exit_threat.copy()
    satisfaction, salience = state.satisfaction.copy(), state.salience.copy()
    if len(alliances) == 0:
        return member, exit_threat, satisfaction, salience, np.zeros_like(state.opinion)
    leaders = setup.leader_index[alliances]
    leader_attention = np.minimum(
        state.attention[leaders] / np.maximum(setup.attention0[leaders], 1e-9), 1.0
    )  # (A, R)
    inside = state.member[:, alliances]  # (S, A, R)

    # Alliance tests under attack (C9)
    attacked = state.attack[:, None] * inside  # (S, A, R) severity
    tested = attacked > 0
    defended = noise.protect < setup.reliability[alliances] * leader_attention
    failed = tested & ~defended
    sat = state.satisfaction[:, alliances] + np.where(
        tested, np.where(defended, p.protection_reward, -p.failure_penalty) * attacked, 0.0
    )
    # Every other member sees the failure too: the leader is less reliable for all (C8, C9).
    # Staying out of a fight between two members says nothing about the leader's will
    # to defend the others against outsiders: those failures are not seen (rules_world).
    lost = p.failure_penalty * (failed & ~neutral_failures(noise)) * attacked  # (S, A, R)
    sat = sat - p.failure_contagion * seen_by_others(lost, setup) * inside
    sal = state.salience[:, alliances] * (1.0 - p.salience_decay) + attacked
    opinion_change = np.zeros_like(state.opinion)
    for k, m in enumerate(leaders):
        opinion_change[:, m] -= 0.5 * p.failure_penalty * failed[:, k] * attacked[:, k]

    # The elite's view returns toward its initial level (C2, C8)
    leader_opinion = state.opinion[:, leaders]  # (S, A, R)
    sat = sat + p.satisfaction_recovery * (setup.satisfaction0[:, alliances] - sat)

    # Exit pressure (C2, C10)
    grip = p.domestic_filter * state.elite_control[:, None]
    pressure = grip * (1.0 - sat) + (1.0 - grip) * sal * (1.0 - leader_opinion)
    # What staying is worth against the threat: the elite's trust in the leader, or, where
    # the threat is a fellow member, the alliance's neutrality between them (rules_world)
    worth_staying = kept_close(state, setup, sat)
    held = (
        p.threat_deterrence
        * state.threat[:, None]
        * (1.0 - replaceability(state, setup, leaders))
        * worth_staying
    )
    drive = np.clip(pressure - held, 0.0, 1.0)
    excess = np.clip((drive - p.exit_threshold) / np.maximum(1.0 - p.exit_threshold, 1e-9), 0.0, 1.0)

    # Threat, response, exit (C11)
    threatening = state.exit_threat[:, alliances] * inside
    # What the member asks for is a renewed commitment: a leader that seldom
    # defends its allies seldom renews it (C11).
    reliability = setup.reliability[alliances]
    answer = reliability * leader_attention  # (A, R): the chance that a threat is answered, relative
    # A threat is a bargaining move: the member weighs it against the concession
    # it can expect, so a leader unlikely to answer is threatened less (C11).
    worth = 1.0 - p.threat_leverage + p.threat_leverage * answer
    new_threat = (1.0 - threatening) * inside * (noise.threaten < p.exit_threat_rate * excess * worth)
    answered = threatening * (noise.respond < p.patron_response * answer)
    leaves = threatening * (1.0 - answered) * (noise.leave < p.exit_rate * excess)
    sat = sat + answered * p.concession
    still = threatening * (1.0 - answered) * (1.0 - leaves) * (excess > 0)
    inside = inside * (1.0 - leaves)

    member[:, alliances] = inside
    exit_threat[:, alliances] = np.maximum(new_threat, still) * inside
    satisfaction[:, alliances] = np.clip(sat, 0.0, 1.0)
    salience[:, alliances] = np.clip(sal, 0.0, 1.0)
    return member, exit_threat, satisfaction, salience, opinion_change


def seen_by_others(lost: np.ndarray, setup: Setup) -> np.ndarray:
    """What each member learns from the failures to protect its fellow members: (S, A, R). (C8, C9)

    The sum of the other members' losses, over the members of its own theatre:
    the states inside the region learn from each other, and a state outside it
    (`in_region` false, e.g. Armenia in a Central Asian scenario) from the
    others outside. A failure in another theatre, against another kind of
    threat, says little about the leader's will to defend the observer (the
    record: no Central Asian member questioned the CSTO after its inaction in
    the Armenian war of September 2022).
    """
    if setup.in_region.all() or not setup.in_region.any():
        return lost.sum(axis=0) - lost
    out = np.empty_like(lost)
    for group in (setup.in_region, ~setup.in_region):
        out[group] = lost[group].sum(axis=0) - lost[group]
    return out


def replaceability(state: State, setup: Setup, leaders: np.ndarray) -> np.ndarray:
    """How well the best third party could replace each of these leaders: (S, len(leaders), R). (C10)

    A candidate's readiness to answer times public opinion of it, times its
    security capacity relative to the leader's (capped at 1).
    """
    tp = setup.third_party_index
    if len(tp) == 0:
        return np.zeros((setup.n_regional, len(leaders), state.replicates))
    leader_capacity = state.capacity[leaders, SECURITY]  # (A, R)
    # (Q, A, R): capacity relative to each leader, capped at 1
    ratio = np.minimum(state.capacity[tp, SECURITY][:, None] / np.maximum(leader_capacity, 1e-9), 1.0)
    candidate = setup.responsiveness[tp][None] * state.opinion[:, tp]  # (S, Q, R)
    return (candidate[:, :, None] * ratio[None]).max(axis=1)
