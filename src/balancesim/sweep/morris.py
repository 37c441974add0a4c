"""Morris elementary effects (SALib): a cheap screening of which inputs matter at all.

A Morris design is `trajectories` one-at-a-time paths through a grid of
`levels` levels over the inputs' ranges: each path starts at a random grid
point and moves one input at a time, so a design of T trajectories over D
inputs has T x (D + 1) points, far fewer than a Sobol design. Each move gives
one *elementary effect* of the input moved. SALib's analysis summarises them
per input: mu* (the mean absolute effect: how much the input matters), sigma
(their spread: interactions or non-linearity) and a bootstrap confidence
interval of mu*. Sampling and analysis are SALib's (`SALib.sample.morris`,
`SALib.analyze.morris`), seeded, so both are reproducible.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

LEVELS = 4  # SALib's default grid; an even number keeps the step at half the range
COLUMNS = ("mu", "mu_star", "sigma", "mu_star_conf")


def sample(problem: dict[str, Any], trajectories: int, seed: int, levels: int = LEVELS) -> np.ndarray:
    """SALib's Morris sample: (trajectories x (D + 1), D) points in the sampler's order."""
    from SALib.sample import morris

    return np.asarray(morris.sample(problem, trajectories, num_levels=levels, seed=seed % 2**32), dtype=float)


def table(
    problem: dict[str, Any],
    points: np.ndarray,
    outputs: dict[tuple[str, int], np.ndarray],
    seed: int,
    levels: int = LEVELS,
) -> pd.DataFrame:
    """mu, mu*, sigma and mu*'s 95% confidence half-width of each input, for each (measure, month).

    `outputs` maps (measure, month) to Y in the design's point order (the
    replicate mean at each point). An output that does not vary gets zeros:
    no input moves it.
    """
    from SALib.analyze import morris

    rows = []
    names = problem["names"]
    for (measure, month), y in outputs.items():
        if np.ptp(y) == 0:
            result = {k: np.zeros(len(names)) for k in COLUMNS}
        else:
            result = morris.analyze(
                problem, points, np.asarray(y, dtype=float), num_levels=levels, seed=seed % 2**32
            )
        for d, name in enumerate(names):
            rows.append(
                {
                    "measure": measure,
                    "month": month,
                    "parameter": name,
                    **{k: float(result[k][d]) for k in COLUMNS},
                }
            )
    return pd.DataFrame(rows)
