"""What the pattern checks share: the actors the patterns name, the smallest
meaningful effect, the figures' colours, and readers of the model's outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from balancesim.model import metrics
from balancesim.validation.core import Run
from balancesim.validation.patterns import constant, scenario

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def stack(run: Run, measure: str, month: int | slice, actors: Sequence[str] | None = None) -> np.ndarray:
    """(actors, R) or (actors, T, R) values of one measure for several actors."""
    return np.stack([run.values(a, measure)[month] for a in (actors or run.regional)])


def state_columns(states: Sequence[str], measures: Sequence[str]) -> list[tuple[str, str]]:
    """The (actor, measure) columns a check reads: every measure for every state."""
    return [(s, m) for s in states for m in measures]


def pct(x: float) -> str:
    """A share as a percentage with one decimal."""
    return f"{100 * x:.1f}%"


def fan(ax: Axes, values: np.ndarray, colour: str, label: str, months: np.ndarray | None = None) -> None:
    """Median with 50% and 90% bands of (months, R) values."""
    from balancesim.figures.runs import envelope  # here: running the checks needs no matplotlib

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


def short(state: str) -> str:
    """A state's three-letter label in the figures and details."""
    return SHORT.get(state, state[:3].upper())


# The calibrated baseline's actors named by the patterns themselves.
RUSSIA, CHINA = constant("RUSSIA"), constant("CHINA")
STATES = constant("STATES")
CSTO_MEMBERS = constant("CSTO_MEMBERS")
THIRD_PARTIES = constant("THIRD_PARTIES")
BASELINE = scenario("baseline")

# The smallest effect that counts where a claim says "more" or "less" without a size.
# one point on a 0-1 scale: the precision of the calibrating shares
MIN_INDEX_EFFECT = constant("MIN_INDEX_EFFECT")
