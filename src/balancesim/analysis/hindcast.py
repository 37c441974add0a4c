"""The hindcast: observed next to modelled for every target, a pass or fail each, and a score.

The rule (fixed before any result was looked at, docs/targets.md):

* a **value** target (a value with its sd, or a range) passes when the
  observed 90% interval (value +- 1.645 sd, or the range) overlaps the
  modelled 90% band of the statistic over runs (5% to 95%); it is *within
  the observation band* when the modelled median lies inside the observed
  90% interval (the stricter figure the README reports);
* an **event** (a yes/no fact: a membership kept, a threat not made, an
  abstention) passes when the observed outcome happens in at least
  `EVENT_SHARE` (10%) of the runs: a model that makes the record a
  one-in-ten surprise or rarer fails.

The score is the share of targets passed, with a distance beside it, the
sum over targets of the squared implausibility of history matching
(`targets.implausibility`, with no model-discrepancy term): for a value
(mean - observed)^2 / (observation variance + the variance over runs), for
an event the normal deviate of the observed outcome's probability, squared.
Zero is a perfect fit; about one per target is a fit within the noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from balancesim.analysis.targets import Target, Targets, model_months, series, statistic
from balancesim.experiment.folders import Output

EVENT_SHARE = 0.1


@dataclass
class Hindcast:
    """A scenario's runs against a target file."""

    scenario_name: str
    targets: Targets
    table: pd.DataFrame  # one row per target
    paths: dict[str, np.ndarray]  # target id -> (months, R): the statistic's path over time
    months: np.ndarray
    start: str
    replicates: int
    seed: int

    def model_months(self, period: str) -> np.ndarray:
        """The model months a target's period covers in these runs (`targets.model_months`)."""
        return model_months(period, self.start, int(self.months[-1]))

    @property
    def passed(self) -> int:
        return int(self.table["passed"].sum())

    @property
    def score(self) -> float:
        return self.passed / len(self.table)

    @property
    def distance(self) -> float:
        return float(self.table["distance"].sum())


def judge(target: Target, stat: np.ndarray) -> dict[str, Any]:
    """One target's row: observed, modelled median and 90% band, the event's probability, pass, distance."""
    from balancesim.analysis.targets import implausibility

    q5, q50, q95 = np.quantile(stat, [0.05, 0.5, 0.95])
    row: dict[str, Any] = {
        "kind": target.kind,
        "observed": _observed_text(target),
        "median": float(q50),
        "p5": float(q5),
        "p95": float(q95),
        "outcome_share": math.nan,
        "in_band": False,
    }
    distance = float(implausibility(target, stat, discrepancy=0.0)) ** 2
    if target.kind == "event":
        hits = target.happens(stat)
        share = float(np.mean(hits if target.occurred else ~hits))
        row["outcome_share"] = share
        row["passed"] = bool(share >= EVENT_SHARE)
        row["in_band"] = row["passed"]
        row["distance"] = distance
        return row
    low, high = target.interval() or (math.nan, math.nan)
    row["passed"] = bool(high >= q5 and low <= q95)
    row["in_band"] = bool(low <= q50 <= high)
    row["distance"] = distance
    return row


def _observed_text(t: Target) -> str:
    if t.event is not None:
        return f"{'happened' if t.occurred else 'did not happen'} ({t.event.text()})"
    if t.range is not None:
        return f"{t.range[0]:.3g} to {t.range[1]:.3g}"
    return f"{t.value:+.3g} ± {t.sd():.2g}"


def hindcast(results: Any, targets: Targets, name: str | None = None) -> Hindcast:
    """Compare an `experiment.Results` with every target (checked against its measures first)."""
    from balancesim.analysis.targets import check_against

    start, horizon = results.scenario.start, int(results.months[-1])
    check_against(targets, results.columns, start, horizon)
    rows, paths = [], {}
    for ident, t in targets:
        path = series(t, results.data, results.columns)
        stat = statistic(t, path, results.months, start)
        if t.since is not None:  # show the change relative to the `since` period over time
            base = path[[m for m in model_months(t.since, start, horizon)]].mean(axis=0)
            path = path - base
        paths[ident] = path
        row = {"target": ident, "measure": t.measure, "period": t.period, "since": t.since or ""}
        row |= judge(t, stat)
        row["confidence"] = t.confidence
        rows.append(row)
    return Hindcast(
        scenario_name=name or results.scenario.name,
        targets=targets,
        table=pd.DataFrame(rows),
        paths=paths,
        months=np.asarray(results.months),
        start=start,
        replicates=results.replicates,
        seed=results.seed,
    )


def summary(h: Hindcast) -> dict[str, Any]:
    """Score and rule as JSON data (summary.json)."""
    return {
        "scenario": h.scenario_name,
        "targets_file": h.targets.file,
        "replicates": h.replicates,
        "seed": h.seed,
        "targets": len(h.table),
        "passed": h.passed,
        "score": h.score,
        "distance": h.distance,
        "rule": {
            "value": "observed 90% interval overlaps the modelled 5-95% band",
            "event": f"the observed outcome happens in at least {EVENT_SHARE:.0%} of runs",
            "within_band": "the modelled median lies inside the observed 90% interval",
        },
        "values": int((h.table["kind"] == "value").sum()),
        "values_within_band": int(h.table.loc[h.table["kind"] == "value", "in_band"].sum()),
        "failed": h.table.loc[~h.table["passed"], "target"].tolist(),
    }


def write_outputs(
    h: Hindcast, folder: Path | Output, figure: Callable[[Hindcast], Any] | None = None
) -> list[Path]:
    """table.csv, summary.json and hindcast.png in `folder`, written whole (`folders.written_whole`).

    `folder` may be an `Output` the command line opened (checked before the runs), which it commits.

    `figure(h)` draws hindcast.png (`figures.hindcast.hindcast_figure`, passed by the command line).
    """
    import json

    from balancesim.experiment.folders import written_whole

    final = folder.folder if isinstance(folder, Output) else Path(folder)
    with written_whole(folder, "hindcast") as partial:
        h.table.to_csv(partial / "table.csv", index=False, float_format="%.6g")
        (partial / "summary.json").write_text(json.dumps(summary(h), indent=1) + "\n")
        if figure is not None:
            figure(h).savefig(partial / "hindcast.png", dpi=110)
    if isinstance(folder, Output):
        return folder.commit()
    return sorted(p for p in final.iterdir() if p.is_file() and not p.name.startswith("."))
