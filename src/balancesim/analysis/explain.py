"""Why a state moved, read from a run folder written with `balancesim run --trace`.

Returns data, never prints: `explain_folder` reads the folder's manifest and
trace.parquet and gives the contributions of each mechanism to a state's
change over a window (model/trace.py `explain`), with bands over runs; for a
run with a baseline, the effect (paired differences). The folder is read
through the verified reader (`scenario.verified`): trace.parquet against the
sha256 the folder lists and its page checksums, its runs counted against the
manifest; damage raises `verified.DamagedFile`. `cli/explain.py`
prints it and `figures/explain.py` draws the waterfall.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from balancesim.experiment.batch import calendar_month, month_index
from balancesim.experiment.store import check_runs, read_manifest
from balancesim.model.state import build_setup
from balancesim.model.trace import explain, from_frame
from balancesim.scenario import verified
from balancesim.scenario.schema import Scenario

TRACE_FILE = "trace.parquet"


class ExplainError(ValueError):
    """A folder or an option `explain` cannot use (one line, naming the file or option)."""


@dataclass
class Explanation:
    """Contributions of each mechanism to one state's change over a window."""

    frame: pd.DataFrame  # model/trace.py `explain`'s columns
    actor: str
    actor_name: str
    scenario_name: str
    effect: bool  # paired difference against the baseline
    start: str  # YYYY-MM
    end: str
    replicates: int


def explain_folder(
    folder: str | Path,
    actor: str,
    start: str | int | None = None,
    end: str | int | None = None,
    partner: str | None = None,
    domain: str | None = None,
) -> Explanation:
    """Explain `actor`'s change from `start` to `end` ("YYYY-MM" or months; default: the whole run)."""
    folder = Path(folder)
    listed = verified.listing(folder)
    verified.check(folder / "manifest.json", (listed or {}).get("manifest.json"))
    manifest = read_manifest(folder / "manifest.json")
    scenario = Scenario.model_validate(manifest["scenario"])
    setup = build_setup(scenario)
    if (listed is not None and TRACE_FILE not in listed) or not (folder / TRACE_FILE).exists():
        raise ExplainError(f"{folder}: no {TRACE_FILE}; run the scenario with `balancesim run --trace`")
    if actor not in setup.regional_ids:
        raise ExplainError(
            f"--actor: {actor!r} is not a regional state of {scenario.name} ({', '.join(setup.regional_ids)})"
        )
    for option, value, names in (
        ("--partner", partner, setup.partner_ids),
        ("--domain", domain, ("security", "economy")),
    ):
        if value is not None and value not in names:
            raise ExplainError(f"{option}: {value!r} is not one of {', '.join(names)}")
    try:
        first = 0 if start is None else month_index(scenario.start, start)
        last = setup.horizon if end is None else month_index(scenario.start, end)
    except ValueError:
        raise ExplainError("--from/--to: expected a month as YYYY-MM") from None
    if not 0 <= first < last <= setup.horizon:
        raise ExplainError(
            f"--from/--to: the window must lie within {scenario.start}.."
            f"{calendar_month(scenario.start, setup.horizon)} "
            "and end after it starts"
        )
    table = verified.read_table(folder / TRACE_FILE, (listed or {}).get(TRACE_FILE)).to_pandas()
    check_runs(folder / TRACE_FILE, table, manifest)
    traces = {
        label: from_frame(part.drop(columns="scenario"), setup)
        for label, part in table.groupby("scenario", observed=True)
    }
    baseline = traces.get("baseline")
    frame = explain(traces["scenario"], setup, actor, first, last, partner, domain, baseline)
    return Explanation(
        frame=frame,
        actor=actor,
        actor_name=next(a.name for a in scenario.actors if a.id == actor),
        scenario_name=scenario.name,
        effect=baseline is not None,
        start=calendar_month(scenario.start, first),
        end=calendar_month(scenario.start, last),
        replicates=traces["scenario"].replicates,
    )
