"""Stability: patterns P1 (inertia) and P2 (Russia–China coordination, division of labour)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from balancesim.validation.checks.common import (
    BASELINE,
    CHINA,
    KO_C,
    MODEL_C,
    REGION,
    RUSSIA,
    STATES,
    fan,
    pct,
    short,
    stack,
    state_columns,
)
from balancesim.validation.core import Arm, Check, Conflict, Estimate, KnockOut, Run, Runs, Stats, Threshold
from balancesim.validation.patterns import constant, knockout, threshold

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# ---------------------------------------------------------------- P1 inertia

P1_MONTH = constant("P1_MONTH")  # "30 months later" (claim C1: two years and more after February 2022)
P1_LATE_MONTH = constant("P1_LATE_MONTH")  # ... and scored again at the end of the horizon
# a decisive swing moves at least this share of a state's ties
P1_RESTRUCTURING = constant("P1_RESTRUCTURING")
P1_BALANCE = constant("P1_BALANCE")  # ... or shifts its Russia-China balance by at least this much
P1_ROLE = constant("P1_ROLE")  # a power "had a role" with at least this share of the state's ties
P1_KEEP = constant("P1_KEEP")  # ... and keeps a substantial role with at least half of it


def _p1_swings(run: Run, t: int = P1_MONTH) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per state and run (states, R): swung by month t at all, by restructuring, balance or a lost role."""
    restr = stack(run, "restructuring", t)
    dbal = np.abs(stack(run, "balance", t) - stack(run, "balance", 0))
    kept = []
    for g in run.pair:
        sh0, sh = stack(run, f"share.{g}", 0), stack(run, f"share.{g}", t)
        kept.append((sh0 < P1_ROLE) | (sh >= P1_KEEP * sh0))
    lost = ~np.logical_and(*kept)
    moved, shifted = restr > P1_RESTRUCTURING, dbal > P1_BALANCE
    return moved | shifted | lost, moved, shifted, lost


def _p1_by_state(run: Run, t: int = P1_MONTH) -> str:
    swung, moved, shifted, lost = _p1_swings(run, t)
    parts = [
        f"{short(s)} {pct(swung[i].mean())} (restructuring {pct(moved[i].mean())}, balance "
        f"{pct(shifted[i].mean())}, role {pct(lost[i].mean())})"
        for i, s in enumerate(run.regional)
        if swung[i].any()
    ]
    return "; ".join(parts) if parts else "none"


def _p1_measure(runs: Runs, stats: Stats) -> list[Estimate]:
    run = runs["baseline"]
    swung, _, _, lost = _p1_swings(run)
    restr = stack(run, "restructuring", P1_MONTH).max(0)
    dbal = np.abs(stack(run, "balance", P1_MONTH) - stack(run, "balance", 0)).max(0)
    keep = ~lost.any(0)
    detail = (
        f"largest restructuring of any state: median {np.median(restr):.3f}; largest balance "
        f"shift: median {np.median(dbal):.3f}; both powers keep their role in {pct(keep.mean())} of runs; "
        f"runs in which each state swings: {_p1_by_state(run)}"
    )
    late, *_ = _p1_swings(run, P1_LATE_MONTH)
    return [
        stats.proportion(~swung.any(0), detail),
        stats.proportion(
            ~late.any(0),
            f"the same limits at month {P1_LATE_MONTH}; runs in which each state swings: "
            f"{_p1_by_state(run, P1_LATE_MONTH)}",
        ),
    ]


# States whose observed record to the end of 2023 itself crosses P1's limits (see P1_CONFLICT).
P1_RECORD_SWINGS = constant("P1_RECORD_SWINGS")


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


def _p1_plot(ax: Axes, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    def worst(run: Run) -> np.ndarray:
        return stack(run, "restructuring", slice(None)).max(axis=0)

    fan(ax, worst(runs["baseline"]), MODEL_C, "model")
    for ko, r in kos[:1]:
        fan(ax, worst(r["baseline"]), KO_C, f"knock-out: {ko.switch}")
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
    columns=tuple(state_columns(STATES, ["restructuring", "balance", "share.russia", "share.china"])),
    thresholds=(
        Threshold(
            "share of runs in which no state swings and both powers keep their roles",
            ">=",
            threshold("P1", 0),
            "C12: 'unlikely to change much, though nobody knows for sure': allow up to one future in "
            "ten with a swing",
        ),
        Threshold(
            f"the same share at month {P1_LATE_MONTH}",
            ">=",
            threshold("P1", 1),
            "C12 speaks of the longer run too: the same allowance over five years (patterns file v2)",
        ),
    ),
    measure=_p1_measure,
    conflict=P1_CONFLICT,
    knockouts=(
        KnockOut(
            "adjustment_rate = 1",
            "no gradual adjustment: engagement jumps to its target each month (ties, assets and the "
            "installed arms systems that hold falling security ties stay)",
            knockout("P1: adjustment_rate = 1"),
        ),
        KnockOut(
            "installed_base = 0",
            "no installed arms systems: security ties fall, and fluctuate, like trade",
            knockout("P1: installed_base = 0"),
        ),
        KnockOut(
            "lock_in = 0, asset_strength = 0",
            "no historical ties or assets: a partner is worth its current offers alone, and no bases, "
            "leases or pipelines hold engagement up (gradual adjustment and installed arms stay)",
            knockout("P1: lock_in = 0, asset_strength = 0"),
        ),
    ),
    plot=_p1_plot,
    notes="Thresholds: 0.15 is three times the largest move in trade shares observed between 2021 and "
    "2023 (a few points; calibration.md); 0.25 is an eighth of the balance scale.",
)


# ----------------------------------------------------- P2 coordination, division of labour

P2_MONTH = constant("P2_MONTH")


P2A_START = constant("P2A_START")  # starting coordination: the baseline's 0.45 and a range around it


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


def _p2a_plot(ax: Axes, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    for c0 in P2A_START:
        fan(ax, runs[f"start_{c0}"].values(REGION, "coordination"), MODEL_C, f"model, from {c0}")
        for ko, r in kos[:1]:
            fan(ax, r[f"start_{c0}"].values(REGION, "coordination"), KO_C, f"knock-out: {ko.switch}")
    ax.set_xlabel("months since March 2022")
    ax.set_ylabel("Russia–China coordination")
    ax.set_title("P2a coordination does not fall")


def _division(run: Run, month: int) -> np.ndarray:
    """(S, R): Russia leads in security and China in the economy."""
    a, b = run.pair
    sec = stack(run, f"share.{a}.security", month) > stack(run, f"share.{b}.security", month)
    eco = stack(run, f"share.{b}.economy", month) > stack(run, f"share.{a}.economy", month)
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
        f"{s} {pct(p)}" for s, p in zip(run.regional, per_state, strict=True)
    )
    return [stats.proportion(_p2b_kept(run), detail)]


def _p2b_plot(ax: Axes, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
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
    ax.set_xticks(x, [short(s) for s in run.regional])
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
            threshold("P2a", i),
            "C12: cooperation 'will likely grow', not surely: allow one run in ten to fall",
        )
        for i, c0 in enumerate(P2A_START)
    ),
    measure=_p2a_measure,
    knockouts=(
        KnockOut(
            "coordination_rate = 0",
            "the shared interest in regime stability no longer builds coordination",
            knockout("P2a: coordination_rate = 0"),
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
        state_columns(STATES, [f"share.{g}.{d}" for g in (RUSSIA, CHINA) for d in ("security", "economy")])
    ),
    thresholds=(
        Threshold(
            "share of runs keeping the division of labour in most states",
            ">=",
            threshold("P2b", 0),
            "'in most states', in nine futures out of ten (C12: stable over a few years)",
        ),
    ),
    measure=_p2b_measure,
    knockouts=(
        KnockOut(
            "specialisation = 0",
            "great powers no longer work through the domains they are strong in (deference stays; its "
            "own effect is in the mechanism influence table)",
            knockout("P2b: specialisation = 0"),
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
