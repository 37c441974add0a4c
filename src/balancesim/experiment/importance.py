"""Which drawn inputs matter for an outcome: Spearman rank correlation over the runs.

With `--uncertainty prior` every run draws its own values of the uncertain
inputs, independently of each other. Over the runs, the rank correlation
between an input and an outcome (a headline measure at the horizon, or the
paired effect of a shock) says how strongly, and in which direction, the
outcome follows that input. It is computed from the very draws the run made,
costs one ranking per input, needs no special design, and its noise level is
known: with R runs and no real dependence, |rho| stays below about
z / sqrt(R - 1) (`noise_level`, z corrected for the number of inputs). docs/ODD.md explains why
it was chosen over SALib's moment-independent delta.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    pass


def noise_level(runs: int, inputs: int = 1) -> float:
    """|rho| that no input of `inputs` independent ones exceeds by chance in 95% of samples of `runs` runs.

    Under independence rho * sqrt(runs - 1) is about standard normal; the
    level is Bonferroni-corrected for the number of inputs looked at, since
    the table picks the largest of them.
    """
    from scipy.stats import norm

    z = norm.ppf(1.0 - 0.025 / max(inputs, 1))
    return float(z / np.sqrt(max(runs - 1, 1)))


def _ranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(x, axis=0)


def rank_correlations(drawn: Mapping[str, np.ndarray], outcome: np.ndarray) -> pd.DataFrame:
    """Spearman's rho of each drawn input with the outcome (R,), strongest first.

    Columns: path, rho. An input or outcome that does not vary gets rho 0.
    """
    paths = list(drawn)
    if not paths:
        return pd.DataFrame({"path": [], "rho": []})
    x = _ranks(np.column_stack([np.asarray(drawn[p], dtype=float) for p in paths]))
    y = _ranks(np.asarray(outcome, dtype=float))
    x -= x.mean(axis=0)
    y -= y.mean()
    scale = np.sqrt((x**2).sum(axis=0) * (y**2).sum())
    rho = np.divide(x.T @ y, scale, out=np.zeros(len(paths)), where=scale > 0)
    frame = pd.DataFrame({"path": paths, "rho": rho})
    return frame.reindex(frame["rho"].abs().sort_values(ascending=False, kind="stable").index).reset_index(
        drop=True
    )


def leading(drawn: Mapping[str, np.ndarray], outcome: np.ndarray, top: int = 3) -> list[tuple[str, float]]:
    """The `top` inputs with the largest |rho| above the noise level, as (path, rho)."""
    frame = rank_correlations(drawn, outcome)
    floor = noise_level(len(outcome), len(drawn))
    strong = frame[frame["rho"].abs() > floor].head(top)
    return list(zip(strong["path"], strong["rho"].astype(float), strict=True))


def short_name(path: str) -> str:
    """'actors.kazakhstan.engagement.russia.security' -> 'kazakhstan.engagement.russia.security'."""
    for prefix in ("parameters.", "actors."):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def describe(pairs: list[tuple[str, float]]) -> str:
    """'lock_in +0.52, china.attention -0.31' (or 'none above noise')."""
    if not pairs:
        return "none above noise"
    return ", ".join(f"{short_name(p)} {rho:+.2f}" for p, rho in pairs)
