"""A sweep's summaries: per design point statistics over replicates, Sobol indices, output files.

`summary.csv`/`summary.parquet` hold, per design point, measure and month,
the mean, median, 5% and 95% over the replicates; `sobol.csv` (Sobol
designs) holds SALib's first-order and total indices of each measure's
replicate mean. Everything is computed from the chunk files, point by
point, so memory holds one point's runs at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..store import write_atomic, write_table
from .chunks import read_point
from .figures import sweep_figures
from .plan import SweepPlan

QUANTILES = (0.05, 0.5, 0.95)

# --------------------------------------------------------------------------- outputs


def design_table(plan: SweepPlan) -> pd.DataFrame:
    """One row per design point: its number and its parameter values."""
    frame = pd.DataFrame(plan.design.points, columns=plan.design.paths)
    for path in plan.design.integer:
        frame[path] = frame[path].astype(np.int64)
    frame.insert(0, "point", np.arange(len(plan.design), dtype=np.int64))
    return frame


def summarise(folder: Path, plan: SweepPlan) -> pd.DataFrame:
    """Per design point, measure and month: mean, median, 5% and 95% over replicates (tidy).

    Computed from the chunk files, point by point, so memory holds one
    point's runs at a time whatever the sweep's size.
    """
    from ..experiment import calendar_month

    P, T, C = len(plan.design), len(plan.months), len(plan.measures)
    mean = np.empty((P, T, C))
    quant = np.empty((len(QUANTILES), P, T, C))
    for p in range(P):
        data = read_point(folder, plan, p)  # (T, R, C)
        mean[p] = data.mean(axis=1)
        quant[:, p] = np.quantile(data, QUANTILES, axis=1)
    design = design_table(plan)
    index = pd.MultiIndex.from_product(
        [range(P), range(T), range(C)], names=["point_", "month_", "measure_"]
    ).to_frame(index=False)
    frame = design.iloc[index["point_"]].reset_index(drop=True)
    frame["measure"] = pd.Categorical.from_codes(index["measure_"], list(plan.measures))
    months = np.asarray(plan.months)[index["month_"]]
    frame["month"] = months
    frame["date"] = [calendar_month(plan.base.start, int(m)) for m in months]
    frame["runs"] = plan.replicates
    frame["mean"] = mean.reshape(-1)
    frame["median"] = quant[1].reshape(-1)
    frame["p5"] = quant[0].reshape(-1)
    frame["p95"] = quant[2].reshape(-1)
    return frame


def sobol_indices(summary: pd.DataFrame, plan: SweepPlan) -> pd.DataFrame:
    """First-order and total Sobol indices of each measure's replicate mean, per month.

    Y is the mean over replicates at each design point, taken in the
    sampler's order (the design's point order), as SALib requires.
    """
    ordered = summary.sort_values(["measure", "month", "point"], kind="stable")
    outputs = {
        (str(measure), int(month)): group["mean"].to_numpy()
        for (measure, month), group in ordered.groupby(["measure", "month"], observed=True, sort=False)
    }
    return sobol_table(plan.design.problem(), outputs, seed=plan.seed)


def sobol_table(
    problem: dict[str, Any], outputs: dict[tuple[str, int], np.ndarray], seed: int
) -> pd.DataFrame:
    """SALib's Sobol analysis (S1, ST and their 95% confidence half-widths) of each output.

    `outputs` maps (measure, month) to Y in the sampler's order. The bootstrap
    behind the confidence intervals uses a fixed seed, so the table is
    reproducible. An output that does not vary at all gets NaN indices.
    """
    from SALib.analyze import sobol

    rows = []
    names = problem["names"]
    for (measure, month), y in outputs.items():
        if np.ptp(y) == 0:
            result = {k: np.full(len(names), np.nan) for k in ("S1", "S1_conf", "ST", "ST_conf")}
        else:
            result = sobol.analyze(problem, y, calc_second_order=False, seed=seed % 2**32)
        for d, name in enumerate(names):
            rows.append(
                {
                    "measure": measure,
                    "month": month,
                    "parameter": name,
                    **{k: float(result[k][d]) for k in ("S1", "S1_conf", "ST", "ST_conf")},
                }
            )
    return pd.DataFrame(rows)


def write_outputs(
    folder: Path, plan: SweepPlan, summary: pd.DataFrame, sobol: pd.DataFrame | None, plots: bool
) -> list[Path]:
    """design.csv, summary.csv/.parquet, sobol.csv and the plots, each written atomically."""
    files = []

    def csv(path: Path, frame: pd.DataFrame) -> None:
        write_atomic(path, lambda f: f.write(frame.to_csv(index=False, float_format="%.8g").encode()))
        files.append(path)

    csv(folder / "design.csv", design_table(plan))
    csv(folder / "summary.csv", summary)
    write_table(folder / "summary.parquet", summary)
    files.append(folder / "summary.parquet")
    if sobol is not None:
        csv(folder / "sobol.csv", sobol)
    if plots:
        (folder / "plots").mkdir(exist_ok=True)
        for name, figure in sweep_figures(plan, summary, sobol).items():
            path = folder / "plots" / name

            def save(f: Any, figure: Any = figure) -> None:
                figure.savefig(f, dpi=110, format="png")

            write_atomic(path, save)
            files.append(path)
            import matplotlib.pyplot as plt

            plt.close(figure)
    return files
