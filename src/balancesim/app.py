"""The browser view of one run of a scenario (Mesa SolaraViz, matplotlib figures).

Start it with ``balancesim viz SCENARIO`` (offline, see docs/viz.md), or with
``solara run src/balancesim/app.py``; the scenario then comes from the
``BALANCESIM_SCENARIO`` environment variable (default: the repository's
scenarios/taiwan_shock.yaml).

What the page shows, and why:

* Run status: the month as a date (the model's clock), the numbers that move
  most with a shock (great-power tension and coordination, each outside
  power's attention to the region and share of it), and one button per shock
  of the scenario that makes it happen now, to ask "what if it happened this
  month?".
* Actors network: who engages with whom, so the structure behind the charts is
  visible: regional states in the middle, great powers above, third parties
  below; edges weighted by engagement, red for security, blue for economy;
  institution badges under each state show membership and exit threats.
* Regional states table: each state's engagement shares and public opinion now
  (the shares are what the headline measures summarise).
* Two chart panels: the headline measures (metrics.HEADLINE) over time, and
  the outside powers and institutions over time, with the shocks marked.

Mesa's SolaraViz supplies Step, Play and Reset and the sliders (``model_params``);
sliders and the seed apply when Reset is pressed.
"""

from __future__ import annotations

import html
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib as mpl
import networkx as nx
import numpy as np
import solara
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from mesa.visualization import SolaraViz
from mesa.visualization.utils import force_update, update_counter

from balancesim import engine
from balancesim.agents import GreatPower, OutsidePower, RegionalState
from balancesim.experiment import calendar_month
from balancesim.metrics import REGION
from balancesim.model import BalanceModel
from balancesim.scenario import Parameters, Scenario
from balancesim.scenario_files import ScenarioError, load_scenario
from balancesim.viz import SCENARIO_ENV

DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "taiwan_shock.yaml"

#: The parameters with a slider: name -> (label, min, max, step). The ranges are
#: the interesting part of each parameter's valid range (scenario.Parameters).
SLIDERS: dict[str, tuple[str, float, float, float]] = {
    "hedging_tension": ("Hedging under great-power tension", 0.0, 10.0, 0.1),
    "domestic_filter": ("Domestic filter: elites screen offers", 0.0, 1.0, 0.05),
    "adjustment_rate": ("Speed of adjustment (per month)", 0.0, 0.2, 0.005),
    "bargaining_gain": ("Bargaining gain from competition", 0.0, 2.0, 0.05),
    "opinion_weight": ("Weight of public opinion", 0.0, 1.0, 0.05),
    "lock_in": ("Lock-in of historical ties", 0.0, 10.0, 0.25),
}

SECURITY_COLOUR = "#c0392b"
ECONOMY_COLOUR = "#2471a3"
STATE_COLOUR = "#f0c36d"
BADGE_STYLE = {  # institution status -> (badge text format, face colour, text colour)
    "member": ("{}", "#d4efdf", "#1d6b3a"),
    "threatening exit": ("{} exit?", "#f39c12", "#000000"),
    "left": ("left {}", "#d5d8dc", "#5d6d7e"),
}
FIG_WIDTH, FIG_HEIGHT = 4.6, 3.5  # inches: shown 457 px wide in a cell of SolaraViz's default grid
CELL_CSS = """
.bs-cell { height: 388px; overflow: auto; font-size: 13px; line-height: 1.35; padding: 4px 8px; }
.bs-cell img { width: 100%; height: auto; }
.bs-cell h3 { font-size: 15px; margin: 2px 0 4px 0; }
.bs-cell table { border-collapse: collapse; font-size: 12px; margin-bottom: 6px; }
.bs-cell th, .bs-cell td { padding: 1px 5px; text-align: right; white-space: nowrap; }
.bs-cell th:first-child, .bs-cell td:first-child { text-align: left; }
.bs-cell thead th { border-bottom: 1px solid #999; font-weight: 600; }
.bs-note { color: #666; font-size: 12px; }
.bs-month { font-size: 20px; font-weight: 700; }
.bs-problem { background: #fdebd0; border-left: 3px solid #e67e22; padding: 3px 6px; margin: 4px 0; }
"""


# --------------------------------------------------------------------------- the model


#: The largest replicate seed: seeds are unsigned 64-bit integers (engine.replicate_seeds).
MAX_SEED = 2**64 - 1


def parse_seed(seed: int | str | None) -> int | None:
    """The replicate seed from what was typed: a whole number >= 0 as is, other text hashed.

    None or blank means the scenario's own replicate 0 (as `balancesim run` numbers them).
    Raises ValueError, with a message for the page, for a number above `MAX_SEED`.
    """
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        return None
    if isinstance(seed, int | np.integer) and seed >= 0:
        number = int(seed)
    else:
        text = str(seed).strip()
        if not (text.isascii() and text.isdigit()):  # "²" is a digit int() refuses: hash it as text
            return zlib.crc32(text.encode(errors="surrogatepass"))
        number = int(text)
    if number > MAX_SEED:
        shown = str(number) if number < 10**40 else f"{str(number)[:20]}… ({len(str(number))} digits)"
        raise ValueError(f"Seed {shown} is too large: a seed is a whole number from 0 to {MAX_SEED}.")
    return number


def default_seed(spec: Scenario) -> int:
    """Replicate 0 of the scenario's seed: the run `balancesim run` reports as replicate 0."""
    return int(engine.replicate_seeds(spec.seed, 1)[0])


class VizModel(BalanceModel):
    """`BalanceModel` as the page builds it on Reset.

    Mesa's Reset calls ``type(model)(**parameters)`` with the slider values; its
    keyword names must not include ``scenario`` (Mesa would replace it with its
    own Scenario object), hence ``spec``. ``seed`` is what the seed box holds; a seed
    that cannot be used (`parse_seed`) must not stop the page: the run then uses the
    scenario's replicate 0 and ``seed_problem`` says so (the page shows it).
    """

    def __init__(
        self,
        spec: Scenario | str | Path,
        seed: int | str | None = None,
        hedging_tension: float | None = None,
        domestic_filter: float | None = None,
        adjustment_rate: float | None = None,
        bargaining_gain: float | None = None,
        opinion_weight: float | None = None,
        lock_in: float | None = None,
    ) -> None:
        given = {
            "hedging_tension": hedging_tension,
            "domestic_filter": domestic_filter,
            "adjustment_rate": adjustment_rate,
            "bargaining_gain": bargaining_gain,
            "opinion_weight": opinion_weight,
            "lock_in": lock_in,
        }
        if not isinstance(spec, Scenario):
            spec = load_scenario(spec)
        problem = None
        try:
            rng = parse_seed(seed)
        except ValueError as e:
            rng = None
            problem = f"{e} This run uses the scenario's seed {default_seed(spec)} instead."
        if rng is None:  # explicitly: what BalanceModel does without a seed is its own business
            rng = default_seed(spec)
        super().__init__(spec, rng=rng, **{k: v for k, v in given.items() if v is not None})
        self.seed_problem: str | None = problem


def model_params(spec: Scenario) -> dict[str, Any]:
    """SolaraViz ``model_params``: the scenario (fixed), a seed box and the sliders."""
    params: dict[str, Any] = {
        "spec": spec,
        "seed": {"type": "InputText", "value": str(default_seed(spec)), "label": "Seed (applies on Reset)"},
    }
    fields = Parameters.model_fields
    for name, (label, lo, hi, step) in SLIDERS.items():
        assert name in fields, name
        value = float(getattr(spec.parameters, name))
        params[name] = {
            "type": "SliderFloat",
            "label": label,
            "value": value,
            "min": min(lo, value),
            "max": max(hi, value),
            "step": step,
        }
    return params


def scenario_from_env() -> Scenario:
    """The scenario named by $BALANCESIM_SCENARIO (default scenarios/taiwan_shock.yaml)."""
    default = DEFAULT_SCENARIO if DEFAULT_SCENARIO.exists() else Path("scenarios", "taiwan_shock.yaml")
    return load_scenario(os.environ.get(SCENARIO_ENV) or default)


# --------------------------------------------------------------------------- helpers


def month_label(model: BalanceModel) -> str:
    """'Month 24 (2024-03)': the model's month and its calendar date."""
    return f"Month {model.month} ({calendar_month(model.spec.start, model.month)})"


def partner_colours(model: BalanceModel) -> dict[str, Any]:
    """One colour per outside power, the same in the network and the charts."""
    palette = mpl.colormaps["tab10"].colors
    return {p: palette[k % len(palette)] for k, p in enumerate(model.setup.partner_ids)}


def names(model: BalanceModel) -> dict[str, str]:
    return {a.id: a.name for a in model.spec.actors}


# Every text that comes from a scenario file (names, descriptions, ids) is shown as
# text, never read as markup: `esc` for the page's HTML, `plain` for matplotlib.
esc = html.escape


def plain(text: str) -> str:
    """``text`` for a matplotlib label: shown as typed, never read as mathtext.

    Matplotlib reads text between two ``$`` as math, and a name such as ``$x^$``
    makes the figure fail to draw; ``\\$`` is a literal dollar sign.
    """
    return text.replace("$", r"\$")


def plain_names(model: BalanceModel) -> dict[str, str]:
    """`names` for matplotlib (see `plain`)."""
    return {k: plain(v) for k, v in names(model).items()}


def short_name(name: str) -> str:
    return {"European Union": "EU", "United States": "US"}.get(name, name)


def shock_months(model: BalanceModel) -> list[tuple[int, str]]:
    """(month, name) of every shock that has happened: scheduled ones and those fired by hand."""
    shocks = {s.id: s for s in model.spec.shocks}
    out = [(m, shocks[i].name) for m, i in model.fired]
    for k, s in enumerate(model.spec.shocks):
        if s.month is not None and s.month < model.month and model.state.shock_fired[k, 0] > 0:
            out.append((s.month, s.name))
    return sorted(set(out))


def _series(model: BalanceModel, actor: str, name: str) -> np.ndarray:
    return model.series()[:, model.columns.index(actor, name)]


def _line(ax, months: np.ndarray, values: np.ndarray, **style: Any) -> None:
    """A measure over time, with a dot on the current month (so month 0 shows too)."""
    (line,) = ax.plot(months, values, **style)
    ax.plot(months[-1:], values[-1:], "o", ms=2.5, color=line.get_color())


def _mark_shocks(ax, model: BalanceModel) -> None:
    for month, _ in shock_months(model):
        ax.axvline(month, color="#7d3c98", lw=1, ls="--", alpha=0.8)


def _style_axes(ax, model: BalanceModel, title: str, ylim: tuple[float, float]) -> None:
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


def _figure(fig: Figure) -> None:
    solara.FigureMatplotlib(fig, format="png", dpi=130)  # sharp when scaled to the cell


def _table(header: list[str], rows: list[list[str]], test_id: str) -> str:
    """An HTML table: ``header`` as text, ``rows`` of ready-made ``<td>`` cells."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f'<table data-testid="{test_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(text: str, strength: float = 0.0, colour: str = "36, 113, 163") -> str:
    """A table cell shaded by ``strength`` (0..1), so large shares stand out."""
    alpha = 0.55 * float(np.clip(strength, 0.0, 1.0))
    return f'<td style="background: rgba({colour}, {alpha:.2f})">{esc(text)}</td>'


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
    label = plain_names(model)
    colours = partner_colours(model)
    regional = list(setup.regional_ids)
    great = [p for k, p in enumerate(setup.partner_ids) if setup.is_great_power[k]]
    third = [p for k, p in enumerate(setup.partner_ids) if not setup.is_great_power[k]]

    def row(ids: list[str], y: float, width: float) -> dict[str, tuple[float, float]]:
        xs = np.linspace(-width, width, len(ids)) if len(ids) > 1 else [0.0]
        return {a: (float(x), y) for a, x in zip(ids, xs, strict=True)}

    pos = row(great, 1.05, 0.6) | row(regional, 0.0, 0.98) | row(third, -1.1, 0.8)
    graph = nx.MultiGraph()
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
                text.format(plain(inst.upper())),
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
    label = plain_names(model)
    a, b = (model.setup.partner_ids[k] for k in model.setup.balance_pair)
    months = np.arange(len(model.history))
    fig = _new_figure()
    axes = fig.subplots(2, 2, sharex=True)
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
    label = plain_names(model)
    colours = partner_colours(model)
    months = np.arange(len(model.history))
    fig = _new_figure(bottom=0.17)
    axes = fig.subplots(2, 2, sharex=True)
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
            label=plain(inst.upper()),
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
                label=f"{plain(inst.upper())} exit threats",
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


# --------------------------------------------------------------------------- components


@solara.component
def Cell(children: list | None = None) -> None:
    """A grid cell of the page: fixed height so cells never overlap, scrolls if needed."""
    solara.Column(children=children or [], classes=["bs-cell"], gap="4px")


@solara.component
def RunStatus(model: BalanceModel) -> None:
    """The month as a date, the numbers a shock moves, and a button per shock.

    The month is shown as "Month 24 (2024-03)" so readers (and the browser tests)
    can tell where the run is; the shock buttons fire the scenario's shocks now.
    """
    update_counter.get()
    spec = model.spec
    label = names(model)
    end = calendar_month(spec.start, model.setup.horizon)

    def fire(shock_id: str) -> Callable[[], None]:
        def on_click() -> None:
            model.fire_shock(shock_id)
            force_update()  # SolaraViz components re-render when this counter changes

        return on_click

    with Cell():
        solara.HTML(
            tag="div",
            unsafe_innerHTML=(
                f'<span class="bs-month" data-testid="month">{esc(month_label(model))}</span>'
                f' <span class="bs-note">of {model.setup.horizon} (ends {esc(end)})</span>'
                f"<h3>{esc(spec.name)}</h3>"
                f'<div class="bs-note">{esc(spec.description or "")}</div>'
            ),
        )
        if getattr(model, "seed_problem", None):
            problem = esc(model.seed_problem)
            solara.HTML(
                tag="div",
                unsafe_innerHTML=f'<div class="bs-problem" data-testid="seed-problem">{problem}</div>',
            )
        powers = [a for a in model.agents if isinstance(a, OutsidePower)]
        rows = [
            [
                f"<td>{esc(label[p.actor_id])}</td>",
                f"<td>{'great power' if isinstance(p, GreatPower) else 'third party'}</td>",
                _cell(f"{p.attention:.2f}", p.attention),
                _cell(f"{100 * p.regional_share:.0f}%", 2 * p.regional_share),
            ]
            for p in sorted(powers, key=lambda p: (not isinstance(p, GreatPower), p.index))
        ]
        tension, coordination = model.measure(REGION, "tension"), model.measure(REGION, "coordination")
        solara.HTML(
            tag="div",
            unsafe_innerHTML=(
                f'<div data-testid="relations">Great-power tension <b>{tension:.2f}</b>, '
                f"coordination <b>{coordination:.2f}</b> (0–1)</div>"
                + _table(["Outside power", "", "attention", "share of region"], rows, "powers")
            ),
        )
        if spec.shocks:
            solara.Text("Make a shock happen now:", style={"font-weight": "600"})
            with solara.Row(gap="6px", style={"flex-wrap": "wrap"}):
                for shock in spec.shocks:
                    solara.Button(
                        shock.name, on_click=fire(shock.id), color="deep-purple", dark=True, small=True
                    )
            notes = []
            for shock in spec.shocks:
                when = (
                    f"scheduled for month {shock.month} ({calendar_month(spec.start, shock.month)})"
                    if shock.month is not None
                    else f"random, {100 * (shock.probability or 0):.1f}% a month"
                )
                notes.append(f"{shock.name}: {when}.")
            happened = [
                f"{name} at month {m} ({calendar_month(spec.start, m)})" for m, name in shock_months(model)
            ]
            if happened:
                notes.append("Happened: " + "; ".join(happened) + ".")
            solara.HTML(
                tag="div",
                unsafe_innerHTML=f'<div class="bs-note" data-testid="shocks">'
                f"{'<br>'.join(esc(n) for n in notes)}</div>",
            )
        else:
            solara.Text("This scenario has no shocks.", classes=["bs-note"])


@solara.component
def ActorNetwork(model: BalanceModel) -> None:
    """The network of actors (see `network_figure`)."""
    update_counter.get()
    with Cell():
        solara.HTML(tag="h3", unsafe_innerHTML=f"Who engages with whom — {esc(month_label(model))}")
        _figure(network_figure(model))


@solara.component
def StatesTable(model: BalanceModel) -> None:
    """Each regional state now: engagement shares by partner, hedging, balance, public opinion."""
    update_counter.get()
    label = names(model)
    partners = list(model.setup.partner_ids)
    a, b = (partners[k] for k in model.setup.balance_pair)
    header = ["State", *(short_name(label[p]) for p in partners), "hedging"]
    shares, opinions = [], []
    for state in sorted(model.agents_by_type.get(RegionalState, []), key=lambda s: s.index):
        share, opinion = state.engagement_shares, state.opinion
        name = f"<td>{esc(label[state.actor_id])}</td>"
        shares.append(
            [
                name,
                *(_cell(f"{100 * share[p]:.0f}%", 1.6 * share[p]) for p in partners),
                _cell(f"{state.hedging_index:.2f}", 0),
            ]
        )
        opinions.append(
            [name, *(_cell(f"{100 * opinion[p]:.0f}%", opinion[p], "39, 174, 96") for p in partners)]
        )
    with Cell():
        solara.HTML(
            tag="div",
            unsafe_innerHTML=(
                "<h3>Regional states now</h3>"
                '<div class="bs-note">Share of each state\'s engagement (security and economy together), '
                "and its hedging index (1: spread evenly).</div>"
                + _table(header, shares, "shares")
                + '<div class="bs-note">Public opinion: approval of each partner.</div>'
                + _table(header[:-1], opinions, "opinion")
                + f'<div class="bs-note">{esc(label[a])}–{esc(label[b])} balance of the region: '
                f"<b>{model.measure(REGION, 'balance'):+.2f}</b> (+1: all with {esc(label[a])}, "
                f"−1: all with {esc(label[b])}).</div>"
            ),
        )


@solara.component
def AlignmentChart(model: BalanceModel) -> None:
    """The regional headline measures over time (dashed lines: shocks)."""
    update_counter.get()
    with Cell():
        solara.HTML(tag="h3", unsafe_innerHTML="How the region is aligned (dashed: shocks)")
        _figure(alignment_figure(model))


@solara.component
def PowersChart(model: BalanceModel) -> None:
    """Great-power relations, outside powers and institutions over time."""
    update_counter.get()
    with Cell():
        solara.HTML(tag="h3", unsafe_innerHTML="Great powers, third parties and institutions")
        _figure(powers_figure(model))


@solara.component
def Guide(model: BalanceModel) -> None:
    """How to use and read the page, for someone who sees it for the first time.

    Also lists the seed and slider parameters of the run shown: the sliders take
    effect on Reset and do not display their values.
    """
    update_counter.get()
    label = names(model)
    a, b = (model.setup.partner_ids[k] for k in model.setup.balance_pair)
    items = [
        "<b>Step</b> advances one month; <b>▶</b> plays month after month (<b>❚❚</b> pauses); "
        "<b>Reset</b> starts again with the sliders and seed on the left.",
        "The <b>shock buttons</b> make one of the scenario's shocks happen now; scheduled shocks "
        "also happen by themselves at their month.",
        "This is one possible history (the seed fixes its random events); "
        "<code>balancesim run</code> summarises hundreds.",
        "<b>Hedging index</b>: 0 when a state deals with one partner only, 1 when evenly with all.",
        f"<b>Balance</b>: +1 when all engagement is with {esc(label[a])}, −1 when all with {esc(label[b])}.",
        "<b>Third parties' share</b>: engagement with partners other than the great powers.",
        "<b>Restructuring</b>: how far the shares have moved since month 0 (1: a complete swap).",
        "<b>Tension</b> and <b>coordination</b> between the great powers run from 0 to 1; "
        "<b>attention</b> is how much an outside power invests in the region.",
    ]
    settings = ", ".join(
        f"{label_.lower()} {getattr(model.spec.parameters, name):g}" for name, (label_, *_) in SLIDERS.items()
    )
    this_run = (
        f'<div data-testid="settings"><b>This run</b>: seed {model.replicate_seed}; {esc(settings)}.</div>'
    )
    with Cell():
        solara.HTML(
            tag="div",
            unsafe_innerHTML="<h3>How to read this page</h3>"
            + this_run
            + "<ul>"
            + "".join(f"<li>{item}</li>" for item in items)
            + "</ul><div class='bs-note'>More: docs/viz.md; the model: docs/ODD.md.</div>",
        )


COMPONENTS = [RunStatus, ActorNetwork, StatesTable, AlignmentChart, PowersChart, Guide]


@solara.component
def BalanceView(spec: Scenario) -> None:
    """The whole page for one scenario: SolaraViz with balancesim's components and sliders."""
    params = solara.use_memo(lambda: model_params(spec), [spec])
    model = solara.use_memo(
        lambda: VizModel(**{k: v["value"] if isinstance(v, dict) else v for k, v in params.items()}),
        [spec],
    )
    solara.Title(f"balancesim: {spec.name}")
    solara.Style(CELL_CSS)
    SolaraViz(
        model,
        components=[(c, 0) for c in COMPONENTS],
        model_params=params,
        name=f"balancesim — {spec.name}",
        play_interval=250,
    )


@solara.component
def Page() -> None:
    """Entry point of `solara run`: the scenario of $BALANCESIM_SCENARIO."""
    spec, error = solara.use_memo(_load_from_env, [])
    if error is not None:
        with solara.Column(style={"padding": "24px"}):
            solara.Error(f"Cannot show the scenario: {error}")
        return
    BalanceView(spec)


def _load_from_env() -> tuple[Scenario | None, str | None]:
    try:
        return scenario_from_env(), None
    except (ScenarioError, OSError) as e:
        return None, str(e)
