"""The browser view's cell "Why it moved": waterfalls of why the selected state moved.

For the state, partner and variable picked in its selectors, the decision
trace of the page's model (model/trace.py; `BalanceModel(trace=True)`) drawn
by `figures.view.why_figure`: this month's change and the change since the
start, split by mechanism; after a shock fired by hand, the next Step's
(`figures.view.why_data`). Scenario names are escaped (`esc`) in the HTML and
made mathtext-safe (`plain`) in the figure.
"""

from __future__ import annotations

import html

import solara
from mesa.visualization.utils import update_counter

from balancesim.figures.view import WHY_VIEWS, names, why_data, why_figure
from balancesim.model.mesa_model import BalanceModel

esc = html.escape  # as app.esc: scenario texts are shown as text, never read as markup


def choices(ids: list[str], label: dict[str, str]) -> dict[str, str]:
    """Select options for actors: display name -> id (the id added where two names are the same)."""
    shown = [label[a] for a in ids]
    return {(n if shown.count(n) == 1 else f"{n} ({a})"): a for n, a in zip(shown, ids, strict=True)}


@solara.component
def WhyItMoved(model: BalanceModel) -> None:
    """Why the selected state moved: waterfalls of this month's change and the change since the start.

    The selectors pick the state, the partner and what moved (engagement by domain
    or public opinion); the figure (`why_figure`) and a line of figures under it
    (``data-testid="why"``) redraw with each step and each shock fired by hand.
    """
    update_counter.get()
    label = names(model)
    states = choices(list(model.setup.regional_ids), label)
    partners = choices(list(model.setup.partner_ids), label)
    first_partner = model.setup.partner_ids[model.setup.balance_pair[0]]
    state_name, set_state = solara.use_state(next(iter(states)))
    partner_name, set_partner = solara.use_state(next(n for n, a in partners.items() if a == first_partner))
    view, set_view = solara.use_state(next(iter(WHY_VIEWS)))
    actor = states.get(state_name, next(iter(states.values())))  # a Reset keeps the scenario's ids
    partner = partners.get(partner_name, first_partner)
    panels = why_data(model, actor, partner, view)
    summary = []
    for panel in panels:
        if panel.data is None:
            summary.append(f"{panel.heading}: no month yet")
            continue
        total = float(panel.data.value.iloc[-1])
        lead = panel.data.iloc[0]
        summary.append(f"{panel.heading}: {total:+.4f}, most from {lead.mechanism} ({lead.value:+.4f})")
    with solara.Column(classes=["bs-cell"], gap="4px"):  # a cell of the page (app.Cell)
        solara.HTML(tag="h3", unsafe_innerHTML="Why it moved")
        with solara.Row(gap="6px"):
            solara.Select("State", values=list(states), value=state_name, on_value=set_state, dense=True)
            solara.Select(
                "Partner", values=list(partners), value=partner_name, on_value=set_partner, dense=True
            )
            solara.Select("What", values=list(WHY_VIEWS), value=view, on_value=set_view, dense=True)
        solara.FigureMatplotlib(why_figure(model, actor, partner, view, panels), format="png", dpi=130)
        solara.HTML(
            tag="div",
            unsafe_innerHTML=f'<div class="bs-note" data-testid="why">'
            f"{esc(label[actor])} with {esc(label[partner])}, {esc(view)}: "
            f"{'; '.join(esc(line) for line in summary)}.</div>",
        )
