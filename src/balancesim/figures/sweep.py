"""A sweep's figures: a response curve, heatmaps of a two-parameter grid, Sobol index bars, Morris."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from balancesim.text.guard import for_matplotlib

if TYPE_CHECKING:  # the figures take a sweep's plan; they do not import the sweep package
    from balancesim.sweep.plan import SweepPlan


def _labels(plan: SweepPlan) -> dict[str, str]:
    from balancesim.figures.runs import LABELS

    names = {a.id: a.name for a in plan.base.actors}
    a, b = plan.base.balance_pair
    third = ", ".join(p.name for p in plan.base.partners if p.kind == "third_party") or "third parties"
    return {
        m: LABELS[m][0].format(a=names[a], b=names[b], third=third) if m in LABELS else m
        for m in plan.measures
    }


def sweep_figures(
    plan: SweepPlan, summary: pd.DataFrame, sobol: pd.DataFrame | None, morris: pd.DataFrame | None = None
) -> dict[str, Any]:
    """The sweep's figures: a response curve (one parameter), heatmaps (a grid of two), Sobol bars, Morris.

    Morris: mu* (how much an input matters) against sigma (interactions and
    non-linearity), one panel per measure, as Morris screening is usually read.

    All at the last chosen month. Designs of other shapes get no figure but
    the table (which plots easily with pandas).
    """
    from balancesim.experiment.batch import calendar_month

    figures: dict[str, Any] = {}
    month = plan.months[-1]
    when = f"month {month} ({calendar_month(plan.base.start, month)})"
    labels = _labels(plan)
    last = summary[summary["month"] == month]
    paths = plan.design.paths
    n = len(plan.measures)
    cols = 3
    rows = math.ceil(n / cols)
    from balancesim.text.wording import plural

    subtitle = f"{plan.base.name}: {plural(plan.replicates, 'run')} per point, seed {plan.seed}, {when}"
    if sobol is not None:
        fig = Figure(figsize=(4.6 * cols, 3.4 * rows))
        axes = fig.subplots(rows, cols, squeeze=False)
        part = sobol[sobol["month"] == month]
        x = np.arange(len(paths))
        for ax, measure in zip(axes.flat, plan.measures, strict=False):
            s = part[part["measure"] == measure].set_index("parameter").reindex(paths)
            ax.bar(
                x - 0.2, s["S1"], 0.4, yerr=s["S1_conf"], capsize=3, label="first order (S1)", color="#2e86c1"
            )
            ax.bar(x + 0.2, s["ST"], 0.4, yerr=s["ST_conf"], capsize=3, label="total (ST)", color="#c0392b")
            ax.set_xticks(x)
            ax.set_xticklabels([for_matplotlib(p) for p in paths], rotation=30, ha="right", fontsize=7)
            ax.set_title(labels[measure], fontsize=10)
            ax.axhline(0, color="black", lw=0.6)
            ax.grid(alpha=0.3, axis="y")
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        axes.flat[0].legend(fontsize=8)
        fig.suptitle(f"Sobol indices with 95% confidence intervals\n{subtitle}", fontsize=11)
        fig.tight_layout()
        figures["sobol.png"] = fig
    elif morris is not None:
        fig = Figure(figsize=(4.6 * cols, 3.6 * rows))
        axes = fig.subplots(rows, cols, squeeze=False)
        part = morris[morris["month"] == month]
        for ax, measure in zip(axes.flat, plan.measures, strict=False):
            s = part[part["measure"] == measure]
            ax.errorbar(
                s["mu_star"], s["sigma"], xerr=s["mu_star_conf"], fmt="o", color="#1f4e79", ms=4, capsize=2
            )
            for row in s.itertuples():
                ax.annotate(for_matplotlib(str(row.parameter)), (row.mu_star, row.sigma), fontsize=6)
            ax.set_title(labels[measure], fontsize=10)
            ax.set_xlabel("mu* (mean |elementary effect|)", fontsize=8)
            ax.set_ylabel("sigma", fontsize=8)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        fig.suptitle(f"Morris elementary effects\n{subtitle}", fontsize=11)
        fig.tight_layout()
        figures["morris.png"] = fig
    elif len(paths) == 1:
        fig = Figure(figsize=(4.6 * cols, 3.4 * rows))
        axes = fig.subplots(rows, cols, squeeze=False)
        for ax, measure in zip(axes.flat, plan.measures, strict=False):
            s = last[last["measure"] == measure].sort_values(paths[0])
            x = s[paths[0]].to_numpy(dtype=float)
            ax.fill_between(x, s["p5"], s["p95"], color="#1f4e79", alpha=0.18, lw=0, label="5–95%")
            ax.plot(x, s["median"], color="#1f4e79", lw=1.8, marker="o", ms=3, label="median")
            ax.plot(x, s["mean"], color="#1f4e79", lw=1, ls="--", label="mean")
            ax.set_title(labels[measure], fontsize=10)
            ax.set_xlabel(paths[0], fontsize=8)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        axes.flat[0].legend(fontsize=8)
        fig.suptitle(f"Response to {paths[0]}\n{subtitle}", fontsize=11)
        fig.tight_layout()
        figures["response.png"] = fig
    elif len(paths) == 2 and plan.design.kind == "grid":
        xs = plan.design.params[1].values
        ys = plan.design.params[0].values
        fig = Figure(figsize=(4.8 * cols, 3.8 * rows))
        axes = fig.subplots(rows, cols, squeeze=False)
        for ax, measure in zip(axes.flat, plan.measures, strict=False):
            s = last[last["measure"] == measure].sort_values("point")
            grid = s["mean"].to_numpy().reshape(len(ys), len(xs))  # first parameter slowest
            image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
            ax.set_xticks(range(len(xs)))
            ax.set_xticklabels([f"{v:g}" for v in xs], fontsize=7, rotation=45)
            ax.set_yticks(range(len(ys)))
            ax.set_yticklabels([f"{v:g}" for v in ys], fontsize=7)
            ax.set_xlabel(paths[1], fontsize=8)
            ax.set_ylabel(paths[0], fontsize=8)
            ax.set_title(f"{labels[measure]} (mean)", fontsize=10)
            fig.colorbar(image, ax=ax, fraction=0.046)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        fig.suptitle(f"Mean outcome over {paths[0]} x {paths[1]}\n{subtitle}", fontsize=11)
        fig.tight_layout()
        figures["heatmap.png"] = fig
    return figures
