"""The per-run draws of a scenario's own randomness: shock severities and the months of random shocks.

A shock with a severity range draws its severity once per run; a random shock
(a monthly probability) fires in the first month whose draw falls below that
probability. Both come from the replicate's block of noise (engine.draw_noise),
so they can be read back from the replicate seeds without stepping the model:
`shock_draws` redraws the blocks (cheap next to the simulation) and returns
what each run drew, named by PATH as the scenario's priors are
(`shocks.ID.severity`, `shocks.ID.month`). Only values that vary from run to
run are returned; a random shock that did not fire within the horizon gets
month horizon + 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from balancesim.model.engine import draw_noise, widen, widen_values
from balancesim.model.state import Setup


def shock_draws(
    setup: Setup,
    shock_ids: Sequence[str],
    seeds: Sequence[int] | np.ndarray,
    values: Mapping[str, np.ndarray] | None = None,
    chunk: int = 1000,
) -> dict[str, np.ndarray]:
    """PATH -> (R,) draws of the shocks `shock_ids` (in the setup's order) for these replicate seeds.

    `values` are the per-run values the runs used (PATH -> (R,)), which may
    move a shock's severity range, probability or month.
    """
    n = len(seeds)
    if setup.n_shocks == 0 or n == 0:
        return {}
    if n > chunk:  # the noise of a chunk at a time, as the engine draws it
        parts = [
            shock_draws(
                setup,
                shock_ids,
                seeds[first : first + chunk],
                {p: np.asarray(v)[first : first + chunk] for p, v in (values or {}).items()},
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
        if np.ptp(severity[k]) > 0:
            out[f"shocks.{sid}.severity"] = severity[k].copy()
        if np.any(probability[k] > 0):
            below = noise.shock[:, k, :] < probability[k]  # (T, R): month t + 1 fires
            first = np.where(below.any(axis=0), below.argmax(axis=0) + 1, setup.horizon + 1)
            out[f"shocks.{sid}.month"] = first[:n].astype(float)
    return out
