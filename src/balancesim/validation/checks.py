"""The checks: patterns P1-P8 of the claims list, and the observed UN votes.

Each check names its claims, says in words what it runs, and fixes its
thresholds, each with a one-line reason, before any result is computed. The
measure functions only read model outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import metrics
from ..plots import envelope
from .core import Arm, Check, Conflict, Estimate, KnockOut, Run, Runs, Stats, Threshold

# --------------------------------------------------------------------------
# Helpers shared by the checks


def _stack(run: Run, measure: str, month: int | slice, actors: Sequence[str] | None = None) -> np.ndarray:
    """(actors, R) or (actors, T, R) values of one measure for several actors."""
    return np.stack([run.values(a, measure)[month] for a in (actors or run.regional)])


def _state_columns(states: Sequence[str], measures: Sequence[str]) -> list[tuple[str, str]]:
    return [(s, m) for s in states for m in measures]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _fan(ax, values: np.ndarray, colour: str, label: str, months: np.ndarray | None = None) -> None:
    """Median with 50% and 90% bands of (months, R) values."""
    envelope(ax, np.arange(values.shape[0]) if months is None else months, values, colour=colour, label=label)


MODEL_C, KO_C, OTHER_C = "#1f4e79", "#c0392b", "#7f8c8d"
REGION = metrics.REGION
SHORT = {
    "kazakhstan": "KAZ",
    "kyrgyzstan": "KGZ",
    "tajikistan": "TJK",
    "uzbekistan": "UZB",
    "turkmenistan": "TKM",
}


def _short(state: str) -> str:
    return SHORT.get(state, state[:3].upper())


# The calibrated baseline's actors named by the patterns themselves.
RUSSIA, CHINA = "russia", "china"
STATES = ("kazakhstan", "kyrgyzstan", "tajikistan", "uzbekistan", "turkmenistan")
CSTO_MEMBERS = ("kazakhstan", "kyrgyzstan", "tajikistan")
BASELINE = "baseline.yaml"


# ---------------------------------------------------------------- P1 inertia

P1_MONTH = 30  # "30 months later" (claim C1: two years and more after February 2022)
P1_RESTRUCTURING = 0.15  # a decisive swing moves at least this share of a state's ties
P1_BALANCE = 0.25  # ... or shifts its Russia-China balance by at least this much
P1_ROLE = 0.10  # a power "had a role" with at least this share of the state's ties
P1_KEEP = 0.5  # ... and keeps a substantial role with at least half of it


def _p1_swings(run: Run) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per state and run (states, R): swung at all, and by restructuring, balance or a lost role."""
    t = P1_MONTH
    restr = _stack(run, "restructuring", t)
    dbal = np.abs(_stack(run, "balance", t) - _stack(run, "balance", 0))
    kept = []
    for g in run.pair:
        sh0, sh = _stack(run, f"share.{g}", 0), _stack(run, f"share.{g}", t)
        kept.append((sh0 < P1_ROLE) | (sh >= P1_KEEP * sh0))
    lost = ~np.logical_and(*kept)
    moved, shifted = restr > P1_RESTRUCTURING, dbal > P1_BALANCE
    return moved | shifted | lost, moved, shifted, lost


def _p1_by_state(run: Run) -> str:
    swung, moved, shifted, lost = _p1_swings(run)
    parts = [
        f"{_short(s)} {_pct(swung[i].mean())} (restructuring {_pct(moved[i].mean())}, balance "
        f"{_pct(shifted[i].mean())}, role {_pct(lost[i].mean())})"
        for i, s in enumerate(run.regional)
        if swung[i].any()
    ]
    return "; ".join(parts) if parts else "none"


def _p1_measure(runs: Runs, stats: Stats) -> list[Estimate]:
    run = runs["baseline"]
    swung, _, _, lost = _p1_swings(run)
    restr = _stack(run, "restructuring", P1_MONTH).max(0)
    dbal = np.abs(_stack(run, "balance", P1_MONTH) - _stack(run, "balance", 0)).max(0)
    keep = ~lost.any(0)
    detail = (
        f"largest restructuring of any state: median {np.median(restr):.3f}; largest balance "
        f"shift: median {np.median(dbal):.3f}; both powers keep their role in {_pct(keep.mean())} of runs; "
        f"runs in which each state swings: {_p1_by_state(run)}"
    )
    return [stats.proportion(~swung.any(0), detail)]


# States whose observed record to the end of 2023 itself crosses P1's limits (see P1_CONFLICT).
P1_RECORD_SWINGS = ("kyrgyzstan",)


def _p1_without_record_swings(runs: Runs, stats: Stats) -> Estimate:
    run = runs["baseline"]
    swung, *_ = _p1_swings(run)
    others = [i for i, s in enumerate(run.regional) if s not in P1_RECORD_SWINGS]
    return stats.proportion(~swung[others].any(0), f"left out: {', '.join(P1_RECORD_SWINGS)}")


P1_CONFLICT = Conflict(
    summary="Kyrgyzstan swings in the record itself: Turkey's share of its arms imports went from 8% to "
    "45% (Russia 92% -> 55%, SIPRI 2017-21 -> 2019-23) and China overtook Russia in its trade in 2023",
    record="Observed (SIPRI trade register; Kyrgyz national statistics; docs/targets.md): the arms "
    "shift alone restructures 0.37 of Kyrgyzstan's security ties; at the model's weight of security in "
    "Kyrgyz ties (0.65 at month 0) that is 0.24 of all its ties, and Russia's trade fell 20% in value in "
    "2023 while China became the first partner (about 8 points of the modelled partners' trade at weight "
    "0.35), adding about 0.03: 0.27 by the end of 2023 (0.15 if arms imports were only half of Russia's "
    "security tie, the Kant base being the rest), at or above P1's limit of 0.15 before month 30. The "
    "model's Kyrgyz swing is smaller than the record's (restructuring median 0.11 at month 21; Turkey's "
    "share of Kyrgyz security ties 0.07 -> 0.12), so its few Kyrgyz swings are what happened, and its "
    "shortfall is a gap of the model, not of the check (docs/validation.md). Kazakhstan is not in "
    "conflict: its record moves the Russia-China balance by about 0.04 to the end of 2023 (arms Russia "
    "93% -> 94%; trade China +3 points, Russia flat), the model by 0.14 (median, month 21), much of it "
    "through Russia's security share falling from 0.91 to 0.86: a model problem, so Kazakhstan's swings "
    "count against P1 in both figures. Tajikistan's few swings also come from a model gap (its Russian "
    "trade share falls; the record has it flat).",
    figure="share of runs in which no state swings, with the states whose observed record crosses the "
    "limits (Kyrgyzstan) left out",
    measure=_p1_without_record_swings,
)


def _p1_plot(ax, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    def worst(run: Run) -> np.ndarray:
        return _stack(run, "restructuring", slice(None)).max(axis=0)

    _fan(ax, worst(runs["baseline"]), MODEL_C, "model")
    for ko, r in kos[:1]:
        _fan(ax, worst(r["baseline"]), KO_C, f"knock-out: {ko.switch}")
    ax.axhline(P1_RESTRUCTURING, color="k", ls="--", lw=1, label="decisive swing")
    ax.axvline(P1_MONTH, color="k", ls=":", lw=1)
    ax.set_xlabel("months since March 2022")
    ax.set_ylabel("largest restructuring among the five states")
    ax.set_title("P1 inertia: share of ties moved since 2022")


P1 = Check(
    id="P1",
    pattern="P1",
    claims="C1, C12",
    title="Inertia",
    statement="Starting from early-2022 conditions, 30 months later no regional state has swung its "
    "alignment decisively; both great powers keep a substantial role in every state that had one.",
    experiment="The baseline scenario. A state swings decisively if, by month 30, at least "
    f"{P1_RESTRUCTURING:.2f} of its ties have moved to other partners (restructuring) or its "
    f"Russia–China balance has moved by at least {P1_BALANCE:.2f}; a power with at least "
    f"{P1_ROLE:.0%} of a state's ties keeps a substantial role if it keeps at least half of that share.",
    arms={"baseline": Arm.of("baseline", BASELINE)},
    columns=tuple(_state_columns(STATES, ["restructuring", "balance", "share.russia", "share.china"])),
    thresholds=(
        Threshold(
            "share of runs in which no state swings and both powers keep their roles",
            ">=",
            0.90,
            "C12: 'unlikely to change much, though nobody knows for sure': allow up to one future in "
            "ten with a swing",
        ),
    ),
    measure=_p1_measure,
    conflict=P1_CONFLICT,
    knockouts=(
        KnockOut(
            "adjustment_rate = 1",
            "no gradual adjustment: engagement jumps to its target each month (ties, assets and the "
            "installed arms systems that hold falling security ties stay)",
            {"parameters.adjustment_rate": 1.0},
        ),
        KnockOut(
            "installed_base = 0",
            "no installed arms systems: security ties fall, and fluctuate, like trade",
            {"parameters.installed_base": 0.0},
        ),
        KnockOut(
            "lock_in = 0, asset_strength = 0",
            "no historical ties or assets: a partner is worth its current offers alone, and no bases, "
            "leases or pipelines hold engagement up (gradual adjustment and installed arms stay)",
            {"parameters.lock_in": 0.0, "parameters.asset_strength": 0.0},
        ),
    ),
    plot=_p1_plot,
    notes="Thresholds: 0.15 is three times the largest move in trade shares observed between 2021 and "
    "2023 (a few points; calibration.md); 0.25 is an eighth of the balance scale.",
)


# ----------------------------------------------------- P2 coordination, division of labour

P2_MONTH = 60


P2A_START = (0.3, 0.45, 0.6)  # starting coordination: the baseline's 0.45 and a range around it


def _p2a_measure(runs: Runs, stats: Stats) -> list[Estimate]:
    out = []
    for c0 in P2A_START:
        run = runs[f"start_{c0}"]
        c = run.values(REGION, "coordination")
        tension = run.values(REGION, "tension")
        detail = (
            f"coordination {np.mean(c[0]):.3f} at month 0, median {np.median(c[P2_MONTH]):.3f} at month "
            f"60; Russia–China tension {np.mean(tension[0]):.3f} at month 0, median "
            f"{np.median(tension[P2_MONTH]):.3f} at month 60"
        )
        out.append(stats.proportion(c[P2_MONTH] - c[0] >= 0.0, detail))
    return out


def _p2a_plot(ax, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    for c0 in P2A_START:
        _fan(ax, runs[f"start_{c0}"].values(REGION, "coordination"), MODEL_C, f"model, from {c0}")
        for ko, r in kos[:1]:
            _fan(ax, r[f"start_{c0}"].values(REGION, "coordination"), KO_C, f"knock-out: {ko.switch}")
    ax.set_xlabel("months since March 2022")
    ax.set_ylabel("Russia–China coordination")
    ax.set_title("P2a coordination does not fall")


def _division(run: Run, month: int) -> np.ndarray:
    """(S, R): Russia leads in security and China in the economy."""
    a, b = run.pair
    sec = _stack(run, f"share.{a}.security", month) > _stack(run, f"share.{b}.security", month)
    eco = _stack(run, f"share.{b}.economy", month) > _stack(run, f"share.{a}.economy", month)
    return sec & eco


# "Keep" over the five years: the division must hold at the end of every year,
# not only be back at month 60 (changed after results: docs/validation.md).
P2B_MONTHS = tuple(range(12, P2_MONTH + 1, 12))


def _kept_every_year(run: Run) -> np.ndarray:
    """(S, R): the division held in the state at the end of every year (months 12-60)."""
    kept = _division(run, P2B_MONTHS[0])
    for month in P2B_MONTHS[1:]:
        kept = kept & _division(run, month)
    return kept


def _p2b_kept(run: Run) -> np.ndarray:
    """(R,): the division held in most states (more than half) at the end of every year.

    Not "in most of the states where it held at month 0": the 2022 start has
    Russia level with or ahead of China in trade in three states (China
    overtook it during 2023), so that count rested on one state (changed
    after results: docs/validation.md).
    """
    most = np.ones(run.data.shape[1], dtype=bool)
    for month in P2B_MONTHS:
        most &= _division(run, month).sum(0) > len(run.regional) / 2
    return most


def _p2b_measure(runs: Runs, stats: Stats) -> list[Estimate]:
    run = runs["baseline"]
    per_state = _kept_every_year(run).mean(axis=1)
    detail = "division of labour kept at the end of every year in " + ", ".join(
        f"{s} {_pct(p)}" for s, p in zip(run.regional, per_state, strict=True)
    )
    return [stats.proportion(_p2b_kept(run), detail)]


def _p2b_plot(ax, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    run = runs["baseline"]
    x = np.arange(len(run.regional))
    ax.bar(x - 0.2, _kept_every_year(run).mean(1), 0.4, color=MODEL_C, label="model")
    for ko, r in kos[:1]:
        ax.bar(
            x + 0.2,
            _kept_every_year(r["baseline"]).mean(1),
            0.4,
            color=KO_C,
            label=f"knock-out: {ko.switch}",
        )
    ax.set_xticks(x, [_short(s) for s in run.regional])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of runs: Russia leads security,\nChina the economy (every year)")
    ax.set_title("P2b division of labour")


_P2_ARMS = {"baseline": Arm.of("baseline", BASELINE)}
P2A = Check(
    id="P2a",
    pattern="P2",
    claims="C5, C12",
    title="Coordination does not fall",
    statement="Under the baseline, Russia–China coordination does not fall.",
    experiment="The baseline scenario started at three levels of coordination (0.3, the baseline's "
    "0.45, and 0.6: the level is an assumption, so the pattern must not hang on it); coordination at "
    "month 60 against month 0, run by run.",
    arms={
        f"start_{c0}": Arm.of(f"coordination {c0}", BASELINE, {"relations.coordination": c0})
        for c0 in P2A_START
    },
    columns=((REGION, "coordination"), (REGION, "tension")),
    thresholds=tuple(
        Threshold(
            f"share of runs with coordination at month 60 at least its initial level ({c0})",
            ">=",
            0.90,
            "C12: cooperation 'will likely grow', not surely: allow one run in ten to fall",
        )
        for c0 in P2A_START
    ),
    measure=_p2a_measure,
    knockouts=(
        KnockOut(
            "coordination_rate = 0",
            "the shared interest in regime stability no longer builds coordination",
            {"parameters.coordination_rate": 0.0},
        ),
    ),
    plot=_p2a_plot,
    notes="Coordination grows with the regimes' insecurity (weak elite control) and erodes in proportion "
    "to the level of tension (`coordination_rate`, `regime_stability_interest`, `coordination_decay`). "
    "Its level settles where the two balance; the check asks that every starting level in the range "
    "lies below it, so that the pattern does not depend on one assumed starting value. Invitations of "
    "a third party a great power dislikes raise tension when they are new or grow; a standing "
    "arrangement (Tajikistan's with India) is absorbed, as the source has the states avoid making "
    "the powers compete.",
)
P2B = Check(
    id="P2b",
    pattern="P2",
    claims="C6, C12",
    title="Division of labour is kept",
    statement="Under the baseline, Russia leads in security and China in the economy in most states.",
    experiment="The baseline scenario. A run keeps the division of labour if, at the end of every "
    "year (months 12, 24, 36, 48 and 60), it holds in more than half of the five states (three or "
    "more), whether or not it held there at month 0.",
    arms=_P2_ARMS,
    columns=tuple(
        _state_columns(STATES, [f"share.{g}.{d}" for g in (RUSSIA, CHINA) for d in ("security", "economy")])
    ),
    thresholds=(
        Threshold(
            "share of runs keeping the division of labour in most states",
            ">=",
            0.90,
            "'in most states', in nine futures out of ten (C12: stable over a few years)",
        ),
    ),
    measure=_p2b_measure,
    knockouts=(
        KnockOut(
            "specialisation = 0",
            "great powers no longer work through the domains they are strong in (deference stays; its "
            "own effect is in the mechanism influence table)",
            {"parameters.specialisation": 0.0},
        ),
    ),
    plot=_p2b_plot,
    notes="The division of labour is not in the start: with 2021-22 figures it holds at month 0 only in "
    "Turkmenistan (Russia is level with or ahead of China in the trade of the others; China overtook it "
    "during 2023), and it forms within the first year. What forms it is the powers' capacities by "
    "domain, inputs (Russia's in security, China's in the economy), reaching their offers through "
    "`specialisation`: with it off the division holds in most states at every year end in about one run "
    "in twenty. The hold-back rule (`deference`), China's capacity trend and re-routed trade barely move "
    "it (each off: still about every run), so the model reproduces the division from its inputs rather "
    "than from a rule of coordination (C6 is 'partly' in docs/ODD.md). A division that broke and came "
    "back was not kept (measures changed after results, docs/validation.md).",
)


# ---------------------------------------------------------------- P3 tension -> hedging

P3_MONTH = 12
P3_SHOCK = {
    "shocks": [
        {
            "id": "tension_rise",
            "name": "Russia-China tension rises",
            "month": 1,
            "severity": 1.0,
            "effects": [{"variable": "tension", "change": "add", "amount": 0.3}],
        }
    ]
}
MIN_INDEX_EFFECT = 0.01  # one point on a 0-1 scale: the precision of the calibrating shares


def _p3_measure(runs: Runs, stats: Stats) -> list[Estimate]:
    base, hot = runs["baseline"], runs["tension"]
    t = P3_MONTH
    dh = hot.values(REGION, "hedging_index")[t] - base.values(REGION, "hedging_index")[t]
    a, b = base.pair

    def top(run: Run) -> np.ndarray:
        return np.maximum(_stack(run, f"share.{a}", t), _stack(run, f"share.{b}", t)).mean(0)

    dtop = top(hot) - top(base)
    return [
        stats.mean(dh, f"{_pct((dh > 0).mean())} of runs hedge more"),
        stats.mean(dtop, f"{_pct((dtop < 0).mean())} of runs lean less on their main great power"),
    ]


def _p3_plot(ax, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    def effect(r: Runs) -> np.ndarray:
        return r["tension"].values(REGION, "hedging_index") - r["baseline"].values(REGION, "hedging_index")

    _fan(ax, effect(runs), MODEL_C, "model")
    for ko, r in kos[:1]:
        _fan(ax, effect(r), KO_C, f"knock-out: {ko.switch}")
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
    columns=((REGION, "hedging_index"), *_state_columns(STATES, ["share.russia", "share.china"])),
    thresholds=(
        Threshold(
            "mean paired change in the regional hedging index at month 12",
            ">=",
            MIN_INDEX_EFFECT,
            "one point on the 0-1 index: smaller moves are below the precision of the trade and arms "
            "shares the model is calibrated on",
            "{:.4f}",
        ),
        Threshold(
            "mean paired change in the share of each state's main great power",
            "<=",
            -0.005,
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
            {"parameters.hedging_tension": 0.0},
        ),
    ),
    plot=_p3_plot,
    notes="Raising `relations.tension` itself would also raise the reference level against which "
    "the model measures tension, so the experiment adds a tension shock instead.",
)


# ---------------------------------------------------------------- P4 third-party invitation

P4_STATE, P4_PARTNER = "tajikistan", "india"
P4_MONTH = 30
P4_MET_THREAT = 0.3  # below the cover Russia's base gives Tajikistan: no unmet need
THIRD_PARTIES = ("india", "turkey", "eu", "us")


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
            f"median {_pct(float(np.median(share)))}",
        ),
        stats.mean(
            effect,
            f"India's security share in Tajikistan: {np.mean(need.values(P4_STATE, col)[0]):.3f} at "
            f"month 0, {np.mean(need.values(P4_STATE, col)[t]):.3f} at month 30 with the need, "
            f"{np.mean(met.values(P4_STATE, col)[t]):.3f} without",
        ),
    ]


def _p4_plot(ax, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    col = f"share.{P4_PARTNER}.security"
    _fan(ax, runs["need"].values(P4_STATE, col), MODEL_C, "model, unmet need (baseline)")
    _fan(ax, runs["met"].values(P4_STATE, col), OTHER_C, "model, need met (threat 0.3)")
    for ko, r in kos[:1]:
        _fan(ax, r["need"].values(P4_STATE, col), KO_C, f"knock-out: {ko.switch}")
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
            0.90,
            "the source names India as the partner asked: it must be the model's choice in nine runs in ten",
        ),
        Threshold(
            "mean paired effect of the need on India's share of Tajikistan's security ties",
            ">=",
            MIN_INDEX_EFFECT,
            "one point of share: below that, India would not be 'drawn in' at the precision of the data",
            "{:.4f}",
        ),
    ),
    measure=_p4_measure,
    knockouts=(
        KnockOut(
            "invitation_gain = 0",
            "an invited third party offers nothing in answer",
            {"parameters.invitation_gain": 0.0},
        ),
    ),
    plot=_p4_plot,
    notes="Tajikistan's threat (0.7) is an assumption set from the same source sentence (Russia alone "
    "does not meet the need), so that an unmet need exists is calibrated, not tested. What is tested "
    "is whom the model invites and whether the invitation draws that partner in.",
)


# ---------------------------------------------------------------- P5 alliance exit

P5_DISCONTENT = {
    "shocks": [
        {
            "id": "csto_discontent",
            "name": "The public turns against the CSTO",
            "month": 1,
            "severity": 1.0,
            "effects": [
                {"variable": "opinion", "actor": m, "partner": "russia", "change": "add", "amount": -0.3}
                for m in CSTO_MEMBERS
            ],
        }
    ],
    **{f"institutions.csto.salience.{m}": 1.0 for m in CSTO_MEMBERS},
}


def _members(control: float, threat: float) -> dict[str, float]:
    """Overrides setting every CSTO member's elite control and external threat."""
    out = {}
    for m in CSTO_MEMBERS:
        out[f"actors.{m}.elite_control"] = control
        out[f"actors.{m}.threat"] = threat
    return out


P5_HOLD = _members(0.9, 0.5)
P5_LOOSE = _members(0.3, 0.0)


def _moved(run: Run, members: Sequence[str], start: int = 1) -> np.ndarray:
    """(members, R): the member threatened exit or left at some month after `start`."""
    threat = _stack(run, "exit_threat.csto", slice(start, None), members).max(axis=1) > 0
    left = _stack(run, "member.csto", -1, members) < 1
    return threat | left


def _p5a_measure(runs: Runs, stats: Stats) -> list[Estimate]:
    m = CSTO_MEMBERS
    eh = _moved(runs["hold_discontent"], m).mean(0) - _moved(runs["hold_calm"], m).mean(0)
    el = _moved(runs["loose_discontent"], m).mean(0) - _moved(runs["loose_calm"], m).mean(0)
    left = (_stack(runs["hold_discontent"], "member.csto", -1, m) < 1).mean()
    return [
        stats.mean(eh, f"members leaving outright under discontent: {_pct(left)} of member-runs"),
        stats.mean(el),
    ]


def _p5a_plot(ax, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    arms = ["hold_calm", "hold_discontent", "loose_calm", "loose_discontent"]
    labels = [
        "elite holds,\ncalm",
        "elite holds,\ndiscontent",
        "weak elite,\ncalm",
        "weak elite,\ndiscontent",
    ]
    x = np.arange(len(arms))
    ax.bar(x - 0.2, [_moved(runs[a], CSTO_MEMBERS).mean() for a in arms], 0.4, color=MODEL_C, label="model")
    for ko, r in kos[:1]:
        ax.bar(
            x + 0.2,
            [_moved(r[a], CSTO_MEMBERS).mean() for a in arms],
            0.4,
            color=KO_C,
            label=f"knock-out: {ko.switch}",
        )
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("members threatening or taking exit\nwithin 60 months (share)")
    ax.set_title("P5a public discontent alone")


P5A = Check(
    id="P5a",
    pattern="P5",
    claims="C2, C9, C10",
    title="Public discontent alone does not produce exit",
    statement="Public dissatisfaction with the CSTO does not by itself produce exit while the elite "
    "holds control and a third-party threat persists.",
    experiment="Four arms on the baseline, same seed. Discontent: at month 1 the public of every CSTO "
    "member turns against Russia (opinion −0.3) and the CSTO becomes a top public issue (salience 1). "
    "'Elite holds': elite control 0.9 and an external threat of 0.5 in every member; 'weak elite': "
    "control 0.3 and no threat. Figure: paired effect of the discontent on the share of members that "
    "threaten or take exit within 60 months (in the model every exit starts with a threat).",
    arms={
        "hold_calm": Arm.of("elite holds, calm", BASELINE, P5_HOLD),
        "hold_discontent": Arm.of("elite holds, discontent", BASELINE, P5_HOLD | P5_DISCONTENT),
        "loose_calm": Arm.of("weak elite, calm", BASELINE, P5_LOOSE),
        "loose_discontent": Arm.of("weak elite, discontent", BASELINE, P5_LOOSE | P5_DISCONTENT),
    },
    columns=tuple(_state_columns(CSTO_MEMBERS, ["exit_threat.csto", "member.csto"])),
    thresholds=(
        Threshold(
            "effect of discontent where the elite holds and a threat persists",
            "<=",
            0.10,
            "'does not by itself produce exit': at most one member in ten moved by the public's mood",
        ),
        Threshold(
            "effect of the same discontent with a weak elite and no threat",
            ">=",
            0.20,
            "guards against a vacuous pass: the public's mood must be able to move a state that "
            "nothing holds in",
        ),
    ),
    measure=_p5a_measure,
    knockouts=(
        KnockOut(
            "domestic_filter = 0, threat_deterrence = 0",
            "the elite's grip no longer screens the public's mood, and a threat no longer holds a member in",
            {"parameters.domestic_filter": 0.0, "parameters.threat_deterrence": 0.0},
        ),
    ),
    plot=_p5a_plot,
)

P5_STATE = "armenia"
P5_ATTACK_MONTH = 18


def _p5b_measure(runs: Runs, stats: Stats) -> list[Estimate]:
    out = []
    for kind in ("threat", "exit"):
        x = {}
        for arm in ("failed", "protected"):
            r = runs[arm]
            if kind == "threat":
                x[arm] = r.values(P5_STATE, "exit_threat.csto")[P5_ATTACK_MONTH:].max(axis=0) > 0
            else:
                x[arm] = r.values(P5_STATE, "member.csto")[-1] < 1
        failed, protected = _pct(x["failed"].mean()), _pct(x["protected"].mean())
        detail = f"{failed} if the CSTO fails Armenia, {protected} if it protects it"
        out.append(stats.risk_ratio(x["failed"], x["protected"], detail))
    return out


def _p5b_plot(ax, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    def curves(r: Run) -> tuple[np.ndarray, np.ndarray]:
        threat = np.maximum.accumulate(r.values(P5_STATE, "exit_threat.csto") > 0, axis=0).mean(1)
        left = (r.values(P5_STATE, "member.csto") < 1).mean(1)
        return threat, left

    for arm, colour, name in (("failed", MODEL_C, "CSTO fails"), ("protected", OTHER_C, "CSTO protects")):
        threat, left = curves(runs[arm])
        ax.plot(threat, color=colour, lw=1.8, label=f"{name}: exit threat made")
        ax.plot(left, color=colour, lw=1.8, ls="--", label=f"{name}: left")
    for ko, r in kos[:1]:
        threat, left = curves(r["failed"])
        ax.plot(threat, color=KO_C, lw=1.4, label=f"knock-out ({ko.switch}), fails: threat")
    ax.axvline(P5_ATTACK_MONTH, color="k", ls=":", lw=1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("months since March 2022 (attack at month 18)")
    ax.set_ylabel("share of runs (Armenia)")
    ax.set_title("P5b a patron that fails an ally")


P5B = Check(
    id="P5b",
    pattern="P5",
    claims="C9, C11",
    title="A patron that fails an ally under attack",
    statement="A patron that fails to protect an ally under attack makes exit threats, and then exits, "
    "far more likely.",
    experiment="The CSTO-crisis scenario (Armenia attacked at month 18) with the CSTO's reliability "
    "as written (0.1: it almost surely fails Armenia) against reliability 1 (it protects Armenia), "
    "same seed. Figures: risk ratios for Armenia threatening exit after the attack and for Armenia "
    "having left by month 60 (half an event added to each count).",
    arms={
        "failed": Arm.of("CSTO fails Armenia", "csto_crisis.yaml"),
        "protected": Arm.of(
            "CSTO protects Armenia", "csto_crisis.yaml", {"institutions.csto.reliability": 1.0}
        ),
    },
    columns=((P5_STATE, "exit_threat.csto"), (P5_STATE, "member.csto")),
    thresholds=(
        Threshold(
            "risk ratio of an exit threat, failed vs protected",
            ">=",
            3.0,
            "'far more likely': at least three times as likely (a strong association by common convention)",
            "{:.1f}",
        ),
        Threshold(
            "risk ratio of exit by month 60, failed vs protected",
            ">=",
            3.0,
            "as above, for the exit itself",
            "{:.1f}",
        ),
    ),
    measure=_p5b_measure,
    knockouts=(
        KnockOut(
            "failure_penalty = 0",
            "a failure to protect no longer costs the alliance the elite's satisfaction or the "
            "leader the public's approval",
            {"parameters.failure_penalty": 0.0},
        ),
    ),
    plot=_p5b_plot,
    notes="The check is relative, as the claim is ('far more likely'). In absolute terms see the "
    "figures above: in the model an attentive leader answers an exit threat with concessions half of "
    "the time each month (`patron_response`), so exit itself stays rare even after a failure, while "
    "the real Armenia froze its participation five months after the 2023 offensive and considered "
    "itself outside the CSTO fifteen months after it (calibration.md).",
)


# ---------------------------------------------------------------- P6 Taiwan shock

P6_FROM, P6_TO = 31, 60  # the 30 months after the shock (month 30)
P6_WIDER = 1.25
P6_SEVERITY = 0.65  # the middle of taiwan_shock.yaml's severity range (0.3 to 1.0), for the knock-out


def _sd_ratio(fn_runs: Runs, stats: Stats, measure: str) -> Estimate:
    a = fn_runs["taiwan"].values(REGION, measure)[P6_FROM : P6_TO + 1].T  # (R, T)
    b = fn_runs["baseline"].values(REGION, measure)[P6_FROM : P6_TO + 1].T

    def ratio(ma, sa, mb, sb):
        return (np.sqrt(np.maximum(sa - ma**2, 0)) / np.sqrt(np.maximum(sb - mb**2, 1e-30))).mean(axis=-1)

    return stats.boot(ratio, a, a**2, b, b**2)


def _p6_measure(runs: Runs, stats: Stats) -> list[Estimate]:
    return [_sd_ratio(runs, stats, "balance"), _sd_ratio(runs, stats, "hedging_index")]


def _p6_plot(ax, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    def ratio(r: Runs, m: str) -> np.ndarray:
        return r["taiwan"].values(REGION, m).std(axis=1) / np.maximum(
            r["baseline"].values(REGION, m).std(axis=1), 1e-12
        )

    months = np.arange(1, runs["baseline"].data.shape[0])  # month 0 has no spread
    for m, ls in (("balance", "-"), ("hedging_index", "--")):
        name = "balance" if m == "balance" else "hedging"
        ax.plot(months, ratio(runs, m)[1:], color=MODEL_C, ls=ls, lw=1.8, label=f"model: {name}")
        for _ko, r in kos[:1]:
            ax.plot(months, ratio(r, m)[1:], color=KO_C, ls=ls, lw=1.4, label=f"knock-out: {name}")
    ax.axhline(P6_WIDER, color="k", ls="--", lw=1)
    ax.axhline(1.0, color="k", lw=0.6)
    ax.axvspan(P6_FROM, P6_TO, color="0.9", zorder=0)
    ax.set_xlabel("months since March 2022 (war at month 30)")
    ax.set_ylabel("spread across runs, Taiwan / baseline (s.d. ratio)")
    ax.set_title("P6 Taiwan war widens the spread")


P6 = Check(
    id="P6",
    pattern="P6",
    claims="C13",
    title="A Taiwan war widens the spread of outcomes",
    statement="A Taiwan-war shock widens the spread of outcomes across replicates compared with the "
    "baseline.",
    experiment="Baseline against the Taiwan-war scenario (war at month 30, severity drawn per run "
    "between 0.3 and 1; the war changes attention, capacity, tension and coordination and adds "
    "turbulence, a volatility term), same seed. Figure: the standard deviation across runs of the regional "
    "Russia–China balance and of the regional hedging index, Taiwan over baseline, averaged over "
    "months 31–60.",
    arms={"baseline": Arm.of("baseline", BASELINE), "taiwan": Arm.of("Taiwan war", "taiwan_shock.yaml")},
    columns=((REGION, "balance"), (REGION, "hedging_index")),
    thresholds=(
        Threshold(
            "spread ratio of the regional Russia–China balance",
            ">=",
            P6_WIDER,
            "a band less than a quarter wider does not read as 'wider' in a fan chart",
            "{:.2f}",
        ),
        Threshold("spread ratio of the regional hedging index", ">=", P6_WIDER, "as above", "{:.2f}"),
    ),
    measure=_p6_measure,
    knockouts=(
        KnockOut(
            "volatility_decay = 1, severity fixed",
            "the war's consequences made certain: its severity fixed at the middle of its range "
            f"({P6_SEVERITY:g}) in every run and its turbulence (its volatility term) lasting one month; "
            "its effects on attention, capacity, tension and coordination remain",
            {"parameters.volatility_decay": 1.0},
            {"taiwan": {f"shocks.taiwan_war.severity.{end}": P6_SEVERITY for end in ("low", "high")}},
        ),
    ),
    plot=_p6_plot,
    notes="The knock-out removes the war's uncertainty, and nothing else: how severe it is (drawn per "
    "run) and the turbulence it brings (a volatility term that fades). The war's effects stay, at the "
    "middle severity. At 1000 runs per arm (seed 20220301) each channel alone leaves most of the "
    "widening: with turbulence for one month only, the balance's ratio is about 1.28 (unclear); with the "
    "severity fixed, about 1.43 (pass); with both, about 1.03 (fail). The rules' response to a war of "
    "uncertain size widens the spread by itself by about a fifth; the turbulence the scenario gives the "
    "war does the rest.",
)


# ---------------------------------------------------------------- P7 Russian pivot

P7_MONTH = 60


def _p7_weight(runs: Runs, stats: Stats) -> list[Estimate]:
    base, pivot = runs["baseline"], runs["pivot"]
    out = []
    for d in ("security", "economy"):
        col = f"share.{RUSSIA}.{d}"
        eff = (_stack(pivot, col, P7_MONTH) - _stack(base, col, P7_MONTH)).mean(0)
        out.append(
            stats.mean(
                eff,
                f"Russia's mean {d} share {_stack(base, col, P7_MONTH).mean():.3f} → "
                f"{_stack(pivot, col, P7_MONTH).mean():.3f}",
            )
        )
    return out


def _p7_soft(runs: Runs, stats: Stats) -> list[Estimate]:
    b = runs["baseline"].values(RUSSIA, "soft_share")[P7_MONTH]
    p = runs["pivot"].values(RUSSIA, "soft_share")[P7_MONTH]
    col = f"opinion.{RUSSIA}"
    eff = (_stack(runs["pivot"], col, P7_MONTH) - _stack(runs["baseline"], col, P7_MONTH)).mean(0)
    return [
        stats.mean(
            eff,
            f"soft share of Russia's effort {b.mean():.2f} → {p.mean():.2f}; regional mean opinion of "
            f"Russia {_stack(runs['baseline'], col, P7_MONTH).mean():.3f} → "
            f"{_stack(runs['pivot'], col, P7_MONTH).mean():.3f}",
        )
    ]


def _fertility(run: Run) -> dict[str, float]:
    return {a.id: a.fertility for a in run.setup.scenario.regional if a.in_region}


def _opinion_effects(runs: Runs) -> dict[str, np.ndarray]:
    col = f"opinion.{RUSSIA}"
    return {
        s: runs["pivot"].values(s, col)[P7_MONTH] - runs["baseline"].values(s, col)[P7_MONTH]
        for s in runs["baseline"].regional
    }


def _p7_fertile(runs: Runs, stats: Stats) -> list[Estimate]:
    fert = _fertility(runs["baseline"])
    hi, lo = max(fert, key=fert.get), min(fert, key=fert.get)
    eff = _opinion_effects(runs)
    detail = ", ".join(f"{s} ({fert[s]:.1f}) {np.mean(e):+.3f}" for s, e in eff.items())
    return [stats.mean(eff[hi] - eff[lo], f"effect on opinion of Russia by state (fertility): {detail}")]


def _p7_plot_weight(ax, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    def eff(r: Runs) -> np.ndarray:
        col = f"share.{RUSSIA}.security"
        return (_stack(r["pivot"], col, slice(None)) - _stack(r["baseline"], col, slice(None))).mean(0)

    _fan(ax, eff(runs), MODEL_C, "model")
    for ko, r in kos[:1]:
        _fan(ax, eff(r), KO_C, f"knock-out: {ko.switch}")
    ax.axhline(-MIN_INDEX_EFFECT, color="k", ls="--", lw=1)
    ax.set_xlabel("months since March 2022")
    ax.set_ylabel("paired change in Russia's security share\n(mean over states)")
    ax.set_title("P7a Russia's hard weight falls")


def _p7_plot_soft(ax, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    _fan(ax, runs["baseline"].values(RUSSIA, "soft_share"), OTHER_C, "baseline")
    _fan(ax, runs["pivot"].values(RUSSIA, "soft_share"), MODEL_C, "pivot (model)")
    for ko, r in kos[:1]:
        _fan(ax, r["pivot"].values(RUSSIA, "soft_share"), KO_C, f"pivot, knock-out: {ko.switch}")
    ax.set_xlabel("months since March 2022")
    ax.set_ylabel("soft-power share of Russia's effort")
    ax.set_title("P7b tool mix shifts to soft power")


def _p7_plot_fertile(ax, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    fert = _fertility(runs["baseline"])
    for r, colour, name in [
        (runs, MODEL_C, "model"),
        *[(k[1], KO_C, f"knock-out: {k[0].switch}") for k in kos[:1]],
    ]:
        eff = _opinion_effects(r)
        xs = [fert[s] for s in eff]
        ys = [float(np.mean(e)) for e in eff.values()]
        ax.plot(xs, ys, "o", color=colour, label=name)
        for s, x, y in zip(eff, xs, ys, strict=True):
            ax.annotate(_short(s), (x, y), textcoords="offset points", xytext=(4, 2), fontsize=7)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("fertility of the ground for soft power")
    ax.set_ylabel("paired effect of the pivot on\nopinion of Russia (month 60)")
    ax.set_title("P7c larger where the ground is fertile")


_P7_ARMS = {"baseline": Arm.of("baseline", BASELINE), "pivot": Arm.of("Russian pivot", "russia_pivot.yaml")}
_P7_EXPERIMENT = (
    "Baseline against the Russian-pivot scenario (Russia's regional attention decays 4% a month "
    "toward 15% of its initial level), same seed; paired differences at month 60."
)
_KO_SHIFT = KnockOut(
    "soft_power_shift = 0",
    "a fading power no longer shifts its tools toward soft power",
    {"parameters.soft_power_shift": 0.0},
)
P7A = Check(
    id="P7a",
    pattern="P7",
    claims="C14",
    title="Pivot lowers Russia's hard and economic weight",
    statement="A Russian pivot to the 'global majority' lowers Russia's hard and economic weight in "
    "the region.",
    experiment=_P7_EXPERIMENT + " Figures: change in Russia's share of the states' security and "
    "economic ties (mean over the five states).",
    arms=_P7_ARMS,
    columns=tuple(_state_columns(STATES, [f"share.{RUSSIA}.security", f"share.{RUSSIA}.economy"])),
    thresholds=(
        Threshold(
            "mean paired change in Russia's security share",
            "<=",
            -MIN_INDEX_EFFECT,
            "at least one point of share lost",
            "{:.4f}",
        ),
        Threshold(
            "mean paired change in Russia's economic share",
            "<=",
            -MIN_INDEX_EFFECT,
            "at least one point of share lost",
            "{:.4f}",
        ),
    ),
    measure=_p7_weight,
    knockouts=(
        KnockOut(
            "attention_floor = 1",
            "a power's regional attention cannot fall below its initial level",
            {"parameters.attention_floor": 1.0},
        ),
    ),
    plot=_p7_plot_weight,
)
P7B = Check(
    id="P7b",
    pattern="P7",
    claims="C14, C15",
    title="Pivot raises the soft-power share of Russia's effort",
    statement="A Russian pivot raises the soft-power share of Russia's effort.",
    experiment=_P7_EXPERIMENT + " The share itself follows from the tool-mix rule, so the figure is a "
    "consequence of the shift: the pivot's effect on public opinion of Russia (mean over the five "
    "states), which a pivot without the shift would lower or leave unchanged.",
    arms=_P7_ARMS,
    columns=((RUSSIA, "soft_share"), *_state_columns(STATES, [f"opinion.{RUSSIA}"])),
    thresholds=(
        Threshold(
            "mean paired change in public opinion of Russia",
            ">=",
            MIN_INDEX_EFFECT,
            "one point of approval (the resolution of the opinion data): a shift to soft tools that "
            "does not reach opinion is no shift of influence",
            "{:.4f}",
        ),
    ),
    measure=_p7_soft,
    knockouts=(_KO_SHIFT,),
    plot=_p7_plot_soft,
)
P7C = Check(
    id="P7c",
    pattern="P7",
    claims="C15",
    title="... with a larger effect where the ground is fertile",
    statement="The pivot's soft-power effect is larger where the ground is fertile.",
    experiment=_P7_EXPERIMENT + " Figure: the pivot's effect on public opinion of Russia in the most "
    "fertile state (Kyrgyzstan, 0.7) minus that in the least fertile (Turkmenistan, 0.2).",
    arms=_P7_ARMS,
    columns=tuple(_state_columns(STATES, [f"opinion.{RUSSIA}"])),
    thresholds=(
        Threshold(
            "difference in the effect on opinion of Russia, most minus least fertile",
            ">=",
            MIN_INDEX_EFFECT,
            "one point of approval: the resolution of the opinion data used",
            "{:.4f}",
        ),
    ),
    measure=_p7_fertile,
    knockouts=(_KO_SHIFT,),
    plot=_p7_plot_fertile,
    notes="The figure compares the extremes of fertility. Across all five states the effect is not "
    "strictly ordered by fertility (see the figures above): the pivot also shrinks Russia's economic "
    "footprint, which moves opinion through another channel.",
)


# ---------------------------------------------------------------- P8 elite control

P8_STATE = "kazakhstan"
P8_MONTH = 30
P8_CONTROL = (0.1, 0.5, 0.9)
P8_PRESSURE = {
    "shocks": [
        {
            "id": "russian_pressure",
            "name": "Russia pushes for a larger security presence",
            "month": 1,
            "severity": 1.0,
            "effects": [
                {
                    "variable": "capacity",
                    "actor": "russia",
                    "domain": "security",
                    "change": "multiply",
                    "amount": 2.0,
                }
            ],
        }
    ]
}
P8_SCREEN = 0.75


def _p8_effects(runs: Runs) -> list[np.ndarray]:
    return [
        runs[f"push_{c}"].values(P8_STATE, "balance")[P8_MONTH]
        - runs[f"calm_{c}"].values(P8_STATE, "balance")[P8_MONTH]
        for c in P8_CONTROL
    ]


def _p8_measure(runs: Runs, stats: Stats) -> list[Estimate]:
    e = _p8_effects(runs)
    detail = "effect on Kazakhstan's Russia–China balance at elite control " + ", ".join(
        f"{c}: {np.mean(x):+.4f}" for c, x in zip(P8_CONTROL, e, strict=True)
    )
    return [
        stats.boot(lambda lo, mid, hi: hi / lo, *e, detail=detail),
        stats.boot(lambda lo, mid, hi: np.maximum(mid / lo, hi / mid), *e),
    ]


def _p8_plot(ax, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    for r, colour, name in [
        (runs, MODEL_C, "model"),
        *[(k[1], KO_C, f"knock-out: {k[0].switch}") for k in kos[:1]],
    ]:
        e = _p8_effects(r)
        m = [float(np.mean(x)) for x in e]
        q = [np.quantile(x, [0.25, 0.75]) for x in e]
        ax.errorbar(
            P8_CONTROL,
            m,
            # The mean can lie outside the quartiles of a skewed effect: no negative bar then.
            yerr=[
                [max(mi - qi[0], 0.0) for mi, qi in zip(m, q, strict=True)],
                [max(qi[1] - mi, 0.0) for mi, qi in zip(m, q, strict=True)],
            ],
            color=colour,
            marker="o",
            capsize=3,
            label=name,
        )
    ax.set_xlabel("Kazakhstan's elite control")
    ax.set_ylabel("paired effect of Russian pressure on\nKazakhstan's Russia–China balance (month 30)")
    ax.set_ylim(bottom=0)
    ax.set_title("P8 firm elites screen out pressure")


P8 = Check(
    id="P8",
    pattern="P8",
    claims="C2",
    title="Elite control limits outside pressure",
    statement="The stronger the elite's control, the less a great power's pressure moves a state's "
    "alignment against the regime's agenda.",
    experiment="Russia doubles its security capacity at month 1 (a push for more basing and arms) "
    "against no push, same seed, with Kazakhstan's elite control set to 0.1, 0.5 and 0.9. In "
    "Kazakhstan Russia already dominates security and the regime weighs sovereignty, so more of it "
    "fits the agenda badly. Figure: the push's paired effect on Kazakhstan's Russia–China balance "
    "at month 30, at each level of control.",
    arms={
        **{
            f"calm_{c}": Arm.of(f"control {c}", BASELINE, {f"actors.{P8_STATE}.elite_control": c})
            for c in P8_CONTROL
        },
        **{
            f"push_{c}": Arm.of(
                f"control {c}, Russian push", BASELINE, {f"actors.{P8_STATE}.elite_control": c} | P8_PRESSURE
            )
            for c in P8_CONTROL
        },
    },
    columns=((P8_STATE, "balance"),),
    thresholds=(
        Threshold(
            "effect at control 0.9 / effect at control 0.1",
            "<=",
            P8_SCREEN,
            "a firm elite must screen out at least a quarter of pressure against its agenda",
            "{:.3f}",
        ),
        Threshold(
            "largest ratio of successive effects (0.5/0.1, 0.9/0.5)",
            "<=",
            1.0,
            "'the stronger, the less': each step up in control lowers the effect",
            "{:.3f}",
        ),
    ),
    measure=_p8_measure,
    knockouts=(
        KnockOut(
            "domestic_filter = 0",
            "the elite no longer screens offers by their fit with its agenda",
            {"parameters.domestic_filter": 0.0},
        ),
    ),
    plot=_p8_plot,
)


# ---------------------------------------------------------------- observed UN votes

VOTES = (("ES-11/1", 0, "2 Mar 2022"), ("ES-11/4", 7, "12 Oct 2022"), ("ES-11/6", 11, "23 Feb 2023"))
OBSERVED = {  # calibration.md: nobody voted for; absent counts as abstaining
    "kazakhstan": ("abstain", "abstain", "abstain"),
    "kyrgyzstan": ("abstain", "abstain", "abstain"),
    "tajikistan": ("abstain", "abstain", "abstain"),
    "uzbekistan": ("absent", "abstain", "abstain"),
    "turkmenistan": ("absent", "absent", "absent"),
}
PARTNERS = (RUSSIA, CHINA, *THIRD_PARTIES)


def _votes(run: Run) -> np.ndarray:
    """(states, votes, R) stance at the months of the votes."""
    return np.stack([_stack(run, "stance", m) for _, m, _ in VOTES], axis=1)


def _sides(run: Run, month: int | slice) -> tuple[np.ndarray, np.ndarray]:
    """Russia's side and the resolution's side in each state's weaker domain: (S, ...) each.

    The same quantities the `stance` measure compares with its threshold.
    """
    setup = run.setup
    a = setup.partner_ids.index(RUSSIA)
    objected = {
        p: (0.0 if p == RUSSIA else 1.0 - float(setup.acceptability[setup.partner_ids.index(p), a, 0]))
        for p in PARTNERS
    }
    with_a, against = [], []
    for d in ("security", "economy"):
        with_a.append(_stack(run, f"share.{RUSSIA}.{d}", month))
        against.append(sum(objected[p] * _stack(run, f"share.{p}.{d}", month) for p in PARTNERS))
    return np.minimum(*with_a), np.minimum(*against)


def _votes_measure(runs: Runs, stats: Stats) -> list[Estimate]:
    run = runs["baseline"]
    v = _votes(run)
    any_for = (v > 0).any(axis=(0, 1))
    all_abstain = (v == 0).all(axis=(0, 1))
    months = [m for _, m, _ in VOTES]
    with_a, against = _sides(run, months[-1])
    margin = ", ".join(
        f"{_short(s)} {np.mean(w):.2f} / {np.mean(g):.2f}"
        for s, w, g in zip(run.regional, with_a, against, strict=True)
    )
    return [
        stats.proportion(
            any_for, f"{_pct((v > 0).mean())} of state-votes for, {_pct((v < 0).mean())} against"
        ),
        stats.proportion(
            all_abstain,
            "how far each state is from taking a side at the last vote (month 11): share of Russia's side "
            f"/ of the resolution's side in the state's weaker domain, against a threshold of "
            f"{run.setup.p.stance_threshold:g}: {margin}",
        ),
    ]


def _votes_plot(ax, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    v = _votes(runs["baseline"])
    states = runs["baseline"].regional
    x, labels = [], []
    colours = {1.0: "#27ae60", 0.0: "#bdc3c7", -1.0: "#c0392b"}
    names = {1.0: "for", 0.0: "abstain / absent", -1.0: "against"}
    pos = 0
    for i, s in enumerate(states):
        for j, (name, _, _) in enumerate(VOTES):
            bottom = 0.0
            for val in (1.0, 0.0, -1.0):
                h = float((v[i, j] == val).mean())
                ax.bar(pos, h, 0.8, bottom=bottom, color=colours[val], label=names[val] if pos == 0 else None)
                bottom += h
            x.append(pos)
            labels.append(f"{_short(s)}\n{name[-4:]}")
            pos += 1
        pos += 0.6
    ax.set_xticks(x, labels, fontsize=6)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of runs")
    ax.set_title("Stance at the UN votes on Ukraine (observed: no state for)")


VOTES_CHECK = Check(
    id="UN",
    pattern="UN votes",
    claims="C1, C3",
    title="Stance at the UN votes condemning Russia",
    statement="None of the five regional states voted for a UN General Assembly resolution "
    "condemning Russia since 2022; all abstained or were absent (calibration.md).",
    experiment="The baseline's `stance` measure at the months of ES-11/1 (month 0), ES-11/4 "
    "(month 7) and ES-11/6 (month 11). A state votes with a side only if that side holds more than "
    "half of its ties in every domain; Russia's side is Russia's share, the resolution's side the "
    "shares of the partners Russia objects to (weighted by how much); otherwise it abstains.",
    arms={"baseline": Arm.of("baseline", BASELINE)},
    columns=tuple(
        _state_columns(
            STATES, ["stance", *[f"share.{p}.{d}" for p in PARTNERS for d in ("security", "economy")]]
        )
    ),
    thresholds=(
        Threshold(
            "share of runs in which some state votes for a resolution",
            "<=",
            0.05,
            "observed: none did; allow one run in twenty (sampling of futures)",
        ),
        Threshold(
            "share of runs in which every state abstains at all three votes",
            ">=",
            0.90,
            "observed: all abstained or were absent; allow one run in ten to differ",
        ),
    ),
    measure=_votes_measure,
    knockouts=(),
    plot=_votes_plot,
    notes="This is a consistency check with observed behaviour, not a pattern of the claims list; it "
    "has no knock-out. Month 0 is the calibrated initial state itself. Observed (calibration.md): "
    + "; ".join(f"{_short(s)} {', '.join(v)}" for s, v in OBSERVED.items())
    + ". Absent is read as abstaining: the model has no separate 'absent'.",
)

CHECKS: tuple[Check, ...] = (P1, P2A, P2B, P3, P4, P5A, P5B, P6, P7A, P7B, P7C, P8, VOTES_CHECK)
