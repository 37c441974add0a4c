"""Which outcome measures a sweep or `evaluate` keeps: names like `balance` or `share.china[kazakhstan]`.

A run computes every measure of `metrics.columns` each month; a sweep of
millions of runs can only keep a few of them. An *outcome* names one column:

* `hedging_index`, `balance`, `tension`, ...: a measure of the region as a
  whole (`metrics.REGION`), as the headline measures are;
* `share.china.economy[kazakhstan]`, `member.csto[kyrgyzstan]`: a measure of
  one actor (a regional state or an outside power), the actor in brackets.

`region` may also be written in brackets (`balance[region]` is `balance`).
Unknown measures and actors get the closest name as a hint. The default set
is the regional headline measures (`metrics.HEADLINE`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from balancesim.model import metrics
from balancesim.model.state import Setup
from balancesim.scenario.schema import did_you_mean

_FORM = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(?:\[\s*([\w-]+)\s*\])?\s*$")


class OutcomeError(ValueError):
    """An outcome name that is malformed or names no measure of the scenario."""


@dataclass(frozen=True)
class Outcome:
    """One kept measure: the actor (`region` for the whole region) and the measure's name."""

    actor: str
    measure: str

    @property
    def name(self) -> str:
        """The column name in chunk files and tables: `measure` or `measure[actor]`."""
        return self.measure if self.actor == metrics.REGION else f"{self.measure}[{self.actor}]"


def parse_outcome(text: str) -> Outcome:
    """`"share.china.economy[kazakhstan]"` -> Outcome("kazakhstan", "share.china.economy")."""
    match = _FORM.match(str(text))
    if match is None:
        raise OutcomeError(
            f"outcome '{text}': expected MEASURE or MEASURE[ACTOR], e.g. balance or share.china[kazakhstan]"
        )
    measure, actor = match.groups()
    return Outcome(actor or metrics.REGION, measure)


def parse_outcomes(items: Iterable[str]) -> tuple[Outcome, ...]:
    """Outcomes from a list of names, each item possibly a comma list (the `--outcomes` option)."""
    found: list[Outcome] = []
    for item in items:
        for part in str(item).split(","):
            if part.strip():
                outcome = parse_outcome(part)
                if outcome in found:
                    raise OutcomeError(f"outcome '{outcome.name}' is listed twice")
                found.append(outcome)
    return tuple(found)


def headline() -> tuple[Outcome, ...]:
    """The default outcomes: the region's headline measures."""
    return tuple(Outcome(metrics.REGION, m) for m in metrics.HEADLINE)


def column_index(setup: Setup, outcomes: Sequence[Outcome]) -> tuple[int, ...]:
    """The measure columns of `outcomes` in this scenario; OutcomeError naming what is unknown."""
    columns = metrics.columns(setup)
    actors = set(columns.actors)
    index = []
    for outcome in outcomes:
        if outcome.actor not in actors:
            raise OutcomeError(
                f"outcome '{outcome.name}': no actor '{outcome.actor}' "
                f"({did_you_mean(outcome.actor, actors)})"
            )
        try:
            index.append(columns.index(outcome.actor, outcome.measure))
        except KeyError:
            known = {m for a, m in zip(columns.actors, columns.measures, strict=True) if a == outcome.actor}
            where = "the region" if outcome.actor == metrics.REGION else f"'{outcome.actor}'"
            hint = did_you_mean(outcome.measure, known)
            if outcome.actor == metrics.REGION:
                hint += "; measures of one actor take it in brackets, e.g. share.china[kazakhstan]"
            raise OutcomeError(
                f"outcome '{outcome.name}': no measure '{outcome.measure}' for {where} ({hint})"
            ) from None
    return tuple(index)
