"""The observed UN votes on Ukraine: a consistency check, not a pattern of the claims list."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from balancesim.validation.checks.common import (
    BASELINE,
    CHINA,
    RUSSIA,
    STATES,
    THIRD_PARTIES,
    pct,
    short,
    stack,
    state_columns,
)
from balancesim.validation.core import Arm, Check, Estimate, KnockOut, Run, Runs, Stats, Threshold
from balancesim.validation.patterns import constant, threshold

if TYPE_CHECKING:
    from matplotlib.axes import Axes

VOTES = constant("VOTES")
OBSERVED = constant("OBSERVED")
PARTNERS = (RUSSIA, CHINA, *THIRD_PARTIES)


def _votes(run: Run) -> np.ndarray:
    """(states, votes, R) stance at the months of the votes."""
    return np.stack([stack(run, "stance", m) for _, m, _ in VOTES], axis=1)


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
    with_a: list[np.ndarray] = []
    against: list[np.ndarray] = []
    for d in ("security", "economy"):
        with_a.append(stack(run, f"share.{RUSSIA}.{d}", month))
        against.append(np.asarray(sum(objected[p] * stack(run, f"share.{p}.{d}", month) for p in PARTNERS)))
    return np.minimum(with_a[0], with_a[1]), np.minimum(against[0], against[1])


def _votes_measure(runs: Runs, stats: Stats) -> list[Estimate]:
    run = runs["baseline"]
    v = _votes(run)
    any_for = (v > 0).any(axis=(0, 1))
    all_abstain = (v == 0).all(axis=(0, 1))
    months = [m for _, m, _ in VOTES]
    with_a, against = _sides(run, months[-1])
    margin = ", ".join(
        f"{short(s)} {np.mean(w):.2f} / {np.mean(g):.2f}"
        for s, w, g in zip(run.regional, with_a, against, strict=True)
    )
    return [
        stats.proportion(any_for, f"{pct((v > 0).mean())} of state-votes for, {pct((v < 0).mean())} against"),
        stats.proportion(
            all_abstain,
            "how far each state is from taking a side at the last vote (month 11): share of Russia's side "
            f"/ of the resolution's side in the state's weaker domain, against a threshold of "
            f"{run.setup.p.stance_threshold:g}: {margin}",
        ),
    ]


def _votes_plot(ax: Axes, runs: Runs, kos: list[tuple[KnockOut, Runs]]) -> None:
    v = _votes(runs["baseline"])
    states = runs["baseline"].regional
    x, labels = [], []
    colours = {1.0: "#27ae60", 0.0: "#bdc3c7", -1.0: "#c0392b"}
    names = {1.0: "for", 0.0: "abstain / absent", -1.0: "against"}
    pos: float = 0
    for i, s in enumerate(states):
        for j, (name, _, _) in enumerate(VOTES):
            bottom = 0.0
            for val in (1.0, 0.0, -1.0):
                h = float((v[i, j] == val).mean())
                ax.bar(pos, h, 0.8, bottom=bottom, color=colours[val], label=names[val] if pos == 0 else None)
                bottom += h
            x.append(pos)
            labels.append(f"{short(s)}\n{name[-4:]}")
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
        state_columns(
            STATES, ["stance", *[f"share.{p}.{d}" for p in PARTNERS for d in ("security", "economy")]]
        )
    ),
    thresholds=(
        Threshold(
            "share of runs in which some state votes for a resolution",
            "<=",
            threshold("UN", 0),
            "observed: none did; allow one run in twenty (sampling of futures)",
        ),
        Threshold(
            "share of runs in which every state abstains at all three votes",
            ">=",
            threshold("UN", 1),
            "observed: all abstained or were absent; allow one run in ten to differ",
        ),
    ),
    measure=_votes_measure,
    knockouts=(),
    plot=_votes_plot,
    notes="This is a consistency check with observed behaviour, not a pattern of the claims list; it "
    "has no knock-out. Month 0 is the calibrated initial state itself. Observed (calibration.md): "
    + "; ".join(f"{short(s)} {', '.join(v)}" for s, v in OBSERVED.items())
    + ". Absent is read as abstaining: the model has no separate 'absent'.",
)
