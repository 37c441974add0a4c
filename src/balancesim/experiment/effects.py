"""Effects: a scenario against what it is compared with, run by run, with each sign in words.

A scenario run beside its comparison on common random numbers gives, run by
run, the difference of every measure: the effect of what the scenario
changes. `effect_table` sums it up at one month as data (median and 90%
band, regional then per state) and `direction` says what a sign means
("toward Russia", "less hedging"), so that nobody has to know which way a
measure counts. The console, the report and `compare` print these rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from balancesim.experiment.batch import Results, calendar_month
from balancesim.model.metrics import HEADLINE, REGION

# measure -> (words for a rise, words for a fall); the balance's come from the balance pair
WORDS = {
    "hedging_index": ("more hedging", "less hedging"),
    "restructuring": ("more restructuring", "less restructuring"),
    "third_party_share": ("more third parties", "fewer third parties"),
    "tension": ("more tension", "less tension"),
    "coordination": ("more coordination", "less coordination"),
    "gains": ("more gains", "fewer gains"),
    "members": ("more members", "fewer members"),
    "exit_threats": ("more exit threats", "fewer exit threats"),
}
PER_STATE = ("balance", "hedging_index")
# An effect whose median is smaller than this is "no change" (the measures are shares and indices).
NEGLIGIBLE = 5e-4


@dataclass(frozen=True)
class EffectRow:
    actor: str  # "region" or a state's id
    measure: str  # a packed measure name (metrics), e.g. "balance" or "members.csto"
    label: str  # what the console prints
    median: float
    p5: float
    p95: float
    direction: str  # the median's sign in words

    @property
    def cell(self) -> str:
        return f"{self.median:+.3f} [{self.p5:+.3f}, {self.p95:+.3f}]"

    @property
    def reading(self) -> str:
        """'+0.041: toward Russia'."""
        return f"{self.median:+.3f}: {self.direction}"


def direction(results: Results, measure: str, value: float) -> str:
    """What the sign of a change of `measure` by `value` means, in words."""
    names = {a.id: a.name for a in results.scenario.actors}
    a, b = results.scenario.balance_pair
    return direction_words(measure, value, names[a], names[b])


def direction_words(measure: str, value: float, first: str, second: str) -> str:
    """As `direction`, given the names of the balance pair (the balance's + and − ends)."""
    if abs(value) < NEGLIGIBLE:
        return "no change"
    if measure == "balance":
        return f"toward {first if value > 0 else second}"
    rise, fall = WORDS.get(measure.split(".")[0], ("higher", "lower"))
    return rise if value > 0 else fall


def labels(results: Results) -> dict[str, str]:
    """Display names of the regional measures."""
    names = {a.id: a.name for a in results.scenario.actors}
    a, b = results.scenario.balance_pair
    out = {f"members.{i.id}": f"{i.id.upper()} members" for i in results.scenario.institutions}
    out |= {
        "balance": f"{names[a]}–{names[b]} balance",
        "tension": f"{names[a]}–{names[b]} tension",
        "coordination": f"{names[a]}–{names[b]} coordination",
        "gains": "gains from competition",
    }
    return out


def effect_table(results: Results, baseline: Results, month: int | None = None) -> list[EffectRow]:
    """The paired effect at `month` (default: the last): regional measures, then each state's."""
    last = int(results.months[-1]) if month is None else month
    row_of = {int(m): k for k, m in enumerate(results.months)}[last]
    names = {a.id: a.name for a in results.scenario.actors}
    shown = labels(results)
    keys = [(REGION, m, shown.get(m, m.replace("_", " "))) for m in HEADLINE]
    keys += [(REGION, f"members.{i}", shown[f"members.{i}"]) for i in results.setup.institution_ids]
    for state in results.setup.regional_ids:
        for m in PER_STATE:
            keys.append((state, m, f"{names[state]}: {shown.get(m, m.replace('_', ' '))}"))
    rows = []
    for actor, measure, label in keys:
        if not (results.has(actor, measure) and baseline.has(actor, measure)):
            continue
        diff = results.values(actor, measure)[row_of] - baseline.values(actor, measure)[row_of]
        q = np.quantile(diff, [0.05, 0.5, 0.95])
        rows.append(
            EffectRow(
                actor=actor,
                measure=measure,
                label=label,
                median=float(q[1]),
                p5=float(q[0]),
                p95=float(q[2]),
                direction=direction(results, measure, float(q[1])),
            )
        )
    return rows


def effect_title(results: Results, baseline: Results, month: int | None = None) -> str:
    """'Effect of War over Taiwan (2024) against Baseline, month 60 (2027-03), 200 paired runs'."""
    last = int(results.months[-1]) if month is None else month
    return (
        f"Effect of '{results.scenario.name}' against '{baseline.scenario.name}' at month {last} "
        f"({calendar_month(results.scenario.start, last)}): paired difference over "
        f"{results.replicates} runs on common random numbers, median [5%–95%]"
    )
