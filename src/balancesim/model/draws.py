"""The per-run draws of a scenario's own randomness: shock severities and the months of random shocks.

A shock with a severity range draws its severity once per run; a random shock
(a monthly probability) fires in the first month whose draw falls below that
probability. Both come from the replicate's block of noise (engine.draw_noise),
so they can be read back from the replicate seeds without stepping the model:
`shock_draws` redraws the blocks (cheap next to the simulation) and returns
what each run drew, named by PATH as the scenario's priors are
(`shocks.ID.severity`, `shocks.ID.month`). Only values that vary from run to
run are returned; a random shock that did not fire within the horizon gets
month horizon + 1. A sweep, whose chunks must all have the same columns, asks
for fixed `paths` instead (`recorded_paths`: what the scenario draws at all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from balancesim.model.engine import draw_noise, widen, widen_values
from balancesim.model.state import Setup
from balancesim.scenario.schema import Scenario, SeverityRange


def recorded_paths(scenario: Scenario, given: Sequence[str] = ()) -> tuple[str, ...]:
    """The scenario's own per-run draws by PATH: each ranged severity, each random shock's month.

    Paths in `given` (values a run is handed: a design's, a posterior's) are left out.
    """
    out = []
    for shock in scenario.shocks:
        if isinstance(shock.severity, SeverityRange):
            out.append(f"shocks.{shock.id}.severity")
        if shock.probability is not None:
            out.append(f"shocks.{shock.id}.month")
    return tuple(p for p in out if p not in given)


def shock_draws(
    setup: Setup,
    shock_ids: Sequence[str],
    seeds: Sequence[int] | np.ndarray,
    values: Mapping[str, np.ndarray] | None = None,
    chunk: int = 1000,
    paths: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """PATH -> (R,) draws of the shocks `shock_ids` (in the setup's order) for these replicate seeds.

    `values` are the per-run values the runs used (PATH -> (R,)), which may
    move a shock's severity range, probability or month. Without `paths`,
    the draws that vary from run to run; with them, exactly those PATHs.
    """
    n = len(seeds)
    if setup.n_shocks == 0 or n == 0:
        return {p: np.empty(0) for p in paths or ()}
    if n > chunk:  # the noise of a chunk at a time, as the engine draws it
        parts = [
            shock_draws(
                setup,
                shock_ids,
                seeds[first : first + chunk],
                {p: np.asarray(v)[first : first + chunk] for p, v in (values or {}).items()},
                paths=paths,
            )
            for first in range(0, n, chunk)
        ]
        return {p: np.concatenate([part[p] for part in parts]) for p in parts[0]} if parts[0] else {}
    if values:
        setup = setup.with_values(widen_values(values, n))
    wide = widen(seeds)
    noise = draw_noise(setup, wide)
    R = len(wide)
    low = np.broadcast_to(setup.severity_low, (setup.n_shocks, R))
    high = np.broadcast_to(setup.severity_high, (setup.n_shocks, R))
    severity = (low + (high - low) * noise.severity)[:, :n]
    probability = np.broadcast_to(setup.shock_probability, (setup.n_shocks, R))
    out: dict[str, np.ndarray] = {}
    for k, sid in enumerate(shock_ids):
        path = f"shocks.{sid}.severity"
        if (np.ptp(severity[k]) > 0) if paths is None else path in paths:
            out[path] = severity[k].copy()
        path = f"shocks.{sid}.month"
        if np.any(probability[k] > 0) if paths is None else path in paths:
            below = noise.shock[:, k, :] < probability[k]  # (T, R): month t + 1 fires
            first = np.where(below.any(axis=0), below.argmax(axis=0) + 1, setup.horizon + 1)
            out[path] = first[:n].astype(float)
    return out
