"""The mechanism influence table: does each claim-bearing mechanism change anything?

A pattern check asks whether the model reproduces a pattern; this table asks
the converse for every mechanism that cites a claim: switch it off (through
the documented parameter that removes it alone) and measure, run by run, how
much each headline outcome changes at the end of the run. A mechanism whose
switch moves no outcome beyond the noise band does nothing in the model, and
the table says so; such a mechanism is to be fixed or removed.

Each mechanism is run in the scenario where it can act (exit consequences
need an exit, the assets a power that fades); the paired difference is "with
the mechanism minus without it", on common random numbers, with a bootstrap
95% interval over replicates. Outcomes: the regional headline measures
(`metrics.HEADLINE`) plus, where the mechanism acts on one state, that
state's measures named in `focus`.

The noise band is fixed here before any result: one point (0.01) on the
0-1 scales of every headline measure, the precision of the data the model
is calibrated on (the same smallest meaningful effect the checks use). A
mechanism *moves* an outcome when the whole interval lies outside
[-0.01, +0.01]; it is *inert* when no outcome moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from balancesim.model import metrics
from balancesim.validation.core import Arm, Estimate, Lab, Stats

NOISE_BAND = 0.01
BASELINE = "baseline.yaml"
REGION = metrics.REGION


@dataclass(frozen=True)
class Mechanism:
    """A claim-bearing mechanism and the switch that removes it alone."""

    name: str
    claims: str
    rule: str  # the rule that carries it (rules.py and the modules it calls)
    switch: dict[str, Any]  # overrides that switch it off
    scenario: str = BASELINE  # where it can act
    focus: tuple[tuple[str, str], ...] = ()  # extra (actor, measure) outcomes
    why_here: str = ""  # why this scenario
    # When it acts: outcomes are their mean over months FIRST..LAST (inclusive) instead
    # of the value at the last month, for a mechanism that acts only in a window
    # (the world rules of 2022-2023: measured where the observed record is).
    months: tuple[int, int] | None = None

    @property
    def when(self) -> str:
        if self.months is None:
            return "last month"
        first, last = self.months
        return f"months {first}–{last}"

    @property
    def switch_text(self) -> str:
        return ", ".join(f"{k.split('.')[-1]} = {v:g}" for k, v in self.switch.items())

    def arms(self) -> tuple[Arm, Arm]:
        return Arm.of(self.scenario, self.scenario), Arm.of(
            f"{self.scenario} without {self.name}", self.scenario, self.switch
        )

    def outcomes(self) -> tuple[tuple[str, str], ...]:
        return tuple((REGION, m) for m in metrics.HEADLINE) + self.focus


def _p(name: str) -> str:
    return f"parameters.{name}"


PIVOT, TAIWAN = "russia_pivot.yaml", "taiwan_shock.yaml"
CSTO, PROTESTS = "csto_crisis.yaml", "colour_revolution.yaml"
GAS_UNION = "gas_union.yaml"
MECHANISMS: tuple[Mechanism, ...] = (
    Mechanism("gradual adjustment", "C1, C12", "adjust_engagement", {_p("adjustment_rate"): 1.0}),
    Mechanism(
        "installed arms systems",
        "C1, C12",
        "adjust_engagement",
        {_p("installed_base"): 0.0},
        PIVOT,
        (("kazakhstan", "share.russia.security"), ("uzbekistan", "share.russia.security")),
        "security ties fall when the supplier's attention fades",
    ),
    Mechanism("ties rebuilt by engagement", "C1, C12", "update_ties", {_p("tie_rebuilding"): 0.0}),
    Mechanism(
        "assets (bases, leases, pipelines)",
        "C1, C12",
        "asset_floor",
        {_p("asset_strength"): 0.0},
        PIVOT,
        (("tajikistan", "share.russia.security"), ("kyrgyzstan", "share.russia.security")),
        "the floors bind when the owner's engagement falls",
    ),
    Mechanism("trends in capacity and reach", "C13, C14", "trends", {_p("trend_scale"): 0.0}),
    Mechanism(
        "partner-aware hedging",
        "C3, C4",
        "engagement_target",
        {_p("hedging_tension"): 0.0},
        TAIWAN,
        why_here="hedging acts when tension rises above its reference level",
    ),
    Mechanism(
        "hedging spares the installed ties",
        "C1, C3",
        "engagement_target",
        {_p("hedging_reach"): 1.0},
        TAIWAN,
        why_here="hedging acts when tension rises above its reference level",
    ),
    Mechanism("bargaining", "C4", "offers", {_p("bargaining_gain"): 0.0}),
    Mechanism(
        "third-party invitations",
        "C3",
        "invitations",
        {_p("invitation_gain"): 0.0},
        focus=(("tajikistan", "third_party_share"), ("tajikistan", "share.india.security")),
    ),
    Mechanism("provocation by invitations", "C3, C6", "great_power_relations", {_p("provocation"): 0.0}),
    Mechanism(
        "domestic filter",
        "C2",
        "domestic_filter",
        {_p("domestic_filter"): 0.0},
        # It screens each state's dominant partner (Russia's security in Kazakhstan, China's
        # trade in Turkmenistan): opposite moves of the balance that the regional pool cancels.
        focus=(("kazakhstan", "balance"), ("turkmenistan", "balance")),
    ),
    Mechanism(
        "public approval",
        "C2, C7",
        "engagement_target",
        {_p("opinion_weight"): 0.0},
        focus=(("kyrgyzstan", "balance"), ("kazakhstan", "balance")),
    ),
    Mechanism(
        "threatening footprint",
        "C7",
        "public_opinion",
        {_p("footprint_threat"): 0.0},
        focus=(("kazakhstan", "opinion.china"), ("uzbekistan", "opinion.china")),
    ),
    Mechanism(
        "soft power on opinion",
        "C15",
        "public_opinion",
        {_p("soft_power_rate"): 0.0},
        focus=(("kyrgyzstan", "opinion.russia"), ("turkmenistan", "opinion.russia")),
    ),
    Mechanism(
        "soft-power networks",
        "C15",
        "engagement_target",
        {_p("soft_presence"): 0.0},
        # It raises the value of engaging with every partner that runs networks, so the
        # balance (a ratio) hardly moves; the depth of engagement with the power that runs
        # most of them does, on the most fertile ground (Kyrgyzstan) and the least
        # (Turkmenistan): docs/validation.md, "Changed after results".
        focus=(("kyrgyzstan", "engagement.russia"), ("turkmenistan", "engagement.russia")),
    ),
    Mechanism(
        "shift to soft tools",
        "C14, C15",
        "tool_mix",
        {_p("soft_power_shift"): 0.0},
        PIVOT,
        why_here="the shift happens when attention fades",
    ),
    Mechanism(
        "fading attention",
        "C14",
        "regional_attention",
        {_p("attention_floor"): 1.0},
        PIVOT,
        why_here="attention fades in the pivot",
    ),
    Mechanism("coordination grows", "C5", "great_power_relations", {_p("coordination_rate"): 0.0}),
    Mechanism(
        "joint action against unrest",
        "C5",
        "domestic_recovery",
        {_p("control_support"): 0.0},
        PROTESTS,
        (("kyrgyzstan", "elite_control"), ("kyrgyzstan", "balance")),
        "it acts when a regime is shaken",
    ),
    Mechanism(
        "division of labour by domain",
        "C6",
        "effort",
        {_p("specialisation"): 0.0},
        focus=(("kazakhstan", "share.china.security"), ("kazakhstan", "share.russia.economy")),
    ),
    Mechanism(
        "deference",
        "C6",
        "offers",
        {_p("deference"): 0.0},
        focus=(("kazakhstan", "share.china.security"), ("uzbekistan", "share.china.security")),
    ),
    Mechanism("overlap friction", "C6", "great_power_relations", {_p("tension_rate"): 0.0}),
    Mechanism(
        "co-ownership of shared infrastructure",
        "C6",
        "asset_floor",
        {_p("co_ownership"): 0.0},
        GAS_UNION,
        (("kazakhstan", "share.russia.economy"), ("uzbekistan", "share.russia.economy")),
        "Russia bids for a gas network China partly owns (the Gas Union)",
    ),
    Mechanism("membership bonus", "C8, C11", "offers", {_p("membership_bonus"): 0.0}),
    Mechanism(
        "failure to protect",
        "C9",
        "alliance_politics",
        {_p("failure_penalty"): 0.0},
        CSTO,
        (("armenia", "member.csto"), ("armenia", "share.russia.security")),
        "an ally is attacked and not defended",
    ),
    Mechanism(
        "failure seen by other members",
        "C8, C9",
        "alliance_politics",
        {_p("failure_contagion"): 0.0},
        CSTO,
        (("kazakhstan", "satisfaction.csto"), ("kyrgyzstan", "satisfaction.csto")),
        "an ally is attacked and not defended",
    ),
    Mechanism(
        "exit threat weighed against the concession",
        "C11",
        "alliance_politics",
        {_p("threat_leverage"): 0.0},
        CSTO,
        (("armenia", "member.csto"), ("armenia", "exit_threat.csto")),
        "Armenia has reason to threaten",
    ),
    Mechanism(
        "consequences of exit",
        "C10, C11",
        "update_ties, offers",
        {_p("exit_tie_decay"): 0.0, _p("exit_courting"): 0.0},
        CSTO,
        (("armenia", "share.russia.security"), ("armenia", "third_party_share")),
        "Armenia may leave the CSTO",
    ),
    Mechanism(
        "threat holds members in",
        "C10",
        "alliance_politics",
        {_p("threat_deterrence"): 0.0},
        CSTO,
        (("armenia", "member.csto"), ("kyrgyzstan", "member.csto")),
        "members under threat weigh exit",
    ),
)


@dataclass
class Influence:
    """One mechanism's paired effects on each outcome."""

    mechanism: Mechanism
    effects: list[tuple[tuple[str, str], Estimate]] = field(default_factory=list)

    @staticmethod
    def moves(e: Estimate) -> bool:
        return e.low > NOISE_BAND or e.high < -NOISE_BAND

    @property
    def moved(self) -> list[tuple[str, str]]:
        return [k for k, e in self.effects if self.moves(e)]

    @property
    def verdict(self) -> str:
        return "moves" if self.moved else "INERT"


def plan(lab: Lab, mechanisms: tuple[Mechanism, ...] = MECHANISMS) -> None:
    """Register both arms of every mechanism with the lab."""
    for m in mechanisms:
        for arm in m.arms():
            lab.want(arm, m.outcomes())


def arms(mechanisms: tuple[Mechanism, ...] = MECHANISMS) -> set[Arm]:
    return {a for m in mechanisms for a in m.arms()}


def measure(lab: Lab, stats: Stats, mechanisms: tuple[Mechanism, ...] = MECHANISMS) -> list[Influence]:
    """Each mechanism's paired effect (with minus without) on each outcome.

    At the last month, or, for a mechanism with `months`, on the outcome's mean
    over that window.
    """
    out = []
    for m in mechanisms:
        on, off = (lab.get(a) for a in m.arms())
        row = Influence(m)
        window = slice(-1, None) if m.months is None else slice(m.months[0], m.months[1] + 1)
        for actor, name in m.outcomes():
            d = on.values(actor, name)[window].mean(axis=0) - off.values(actor, name)[window].mean(axis=0)
            row.effects.append(((actor, name), stats.mean(np.asarray(d))))
        out.append(row)
    return out


def _label(actor: str, name: str) -> str:
    return name if actor == REGION else f"{actor} {name}"


def markdown(rows: list[Influence]) -> list[str]:
    """The influence section of the report."""
    lines = [
        "## Mechanism influence",
        "",
        "Each mechanism that cites a claim, switched off alone in the scenario where it can act; "
        "the paired change of each outcome at the last month (with the mechanism minus without), "
        "or, for a mechanism that acts only in a window of months (column *when*), of the outcome's "
        "mean over that window; "
        f"mean and 95% interval. A mechanism *moves* an outcome when the whole interval lies beyond "
        f"±{NOISE_BAND:g} (one point on the 0–1 scales: the noise band, fixed before any result); "
        "a mechanism that moves nothing is *INERT*.",
        "",
        "| mechanism | claims | switched off | scenario | when | largest effects | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = r.mechanism
        ranked = sorted(r.effects, key=lambda ke: -abs(ke[1].value))[:3]
        shown = "; ".join(
            f"{_label(*k)} {e.value:+.3f} [{e.low:+.3f}, {e.high:+.3f}]" + (" *" if r.moves(e) else "")
            for k, e in ranked
        )
        lines.append(
            f"| {m.name} (`{m.rule}`) | {m.claims} | `{m.switch_text}` | {m.scenario} | {m.when} | {shown} | "
            f"{r.verdict} |"
        )
    inert = [r.mechanism.name for r in rows if not r.moved]
    lines += [
        "",
        "\\* beyond the noise band. "
        + ("Every mechanism moves at least one outcome." if not inert else f"Inert: {', '.join(inert)}."),
        "",
    ]
    return lines


def summary(rows: list[Influence]) -> list[dict[str, Any]]:
    """The influence table, machine-readable."""
    return [
        {
            "mechanism": r.mechanism.name,
            "claims": r.mechanism.claims,
            "rule": r.mechanism.rule,
            "switch": r.mechanism.switch,
            "scenario": r.mechanism.scenario,
            "months": list(r.mechanism.months) if r.mechanism.months else None,
            "verdict": r.verdict,
            "effects": [
                {"actor": a, "measure": n, "value": e.value, "low": e.low, "high": e.high}
                | {"moves": r.moves(e)}
                for (a, n), e in r.effects
            ],
        }
        for r in rows
    ]
