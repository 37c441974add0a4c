"""The waterfall of why a state moved: each mechanism's mean contribution, then the total."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

TOTAL = "total change"


def waterfall_data(
    frame: pd.DataFrame, variable: str, partner: str, domain: str, top: int = 8
) -> pd.DataFrame:
    """The `top` largest mean contributions of one variable, partner and domain, the rest pooled, the total.

    Means add up to the mean total (medians do not), so the bars end at the total.
    """
    rows = frame[(frame.variable == variable) & (frame.partner == partner) & (frame.domain == domain)]
    total = float(rows.loc[rows.mechanism == TOTAL, "mean"].iloc[0])
    parts = rows[rows.mechanism != TOTAL].set_index("mechanism")["mean"]
    parts = parts.reindex(parts.abs().sort_values(ascending=False).index)
    shown = parts.iloc[:top]
    rest = parts.iloc[top:].sum()
    out = [*shown.items()] + ([("other terms", float(rest))] if len(parts) > top else [])
    return pd.DataFrame([*out, (TOTAL, total)], columns=["mechanism", "value"])


def waterfall(
    data: pd.DataFrame, title: str, ax: Axes | None = None, xlabel: str = "contribution (mean over runs)"
) -> Figure:
    """Draw `waterfall_data`'s bars: each term from where the previous ended, the total from zero.

    On `ax` (a panel of a figure the caller lays out), or on a figure of its own.
    """
    own = ax is None
    if ax is None:
        fig = plt.figure(figsize=(8, 0.45 * len(data) + 1.5))
        ax = fig.add_subplot()
    else:
        fig = cast(Figure, ax.figure)  # callers pass axes of a top-level figure
    level = 0.0
    labels = list(data.mechanism)
    for k, (name, value) in enumerate(zip(data.mechanism, data.value, strict=True)):
        if name == TOTAL:
            ax.barh(k, value, left=0.0, color="#444444")
        else:
            ax.barh(k, value, left=level, color="#c0392b" if value < 0 else "#2471a3")
            level += value
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.axvline(0.0, color="black", linewidth=0.6)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    if own:
        fig.tight_layout()
    return fig


def write_waterfall(data: pd.DataFrame, title: str, path: Path) -> Path:
    fig = waterfall(data, title)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
