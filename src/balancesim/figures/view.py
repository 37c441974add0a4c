"""The figures of the browser view (`balancesim.viz.app`): the actors network, two chart panels
and the waterfall of why a state moved.

Each function draws one cell of the page from the model's current state and history,
as a matplotlib Figure the size of a cell (SolaraViz's default grid). Texts from the
scenario file are drawn as typed: `balancesim.figures` turns mathtext off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from balancesim.figures.explain import TOTAL, waterfall, waterfall_data
from balancesim.model.mesa_model import DECISIONS, BalanceModel
from balancesim.model.metrics import REGION
from balancesim.model.trace import DOMAINS, ENGAGEMENT_TERMS, OPINION_TERMS, Decision

SECURITY_COLOUR = "#c0392b"
ECONOMY_COLOUR = "#2471a3"
STATE_COLOUR = "#f0c36d"
BADGE_STYLE = {  # institution status -> (badge text format, face colour, text colour)
    "member": ("{}", "#d4efdf", "#1d6b3a"),
    "threatening exit": ("{} exit?", "#f39c12", "#000000"),
    "left": ("left {}", "#d5d8dc", "#5d6d7e"),
}
FIG_WIDTH, FIG_HEIGHT = 4.6, 3.5  # inches: shown 457 px wide in a cell of SolaraViz's default grid


def partner_colours(model: BalanceModel) -> dict[str, Any]:
    """One colour per outside power, the same in the network and the charts."""
    palette = mpl.color_sequences["tab10"]
    return {p: palette[k % len(palette)] for k, p in enumerate(model.setup.partner_ids)}


def names(model: BalanceModel) -> dict[str, str]:
    return {a.id: a.name for a in model.spec.actors}


def short_name(name: str) -> str:
    return {"European Union": "EU", "United States": "US"}.get(name, name)


def shock_months(model: BalanceModel) -> list[tuple[int, str]]:
    """(month, name) of every shock that has happened: scheduled ones and those fired by hand."""
    shocks = {s.id: s for s in model.spec.shocks}
    out = [(m, shocks[i].name) for m, i in model.fired]
    by_hand = {i for _, i in model.fired}
    for k, s in enumerate(model.spec.shocks):
        # a scheduled shock fired by hand earlier does not happen again at its month (rules.shocks)
        fired = model.state.shock_fired[k, 0] > 0 and s.id not in by_hand
        if s.month is not None and s.month <= model.month and fired:
            out.append((s.month, s.name))
    return sorted(set(out))


def _series(model: BalanceModel, actor: str, name: str) -> np.ndarray:
    return model.series()[:, model.columns.index(actor, name)]


def _line(ax: Axes, months: np.ndarray, values: np.ndarray, **style: Any) -> None:
    """A measure over time, with a dot on the current month (so month 0 shows too)."""
    (line,) = ax.plot(months, values, **style)
    ax.plot(months[-1:], values[-1:], "o", ms=2.5, color=line.get_color())


def _mark_shocks(ax: Axes, model: BalanceModel) -> None:
    for month, _ in shock_months(model):
        ax.axvline(month, color="#7d3c98", lw=1, ls="--", alpha=0.8)


def _style_axes(ax: Axes, model: BalanceModel, title: str, ylim: tuple[float, float]) -> None:
    ax.set_title(title, fontsize=8, loc="left")
    ax.set_xlim(0, model.setup.horizon)
    ax.set_ylim(*ylim)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, lw=0.5)
    _mark_shocks(ax, model)


def _new_figure(**margins: float) -> Figure:
    """A figure the size of a cell; fixed margins (constrained layout would triple the drawing time)."""
    fig = Figure(figsize=(FIG_WIDTH, FIG_HEIGHT), dpi=100)
    fig.subplots_adjust(
        **(
            {"left": 0.09, "right": 0.98, "top": 0.94, "bottom": 0.11, "hspace": 0.32, "wspace": 0.28}
            | margins
        )
    )
    return fig


# --------------------------------------------------------------------------- figures


def network_figure(model: BalanceModel) -> Figure:
    """The actors as a network: who engages with whom, in which domain, and how much.

    Regional states (squares) sit in the middle row, great powers (large circles)
    above, third parties (diamonds) below; an outside power's marker grows with its
    attention to the region. Each state has two edges to each partner: security
    (red, curving one way) and economy (blue, the other), as wide as the
    engagement. Badges under a state: its institutions; orange "exit?" is an exit
    threat, grey "left" a state that has left.
    """
    setup = model.setup
    label = names(model)
    colours = partner_colours(model)
    regional = list(setup.regional_ids)
    great = [p for k, p in enumerate(setup.partner_ids) if setup.is_great_power[k]]
    third = [p for k, p in enumerate(setup.partner_ids) if not setup.is_great_power[k]]

    def row(ids: list[str], y: float, width: float) -> dict[str, tuple[float, float]]:
        xs = np.linspace(-width, width, len(ids)) if len(ids) > 1 else [0.0]
        return {a: (float(x), y) for a, x in zip(ids, xs, strict=True)}

    pos = row(great, 1.05, 0.6) | row(regional, 0.0, 0.98) | row(third, -1.1, 0.8)
    graph: nx.MultiGraph[str] = nx.MultiGraph()
    graph.add_nodes_from(pos)
    agents = {a.actor_id: a for a in model.agents}
    for s in regional:
        for p, domains in agents[s].engagement.items():
            for domain, level in domains.items():
                if level >= 0.01:
                    graph.add_edge(s, p, key=domain, weight=level)

    fig = _new_figure(left=0, right=1, top=1, bottom=0)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_xlim(-1.2, 1.2)
    ax.set_ylim(-1.75, 1.5)
    for domain, colour, rad in (("security", SECURITY_COLOUR, 0.12), ("economy", ECONOMY_COLOUR, -0.12)):
        edges = [(u, v) for u, v, k in graph.edges(keys=True) if k == domain]
        widths = [0.4 + 7.0 * graph.edges[u, v, domain]["weight"] for u, v in edges]
        nx.draw_networkx_edges(
            graph,
            pos,
            edgelist=edges,
            width=widths,
            edge_color=colour,
            alpha=0.55,
            arrows=True,
            arrowstyle="-",
            connectionstyle=f"arc3,rad={rad}",
            node_size=500,
            ax=ax,
        )
    nx.draw_networkx_nodes(
        graph,
        pos,
        nodelist=regional,
        node_shape="s",
        node_size=260,
        node_color=STATE_COLOUR,
        edgecolors="#7e5109",
        ax=ax,
    )
    for ids, shape, base in ((great, "o", 200), (third, "D", 60)):
        if ids:
            sizes = [base + 1000 * agents[p].attention for p in ids]
            nx.draw_networkx_nodes(
                graph,
                pos,
                nodelist=ids,
                node_shape=shape,
                node_size=sizes,
                node_color=[colours[p] for p in ids],
                edgecolors="#222",
                alpha=0.9,
                ax=ax,
            )
    for p in great:
        x, y = pos[p]
        ax.text(
            x,
            y + 0.15,
            f"{label[p]}\nattention {agents[p].attention:.2f}",
            ha="center",
            va="bottom",
            fontsize=7,
            fontweight="bold",
        )
    for p in third:
        x, y = pos[p]
        ax.text(x, y - 0.12, short_name(label[p]), ha="center", va="top", fontsize=7)
    for s in regional:
        x, y = pos[s]
        ax.text(x, y + 0.1, label[s], ha="center", va="bottom", fontsize=7, fontweight="bold")
        offset = 0.12
        for inst, status in agents[s].memberships.items():
            if status not in BADGE_STYLE:
                continue
            text, face, ink = BADGE_STYLE[status]
            ax.text(
                x,
                y - offset,
                text.format(inst.upper()),
                ha="center",
                va="top",
                fontsize=6,
                color=ink,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": face, "edgecolor": "none"},
            )
            offset += 0.11
    handles = [
        Line2D([], [], color=SECURITY_COLOUR, lw=2.5, label="security ties"),
        Line2D([], [], color=ECONOMY_COLOUR, lw=2.5, label="economic ties"),
        Line2D([], [], marker="s", ls="", color=STATE_COLOUR, mec="#7e5109", label="regional state"),
        Line2D([], [], marker="o", ls="", color="#888", label="great power (size: attention)"),
        Line2D([], [], marker="D", ls="", color="#888", ms=5, label="third party"),
        Line2D([], [], marker="s", ls="", color=BADGE_STYLE["threatening exit"][1], label="exit threat"),
    ]
    ax.legend(
        handles=handles,
        loc="lower center",
        fontsize=6.5,
        ncol=3,
        frameon=False,
        bbox_to_anchor=(0.5, 0.0),
        handlelength=1.5,
        columnspacing=1.0,
    )
    return fig


def alignment_figure(model: BalanceModel) -> Figure:
    """The four regional headline measures over time (definitions: metrics.py, the page's guide)."""
    label = names(model)
    a, b = (model.setup.partner_ids[k] for k in model.setup.balance_pair)
    months = np.arange(model.month + 1)
    fig = _new_figure()
    axes = fig.subplots(2, 2, sharex=True, squeeze=False)
    panels = [
        ("hedging_index", "Hedging index", (0, 1)),
        ("balance", f"{label[a]}–{label[b]} balance", (-1, 1)),
        ("third_party_share", "Third parties' share", (0, 0.6)),
        ("restructuring", "Restructuring", (0, 0.5)),
    ]
    for ax, (measure, title, ylim) in zip(axes.flat, panels, strict=True):
        values = _series(model, REGION, measure)
        top = max(ylim[1], float(values.max()) * 1.1)
        _line(ax, months, values, color="#1a5276", lw=1.6)
        _style_axes(ax, model, title, (ylim[0], top))
    ax = axes[0, 1]
    ax.axhline(0, color="#999", lw=0.8)
    ax.text(
        0.98,
        0.95,
        f"all {label[a]}",
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=6.5,
        color="#666",
    )
    ax.text(
        0.98,
        0.05,
        f"all {label[b]}",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=6.5,
        color="#666",
    )
    ax = axes[0, 0]
    ax.text(0.98, 0.95, "even", transform=ax.transAxes, ha="right", va="top", fontsize=6.5, color="#666")
    ax.text(
        0.98, 0.05, "one partner", transform=ax.transAxes, ha="right", va="bottom", fontsize=6.5, color="#666"
    )
    for ax in axes[1]:
        ax.set_xlabel("month", fontsize=7)
    return fig


def powers_figure(model: BalanceModel) -> Figure:
    """Great-power relations, each outside power's attention and share, institution membership."""
    label = names(model)
    colours = partner_colours(model)
    months = np.arange(model.month + 1)
    fig = _new_figure(bottom=0.17)
    axes = fig.subplots(2, 2, sharex=True, squeeze=False)
    ax = axes[0, 0]
    _line(ax, months, _series(model, REGION, "tension"), color="#c0392b", lw=1.6, label="tension")
    _line(ax, months, _series(model, REGION, "coordination"), color="#27ae60", lw=1.6, label="coordination")
    _style_axes(ax, model, "Tension, coordination", (0, 1))
    ax.legend(fontsize=6.5, loc="upper right", frameon=False, handlelength=1.2)
    for ax, measure, title in (
        (axes[0, 1], "regional_share", "Share of the region"),
        (axes[1, 0], "attention", "Attention to the region"),
    ):
        top = 0.0
        for p in model.setup.partner_ids:
            values = _series(model, p, measure)
            top = max(top, float(values.max()))
            _line(ax, months, values, color=colours[p], lw=1.4, label=short_name(label[p]))
        _style_axes(ax, model, title, (0, max(0.5, 1.1 * top)))
    ax = axes[1, 1]
    styles = ["-", "--", ":", "-."]
    for j, inst in enumerate(model.setup.institution_ids):
        ls = styles[j % len(styles)]
        _line(
            ax,
            months,
            _series(model, REGION, f"members.{inst}"),
            color="#1a5276",
            ls=ls,
            lw=1.4,
            label=inst.upper(),
        )
        threats = _series(model, REGION, f"exit_threats.{inst}")
        if threats.any():
            _line(
                ax,
                months,
                threats,
                color="#e67e22",
                ls=ls,
                lw=1.2,
                label=f"{inst.upper()} exit threats",
            )
    _style_axes(ax, model, "Institution members", (0, model.setup.n_regional + 2.5))
    if model.setup.institution_ids:
        ax.legend(fontsize=6, loc="upper left", frameon=False, ncol=2, handlelength=1.8, columnspacing=0.8)
    for ax in axes[1]:
        ax.set_xlabel("month", fontsize=7)
    handles, labels = axes[0, 1].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=len(labels),
        fontsize=6.5,
        frameon=False,
        handlelength=1.2,
        columnspacing=0.8,
    )
    return fig


# --------------------------------------------------------------------------- why a state moved

#: What the waterfall of why a state moved can show: label -> (variable, domain; None sums both).
WHY_VIEWS: dict[str, tuple[str, str | None]] = {
    "engagement, both domains": ("engagement", None),
    "security engagement": ("engagement", "security"),
    "economic engagement": ("engagement", "economy"),
    "public opinion": ("opinion", None),
}
WHY_TOP = 6  # terms shown; the others are pooled as "other terms"
WHY_HEIGHT = 3.0  # inches


@dataclass(frozen=True)
class WhyPanel:
    """One waterfall: its heading (no scenario text) and `waterfall_data`'s rows (None: no month yet)."""

    heading: str
    data: pd.DataFrame | None


def why_data(model: BalanceModel, actor: str, partner: str, view: str) -> list[WhyPanel]:
    """Why `actor` moved with `partner` (model/trace.py): this month's split and the sum since the start.

    The model must run with ``trace=True``. "This month" is the change from the
    previous month to this one; after a shock fired by hand this month, it is
    instead the coming month's split as the next Step will record it
    (`BalanceModel.next_decision`: the shock acts through the next month's
    rules, and its term "shocks this month" says how much). "Since the start"
    sums the DataCollector's `decisions` table over every month so far.
    """
    variable, domain = WHY_VIEWS[view]
    terms = [t.name for t in (ENGAGEMENT_TERMS if variable == "engagement" else OPINION_TERMS)]
    month = model.month
    ahead = model.next_decision() if model.shocks_fired_now else None
    decision: Decision | None
    if ahead is not None:
        heading = f"next Step ({month} → {month + 1}), with the shock fired now"
        decision = ahead
    else:
        heading = f"this month ({month - 1} → {month})" if month > 0 else "this month"
        decision = model.decision
    panels = [WhyPanel(heading, None)]
    if decision is not None:
        s = model.setup.regional_ids.index(actor)
        m = model.setup.partner_ids.index(partner)
        if variable == "engagement":
            values = decision.engagement[:, s, m, :, 0]  # (K, D)
            values = values.sum(axis=1) if domain is None else values[:, DOMAINS.index(domain)]
        else:
            values = decision.opinion[:, s, m, 0]
        panels[0] = WhyPanel(heading, _waterfall_rows(dict(zip(terms, values, strict=True)), variable))
    since = f"since the start (0 → {month})"
    if month == 0:
        return [*panels, WhyPanel(since, None)]
    table = model.datacollector.tables[DECISIONS]  # columns of trace.DECISION_COLUMNS, one row per cell
    sums = dict.fromkeys(terms, 0.0)
    for a, p, v, d, mechanism, value in zip(
        table["actor"],
        table["partner"],
        table["variable"],
        table["domain"],
        table["mechanism"],
        table["value"],
        strict=True,
    ):
        if a == actor and p == partner and v == variable and (domain is None or d == domain):
            sums[mechanism] += value
    return [*panels, WhyPanel(since, _waterfall_rows(sums, variable))]


def _waterfall_rows(sums: dict[str, float], variable: str) -> pd.DataFrame:
    """`waterfall_data` of one panel: each term's sum, the largest WHY_TOP, the rest pooled, the total."""
    names = [*sums, TOTAL]
    frame = pd.DataFrame(
        {
            "variable": variable,
            "partner": "",
            "domain": "",
            "mechanism": names,
            "mean": [*sums.values(), sum(sums.values())],
        }
    )
    return waterfall_data(frame, variable, "", "", top=WHY_TOP)


def why_figure(model: BalanceModel, actor: str, partner: str, view: str, panels: list[WhyPanel]) -> Figure:
    """The waterfalls of `why_data`: each term's push from where the previous ended, the total from zero.

    Blue terms raise the level, red ones lower it; the grey bar is the total change.
    """
    label = names(model)
    fig = _new_figure(left=0.41, right=0.97, top=0.87, bottom=0.1, hspace=0.75)
    fig.set_size_inches(FIG_WIDTH, WHY_HEIGHT)  # leaves room in the cell for the selectors
    fig.suptitle(f"{label[actor]} and {label[partner]}: {view}", fontsize=8, x=0.02, ha="left")
    axes = [fig.add_subplot(len(panels), 1, k + 1) for k in range(len(panels))]
    for ax, panel in zip(axes, panels, strict=True):
        if panel.data is None:
            ax.set_axis_off()
            ax.set_title(panel.heading, fontsize=7.5, loc="left")
            ax.text(0.5, 0.5, "no month yet: press Step", ha="center", va="center", fontsize=7, color="#666")
            continue
        waterfall(panel.data, "", ax=ax, xlabel="")
        ax.set_title(panel.heading, fontsize=7.5, loc="left")
        ax.use_sticky_edges = False  # a margin beyond the bars that end at zero
        ax.margins(x=0.04)
        ax.tick_params(labelsize=6.5)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        ax.xaxis.get_offset_text().set_fontsize(6)
        ax.grid(axis="x", alpha=0.3, lw=0.5)
    return fig
