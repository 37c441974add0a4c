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

The scenario's priors (its `uncertainty:` section) that the design does not
give are held at the scenario's calibrated values by default
(`uncertainty="none"`, as `balancesim.run` and `balancesim sweep` do);
`uncertainty="prior"` draws them per replicate instead (with a calibration
posterior named in the scenario, its PATHs from the posterior), replicate k
drawing the same values at every point, so differences between points stay
paired. The frame's `attrs` name both sets: `frame.attrs["drawn"]` and
`frame.attrs["fixed"]` (PATHs). EMA Workbench and SALib: see
`balancesim.sweep.ema` (`priors`, `EMAModel`, `BatchEvaluator`).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
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


UNCERTAINTY = ("none", "prior")  # what `evaluate` does with the priors the design does not give


@dataclass(frozen=True)
class PriorDraws:
    """The priors a design leaves free, drawn per replicate (evaluate's `uncertainty="prior"`).

    Drawn as `balancesim run` draws them (`uncertainty.draw`: the same uniforms
    per run seed, PATH and replicate), with the scenario's posterior, if any,
    for the PATHs it covers. Plays the part of a posterior in a sweep plan.
    """

    scenario: Scenario
    paths: tuple[str, ...]
    posterior: Any = None

    def draw(self, seed: int, replicates: int, first: int = 0) -> dict[str, np.ndarray]:
        from balancesim.scenario.distributions import Normal
        from balancesim.scenario.per_run import bounds
        from balancesim.scenario.uncertainty import transform, uniforms

        out = {}
        for path in self.paths:
            dist = self.scenario.uncertainty[path]
            limits = bounds(self.scenario, path) if isinstance(dist, Normal) else None
            out[path] = transform(dist, uniforms(seed, path, replicates, first), limits)
        if self.posterior is not None:
            out |= self.posterior.draw(seed, replicates, first)
        return out

    def identity(self) -> dict[str, Any]:
        from balancesim.sweep.plan import posterior_identity

        return {
            "priors": list(self.paths),
            **({"posterior": posterior_identity(self.posterior)} if self.posterior is not None else {}),
        }


def free_priors(scenario: Scenario, fixed: Sequence[str]) -> tuple[list[str], list[str]]:
    """(drawn, fixed): the scenario's prior PATHs a design leaves free, and those it gives
    (a PATH at or under a design PATH)."""
    from balancesim.scenario.paths import split_path

    cut = [c for c in (split_path(p) for p in fixed) if c is not None]
    given = [p for p in scenario.uncertainty if any((split_path(p) or ())[: len(c)] == c for c in cut)]
    return [p for p in scenario.uncertainty if p not in given], given


def evaluate(
    scenario: str | Path | Scenario,
    design: Any,
    replicates: int | None = None,
    outcomes: Sequence[str] | None = None,
    seed: int | None = None,
    months: Sequence[int] | None = None,
    uncertainty: str = "none",
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

    `uncertainty` says what happens to the scenario's priors that the design
    does not give: "none" (the default) holds them at the scenario's values;
    "prior" draws them per replicate, the same draws at every point. Either
    way `frame.attrs["drawn"]` lists the PATHs drawn and `frame.attrs["fixed"]`
    the priors held (at the scenario's value or the design's).

    Raises ValueError (ScenarioError, SweepError and OutcomeError are kinds of
    it) naming the argument, the point, the PATH and what was expected.
    """
    from dataclasses import replace

    from balancesim import sweep as sw

    if uncertainty not in UNCERTAINTY:
        raise ValueError(f"uncertainty: expected one of {', '.join(UNCERTAINTY)}, got {uncertainty!r}")
    paths, rows = design_points(design)
    plan = sw.plan_points(
        scenario, paths, rows, replicates=replicates, outcomes=outcomes, seed=seed, months=months
    )
    drawn, given = free_priors(plan.base, paths)
    if uncertainty == "prior":
        posterior = plan.base.posterior.without(list(paths)) if plan.base.posterior is not None else None
        drawn = [p for p in drawn if posterior is None or p not in posterior.paths]
        plan = replace(plan, posterior=PriorDraws(plan.base, tuple(drawn), posterior))
        drawn = [*drawn, *(posterior.paths if posterior is not None else [])]
        fixed = given
    else:
        fixed, drawn = [*given, *drawn], []
    frame = run_plan(plan)
    frame.attrs["drawn"] = drawn
    frame.attrs["fixed"] = fixed
    return frame


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
