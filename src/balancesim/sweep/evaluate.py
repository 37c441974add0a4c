"""`balancesim.sweep.evaluate`: run a scenario at given design points, for other tools to call directly.

Exploratory-modelling tools (EMA Workbench, SALib, history matching, an
optimiser) hand a model one or many *points*, each a mapping of input name
to value, and want outcomes back. `evaluate` is that entry point:

    frame = balancesim.evaluate("scenarios/taiwan_shock.yaml",
                                [{"parameters.lock_in": 2.0, "relations.tension": 0.3}],
                                replicates=100, outcomes=["balance", "share.china[kazakhstan]"])

Inputs are scenario PATHs as for `--set` and sweeps; values may be numpy
scalars (`numpy.int64`, `numpy.float64`), as EMA Workbench passes them.
Every point runs the same replicate seeds (common random numbers), exactly
as `balancesim sweep` does, so `evaluate` and a sweep of the same points give
the same numbers.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from balancesim.scenario.schema import Scenario


def plain(value: Any, where: str) -> float | int:
    """A design value as a plain Python number: numpy scalars become int or float; others are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    return float(value)


def design_points(design: Any) -> tuple[list[str], list[list[float | int]]]:
    """(paths, rows) of a design: a DataFrame, one mapping, or a list of mappings of PATH -> value.

    Every point must give the same PATHs; a `point` column (a sweep's
    design.csv) is ignored.
    """
    import pandas as pd

    if isinstance(design, pd.DataFrame):
        records: Sequence[Mapping[Any, Any]] = design.drop(columns=["point"], errors="ignore").to_dict(
            "records"
        )
    elif isinstance(design, Mapping):
        records = [design]
    elif isinstance(design, Iterable) and not isinstance(design, str | bytes):
        records = list(design)
    else:
        raise ValueError(f"design: expected a DataFrame or a list of PATH -> value mappings, got {design!r}")
    if not records:
        raise ValueError("design: no points")
    paths: list[str] | None = None
    rows = []
    for p, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise ValueError(f"design point {p}: expected a mapping of PATH -> value, got {record!r}")
        keys = [str(k) for k in record if str(k) != "point"]
        if paths is None:
            paths = keys
        elif set(keys) != set(paths):
            raise ValueError(
                f"design point {p}: gives {', '.join(sorted(keys))}; point 0 gives {', '.join(sorted(paths))}"
            )
        rows.append([plain(record[k], f"design point {p}: {k}") for k in paths])
    assert paths is not None
    return paths, rows


def evaluate(
    scenario: str | Path | Scenario,
    design: Any,
    replicates: int | None = None,
    outcomes: Sequence[str] | None = None,
    seed: int | None = None,
    months: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Run `scenario` at every point of `design`; one row per point, replicate and month.

    `design` is a DataFrame with one column per PATH, a list of mappings
    PATH -> value, or one mapping. `replicates` defaults to the scenario's,
    `seed` to the scenario's, `months` to the scenario's outputs.months and
    horizon; `outcomes` names measures as `sweep --outcomes` does
    (`balance`, `share.china.economy[kazakhstan]`; default: the regional
    headline measures). The frame has columns `point`, the PATHs, `replicate`,
    `month` and one column per outcome. Average over replicates with
    `frame.groupby("point").mean()`.

    Raises ValueError (ScenarioError, SweepError and OutcomeError are kinds of
    it) naming the point, the PATH and what was expected.
    """
    from balancesim import sweep as sw

    paths, rows = design_points(design)
    plan = sw.plan_points(
        scenario, paths, rows, replicates=replicates, outcomes=outcomes, seed=seed, months=months
    )
    return run_plan(plan)


def run_plan(plan: Any) -> pd.DataFrame:
    """Run every chunk of a sweep plan in this process; the runs as one frame (see `evaluate`).

    The chunks are the sweep's own (packed runs, the same seeds), so the
    numbers equal a sweep's chunk files.
    """
    import numpy as np
    import pandas as pd

    from balancesim.sweep import make_job, make_tasks, run_chunk

    job = make_job(plan)
    T, C = len(plan.months), len(plan.measures)
    data = np.empty((plan.runs, T, C))
    for task in make_tasks(plan, plan.chunks()):
        chunk = task.chunk
        data[chunk.first : chunk.first + chunk.count] = run_chunk(job, task).transpose(1, 0, 2)
    point = np.repeat(np.arange(len(plan.design)), plan.replicates * T)
    frame = pd.DataFrame({"point": point})
    for d, path in enumerate(plan.design.paths):
        column = plan.design.points[point, d]
        frame[path] = column.astype(np.int64) if path in plan.design.integer else column
    frame["replicate"] = np.tile(np.repeat(np.arange(plan.replicates), T), len(plan.design))
    frame["month"] = np.tile(np.asarray(plan.months), plan.runs)
    flat = data.reshape(plan.runs * T, C)
    for c, name in enumerate(plan.measures):
        frame[name] = flat[:, c]
    return frame
