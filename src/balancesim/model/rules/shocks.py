"""Shocks: the scenario's events happening to the state. (C13)

A scenario's shocks (a war elsewhere, a pivot, a coup, an attack) fire at
their month or at random, and their effects move the state's variables,
scaled by a severity drawn per replicate. `rules.step` applies the month's
shocks before any rule reads the state; `BalanceModel.fire_shock` (model.py)
fires one by hand. Shapes as in rules.py: K shocks, R (replicates) always
the last axis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from balancesim.model.state import CompiledEffect, Setup, State

if TYPE_CHECKING:
    from balancesim.model.rules.noise import MonthNoise


def apply_shocks(state: State, setup: Setup, month: int, noise: MonthNoise) -> State:
    """Fire the shocks of `month` and apply their effects, scaled by severity. (C13)

    Scheduled shocks fire at their month; random ones with their monthly
    probability, at most once per run. Severity is drawn once per replicate
    within the shock's range. Effects change capacities, attention, tension,
    coordination, elite control, threats, opinion or volatility; an attack
    raises the target's threat and tests its alliances this month.
    """
    if setup.n_shocks == 0:
        return state
    # A scheduled shock already fired by hand (BalanceModel.fire_shock) does not fire again.
    scheduled = (setup.shock_month == month) & (state.shock_fired == 0)
    random_fire = (
        (setup.shock_probability > 0) & (state.shock_fired == 0) & (noise.shock < setup.shock_probability)
    )
    fires = scheduled | random_fire  # (K, R)
    if not fires.any():
        return state
    low, high = setup.severity_low, setup.severity_high
    severity = (low + (high - low) * noise.severity) * fires  # (K, R): zero where it does not fire
    state = state.copy()
    for k in np.flatnonzero(fires.any(axis=1)):
        _apply_shock(state, setup, int(k), severity[k], fires[k])
    return state


def fire(state: State, setup: Setup, shock: int, severity: np.ndarray) -> State:
    """Shock number `shock` happens now in every replicate with the given severity (R,). (C13)"""
    state = state.copy()
    _apply_shock(state, setup, shock, severity, np.ones(state.replicates, dtype=bool))
    return state


def _apply_shock(state: State, setup: Setup, k: int, sev: np.ndarray, fires: np.ndarray) -> None:
    for e in setup.shock_effects[k]:
        _apply_effect(state, e, sev)
    state.shock_fired[k] = np.maximum(state.shock_fired[k], fires)


def _apply_effect(state: State, e: CompiledEffect, sev: np.ndarray) -> None:
    """Apply one effect in place; `sev` is (R,), zero where the shock did not fire."""
    target: np.ndarray
    index: tuple[int, ...]
    target, index, lo, hi = {
        "tension": (state.tension, (), 0.0, 1.0),
        "coordination": (state.coordination, (), 0.0, 1.0),
        "volatility": (state.volatility, (), 0.0, 50.0),
        "attention": (state.attention, (e.actor,), 0.0, 1.0),
        "attention_decay": (state.attention_decay, (e.actor,), 0.0, 1.0),
        "capacity": (state.capacity, (e.actor, e.domain), 0.0, 10.0),
        "elite_control": (state.elite_control, (e.actor,), 0.0, 1.0),
        "threat": (state.threat, (e.actor,), 0.0, 1.0),
        "attack": (state.threat, (e.actor,), 0.0, 1.0),
        "opinion": (state.opinion, (e.actor, e.partner), 0.0, 1.0),
    }[e.variable]
    idx: tuple[int | slice, ...] = (*index, slice(None))
    x = target[idx]
    if e.change == "add":
        new = x + e.amount * sev
    elif e.change == "multiply":
        new = x * (1.0 + (e.amount - 1.0) * sev)
    else:  # set: move toward the amount in proportion to severity
        new = x + (e.amount - x) * sev
    target[idx] = np.clip(new, lo, hi)
    if e.variable == "attack":
        state.attack[e.actor] = np.maximum(state.attack[e.actor], np.clip(e.amount * sev, 0.0, 1.0))
