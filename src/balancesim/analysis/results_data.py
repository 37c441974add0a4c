"""Run and sweep folders read as one table: the inputs of each run, and its outcomes on demand.

Scenario discovery needs, for every run, the values of the uncertain inputs
and the outcome. The two kinds of folder hold them differently:

* a **sweep folder** (`balancesim sweep`): `design.csv` gives each design
  point's values, `chunks/*.parquet` one row per (point, replicate, month)
  with one column per kept outcome (`balance`, or `balance[kazakhstan]` for
  an actor's measure). A run is a (point, replicate) pair; its inputs are its
  point's values. Only the outcomes and months the sweep kept are there.
* a **run folder** made with uncertainty (`balancesim run`):
  `params.parquet` gives each replicate's drawn values (`replicate` plus one
  column per scenario path), `series.parquet` every measure at every month in
  long form: `replicate, step, actor, measure, value`, or with the measure's
  name split into `partner, domain, measure` columns (joined back here as
  `measure.partner.domain`, the name `metrics.py` gives it).

`open_results` returns a `ResultsData` that lists what can be asked for (so
unknown names get a did-you-mean) and fetches one outcome at one month as a
vector aligned with the input rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from balancesim.analysis.expressions import Ref

REGION = "region"


class ResultsError(ValueError):
    """A folder that is not a complete run or sweep, or a request it cannot answer."""


@dataclass
class ResultsData:
    """Inputs of every run (rows) and access to its outcomes.

    `inputs` has one row per run and one column per varied input (a scenario
    path); `keys` identifies the rows (point and replicate, or replicate).
    `available` maps (actor, measure) to the months kept for it.
    """

    kind: str  # "sweep" or "run"
    folder: Path
    inputs: pd.DataFrame
    keys: pd.DataFrame
    start: str
    available: dict[tuple[str, str], tuple[int, ...]]
    scenario_actors: tuple[str, ...] = ()
    _cache: dict[tuple[str, str, int], np.ndarray] = field(default_factory=dict, repr=False)
    _reader: Any = field(default=None, repr=False)

    def values(self, actor: str, measure: str, month: int) -> np.ndarray:
        """One outcome at one month, one value per input row."""
        key = (actor, measure, month)
        if key not in self._cache:
            self._cache[key] = self._reader(actor, measure, month)
        return self._cache[key]


def calendar_to_month(start: str, text: str) -> int:
    """'2027-03' with a start of '2022-03' -> 60."""
    y0, m0 = map(int, start.split("-"))
    y, m = map(int, text.split("-"))
    return (y - y0) * 12 + (m - m0)


def open_results(folder: str | Path) -> ResultsData:
    """Read a sweep folder or a run folder; ResultsError saying what is missing otherwise."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not folder.is_dir():
        raise ResultsError(f"{folder}: no such folder (expected a run or sweep folder)")
    if not manifest_path.is_file():
        raise ResultsError(f"{folder}: no manifest.json: not a run or sweep folder of balancesim")
    from balancesim.experiment.store import ManifestError, read_manifest

    try:
        manifest = read_manifest(manifest_path)  # a JSON object, or a one-line reason
    except ManifestError as e:
        raise ResultsError(str(e)) from None
    if "balancesim_sweep" in manifest:
        return _open_sweep(folder, manifest)
    if "balancesim_run" in manifest:
        return _open_run(folder, manifest)
    raise ResultsError(f"{manifest_path}: neither a run nor a sweep manifest")


def _actors_of(scenario: dict[str, Any] | None) -> tuple[str, ...]:
    if not isinstance(scenario, dict):
        return ()
    return tuple(a["id"] for a in scenario.get("actors", []) if isinstance(a, dict) and a.get("id"))


def _split_name(column: str) -> tuple[str, str]:
    """`balance[kazakhstan]` -> (kazakhstan, balance); `balance` -> (region, balance)."""
    if column.endswith("]") and "[" in column:
        measure, actor = column[:-1].split("[", 1)
        return actor, measure
    return REGION, column


def _open_sweep(folder: Path, manifest: dict[str, Any]) -> ResultsData:
    if manifest.get("status") != "complete":
        raise ResultsError(
            f"{folder}: the sweep is not complete (status {manifest.get('status')!r}); "
            "finish it with `balancesim sweep ... --resume` first"
        )
    identity = manifest.get("identity", {})
    design_file = folder / "design.csv"
    if not design_file.is_file():
        raise ResultsError(f"{folder}: no design.csv in the sweep folder")
    design = pd.read_csv(design_file)
    chunks = sorted(p for p in (folder / "chunks").glob("*.parquet") if not p.name.startswith("."))
    if not chunks:
        raise ResultsError(f"{folder}: no chunk files in chunks/")
    import pyarrow.parquet as pq

    names = [n for n in pq.read_schema(chunks[0]).names if n not in ("point", "replicate", "month")]
    # pandas-stubs take one path; the pyarrow engine reads a list of files as one table
    table = pd.read_parquet(chunks, columns=["point", "replicate", "month", *names])  # type: ignore[call-overload]
    table = table.sort_values(["point", "replicate", "month"], kind="stable").reset_index(drop=True)
    months = tuple(int(m) for m in sorted(table["month"].unique()))
    keys = table.loc[table["month"] == months[0], ["point", "replicate"]].reset_index(drop=True)
    inputs = design.set_index("point").loc[keys["point"].to_numpy()].reset_index(drop=True)
    by_month = {m: table[table["month"] == m].reset_index(drop=True) for m in months}
    columns = {_split_name(n): n for n in names}

    def read(actor: str, measure: str, month: int) -> np.ndarray:
        return by_month[month][columns[(actor, measure)]].to_numpy(dtype=float)

    scenario = identity.get("scenario") or {}
    return ResultsData(
        kind="sweep",
        folder=folder,
        inputs=inputs,
        keys=keys,
        start=str(scenario.get("start", "2022-03")),
        available={key: months for key in columns},
        scenario_actors=_actors_of(scenario),
        _reader=read,
    )


def _open_run(folder: Path, manifest: dict[str, Any]) -> ResultsData:
    params_file, series_file = folder / "params.parquet", folder / "series.parquet"
    if not params_file.is_file():
        raise ResultsError(
            f"{folder}: no params.parquet: the run drew no values to explain outcomes by "
            "(run the scenario with an uncertainty: section, or sweep it)"
        )
    if not series_file.is_file():
        raise ResultsError(f"{folder}: no series.parquet in the run folder")
    params = pd.read_parquet(params_file).sort_values("replicate", kind="stable").reset_index(drop=True)
    keys = params[["replicate"]].copy()
    inputs = params.drop(columns=["replicate"])
    from balancesim.experiment.store import read_series

    try:  # any layout balancesim has written: packed names, or split with a `scenario` column
        series = read_series(folder)
    except ValueError as e:
        raise ResultsError(str(e)) from None
    if "scenario" in series.columns:  # a run with --baseline holds both; explain the scenario's runs
        series = series[series["scenario"].astype(str) == "scenario"]
    series = _joined_names(series)
    steps = tuple(int(s) for s in sorted(series["step"].unique()))
    pairs = series[["actor", "measure"]].drop_duplicates()
    available = {(str(a), str(m)): steps for a, m in pairs.itertuples(index=False)}
    actor_col = series["actor"].astype(str).to_numpy()
    measure_col = series["measure"].astype(str).to_numpy()
    step_col = series["step"].to_numpy()
    order = series["replicate"].to_numpy()
    values = series["value"].to_numpy(dtype=float)
    replicates = keys["replicate"].to_numpy()

    def read(actor: str, measure: str, month: int) -> np.ndarray:
        mask = (actor_col == actor) & (measure_col == measure) & (step_col == month)
        got = pd.Series(values[mask], index=order[mask])
        if not np.isin(replicates, got.index).all():
            raise ResultsError(f"{folder}: series.parquet lacks {measure}[{actor}]@{month} for some runs")
        return got.loc[replicates].to_numpy()

    scenario = manifest.get("scenario") or {}
    return ResultsData(
        kind="run",
        folder=folder,
        inputs=inputs,
        keys=keys,
        start=str(manifest.get("start") or scenario.get("start", "2022-03")),
        available=available,
        scenario_actors=_actors_of(scenario),
        _reader=read,
    )


def _joined_names(series: pd.DataFrame) -> pd.DataFrame:
    """Long-form series with `partner`/`domain` columns folded back into dotted measure names."""
    parts = [c for c in ("partner", "domain") if c in series.columns]
    if not parts:
        return series
    # The inverse of `metrics.measure_parts` (as `metrics.measure_name`), on whole columns at once.
    name = series["measure"].astype(str)
    for c in parts:
        extra = series[c].astype(str).replace({"nan": "", "None": "", "<NA>": ""})
        name = name.where(extra == "", name + "." + extra)
    return series.drop(columns=parts).assign(measure=name)


def check_reference(data: ResultsData, ref: Ref) -> tuple[str, str, int]:
    """(actor, measure, month) of a reference, or ResultsError with a did-you-mean."""
    from balancesim.scenario.schema import did_you_mean

    actors = {a for a, _ in data.available}
    if ref.actor not in actors:
        if ref.actor in data.scenario_actors:
            names = ", ".join(sorted(n if a == REGION else f"{n}[{a}]" for a, n in data.available)[:12])
            raise ResultsError(
                f"no outcome of '{ref.actor}' was kept in this {data.kind} (kept: {names}); "
                "sweep again keeping it, e.g. --outcomes " + f"{ref.measure}[{ref.actor}]"
            )
        raise ResultsError(f"unknown actor '{ref.actor}' ({did_you_mean(ref.actor, actors)})")
    measures = {m for a, m in data.available if a == ref.actor}
    if ref.measure not in measures:
        whose = "the region" if ref.actor == REGION else f"'{ref.actor}'"
        hint = did_you_mean(ref.measure, measures)
        other = sorted(a for a, m in data.available if m == ref.measure and a != REGION)
        if ref.actor == REGION and other:
            hint = f"it is a measure of each actor: write {ref.measure}[{other[0]}]"
        raise ResultsError(f"unknown measure '{ref.measure}' for {whose} in this {data.kind} ({hint})")
    month = ref.month if isinstance(ref.month, int) else calendar_to_month(data.start, str(ref.month))
    kept = data.available[(ref.actor, ref.measure)]
    if month not in kept:
        shown = f"{ref.month} (month {month})" if isinstance(ref.month, str) else str(month)
        listed = ", ".join(map(str, kept)) if len(kept) <= 12 else f"{kept[0]}..{kept[-1]}"
        raise ResultsError(f"month {shown} of '{ref.name}' is not in this {data.kind} (months: {listed})")
    return ref.actor, ref.measure, month
