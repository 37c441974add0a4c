"""Hedging: patterns P3 (tension makes states hedge) and P4 (an unmet need invites a third party)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from balancesim.validation.checks.common import (
    BASELINE,
    KO_C,
    MIN_INDEX_EFFECT,
    MODEL_C,
    OTHER_C,
    REGION,
    STATES,
    THIRD_PARTIES,
    fan,
    pct,
    stack,
    state_columns,
)
from balancesim.validation.core import Arm, Check, Estimate, KnockOut, Run, Runs, Stats, Threshold
from balancesim.validation.patterns import constant, knockout, threshold

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# ---------------------------------------------------------------- P3 tension -> hedging

P3_MONTH = constant("P3_MONTH")
P3_SHOCK = constant("P3_SHOCK")


def _p3_measure(runs: Runs, stats: Stats) -> list[Estimate]:
    base, hot = runs["baseline"], runs["tension"]
    t = P3_MONTH
    dh = hot.values(REGION, "hedging_index")[t] - base.values(REGION, "hedging_index")[t]
    a, b = base.pair

    def top(run: Run) -> np.ndarray:
        return np.maximum(stack(run, f"share.{a}", t), stack(run, f"share.{b}", t)).mean(0)

    dtop = top(hot) - top(base)
    return [
        stats.mean(dh, f"{pct((dh > 0).mean())} of runs hedge more"),
        stats.mean(dtop, f"{pct((dtop < 0).mean())} of runs lean less on their main great power"),
    ]


def _p3_plot(ax: Axes, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    def effect(r: Runs) -> np.ndarray:
        return r["tension"].values(REGION, "hedging_index") - r["baseline"].values(REGION, "hedging_index")

    fan(ax, effect(runs), MODEL_C, "model")
    for ko, r in kos[:1]:
        fan(ax, effect(r), KO_C, f"knock-out: {ko.switch}")
    ax.axhline(MIN_INDEX_EFFECT, color="k", ls="--", lw=1, label="threshold")
    ax.axvline(P3_MONTH, color="k", ls=":", lw=1)
    ax.set_xlabel("months since March 2022")
    ax.set_ylabel("paired change in regional hedging index")
    ax.set_title("P3 tension +0.3 at month 1: hedging")


P3 = Check(
    id="P3",
    pattern="P3",
    claims="C3, C4",
    title="Tension makes states hedge",
    statement="Raising Russia–China tension makes the regional states hedge more (more even "
    "engagement), not bandwagon.",
    experiment="Baseline against the baseline plus a shock raising Russia–China tension by 0.3 at "
    "month 1 (from 0.2 to about 0.5), same seed; paired differences at month 12. Hedging: the "
    "regional mean of the hedging index; bandwagoning: the mean over states of the share of the "
    "state's main great power.",
    arms={"baseline": Arm.of("baseline", BASELINE), "tension": Arm.of("tension +0.3", BASELINE, P3_SHOCK)},
    columns=((REGION, "hedging_index"), *state_columns(STATES, ["share.russia", "share.china"])),
    thresholds=(
        Threshold(
            "mean paired change in the regional hedging index at month 12",
            ">=",
            threshold("P3", 0),
            "one point on the 0-1 index: smaller moves are below the precision of the trade and arms "
            "shares the model is calibrated on",
            "{:.4f}",
        ),
        Threshold(
            "mean paired change in the share of each state's main great power",
            "<=",
            threshold("P3", 1),
            "hedging lowers it, bandwagoning would raise it: it must fall by at least half a point "
            "(no change is no hedging)",
            "{:.4f}",
        ),
    ),
    measure=_p3_measure,
    knockouts=(
        KnockOut(
            "hedging_tension = 0",
            "tension no longer flattens the spread of engagement",
            knockout("P3: hedging_tension = 0"),
        ),
    ),
    plot=_p3_plot,
    notes="Raising `relations.tension` itself would also raise the reference level against which "
    "the model measures tension, so the experiment adds a tension shock instead.",
)


# ---------------------------------------------------------------- P4 third-party invitation

P4_STATE, P4_PARTNER = constant("P4_STATE"), constant("P4_PARTNER")
P4_MONTH = constant("P4_MONTH")
P4_MET_THREAT = constant("P4_MET_THREAT")  # below the cover Russia's base gives Tajikistan: no unmet need


def _p4_measure(runs: Runs, stats: Stats) -> list[Estimate]:
    need, met = runs["need"], runs["met"]
    t = P4_MONTH
    inv = {q: need.values(P4_STATE, f"invitation.{q}")[t] for q in THIRD_PARTIES}
    others = np.max([v for q, v in inv.items() if q != P4_PARTNER], axis=0)
    leads = (inv[P4_PARTNER] > 0) & (inv[P4_PARTNER] >= others)
    col = f"share.{P4_PARTNER}.security"
    effect = need.values(P4_STATE, col)[t] - met.values(P4_STATE, col)[t]
    unmet = need.values(P4_STATE, "unmet_need")[t]
    total = sum(inv.values())
    share = np.where(total > 0, inv[P4_PARTNER] / np.maximum(total, 1e-12), 0.0)
    return [
        stats.proportion(
            leads,
            f"unmet need at month 30: median {np.median(unmet):.3f}; India's part of the invitations: "
            f"median {pct(float(np.median(share)))}",
        ),
        stats.mean(
            effect,
            f"India's security share in Tajikistan: {np.mean(need.values(P4_STATE, col)[0]):.3f} at "
            f"month 0, {np.mean(need.values(P4_STATE, col)[t]):.3f} at month 30 with the need, "
            f"{np.mean(met.values(P4_STATE, col)[t]):.3f} without",
        ),
    ]


def _p4_plot(ax: Axes, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    col = f"share.{P4_PARTNER}.security"
    fan(ax, runs["need"].values(P4_STATE, col), MODEL_C, "model, unmet need (baseline)")
    fan(ax, runs["met"].values(P4_STATE, col), OTHER_C, "model, need met (threat 0.3)")
    for ko, r in kos[:1]:
        fan(ax, r["need"].values(P4_STATE, col), KO_C, f"knock-out: {ko.switch}")
    ax.axvline(P4_MONTH, color="k", ls=":", lw=1)
    ax.set_xlabel("months since March 2022")
    ax.set_ylabel("India's share of Tajikistan's security ties")
    ax.set_title("P4 Tajikistan draws in India")


P4 = Check(
    id="P4",
    pattern="P4",
    claims="C3",
    title="Unmet security need draws in a third party",
    statement="A state with an unmet security need draws in a third party (Tajikistan and India on "
    "the Afghan border in the baseline).",
    experiment="Baseline (Tajikistan's threat exceeds the cover its partners give) against the same "
    f"with Tajikistan's threat lowered to {P4_MET_THREAT} (need met), same seed; month 30.",
    arms={
        "need": Arm.of("baseline", BASELINE),
        "met": Arm.of("need met", BASELINE, {f"actors.{P4_STATE}.threat": P4_MET_THREAT}),
    },
    columns=(
        (P4_STATE, f"share.{P4_PARTNER}.security"),
        (P4_STATE, "unmet_need"),
        *[(P4_STATE, f"invitation.{q}") for q in THIRD_PARTIES],
    ),
    thresholds=(
        Threshold(
            "share of runs in which India receives the largest invitation from Tajikistan",
            ">=",
            threshold("P4", 0),
            "the source names India as the partner asked: it must be the model's choice in nine runs in ten",
        ),
        Threshold(
            "mean paired effect of the need on India's share of Tajikistan's security ties",
            ">=",
            threshold("P4", 1),
            "one point of share: below that, India would not be 'drawn in' at the precision of the data",
            "{:.4f}",
        ),
    ),
    measure=_p4_measure,
    knockouts=(
        KnockOut(
            "invitation_gain = 0",
            "an invited third party offers nothing in answer",
            knockout("P4: invitation_gain = 0"),
        ),
    ),
    plot=_p4_plot,
    notes="Tajikistan's threat (0.7) is an assumption set from the same source sentence (Russia alone "
    "does not meet the need), so that an unmet need exists is calibrated, not tested. What is tested "
    "is whom the model invites and whether the invitation draws that partner in.",
)
