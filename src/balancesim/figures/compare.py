"""The comparison of scenarios at a glance: a forest plot of effects and a heat map of tipping chances."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from balancesim.figures.runs import PARTNER_COLOURS, forest
from balancesim.text.guard import for_matplotlib as literal

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from balancesim.analysis.compare import Comparison


def comparison_figure(c: Comparison) -> Figure:
    """Left: each scenario's effect on each state's balance (median, 90% band); right: tipping chances."""
    table = c.table
    states = list(c.states)
    others = [k for k in c.scenarios if k != c.baseline]
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(15, 1.2 + 0.55 * len(states) * max(1, len(others)) ** 0.5 + 2), constrained_layout=True
    )
    labels = [literal(c.states[s]) for s in states]
    step = 0.8 / max(len(others), 1)
    for k, key in enumerate(others):
        rows = table[table["scenario"] == key].set_index("state").reindex(states)
        values = list(
            zip(
                rows["balance_effect_median"],
                rows["balance_effect_p5"],
                rows["balance_effect_p95"],
                strict=True,
            )
        )
        forest(
            left, labels, values, PARTNER_COLOURS[k % 8], 0.4 - step * (k + 0.5), literal(c.scenarios[key])
        )
    left.set_xlabel(
        f"effect on the {literal(c.away)}–{literal(c.towards)} balance at {c.by_date} "
        f"(+: toward {literal(c.away)}, −: toward {literal(c.towards)})",
        fontsize=9,
    )
    left.set_title("Effect against the baseline: median and 90% band", fontsize=11)
    left.grid(alpha=0.3, axis="x")
    if others:
        left.legend(fontsize=8, loc="best")
    keys = list(c.scenarios)
    grid = np.full((len(states), len(keys)), np.nan)
    for j, key in enumerate(keys):
        rows = table[table["scenario"] == key].set_index("state").reindex(states)
        grid[:, j] = rows["tip_chance"].to_numpy(dtype=float)
    image = right.imshow(grid, cmap="Reds", vmin=0, vmax=1, aspect="auto")
    right.set_xticks(
        range(len(keys)), [literal(c.scenarios[k]) for k in keys], rotation=30, ha="right", fontsize=8
    )
    right.set_yticks(range(len(states)), labels, fontsize=8)
    for i in range(len(states)):
        for j in range(len(keys)):
            if np.isfinite(grid[i, j]):
                right.text(
                    j,
                    i,
                    f"{grid[i, j]:.0%}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if grid[i, j] > 0.6 else "black",
                )
    fig.colorbar(image, ax=right, label=f"chance of tipping toward {literal(c.towards)} by {c.by_date}")
    right.set_title(f"Chance that the balance tips toward {literal(c.towards)} by {c.by_date}", fontsize=11)
    fig.suptitle(
        literal(
            f"{len(keys)} scenarios, {c.replicates} runs each, seed {c.seed}, "
            f"baseline: {c.scenarios[c.baseline]}"
        ),
        fontsize=11,
    )
    return fig
