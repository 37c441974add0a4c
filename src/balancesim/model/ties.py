"""Slow structure: historical ties, assets and the powers' trends.

These rules change what a state's options are worth over years rather than
months. Historical ties (the habits, contracts and routes a relationship has
built) depreciate and are rebuilt by engagement, so no year's ties anchor a
state for ever; bases, leases and pipelines hold their owner's engagement up
until they end; and a power's capacity and reach follow the trends its
scenario sets. The month-by-month rules are in rules.py, which calls these.

Shapes as in rules.py: S regional states, M outside powers, D domains, I
institutions, R replicates (always last). Setup arrays carry their own
trailing replicate axis (1 or R); coefficients are floats or (R,) arrays.
"""

from __future__ import annotations

import numpy as np

from balancesim.model.state import SECURITY, Setup, State


def left_alliances(state: State, setup: Setup) -> np.ndarray:
    """How many security alliances each state has left, by their leader: (S, M, R). (C10, C11)"""
    out = np.zeros((setup.n_regional, setup.n_partners, state.replicates))
    for i in setup.security_index:
        out[:, setup.leader_index[i]] += np.maximum(setup.member0[:, i] - state.member[:, i], 0.0)
    return out


def update_ties(state: State, setup: Setup, engagement: np.ndarray) -> np.ndarray:
    """Historical ties depreciate and are rebuilt by engagement: (S, M, D, R). (C1, C10, C11, C12)

    Each month the ties close `tie_depreciation` of the gap to `tie_rebuilding`
    times current engagement: with full rebuilding they follow engagement with
    a lag of years; with none they only wear away. After a state leaves a
    security alliance, its security ties with the former leader lose
    `exit_tie_decay` more each month: the leader's advisers, exercises and
    officer training go with the membership.
    """
    p = setup.p
    ties = state.ties + p.tie_depreciation * (p.tie_rebuilding * engagement - state.ties)
    gone = left_alliances(state, setup)  # (S, M, R)
    ties[:, :, SECURITY] *= (1.0 - p.exit_tie_decay) ** gone
    return ties


def asset_floor(setup: Setup, month: int) -> np.ndarray:
    """The engagement that bases, leases and pipelines keep up this month: (S, M, D, R). (C1, C6, C12)

    An asset holds its owner's engagement with the host, in its domain, at
    its floor (scaled by `asset_strength`) from the start of the run until its
    end month; several assets of one power in one place count by the largest.

    Shared infrastructure (C6: a power cannot take over a whole pipeline
    network that another partly owns through joint ventures): where others
    hold stakes (`co_owners`), the owner's floor is capped at its own stake,
    and each co-owning outside power holds its stake of the floor. With
    `co_ownership` 0 the owner controls the whole asset and co-owners hold
    nothing.
    """
    share = np.asarray(setup.p.co_ownership)
    stakes = setup.asset_stakes  # (N, M + 1, R): outside powers, then the host
    width = np.broadcast_shapes(setup.asset_floor.shape[-1:], stakes.shape[-1:], np.shape(share))[-1]
    floor = np.zeros((setup.n_regional, setup.n_partners, 2, width))
    for k in np.flatnonzero(setup.asset_end > month):
        h, o, d = setup.asset_host[k], setup.asset_owner[k], setup.asset_domain[k]
        held = setup.asset_floor[k] * (1.0 - share * stakes[k].sum(axis=0))
        floor[h, o, d] = np.maximum(floor[h, o, d], held)
        for q in np.flatnonzero(stakes[k, :-1].any(axis=-1)):  # co-owning outside powers
            floor[h, q, d] = np.maximum(floor[h, q, d], setup.asset_floor[k] * share * stakes[k, q])
    return floor * np.asarray(setup.p.asset_strength)


def trends(state: State, setup: Setup, attention: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Capacity and attention follow the scenario's trends: (M, D, R), (M, R). (C13, C14)

    A power set to grow (China's economic reach) or decline gains or loses the
    same fraction of its current capacity, and of its regional attention,
    each month; `trend_scale` scales every trend (0: none). Shocks act on top.
    """
    # Yearly rates applied monthly on a log scale: twelve months make the yearly rate.
    scale = np.asarray(setup.p.trend_scale) / 12.0
    capacity = np.clip(state.capacity * np.exp(scale * np.log1p(setup.capacity_trend)), 0.0, 10.0)
    attention = np.clip(attention * np.exp(scale * np.log1p(setup.attention_trend)), 0.0, 1.0)
    return capacity, attention
