"""A sweep's summaries: per design point statistics over replicates, Sobol indices, output files.

`summary.csv`/`summary.parquet` hold, per design point, measure and month,
the mean, median, 5% and 95% over the replicates; `sobol.csv` (Sobol
designs) holds SALib's first-order and total indices of each measure's
replicate mean (`morris.csv`: Morris designs, SALib's elementary effects).
Everything is computed from the chunk files in run order, so memory holds
about one chunk at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from balancesim.experiment.store import write_atomic, write_json, write_table
from balancesim.sweep.chunks import iter_chunks
from balancesim.sweep.plan import SweepPlan

QUANTILES = (0.05, 0.5, 0.95)

# --------------------------------------------------------------------------- outputs


def design_table(plan: SweepPlan) -> pd.DataFrame:
    """One row per design point: its number and its parameter values."""
    frame = pd.DataFrame(plan.design.points, columns=plan.design.paths)
    for path in plan.design.integer:
        frame[path] = frame[path].astype(np.int64)
    frame.insert(0, "point", np.arange(len(plan.design), dtype=np.int64))
    return frame


def point_statistics(
    blocks: Iterable[np.ndarray], replicates: int, points: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per point, the mean and QUANTILES over replicates, from (runs, months, C) blocks in run order.

    Returns mean (P, T, C) and quantiles (Q, P, T, C). Blocks are consumed
    as they come and every complete point is summarised at once, so memory
    holds about one chunk and one point's runs whatever the sweep's size.
    """
    mean: np.ndarray | None = None
    quant: np.ndarray | None = None
    pending: list[np.ndarray] = []
    held = done = 0
    for block in blocks:
        if mean is None:
            mean = np.empty((points, *block.shape[1:]))
            quant = np.empty((len(QUANTILES), points, *block.shape[1:]))
        assert quant is not None
        pending.append(block)
        held += len(block)
        ready = held // replicates
        if ready == 0:
            continue
        runs = np.concatenate(pending) if len(pending) > 1 else pending[0]
        whole = runs[: ready * replicates].reshape(ready, replicates, *runs.shape[1:])
        mean[done : done + ready] = whole.mean(axis=1)
        quant[:, done : done + ready] = np.quantile(whole, QUANTILES, axis=1)
        done += ready
        rest = runs[ready * replicates :]
        pending, held = ([rest] if len(rest) else []), len(rest)
    if mean is None or quant is None or done != points or held:
        raise ValueError(f"the chunks hold {done} complete design points, expected {points}")
    return mean, quant


def summarise(folder: Path, plan: SweepPlan) -> pd.DataFrame:
    """Per design point, outcome and month: mean, median, 5% and 95% over replicates (tidy).

    Computed from the chunk files in run order, so memory holds about one
    chunk at a time whatever the sweep's size.
    """
    from balancesim.experiment.batch import calendar_month

    P, T, C = len(plan.design), len(plan.months), len(plan.measures)
    mean, quant = point_statistics(iter_chunks(folder, plan), plan.replicates, P)
    design = design_table(plan)
    index = pd.MultiIndex.from_product(
        [range(P), range(T), range(C)], names=["point_", "month_", "measure_"]
    ).to_frame(index=False)
    frame = design.iloc[index["point_"]].reset_index(drop=True)
    frame["measure"] = pd.Categorical.from_codes(index["measure_"], pd.Index(list(plan.measures)))
    months = np.asarray(plan.months)[index["month_"]]
    frame["month"] = months
    dates = np.asarray([calendar_month(plan.base.start, int(m)) for m in plan.months])
    frame["date"] = dates[index["month_"]]
    frame["runs"] = plan.replicates
    frame["mean"] = mean.reshape(-1)
    frame["median"] = quant[1].reshape(-1)
    frame["p5"] = quant[0].reshape(-1)
    frame["p95"] = quant[2].reshape(-1)
    return frame


def _replicate_means(summary: pd.DataFrame) -> dict[tuple[str, int], np.ndarray]:
    """(measure, month) -> the replicate mean at every design point, in the design's point order."""
    ordered = summary.sort_values(["measure", "month", "point"], kind="stable")
    return {
        (str(measure), int(cast(int, month))): group["mean"].to_numpy()
        for (measure, month), group in ordered.groupby(["measure", "month"], observed=True, sort=False)
    }


def sobol_indices(summary: pd.DataFrame, plan: SweepPlan) -> pd.DataFrame:
    """First-order and total (second-order if sampled for) Sobol indices of each replicate mean.

    Y is the mean over replicates at each design point, taken in the
    sampler's order (the design's point order), as SALib requires.
    """
    return sobol_table(
        plan.design.problem(),
        _replicate_means(summary),
        seed=plan.seed,
        second_order=plan.design.second_order,
    )


def morris_indices(summary: pd.DataFrame, plan: SweepPlan) -> pd.DataFrame:
    """Morris elementary effects (mu, mu*, sigma, mu*'s confidence) of each measure's replicate mean."""
    from balancesim.sweep.morris import table

    return table(plan.design.problem(), plan.design.points, _replicate_means(summary), seed=plan.seed)


SOBOL_COLUMNS = ("S1", "S1_conf", "ST", "ST_conf")


def sobol_table(
    problem: dict[str, Any],
    outputs: dict[tuple[str, int], np.ndarray],
    seed: int,
    second_order: bool = False,
) -> pd.DataFrame:
    """SALib's Sobol analysis (S1, ST and their 95% confidence half-widths) of each output.

    `outputs` maps (measure, month) to Y in the sampler's order. The bootstrap
    behind the confidence intervals uses a fixed seed, so the table is
    reproducible. An output that does not vary at all gets NaN indices. With
    `second_order` (a sample drawn for it), each row also gets `S2.<other
    parameter>` and `S2_conf.<other parameter>` columns: the second-order
    index of the pair.
    """
    from SALib.analyze import sobol

    rows = []
    names = problem["names"]
    keys = list(SOBOL_COLUMNS) + (["S2", "S2_conf"] if second_order else [])
    for (measure, month), y in outputs.items():
        if np.ptp(y) == 0:
            result = {
                k: np.full((len(names), len(names)) if k.startswith("S2") else len(names), np.nan)
                for k in keys
            }
        else:
            result = sobol.analyze(problem, y, calc_second_order=second_order, seed=seed % 2**32)
        for d, name in enumerate(names):
            row = {"measure": measure, "month": month, "parameter": name}
            row |= {k: float(result[k][d]) for k in SOBOL_COLUMNS}
            if second_order:
                for e, other in enumerate(names):
                    # SALib fills the upper triangle only; the index of a pair is symmetric
                    i, j = min(d, e), max(d, e)
                    row[f"S2.{other}"] = float(result["S2"][i, j]) if i != j else np.nan
                    row[f"S2_conf.{other}"] = float(result["S2_conf"][i, j]) if i != j else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


# (plan, summary, sobol, morris) -> {file name: matplotlib Figure}
DrawFigures = Callable[[SweepPlan, pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None], dict[str, Any]]


def write_outputs(
    folder: Path,
    plan: SweepPlan,
    summary: pd.DataFrame,
    sobol: pd.DataFrame | None,
    plots: DrawFigures | None,
    morris: pd.DataFrame | None = None,
) -> list[Path]:
    """design.csv, problem.json (SALib's problem of the design: names are the PATHs, bounds
    each one's range), summary.csv/.parquet, sobol.csv or morris.csv and the plots, each
    written atomically.

    `plots` draws the figures (the command line passes `figures.sweep.sweep_figures`); the
    sweep package itself draws nothing.
    """
    files = []

    def csv(path: Path, frame: pd.DataFrame) -> None:
        # pyarrow's writer: pandas formats value by value in Python, ~10x slower on a
        # summary of a few hundred thousand rows; numbers keep their full precision
        import pyarrow as pa
        import pyarrow.csv as pacsv

        table = pa.Table.from_pandas(frame, preserve_index=False)
        write_atomic(path, lambda f: pacsv.write_csv(table, f, pacsv.WriteOptions(quoting_style="needed")))
        files.append(path)

    csv(folder / "design.csv", design_table(plan))
    write_json(folder / "problem.json", plan.design.problem())
    files.append(folder / "problem.json")
    csv(folder / "summary.csv", summary)
    write_table(folder / "summary.parquet", summary)
    files.append(folder / "summary.parquet")
    if sobol is not None:
        csv(folder / "sobol.csv", sobol)
    if morris is not None:
        csv(folder / "morris.csv", morris)
    if plots:
        (folder / "plots").mkdir(exist_ok=True)
        for name, figure in plots(plan, summary, sobol, morris).items():
            path = folder / "plots" / name

            def save(f: Any, figure: Any = figure) -> None:
                figure.savefig(f, dpi=110, format="png")

            write_atomic(path, save)
            files.append(path)
    return files
