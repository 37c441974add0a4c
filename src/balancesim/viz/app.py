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
* Why it moved: for the state (and partner) selected, a waterfall of what each
  mechanism contributed to its engagement (or opinion) this month and since the
  start (model/trace.py, the decision trace the page's model records), so the
  reader sees which claim's mechanism moved it; after a shock fired by hand,
  the month shown is the next Step's, with the shock in it (viz/why.py).

Mesa's SolaraViz supplies Step, Play and Reset and the sliders (``model_params``);
sliders and the seed apply when Reset is pressed. The figures are drawn by
`balancesim.figures.view`. Texts from the scenario file are escaped (`esc`): the
page shows them as typed (docs/viz.md, "Security").
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz
from mesa.visualization.utils import force_update, update_counter

from balancesim.experiment.batch import calendar_month
from balancesim.figures.view import (
    alignment_figure,
    names,
    network_figure,
    powers_figure,
    shock_months,
    short_name,
)
from balancesim.model import engine
from balancesim.model.agents import GreatPower, OutsidePower, RegionalState
from balancesim.model.mesa_model import BalanceModel
from balancesim.model.metrics import REGION
from balancesim.scenario.files import ScenarioError, load_scenario
from balancesim.scenario.parameters import Parameters
from balancesim.scenario.posterior import PosteriorError, read_posterior
from balancesim.scenario.schema import Scenario
from balancesim.text.guard import for_html
from balancesim.viz.server import FOLDERS_ENV, POSTERIOR_ENV, SCENARIO_ENV
from balancesim.viz.why import WhyItMoved

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


def default_seed(spec: Scenario, replicate: int = 0) -> int:
    """Replicate k of the scenario's seed: the run `balancesim run` reports as replicate k."""
    return int(engine.replicate_seeds(spec.seed, replicate + 1)[replicate])


def parse_replicate(replicate: int | str | None) -> int:
    """The replicate index from what was typed: a whole number >= 0; blank is 0.

    Raises ValueError, with a message for the page, for anything else.
    """
    if replicate is None or (isinstance(replicate, str) and not replicate.strip()):
        return 0
    text = str(replicate).strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_SEED:
        raise ValueError(f"Replicate {text[:40]!r} is not a whole number from 0 to {MAX_SEED}.")
    return int(text)


def draws(spec: Scenario) -> bool:
    """Does the page draw per-replicate values? Only with a calibration posterior.

    A scenario's priors alone are not drawn: the page then shows the
    scenario's own values (what its sliders show), as it always has.
    """
    return spec.posterior is not None


def drawn_values(spec: Scenario, replicate: int) -> dict[str, float]:
    """Replicate k's values of the scenario's uncertain PATHs, as `balancesim run` draws them.

    With a calibration posterior (`uncertainty: {posterior: DIR}` or
    `--posterior`): the posterior for the PATHs it covers, the priors of the
    `uncertainty:` section for the others; `uncertainty.draw` at `first=k`, so
    the page's replicate k is the run that `balancesim run` reports as
    replicate k (same seed, same values). Empty without a posterior (`draws`).
    """
    if not draws(spec):
        return {}
    from balancesim.scenario.uncertainty import draw

    return {path: float(v[0]) for path, v in draw(spec, spec.seed, 1, first=replicate).items()}


class VizModel(BalanceModel):
    """`BalanceModel` as the page builds it on Reset.

    Mesa's Reset calls ``type(model)(**parameters)`` with the slider values; its
    keyword names must not include ``scenario`` (Mesa would replace it with its
    own Scenario object), hence ``spec``. ``seed`` is what the seed box holds; a seed
    that cannot be used (`parse_seed`) must not stop the page: the run then uses the
    scenario's replicate 0 and ``seed_problem`` says so (the page shows it).

    ``replicate`` (k, for a scenario with a calibration posterior, `draws`) picks
    replicate k's drawn values (`drawn_values`) and, with a blank seed box,
    replicate k's seed: the run `balancesim run` reports as replicate k. Drawn
    values take precedence over the sliders for the same value, as in `run`.
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
        replicate: int | str | None = None,
    ) -> None:
        given: dict[str, Any] = {
            "hedging_tension": hedging_tension,
            "domestic_filter": domestic_filter,
            "adjustment_rate": adjustment_rate,
            "bargaining_gain": bargaining_gain,
            "opinion_weight": opinion_weight,
            "lock_in": lock_in,
        }
        if not isinstance(spec, Scenario):
            spec = load_scenario(spec)
        problems = []
        try:
            k = parse_replicate(replicate)
        except ValueError as e:
            k = 0
            problems.append(f"{e} This run uses replicate 0 instead.")
        try:
            rng = parse_seed(seed)
        except ValueError as e:
            rng = None
            problems.append(f"{e} This run uses the scenario's seed {default_seed(spec, k)} instead.")
        if rng is None:  # a blank seed box is the scenario's replicate k, not BalanceModel's fresh seed
            rng = default_seed(spec, k)
        values = drawn_values(spec, k)
        super().__init__(
            spec,
            rng=rng,
            values=values,
            trace=True,  # the page shows why a state moved (WhyItMoved)
            **{k: v for k, v in given.items() if v is not None},
        )
        self.replicate = k
        self.seed_problem: str | None = " ".join(problems) or None


def model_params(spec: Scenario) -> dict[str, Any]:
    """SolaraViz ``model_params``: the scenario (fixed), a seed box and the sliders.

    A scenario with a calibration posterior (`draws`) also gets a replicate box,
    and its seed box starts blank (the replicate's own seed), so that changing
    the replicate shows that replicate of `balancesim run`.
    """
    params: dict[str, Any] = {
        "spec": spec,
        "seed": {
            "type": "InputText",
            "value": "" if draws(spec) else str(default_seed(spec)),
            "label": "Seed (applies on Reset)",
        },
    }
    if draws(spec):
        params["replicate"] = {"type": "InputText", "value": "0", "label": "Replicate (applies on Reset)"}
    fields = Parameters.model_fields
    for name, (label, lo, hi, step) in SLIDERS.items():
        assert name in fields, name
        value = float(getattr(spec.parameters, name))
        low = min(lo, value)
        params[name] = {
            "type": "SliderFloat",
            "label": label,
            "value": value,
            "min": low,
            "max": max(hi, value),
            "step": slider_step(value, low, step),
        }
    return params


def slider_step(value: float, low: float, step: float) -> float:
    """A slider step whose grid holds `value` exactly, so the slider does not move it.

    The browser's slider rounds its value to `low + k * step`, printed with the
    step's decimals: the baseline's lock-in of 3.6 on a 0.25 grid would become
    3.5, and Reset would run another model than `balancesim run`. `step` is
    kept when the value is on its grid; otherwise the step is a power of ten
    fine enough for the value's (and the range start's) decimals.
    """
    k = (value - low) / step
    if abs(k - round(k)) < 1e-9:
        return step
    digits = max(_decimals(value), _decimals(low), _decimals(step))
    return 10.0**-digits


def _decimals(x: float) -> int:
    """How many decimals `x` is written with (3.6 -> 1, 0.005 -> 3, 2.0 -> 0)."""
    text = repr(float(x))
    if "e" in text:
        mantissa, exponent = text.split("e")
        return max(0, len(mantissa.split(".")[1].rstrip("0")) - int(exponent))
    return len(text.split(".")[1].rstrip("0"))


def scenario_from_env() -> Scenario:
    """The scenario named by $BALANCESIM_SCENARIO (default scenarios/taiwan_shock.yaml).

    With $BALANCESIM_POSTERIOR (`balancesim viz --posterior DIR`), its values are
    drawn from that calibration posterior, as `balancesim run --posterior DIR` does.
    Raises PosteriorError (the page shows it) for a posterior that does not fit.
    """
    default = DEFAULT_SCENARIO if DEFAULT_SCENARIO.exists() else Path("scenarios", "taiwan_shock.yaml")
    folders = os.environ.get(FOLDERS_ENV)
    within = tuple(Path(p) for p in json.loads(folders)) if folders else None
    spec = load_scenario(os.environ.get(SCENARIO_ENV) or default, within=within)
    folder = os.environ.get(POSTERIOR_ENV)
    if folder:
        spec.set_posterior(read_posterior(folder, spec, where="--posterior"))
    return spec


# --------------------------------------------------------------------------- helpers


def month_label(model: BalanceModel) -> str:
    """'Month 24 (2024-03)': the model's month and its calendar date."""
    return f"Month {model.month} ({calendar_month(model.spec.start, model.month)})"


# Every text that comes from a scenario file (names, descriptions, ids) is shown as
# text, never read as markup: `esc` (the text guard's `for_html`) for the page's HTML;
# `balancesim.figures` turns matplotlib's mathtext off for the charts.
esc = for_html


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
        + drawn_note(model)
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


def drawn_note(model: BalanceModel) -> str:
    """The page's note on drawn values: where they come from (posterior or priors) and what they are.

    Empty when the run draws nothing. Says plainly when values come from a
    calibration posterior, so a reader does not take them for the scenario's own.
    """
    if not model.values:
        return ""
    spec = model.spec
    posterior = spec.posterior
    covered = set(posterior.paths) if posterior is not None else set()
    from_posterior = [p for p in model.values if p in covered]
    from_prior = [p for p in model.values if p not in covered]
    k = getattr(model, "replicate", 0)
    parts = []
    if from_posterior:
        parts.append(
            f"values drawn from the calibration posterior <code>{esc(str(posterior.folder))}</code>: "
            + ", ".join(f"{esc(p)} = {model.values[p]:.4g}" for p in from_posterior)
        )
    if from_prior:
        parts.append(
            "values drawn from the scenario's priors: "
            + ", ".join(f"{esc(p)} = {model.values[p]:.4g}" for p in from_prior)
        )
    return (
        f'<div class="bs-problem" data-testid="drawn"><b>Replicate {k}</b>: '
        + "; ".join(parts)
        + f". With a blank seed box this is replicate {k} of <code>balancesim run</code>; "
        "drawn values take precedence over the sliders.</div>"
    )


COMPONENTS = [RunStatus, ActorNetwork, StatesTable, AlignmentChart, PowersChart, WhyItMoved, Guide]


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
    spec = solara.use_memo(_load_from_env, [])
    if isinstance(spec, str):
        with solara.Column(style={"padding": "24px"}):
            solara.Error(f"Cannot show the scenario: {spec}")
        return
    BalanceView(spec)


def _load_from_env() -> Scenario | str:
    """The scenario of $BALANCESIM_SCENARIO, or why it cannot be shown."""
    try:
        return scenario_from_env()
    except (ScenarioError, PosteriorError, OSError) as e:
        return str(e)
