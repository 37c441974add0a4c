"""Run and sweep folders read as one table: the inputs of each run, and its outcomes on demand.

Scenario discovery needs, for every run, the values of the uncertain inputs
and the outcome. The two kinds of folder hold them differently:

* a **sweep folder** (`balancesim sweep`): `design.csv` gives each design
  point's values, `chunks/*.parquet` one row per (point, replicate, month)
  with one column per kept outcome (`balance`, or `balance[kazakhstan]` for
  an actor's measure) and one per draw each run records (`shocks.ID.severity`,
  `shocks.ID.month`: the manifest's `identity.recorded`). A run is a (point,
  replicate) pair; its inputs are its point's values and its own draws. Only
  the outcomes and months the sweep kept are there.
* a **run folder** made with uncertainty (`balancesim run`):
  `params.parquet` gives each replicate's drawn values (`replicate` plus one
  column per scenario path), `series.parquet` every measure at every month in
  long form: `replicate, step, actor, measure, value`, or with the measure's
  name split into `partner, domain, measure` columns (joined back here as
  `measure.partner.domain`, the name `metrics.py` gives it).

`open_results` returns a `ResultsData` that lists what can be asked for (so
unknown names get a did-you-mean) and fetches one outcome at one month as a
vector aligned with the input rows.

Every file is read through `scenario.verified`: only the files the folder's
marker (or, for older folders, the manifest or `checksums.jsonl`) lists,
each checked against its sha256 and its Parquet page checksums, and the runs
found are counted against the manifest. Damage is `verified.DamagedFile`
(one line naming the file, exit status 1); a sweep's damaged chunk is
recomputed by resuming the sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from balancesim.analysis.expressions import Ref
from balancesim.scenario import verified
from balancesim.scenario.verified import DamagedFile

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
    listed = verified.listing(folder)
    design_file = folder / "design.csv"
    if not design_file.is_file():
        raise ResultsError(f"{folder}: no design.csv in the sweep folder")
    verified.check(design_file, (listed or {}).get("design.csv"))
    design = pd.read_csv(design_file)
    chunks = _chunk_files(folder, listed)
    if not chunks:
        raise ResultsError(f"{folder}: no chunk files in chunks/")

    def read_chunk(path: Path, expected: Any, columns: list[str] | None = None) -> Any:
        try:
            return verified.read_table(path, expected, columns)
        except DamagedFile as e:
            raise DamagedFile(path, f"{e.strerror}{_resume_hint(manifest)}") from None

    for path, expected in chunks:  # every chunk checked before any is parsed
        try:
            verified.check(path, expected)
        except DamagedFile as e:
            raise DamagedFile(path, f"{e.strerror}{_resume_hint(manifest)}") from None
    recorded = [str(p) for p in identity.get("recorded", [])]
    keep = ("point", "replicate", "month", *recorded)
    first = read_chunk(*chunks[0])
    names = [n for n in first.column_names if n not in keep]
    columns_read = [*keep, *names]
    tables = [first.select(columns_read)]
    tables += [read_chunk(path, expected, columns_read) for path, expected in chunks[1:]]
    import pyarrow as pa

    try:
        table = pa.concat_tables(tables).to_pandas()
    except pa.ArrowException as e:
        raise DamagedFile(chunks[0][0].parent, f"chunk files that do not fit together ({e})") from None
    table = table.sort_values(["point", "replicate", "month"], kind="stable").reset_index(drop=True)
    _check_sweep_counts(folder, manifest, table)
    months = tuple(int(m) for m in sorted(table["month"].unique()))
    first = table.loc[table["month"] == months[0]].reset_index(drop=True)
    keys = first[["point", "replicate"]]
    inputs = design.set_index("point").loc[keys["point"].to_numpy()].reset_index(drop=True)
    for recorded_path in recorded:  # each run's own draws (a shock's severity, a random shock's month)
        inputs[recorded_path] = first[recorded_path].to_numpy(dtype=float)
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


def _chunk_files(folder: Path, listed: dict[str, Any] | None) -> list[tuple[Path, Any]]:
    """The sweep's chunk files and their recorded checksums: those the folder lists, else every one.

    A file in chunks/ that the marker or `checksums.jsonl` does not list is
    not the sweep's and is not read; a listed one that is gone is damage.
    """
    listed_chunks = {name: entry for name, entry in (listed or {}).items() if name.startswith("chunks/")}
    if listed_chunks:
        return [(folder / name, entry) for name, entry in sorted(listed_chunks.items())]
    found = sorted(p for p in (folder / "chunks").glob("*.parquet") if not p.name.startswith("."))
    return [(p, None) for p in found]


def _resume_hint(manifest: dict[str, Any]) -> str:
    command = manifest.get("command")
    ok = isinstance(command, list) and all(isinstance(c, str) for c in command)
    shown = " ".join(command) if ok else ""  # type: ignore[arg-type]
    return f"; `{shown} --resume` recomputes it" if shown else "; resuming the sweep (--resume) recomputes it"


def _check_sweep_counts(folder: Path, manifest: dict[str, Any], table: pd.DataFrame) -> None:
    """DamagedFile unless the chunks hold every run of the manifest once, at every month it kept."""
    runs = manifest.get("runs")
    months = (manifest.get("identity") or {}).get("months")
    pairs = table[["point", "replicate"]].drop_duplicates()
    problems = []
    if isinstance(runs, int) and len(pairs) != runs:
        problems.append(f"{len(pairs)} runs, the manifest says {runs}")
    if isinstance(months, list) and len(table) != len(pairs) * len(months):
        problems.append(f"{len(table)} rows, {len(pairs)} runs x {len(months)} months expected")
    if table.duplicated(["point", "replicate", "month"]).any():
        problems.append("some runs appear twice")
    if problems:
        raise DamagedFile(
            folder / "chunks", f"damaged or incomplete: {'; '.join(problems)}{_resume_hint(manifest)}"
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
    listed = verified.listing(folder) or {}
    for name in ("series.parquet", "params.parquet"):  # every file checked before any is parsed
        verified.check(folder / name, listed.get(name))
    params = verified.read_table(params_file, listed.get("params.parquet")).to_pandas()
    params = params.sort_values("replicate", kind="stable").reset_index(drop=True)
    replicates_expected = manifest.get("replicates")
    if isinstance(replicates_expected, int) and (
        len(params) != replicates_expected or params["replicate"].nunique() != replicates_expected
    ):
        raise DamagedFile(
            params_file, f"damaged: {len(params)} rows, the manifest says {replicates_expected} runs"
        )
    keys = params[["replicate"]].copy()
    inputs = params.drop(columns=["replicate"])
    from balancesim.experiment.store import read_series

    try:  # any layout balancesim has written: packed names, or split with a `scenario` column
        series = read_series(folder)
    except ValueError as e:
        raise ResultsError(str(e)) from None
    baseline = None
    if "scenario" in series.columns:  # a run with a comparison holds both; explain the scenario's runs
        labels = series["scenario"].astype(str)
        baseline = _joined_names(series[labels == "baseline"])
        series = series[labels == "scenario"]
        baseline = baseline if len(baseline) else None
    series = _joined_names(series)
    if baseline is not None:
        # `effect.MEASURE`: the scenario minus its comparison, run by run (common random numbers)
        merged = series.merge(baseline, on=["replicate", "step", "actor", "measure"], suffixes=("", "_base"))
        effect = merged.assign(
            measure="effect." + merged["measure"].astype(str), value=merged["value"] - merged["value_base"]
        )
        series = pd.concat([series, effect[series.columns]], ignore_index=True)
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
    # The inverse of `metrics.measure_parts`, on whole columns at once.
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
