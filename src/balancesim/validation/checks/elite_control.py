"""Elite control: pattern P8 (firm elites screen out outside pressure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from balancesim.validation.checks.common import BASELINE, KO_C, MODEL_C
from balancesim.validation.core import Arm, Check, Estimate, KnockOut, Runs, Stats, Threshold
from balancesim.validation.patterns import constant, knockout, threshold

if TYPE_CHECKING:
    from matplotlib.axes import Axes

P8_STATE = constant("P8_STATE")
P8_MONTH = constant("P8_MONTH")
P8_CONTROL = constant("P8_CONTROL")
P8_PRESSURE = constant("P8_PRESSURE")
P8_SCREEN = constant("P8_SCREEN")


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


def _p8_plot(ax: Axes, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
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
            threshold("P8", 0),
            "a firm elite must screen out at least a quarter of pressure against its agenda",
            "{:.3f}",
        ),
        Threshold(
            "largest ratio of successive effects (0.5/0.1, 0.9/0.5)",
            "<=",
            threshold("P8", 1),
            "'the stronger, the less': each step up in control lowers the effect",
            "{:.3f}",
        ),
    ),
    measure=_p8_measure,
    knockouts=(
        KnockOut(
            "domestic_filter = 0",
            "the elite no longer screens offers by their fit with its agenda",
            knockout("P8: domestic_filter = 0"),
        ),
    ),
    plot=_p8_plot,
)
