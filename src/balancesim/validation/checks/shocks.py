"""Shocks: patterns P6 (a Taiwan war) and P7 (a Russian pivot to the 'global majority')."""

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
    RUSSIA,
    STATES,
    fan,
    short,
    stack,
    state_columns,
)
from balancesim.validation.core import Arm, Check, Estimate, KnockOut, Run, Runs, Stats, Threshold
from balancesim.validation.patterns import constant, knockout, scenario, threshold

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# ---------------------------------------------------------------- P6 Taiwan shock

P6_FROM, P6_TO = constant("P6_FROM"), constant("P6_TO")  # the 30 months after the shock (month 30)
P6_WIDER = constant("P6_WIDER")
# the middle of taiwan_shock.yaml's severity range (0.3 to 1.0), for the knock-out
P6_SEVERITY = constant("P6_SEVERITY")


def _sd_ratio(fn_runs: Runs, stats: Stats, measure: str) -> Estimate:
    a = fn_runs["taiwan"].values(REGION, measure)[P6_FROM : P6_TO + 1].T  # (R, T)
    b = fn_runs["baseline"].values(REGION, measure)[P6_FROM : P6_TO + 1].T

    def ratio(ma: np.ndarray, sa: np.ndarray, mb: np.ndarray, sb: np.ndarray) -> np.ndarray:
        return (np.sqrt(np.maximum(sa - ma**2, 0)) / np.sqrt(np.maximum(sb - mb**2, 1e-30))).mean(axis=-1)

    return stats.boot(ratio, a, a**2, b, b**2)


def _p6_measure(runs: Runs, stats: Stats) -> list[Estimate]:
    return [_sd_ratio(runs, stats, "balance"), _sd_ratio(runs, stats, "hedging_index")]


def _p6_plot(ax: Axes, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
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
    arms={"baseline": Arm.of("baseline", BASELINE), "taiwan": Arm.of("Taiwan war", scenario("taiwan_shock"))},
    columns=((REGION, "balance"), (REGION, "hedging_index")),
    thresholds=(
        Threshold(
            "spread ratio of the regional Russia–China balance",
            ">=",
            threshold("P6", 0),
            "a band less than a quarter wider does not read as 'wider' in a fan chart",
            "{:.2f}",
        ),
        Threshold(
            "spread ratio of the regional hedging index", ">=", threshold("P6", 1), "as above", "{:.2f}"
        ),
    ),
    measure=_p6_measure,
    knockouts=(
        KnockOut(
            "volatility_decay = 1, severity fixed",
            "the war's consequences made certain: its severity fixed at the middle of its range "
            f"({P6_SEVERITY:g}) in every run and its turbulence (its volatility term) lasting one month; "
            "its effects on attention, capacity, tension and coordination remain",
            knockout("P6: volatility_decay = 1, severity fixed"),
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

P7_MONTH = constant("P7_MONTH")


def _p7_weight(runs: Runs, stats: Stats) -> list[Estimate]:
    base, pivot = runs["baseline"], runs["pivot"]
    out = []
    for d in ("security", "economy"):
        col = f"share.{RUSSIA}.{d}"
        eff = (stack(pivot, col, P7_MONTH) - stack(base, col, P7_MONTH)).mean(0)
        out.append(
            stats.mean(
                eff,
                f"Russia's mean {d} share {stack(base, col, P7_MONTH).mean():.3f} → "
                f"{stack(pivot, col, P7_MONTH).mean():.3f}",
            )
        )
    return out


def _p7_soft(runs: Runs, stats: Stats) -> list[Estimate]:
    b = runs["baseline"].values(RUSSIA, "soft_share")[P7_MONTH]
    p = runs["pivot"].values(RUSSIA, "soft_share")[P7_MONTH]
    col = f"opinion.{RUSSIA}"
    eff = (stack(runs["pivot"], col, P7_MONTH) - stack(runs["baseline"], col, P7_MONTH)).mean(0)
    return [
        stats.mean(
            eff,
            f"soft share of Russia's effort {b.mean():.2f} → {p.mean():.2f}; regional mean opinion of "
            f"Russia {stack(runs['baseline'], col, P7_MONTH).mean():.3f} → "
            f"{stack(runs['pivot'], col, P7_MONTH).mean():.3f}",
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
    hi, lo = max(fert, key=fert.__getitem__), min(fert, key=fert.__getitem__)
    eff = _opinion_effects(runs)
    detail = ", ".join(f"{s} ({fert[s]:.1f}) {np.mean(e):+.3f}" for s, e in eff.items())
    return [stats.mean(eff[hi] - eff[lo], f"effect on opinion of Russia by state (fertility): {detail}")]


def _p7_plot_weight(ax: Axes, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    def eff(r: Runs) -> np.ndarray:
        col = f"share.{RUSSIA}.security"
        return (stack(r["pivot"], col, slice(None)) - stack(r["baseline"], col, slice(None))).mean(0)

    fan(ax, eff(runs), MODEL_C, "model")
    for ko, r in kos[:1]:
        fan(ax, eff(r), KO_C, f"knock-out: {ko.switch}")
    ax.axhline(-MIN_INDEX_EFFECT, color="k", ls="--", lw=1)
    ax.set_xlabel("months since March 2022")
    ax.set_ylabel("paired change in Russia's security share\n(mean over states)")
    ax.set_title("P7a Russia's hard weight falls")


def _p7_plot_soft(ax: Axes, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    fan(ax, runs["baseline"].values(RUSSIA, "soft_share"), OTHER_C, "baseline")
    fan(ax, runs["pivot"].values(RUSSIA, "soft_share"), MODEL_C, "pivot (model)")
    for ko, r in kos[:1]:
        fan(ax, r["pivot"].values(RUSSIA, "soft_share"), KO_C, f"pivot, knock-out: {ko.switch}")
    ax.set_xlabel("months since March 2022")
    ax.set_ylabel("soft-power share of Russia's effort")
    ax.set_title("P7b tool mix shifts to soft power")


def _p7_plot_fertile(ax: Axes, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
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
            ax.annotate(short(s), (x, y), textcoords="offset points", xytext=(4, 2), fontsize=7)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("fertility of the ground for soft power")
    ax.set_ylabel("paired effect of the pivot on\nopinion of Russia (month 60)")
    ax.set_title("P7c larger where the ground is fertile")


_P7_ARMS = {
    "baseline": Arm.of("baseline", BASELINE),
    "pivot": Arm.of("Russian pivot", scenario("russia_pivot")),
}
_P7_EXPERIMENT = (
    "Baseline against the Russian-pivot scenario (Russia's regional attention decays 4% a month "
    "toward 15% of its initial level), same seed; paired differences at month 60."
)
_KO_SHIFT = KnockOut(
    "soft_power_shift = 0",
    "a fading power no longer shifts its tools toward soft power",
    knockout("P7b, P7c: soft_power_shift = 0"),
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
    columns=tuple(state_columns(STATES, [f"share.{RUSSIA}.security", f"share.{RUSSIA}.economy"])),
    thresholds=(
        Threshold(
            "mean paired change in Russia's security share",
            "<=",
            threshold("P7a", 0),
            "at least one point of share lost",
            "{:.4f}",
        ),
        Threshold(
            "mean paired change in Russia's economic share",
            "<=",
            threshold("P7a", 1),
            "at least one point of share lost",
            "{:.4f}",
        ),
    ),
    measure=_p7_weight,
    knockouts=(
        KnockOut(
            "attention_floor = 1",
            "a power's regional attention cannot fall below its initial level",
            knockout("P7a: attention_floor = 1"),
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
    columns=((RUSSIA, "soft_share"), *state_columns(STATES, [f"opinion.{RUSSIA}"])),
    thresholds=(
        Threshold(
            "mean paired change in public opinion of Russia",
            ">=",
            threshold("P7b", 0),
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
    columns=tuple(state_columns(STATES, [f"opinion.{RUSSIA}"])),
    thresholds=(
        Threshold(
            "difference in the effect on opinion of Russia, most minus least fertile",
            ">=",
            threshold("P7c", 0),
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
