"""The figure of `balancesim hindcast` (and of a calibration's predictive check): one panel
per target, the modelled band over time with the observation marked."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from balancesim.analysis.hindcast import Hindcast


def hindcast_figure(h: Hindcast) -> Figure:
    """One small panel per target: the modelled median and 90% band over time, the observation marked."""
    n = len(h.table)
    cols = min(6, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(2.6 * cols, 2.1 * rows + 0.6))
    axes = fig.subplots(rows, cols, squeeze=False)
    last = max(
        int(h.model_months(t.period)[-1]) for _, t in h.targets
    )  # show the months up to the last target, and a little after
    shown = h.months <= min(int(h.months[-1]), last + 6)
    x = h.months[shown]
    for ax, (ident, t), row in zip(axes.flat, h.targets, h.table.itertuples(index=False), strict=False):
        path = h.paths[ident][shown]
        q5, q50, q95 = np.quantile(path, [0.05, 0.5, 0.95], axis=1)
        ax.fill_between(x, q5, q95, color="tab:blue", alpha=0.25, lw=0)
        ax.plot(x, q50, color="tab:blue", lw=1.2)
        months = h.model_months(t.period)
        lo, hi = months[0] - 0.5, months[-1] + 0.5
        if t.kind == "value":
            low, high = t.interval() or (0.0, 0.0)
            ax.fill_between([lo, hi], [low, low], [high, high], color="black", alpha=0.18, lw=0)
            centre = t.value if t.value is not None else (low + high) / 2
            ax.plot([lo, hi], [centre, centre], color="black", lw=1.6)
        else:
            assert t.event is not None
            for edge in (t.event.above, t.event.below):
                if edge is not None:
                    ax.axhline(edge, color="0.5", lw=0.7, ls=":")
            ax.axvspan(lo, hi, color="black", alpha=0.08, lw=0)
            text = f"obs: {'yes' if t.occurred else 'no'}; {row.outcome_share:.0%} of runs"
            ax.text(0.97, 0.9, text, transform=ax.transAxes, ha="right", va="top", fontsize=7)
        if t.since is not None:
            since = h.model_months(t.since)
            ax.axvspan(since[0] - 0.5, since[-1] + 0.5, color="tab:orange", alpha=0.12, lw=0)
        verdict = "PASS" if row.passed else "FAIL"
        ax.set_title(f"{ident}\n{verdict}", fontsize=7.5, color="green" if row.passed else "red")
        ax.tick_params(labelsize=6.5)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(
        f"Hindcast: {h.scenario_name}, {h.replicates} runs: {h.passed}/{n} targets pass "
        f"(score {h.score:.2f}, distance {h.distance:.1f})\n"
        "blue: modelled median and 90% band (a change: from the orange period); "
        "black: observed value/period",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
