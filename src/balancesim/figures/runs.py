"""Figures of a run, readable without the code.

Each function takes `Results` (and optionally a baseline) and returns a
matplotlib Figure; `write_all` saves the standard set as PNG files. Envelopes
show the median across replicates with the 50% and 90% bands.

Every text that comes from a scenario (names of actors, institutions, shocks,
the scenario itself) is drawn as typed: `balancesim.figures` turns mathtext off
for every figure, so a `$` in a name is a dollar sign (`$x^$` would otherwise
stop the plotting).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from balancesim.experiment.batch import Results, calendar_month, common_random_numbers
from balancesim.figures import pyplot
from balancesim.model.metrics import REGION
from balancesim.text.wording import plural

plt = pyplot()  # files only, no display; mathtext off

LABELS = {
    "hedging_index": ("Hedging index", "0 = all ties with one partner, 1 = perfectly even"),
    "balance": ("{a}–{b} balance", "+1 = all with {a}, −1 = all with {b}"),
    "restructuring": ("Restructuring since start", "share of ties moved to other partners"),
    "third_party_share": ("Third-party share", "share of ties with third parties"),
    "tension": ("{a}–{b} tension", "0 = none, 1 = open rivalry"),
    "coordination": ("{a}–{b} coordination", "0 = none, 1 = full"),
    "gains": ("Gains from competition", "extra offers taken up a month, mean over states"),
}
PARTNER_COLOURS = ["#c0392b", "#d4a017", "#2e86c1", "#8e44ad", "#27ae60", "#7f8c8d", "#e67e22", "#16a085"]


def _names(results: Results) -> dict[str, str]:
    """Actor ids -> display names; 'a' and 'b' are the balance pair."""
    names = {a.id: a.name for a in results.scenario.actors}
    a, b = results.scenario.balance_pair
    return {"a": names[a], "b": names[b], **names}


def _title(results: Results) -> str:
    return results.scenario.name


def _wrap(text: str, width_inches: float, fontsize: float = 11) -> str:
    """`text` broken into lines that fit a figure `width_inches` wide (each line kept apart)."""
    chars = max(20, int(width_inches * 72 / (0.55 * fontsize)))  # ~0.55 em per character
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def envelope(
    ax: Axes, x: np.ndarray, values: np.ndarray, colour: str = "#1f4e79", label: str | None = None
) -> None:
    """Median line with 50% and 90% bands of `values` (months, replicates)."""
    q = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95], axis=1)
    ax.fill_between(x, q[0], q[4], color=colour, alpha=0.15, lw=0)
    ax.fill_between(x, q[1], q[3], color=colour, alpha=0.3, lw=0)
    ax.plot(x, q[2], color=colour, lw=1.8, label=label)


def _time_axis(ax: Axes, results: Results) -> None:
    months = results.months
    step = 12 if len(months) > 30 else 6
    ticks = months[::step]
    ax.set_xticks(ticks)
    ax.set_xticklabels(
        [calendar_month(results.scenario.start, int(m)) for m in ticks], rotation=30, fontsize=8
    )
    ax.set_xlim(months[0], months[-1])
    for shock in results.scenario.shocks:
        if shock.month is not None:
            ax.axvline(shock.month, color="#922b21", ls="--", lw=1)


def _shock_note(results: Results) -> str:
    scheduled = [f"{s.name} (month {s.month})" for s in results.scenario.shocks if s.month is not None]
    return ("Dashed line: " + "; ".join(scheduled) + ". ") if scheduled else ""


def _headline_grid(results: Results, panel: Callable[[Axes, str, str, str], None], suptitle: str) -> Figure:
    """A grid of four columns, one panel per headline measure; `panel(ax, key, title, note)` draws one."""
    names = _names(results)
    rows = -(-len(LABELS) // 4)
    fig, axes = plt.subplots(rows, 4, figsize=(18, 3.75 * rows), constrained_layout=True)
    for ax in axes.flat[len(LABELS) :]:
        ax.set_visible(False)
    for ax, key in zip(axes.flat, LABELS, strict=False):
        title, note = (t.format(**names) for t in LABELS[key])
        panel(ax, key, title, note)
        _time_axis(ax, results)
        ax.grid(alpha=0.3)
    fig.suptitle(_wrap(suptitle, 14), fontsize=11)
    return fig


def headline(results: Results, baseline: Results | None = None) -> Figure:
    """The region's headline measures over time; with a baseline, the baseline in grey."""

    def panel(ax: Axes, key: str, title: str, note: str) -> None:
        if baseline is not None:
            envelope(ax, baseline.months, baseline.values(REGION, key), colour="#909497", label="baseline")
        envelope(ax, results.months, results.values(REGION, key), label=_title(results))
        ax.set_title(title, fontsize=11)
        ax.set_ylabel(note, fontsize=8)

    fig = _headline_grid(
        results,
        panel,
        f"{_title(results)}: regional outcomes across {plural(results.replicates, 'run')}\n"
        f"line = median, dark band = middle 50%, light band = 90% of runs. {_shock_note(results)}",
    )
    fig.axes[0].legend(fontsize=8, loc="best")
    return fig


def _pairing(results: Results, baseline: Results) -> str:
    if common_random_numbers(results.setup, baseline.setup):
        return "each run paired with the baseline run of the same random numbers"
    return "runs paired by seed only (different actors: no common random numbers)"


def effect(results: Results, baseline: Results) -> Figure:
    """Paired difference (scenario minus baseline, same random numbers) of the headline measures."""

    def panel(ax: Axes, key: str, title: str, note: str) -> None:
        diff = results.values(REGION, key) - baseline.values(REGION, key)
        envelope(ax, results.months, diff, colour="#922b21")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(f"Effect: {title}", fontsize=11)
        ax.set_ylabel(f"difference ({note})", fontsize=8)
        if results.inputs:
            _drivers(ax, results, diff[-1])

    drawn = ""
    if baseline.drawn:
        drawn = (
            f"\nBands include parametric uncertainty: {len(baseline.drawn)} inputs drawn from their priors, "
            "shared with the baseline."
        )
    if results.inputs:
        drawn += " Box: the drawn inputs the effect at the horizon follows most (Spearman ρ)."
    fig = _headline_grid(
        results,
        panel,
        f"Effect of '{_title(results)}' against '{_title(baseline)}'\n"
        f"{_pairing(results, baseline)}; median, 50% and 90% bands of the difference. {_shock_note(results)}"
        + drawn,
    )
    _state_effects(fig.axes[len(LABELS)], results, baseline)  # the grid's free eighth panel
    return fig


def forest(
    ax: Axes,
    labels: list[str],
    rows: list[tuple[float, float, float]],
    colour: str,
    offset: float = 0.0,
    label: str | None = None,
) -> None:
    """Medians with their 90% bands as horizontal bars, one row per label (top to bottom).

    `labels` are drawn as given: pass them through `literal` first.
    """
    y = np.arange(len(labels))[::-1] + offset
    med = np.array([r[0] for r in rows])
    lo = np.array([r[1] for r in rows])
    hi = np.array([r[2] for r in rows])
    ax.errorbar(
        med, y, xerr=[med - lo, hi - med], fmt="o", color=colour, ms=4, capsize=2, lw=1.2, label=label
    )
    ax.set_yticks(np.arange(len(labels))[::-1], labels, fontsize=8)
    ax.axvline(0, color="black", lw=0.8)


def _state_effects(ax: Axes, results: Results, baseline: Results) -> None:
    """Each state's effect at the horizon: balance and hedging index, median and 90% band."""
    from balancesim.experiment.effects import effect_table

    rows = [r for r in effect_table(results, baseline) if r.actor != REGION]
    names = _names(results)
    ax.set_visible(True)
    for k, (measure, colour) in enumerate((("balance", "#922b21"), ("hedging_index", "#1f618d"))):
        mine = [r for r in rows if r.measure == measure]
        labels = [names.get(r.actor, r.actor) for r in mine]
        shown = f"balance (+: toward {names['a']})" if measure == "balance" else "hedging index (+: more)"
        forest(ax, labels, [(r.median, r.p5, r.p95) for r in mine], colour, 0.15 - 0.3 * k, shown)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(f"Effect by state at month {int(results.months[-1])}", fontsize=11)
    ax.set_xlabel("difference (median, 90% band)", fontsize=8)


def _drivers(ax: Axes, results: Results, outcome: np.ndarray) -> None:
    """A box naming the drawn inputs this outcome follows most (importance.py)."""
    from balancesim.experiment.importance import leading, short_name

    pairs = leading(results.inputs, outcome)
    lines = [f"{short_name(p)} {rho:+.2f}" for p, rho in pairs] or ["no drawn input above chance"]
    ax.text(
        0.02,
        0.04,
        "\n".join(lines),
        transform=ax.transAxes,
        fontsize=7,
        va="bottom",
        bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8, "lw": 0.5},
    )


def engagement(results: Results) -> Figure:
    """Each regional state's share of ties with each outside power over time."""
    setup = results.setup
    names = _names(results)
    n = setup.n_regional
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    width = max(5.0 * cols, 8.0)  # the title needs room even with one state
    fig, axes = plt.subplots(
        rows, cols, figsize=(width, 3.6 * rows + 0.6), squeeze=False, constrained_layout=True
    )
    for ax, s in zip(axes.flat, setup.regional_ids, strict=False):
        for k, p in enumerate(setup.partner_ids):
            envelope(
                ax,
                results.months,
                results.values(s, f"share.{p}"),
                colour=PARTNER_COLOURS[k % len(PARTNER_COLOURS)],
                label=names[p],
            )
        ax.set_title(names[s], fontsize=11)
        ax.set_ylabel("share of the state's ties", fontsize=8)
        ax.set_ylim(0, 1)
        _time_axis(ax, results)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8, ncol=2, loc="upper right")
    fig.suptitle(
        _wrap(
            f"{_title(results)}: engagement of each state with each outside power\n"
            f"security and economy pooled; median and 50%/90% bands over "
            f"{plural(results.replicates, 'run')}",
            width,
        ),
        fontsize=11,
    )
    return fig


def _alliances(results: Results) -> list:
    return [i for i in results.scenario.institutions if i.kind.value == "security"]


def alliances(results: Results) -> Figure:
    """Share of runs in which each member is still in, or threatening to leave, each security alliance.

    Needs at least one security alliance (`write_all` skips this figure otherwise).
    """
    names = _names(results)
    insts = _alliances(results)
    if not insts:
        raise ValueError(f"{results.scenario.name!r} has no security alliance to plot")
    n = len(insts)
    width = max(9.0, 5.2 * n)
    fig, axes = plt.subplots(1, n, figsize=(width, 4.6), squeeze=False, constrained_layout=True)
    for ax, inst in zip(axes.flat, insts, strict=False):
        for k, s in enumerate(inst.members):
            c = PARTNER_COLOURS[k % len(PARTNER_COLOURS)]
            ax.plot(
                results.months,
                results.values(s, f"member.{inst.id}").mean(axis=1),
                color=c,
                lw=2,
                label=f"{names[s]}: still a member",
            )
            ax.plot(
                results.months,
                results.values(s, f"exit_threat.{inst.id}").mean(axis=1),
                color=c,
                lw=1.2,
                ls="--",
                label=f"{names[s]}: threatening exit",
            )
        ax.set_title(_wrap(f"{inst.name} (led by {names[inst.leader]})", width / n, 10), fontsize=10)
        ax.set_ylabel("share of runs", fontsize=8)
        ax.set_ylim(-0.02, 1.02)
        _time_axis(ax, results)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center left")
    fig.suptitle(
        _wrap(
            f"{_title(results)}: alliance membership and exit threats\n"
            f"share of {plural(results.replicates, 'run')} (solid: still a member; dashed: threatening "
            "to leave)",
            width,
        ),
        fontsize=11,
    )
    return fig


def balance_by_state(results: Results) -> Figure:
    """Each state's balance between the balance pair over time."""
    setup = results.setup
    names = _names(results)
    fig, ax = plt.subplots(figsize=(10, 5), constrained_layout=True)
    for k, s in enumerate(setup.regional_ids):
        envelope(
            ax, results.months, results.values(s, "balance"), colour=PARTNER_COLOURS[k % 8], label=names[s]
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylim(-1, 1)
    ax.set_ylabel(f"+1 = all ties with {names['a']}, −1 = all with {names['b']}", fontsize=9)
    _time_axis(ax, results)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=3)
    ax.set_title(
        _wrap(f"{_title(results)}: where each state stands between {names['a']} and {names['b']}", 10, 12)
    )
    return fig


def figure_names(results: Results, baseline: Results | None = None) -> list[str]:
    """The PNG files `write_all` writes for these results, in order.

    alliances.png only when the scenario has a security alliance; effect.png
    only with a baseline.
    """
    names = ["headline.png", "engagement.png", "balance_by_state.png"]
    if _alliances(results):
        names.append("alliances.png")
    if baseline is not None:
        names.append("effect.png")
    return names


def write_all(
    results: Results,
    folder: Path,
    baseline: Results | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Save the standard figures (`figure_names`) as PNG files in `folder`; returns their paths.

    `progress(name)` is called after each file is written.
    """
    draw: dict[str, Callable[[], Figure]] = {
        "headline.png": lambda: headline(results, baseline),
        "engagement.png": lambda: engagement(results),
        "balance_by_state.png": lambda: balance_by_state(results),
        "alliances.png": lambda: alliances(results),
    }
    if baseline is not None:
        draw["effect.png"] = lambda: effect(results, baseline)
    paths = []
    for name in figure_names(results, baseline):
        fig = draw[name]()  # one figure in memory at a time
        path = folder / name
        try:
            fig.savefig(path, dpi=110)
        finally:
            plt.close(fig)
        paths.append(path)
        if progress is not None:
            progress(name)
    return paths
