"""Parameter sweeps: run a scenario over a design of parameter values, in chunks, resumably.

A sweep varies numeric values of a scenario (a coefficient, an actor's
initial value, a shock's severity or month) over a *design*:

* `grid`: every combination of the values of each parameter
  (`start:stop:count` or a comma list), the first parameter varying slowest;
* `lhs`: a Latin hypercube of `samples` points over `low:high` ranges;
* `sobol`: SALib's Saltelli/Sobol' sample (`samples` base samples, N x (D + 2)
  points, first-order and total indices) over `low:high` ranges.

Each design point is the base scenario with a set of overrides (dotted PATH
-> value), validated like a scenario file, so a bad path or value gets the
loader's message, naming the PATH and the spec it came from.

Randomness: every design point runs the same replicate seeds (common random
numbers): replicate k of every point has seed `engine.replicate_seeds(seed,
k + 1)[k]`. Differences between points are therefore the parameters' effect,
not noise, and no number depends on the executor, the chunk size, the worker
count or the order in which chunks finish.

Execution: the work is cut into chunks (one design point, a range of
replicates; one engine call each, sized to take a fraction of a second), run
by an executor (`executors.py`), and each finished chunk is written as its
own Parquet file, atomically (temporary name, fsync, rename). The manifest is
written first and records the design, the resolved base scenario, the seeds
and the chunking; `resume=True` checks the folder's manifest matches and skips
the chunks already on disk. Killing the process at any moment loses at most
the chunks in flight: a file without a leading dot is always complete, and
`manifest.json` says `"status": "complete"` only once the summary is written.

Outputs (see docs/sweeps.md): `chunks/*.parquet` (every run's headline
outcomes at the chosen months), `design.csv`, `summary.csv` and
`summary.parquet` (per design point: mean, median, 5% and 95% of each
headline outcome at each chosen month), `sobol.csv` for Sobol designs, and
plots (response curves, heatmaps, Sobol indices).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import engine, metrics
from .scenario import Scenario, did_you_mean, reference_problems
from .scenario_files import ScenarioError, load_scenario, split_path
from .state import Setup, build_setup
from .store import ManifestError, read_manifest, write_atomic, write_json, write_table

DESIGNS = ("grid", "lhs", "sobol")
FORMAT = 1  # of the manifest and chunk files
MAX_POINTS = 1_000_000
MAX_GRID_COUNT = 100_000
FULL_CHECK_POINTS = 5_000  # designs up to this size are validated point by point up front
QUANTILES = (0.05, 0.5, 0.95)
# Whole-number settings a sweep may not vary: they fix the shape of the output or the seeds.
FIXED = {
    "seed": "the seed is the sweep's own (--seed); every point uses the same replicate seeds",
    "replicates": "the replicate count is the sweep's own (--replicates)",
    "horizon": "every point must report the same months",
    "outputs": "the reported months are the sweep's own (--months)",
    "sweep": "the sweep section describes the sweep itself",
}
SECTION_KEYS = (
    "params",
    "design",
    "samples",
    "replicates",
    "months",
    "chunk_size",
    "executor",
    "workers",
    "scheduler",
    "out",
)


class SweepError(ValueError):
    """Invalid sweep input (spec, path, design, folder): the message says what and where."""


# ----------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class ParamSpec:
    """One swept value: its PATH and what to vary it over.

    `kind` is "grid" (`start:stop:count`), "list" (comma list or a single
    value) or "range" (`low:high`, for lhs and sobol). `origin` says where the
    spec was written (`--param` or `<file>: sweep.params`), for messages.
    """

    path: str
    text: str
    kind: str
    values: tuple[float, ...] = ()
    low: float | None = None
    high: float | None = None
    origin: str = "--param"

    @property
    def label(self) -> str:
        """How messages name this spec, e.g. `--param parameters.lock_in=1:5:9`."""
        return f"{self.origin} {self.path}={self.text}"

    def as_dict(self) -> dict[str, Any]:
        """The spec as JSON data, for the manifest."""
        out: dict[str, Any] = {"path": self.path, "spec": self.text, "kind": self.kind}
        if self.kind == "range":
            out |= {"low": self.low, "high": self.high}
        else:
            out["values"] = list(self.values)
        return out


def _tidy(x: float) -> float:
    """A grid value as people write it: 1.2, not 1.2000000000000002."""
    return float(f"{x:.12g}")


def _number(text: str, path: str, spec: str, origin: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SweepError(f"{origin} {path}={spec}: '{text.strip()}' is not a number") from None
    if not math.isfinite(value):
        raise SweepError(f"{origin} {path}={spec}: NaN/infinity is not allowed")
    return value


def parse_spec(path: str, spec: Any, origin: str = "--param") -> ParamSpec:
    """Parse one SPEC: `start:stop:count` (grid), `a,b,c` or one number (list), `low:high` (range).

    From a scenario file a SPEC may also be a number, a list of numbers or a
    mapping `{low, high}`. Raises `SweepError` naming the PATH and the spec.
    """
    path = str(path).strip()
    if not path:
        raise SweepError(f"{origin}: empty PATH in '{path}={spec}' (expected PATH=SPEC)")
    if isinstance(spec, bool) or spec is None:
        raise SweepError(
            f"{origin} {path}: expected start:stop:count, a comma list or low:high, got {spec!r}"
        )
    if isinstance(spec, int | float):
        text = _format(float(spec))
        return ParamSpec(path, text, "list", (_number(text, path, text, origin),), origin=origin)
    if isinstance(spec, list | tuple):
        if not spec or any(isinstance(v, bool) or not isinstance(v, int | float) for v in spec):
            raise SweepError(f"{origin} {path}: a list of values must hold numbers only, got {spec!r}")
        spec = ",".join(_format(float(v)) for v in spec)
    elif isinstance(spec, dict):
        if set(spec) != {"low", "high"}:
            raise SweepError(f"{origin} {path}: a range mapping needs exactly 'low' and 'high', got {spec!r}")
        spec = f"{spec['low']}:{spec['high']}"
    if not isinstance(spec, str):
        raise SweepError(f"{origin} {path}: expected start:stop:count, a comma list or low:high")
    text = spec.strip()
    if not text:
        raise SweepError(
            f"{origin} {path}=: empty SPEC (expected start:stop:count, a comma list or low:high)"
        )
    if "," in text and ":" in text:
        raise SweepError(
            f"{origin} {path}={text}: mix of ',' and ':' (expected start:stop:count, a,b,c or low:high)"
        )
    if "," in text:
        values = tuple(_number(t, path, text, origin) for t in text.split(","))
        if len(set(values)) != len(values):
            raise SweepError(f"{origin} {path}={text}: a value is listed twice")
        return ParamSpec(path, text, "list", values, origin=origin)
    parts = text.split(":")
    if len(parts) == 1:
        return ParamSpec(path, text, "list", (_number(text, path, text, origin),), origin=origin)
    if len(parts) == 2:
        low, high = (_number(t, path, text, origin) for t in parts)
        if not low < high:
            raise SweepError(f"{origin} {path}={text}: a range low:high needs low < high")
        return ParamSpec(path, text, "range", low=low, high=high, origin=origin)
    if len(parts) == 3:
        start, stop = (_number(t, path, text, origin) for t in parts[:2])
        if not re.fullmatch(r"\s*\d+\s*", parts[2]):
            raise SweepError(f"{origin} {path}={text}: the count '{parts[2].strip()}' is not a whole number")
        count = int(parts[2])
        if not 1 <= count <= MAX_GRID_COUNT:
            raise SweepError(f"{origin} {path}={text}: the count must lie in 1..{MAX_GRID_COUNT}")
        if count == 1 and start != stop:
            raise SweepError(f"{origin} {path}={text}: a count of 1 needs start = stop (or give one value)")
        if count > 1 and start == stop:
            raise SweepError(f"{origin} {path}={text}: start = stop gives the same value {count} times")
        values = tuple(_tidy(v) for v in np.linspace(start, stop, count))
        return ParamSpec(path, text, "grid", values, origin=origin)
    raise SweepError(f"{origin} {path}={text}: expected start:stop:count, a comma list or low:high")


def _format(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def parse_param(item: str) -> ParamSpec:
    """`"parameters.lock_in=1:5:9"` (a `--param` option) -> ParamSpec."""
    path, sep, spec = item.partition("=")
    if not sep or not path.strip():
        raise SweepError(f"--param '{item}': expected PATH=SPEC, e.g. parameters.hedging_tension=0:4:11")
    return parse_spec(path.strip(), spec)


# ----------------------------------------------------------------------- options


@dataclass(frozen=True)
class SweepOptions:
    """What the user asked for; None means "not given" (a default or the file's value applies)."""

    params: tuple[ParamSpec, ...] = ()
    design: str | None = None
    samples: int | None = None
    replicates: int | None = None
    months: tuple[int, ...] | None = None
    chunk_size: int | None = None
    executor: str | None = None
    workers: int | None = None
    scheduler: str | None = None
    out: str | None = None

    def over(self, base: SweepOptions) -> SweepOptions:
        """These options where given, `base`'s elsewhere; `params`, if any, replace base's."""
        merged = {
            name: getattr(self, name) if getattr(self, name) not in (None, ()) else getattr(base, name)
            for name in self.__dataclass_fields__
        }
        return SweepOptions(**merged)


def section_options(section: dict[str, Any] | None, file: str) -> SweepOptions:
    """The `sweep:` section of a scenario file, checked, as SweepOptions."""
    if not section:
        return SweepOptions()
    where = f"{file}: sweep"
    if not isinstance(section, dict):
        raise SweepError(f"{where}: expected a mapping")
    for key in section:
        if key not in SECTION_KEYS:
            raise SweepError(
                f"{where}.{key}: unknown key '{key}' ({did_you_mean(str(key), list(SECTION_KEYS))})"
            )

    def whole(key: str, low: int) -> int | None:
        v = section.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise SweepError(f"{where}.{key}: expected a whole number, got {v!r}")
        if v < low:
            raise SweepError(f"{where}.{key}: {v} is below the minimum {low}")
        return v

    def text(key: str, choices: Sequence[str] | None = None) -> str | None:
        v = section.get(key)
        if v is None:
            return None
        if not isinstance(v, str):
            raise SweepError(f"{where}.{key}: expected text, got {v!r}")
        if choices is not None and v not in choices:
            raise SweepError(
                f"{where}.{key}: '{v}' is not one of {', '.join(choices)} ({did_you_mean(v, list(choices))})"
            )
        return v

    params_raw = section.get("params") or {}
    if not isinstance(params_raw, dict):
        raise SweepError(f"{where}.params: expected a mapping of PATH: SPEC")
    params = tuple(parse_spec(p, s, origin=f"{where}.params:") for p, s in params_raw.items())
    months = section.get("months")
    if months is not None:
        if not isinstance(months, list) or any(isinstance(m, bool) or not isinstance(m, int) for m in months):
            raise SweepError(f"{where}.months: expected a list of whole numbers, got {months!r}")
        months = tuple(months)
    from .executors import EXECUTORS

    return SweepOptions(
        params=params,
        design=text("design", DESIGNS),
        samples=whole("samples", 1),
        replicates=whole("replicates", 1),
        months=months,
        chunk_size=whole("chunk_size", 1),
        executor=text("executor", EXECUTORS),
        workers=whole("workers", 1),
        scheduler=text("scheduler"),
        out=text("out"),
    )


def parse_months(text: str) -> tuple[int, ...]:
    """`"30,60"` -> (30, 60) (the `--months` option)."""
    try:
        months = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise SweepError(f"--months {text}: expected whole numbers separated by commas, e.g. 30,60") from None
    return months


# ------------------------------------------------------------ paths in the scenario


def _list_index(items: list[Any], part: str | int) -> int | None:
    if isinstance(part, int):
        return part if 0 <= part < len(items) else None
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("id") == part:
            return i
    return None


def _lookup(data: Any, parts: list[str | int]) -> tuple[bool, Any]:
    """(found, value) of a path in plain scenario data."""
    node = data
    for part in parts:
        if isinstance(node, list):
            index = _list_index(node, part)
            if index is None:
                return False, None
            node = node[index]
        elif isinstance(node, dict) and str(part) in node:
            node = node[str(part)]
        else:
            return False, None
    return True, node


def _assign(data: dict[str, Any], parts: list[str | int], value: Any) -> None:
    """Set a path in plain scenario data, creating missing mappings (as the file loader does)."""
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            index = _list_index(node, part)
            if index is None:  # checked up front; the loader reports it precisely
                raise KeyError(part)
            key: str | int = index
        else:
            key = str(part)
        if last:
            node[key] = value
        else:
            if isinstance(node, dict) and not isinstance(node.get(key), dict | list):
                node[key] = {}
            node = node[key]


def _loader_message(scenario_file: str, overrides: dict[str, Any]) -> str | None:
    """What the scenario loader says about these overrides (None if it accepts them)."""
    try:
        load_scenario(scenario_file, overrides)
    except ScenarioError as e:
        return "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in e.problems)
    return None


def check_paths(
    params: Sequence[ParamSpec], base: Scenario, scenario_file: str, base_overrides: dict[str, Any]
) -> frozenset[str]:
    """Check that every PATH addresses a numeric value; returns the paths that hold whole numbers.

    A PATH must lead to a number of the resolved scenario (defaults filled in),
    or to a place where the schema accepts one (a shock's `severity` range may
    be replaced by one severity; a missing engagement entry may be added).
    """
    data = base.model_dump(mode="json")
    integer = set()
    seen: set[str] = set()
    for spec in params:
        if spec.path in seen:
            raise SweepError(f"{spec.label}: {spec.path} is swept twice")
        seen.add(spec.path)
        parts = split_path(spec.path)
        if parts is None:
            raise SweepError(f"{spec.label}: not a valid PATH (names or ids joined by '.')")
        if str(parts[0]) in FIXED:
            raise SweepError(f"{spec.label}: '{parts[0]}' cannot be swept: {FIXED[str(parts[0])]}")
        found, value = _lookup(data, parts)
        if found and (isinstance(value, bool | str | list) or value is None):
            shown = (
                f"'{value}'"
                if isinstance(value, str)
                else ("a list" if isinstance(value, list) else repr(value))
            )
            raise SweepError(f"{spec.label}: {spec.path} holds {shown}, not a number; a sweep varies numbers")
        if found and isinstance(value, int):
            integer.add(spec.path)
        if not found or isinstance(value, dict):
            # Let the scenario loader say what is wrong with the path, if anything.
            first = spec.values[0] if spec.values else spec.low
            message = _loader_message(scenario_file, {**base_overrides, spec.path: first})
            if message is not None:
                raise SweepError(f"{spec.label}: {message}")
    return frozenset(integer)


# ----------------------------------------------------------------------------- design


@dataclass(frozen=True)
class Design:
    """The design points: `points[p, d]` is parameter d's value at point p."""

    kind: str
    params: tuple[ParamSpec, ...]
    points: np.ndarray  # (P, D) float64
    samples: int | None = None
    seed: int = 0
    integer: frozenset[str] = frozenset()

    @property
    def paths(self) -> list[str]:
        """The swept PATHs, in column order."""
        return [p.path for p in self.params]

    def __len__(self) -> int:
        return len(self.points)

    def overrides(self, point: int) -> dict[str, float | int]:
        """The scenario overrides (PATH -> value) of one design point."""
        return {
            path: (int(v) if path in self.integer else float(v))
            for path, v in zip(self.paths, self.points[point], strict=True)
        }

    def problem(self) -> dict[str, Any]:
        """SALib's problem definition (lhs and sobol designs)."""
        return {
            "num_vars": len(self.params),
            "names": self.paths,
            "bounds": [[p.low, p.high] for p in self.params],
        }

    def as_dict(self) -> dict[str, Any]:
        """The design as JSON data, every point included, for the manifest."""
        return {
            "kind": self.kind,
            "samples": self.samples,
            "sample_seed": self.seed if self.kind != "grid" else None,
            "params": [p.as_dict() for p in self.params],
            "integer_paths": sorted(self.integer),
            "points": self.points.tolist(),
        }


def make_design(
    kind: str,
    params: Sequence[ParamSpec],
    samples: int | None = None,
    seed: int = 0,
    integer: Iterable[str] = (),
) -> Design:
    """Build the design points; raises SweepError if a spec does not suit the design.

    Grid: the Cartesian product (first parameter slowest). lhs: SALib's Latin
    hypercube. sobol: SALib's Sobol' sample without second-order terms
    (N x (D + 2) points) in exactly the sampler's order, since the analysis
    depends on it. Paths holding whole numbers (a shock's month) get whole
    values: grid values must be whole; lhs and sobol values are rounded.
    """
    integer = frozenset(integer)
    params = tuple(params)
    if kind not in DESIGNS:
        raise SweepError(
            f"--design {kind}: not one of {', '.join(DESIGNS)} ({did_you_mean(kind, list(DESIGNS))})"
        )
    if not params:
        raise SweepError(
            "nothing to sweep: give --param PATH=SPEC (or a sweep: params: section in the scenario)"
        )
    if kind == "grid":
        if samples is not None:
            raise SweepError(
                f"--samples {samples}: applies to lhs and sobol designs; a grid's size comes from its specs"
            )
        for p in params:
            if p.kind == "range":
                raise SweepError(
                    f"{p.label}: a range low:high needs --design lhs or sobol; "
                    "a grid takes start:stop:count or a comma list"
                )
            if p.path in integer:
                bad = [v for v in p.values if not float(v).is_integer()]
                if bad:
                    raise SweepError(f"{p.label}: {p.path} takes whole numbers, got {_format(bad[0])}")
        size = math.prod(len(p.values) for p in params)
        if size > MAX_POINTS:
            raise SweepError(f"the grid has {size:,} points, more than the maximum {MAX_POINTS:,}")
        points = np.array(list(itertools.product(*(p.values for p in params))), dtype=float).reshape(size, -1)
        return Design(kind, params, points, None, seed, integer)
    for p in params:
        if p.kind != "range":
            raise SweepError(f"{p.label}: --design {kind} samples each parameter from a range low:high")
    if samples is None:
        raise SweepError(f"--design {kind} needs --samples N")
    if samples < 1:
        raise SweepError(f"--samples {samples}: must be at least 1")
    problem = {
        "num_vars": len(params),
        "names": [p.path for p in params],
        "bounds": [[p.low, p.high] for p in params],
    }
    if kind == "lhs":
        from SALib.sample import latin

        if samples > MAX_POINTS:
            raise SweepError(f"--samples {samples}: more than the maximum {MAX_POINTS:,} points")
        points = latin.sample(problem, samples, seed=seed)
    else:
        from SALib.sample import sobol

        if samples < 2 or samples & (samples - 1):
            raise SweepError(
                f"--samples {samples}: a Sobol design needs a power of 2 (e.g. 64, 256, 1024); "
                "Sobol' sequences lose their balance otherwise"
            )
        if samples * (len(params) + 2) > MAX_POINTS:
            raise SweepError(
                f"--samples {samples}: {samples * (len(params) + 2):,} points, more than {MAX_POINTS:,}"
            )
        points = sobol.sample(problem, samples, calc_second_order=False, seed=seed)
    points = np.asarray(points, dtype=float)
    for d, p in enumerate(params):
        if p.path in integer:
            points[:, d] = np.rint(points[:, d])
    return Design(kind, params, points, samples, seed, integer)


# ------------------------------------------------------------- scenarios of points


def point_scenario(base: dict[str, Any] | str, overrides: dict[str, Any]) -> Scenario:
    """The base scenario (plain data or its JSON text) with a design point's overrides, validated.

    Validation is the scenario loader's (strict JSON mode, then the cross
    references), without re-reading the file (~0.3 ms); raises ValueError
    (pydantic's ValidationError is one) when the result is invalid.
    """
    data = json.loads(base) if isinstance(base, str) else copy.deepcopy(base)
    for path, value in overrides.items():
        parts = split_path(path)
        if parts is None:
            raise ValueError(f"{path}: not a valid PATH")
        _assign(data, parts, value)
    scenario = Scenario.model_validate_json(
        json.dumps(data, allow_nan=False), strict=True, context={"defer_references": True}
    )
    problems = reference_problems(scenario)
    if problems:
        raise ValueError("; ".join(message for _, message in problems))
    return scenario


def validate_design(
    design: Design, base: Scenario, scenario_file: str, base_overrides: dict[str, Any]
) -> None:
    """Check every value, then every design point, against the schema; SweepError if any fails.

    Values are checked one parameter at a time first (every grid value; a
    range's extremes), so an out-of-range value is blamed on the spec it came
    from. Then the points themselves
    (combinations can fail where single values pass, e.g. a tool mix that no
    longer sums to 1): all of them for designs up to FULL_CHECK_POINTS
    points; beyond that, a point that fails stops the sweep when it is run.
    """
    data = json.dumps(base.model_dump(mode="json"))
    for d, spec in enumerate(design.params):
        column = design.points[:, d]
        values = np.unique(column) if spec.kind != "range" else np.array([column.min(), column.max()])
        for v in values:
            value = int(v) if spec.path in design.integer else float(v)
            try:
                point_scenario(data, {spec.path: value})
            except ValueError:
                message = _loader_message(scenario_file, {**base_overrides, spec.path: value})
                raise SweepError(f"{spec.label}: value {_format(float(v))}: {message}") from None
    if len(design) > FULL_CHECK_POINTS:
        return
    for p in range(len(design)):
        overrides = design.overrides(p)
        try:
            point_scenario(data, overrides)
        except ValueError:
            message = _loader_message(scenario_file, {**base_overrides, **overrides})
            shown = ", ".join(f"{k}={_format(float(v))}" for k, v in overrides.items())
            raise SweepError(f"design point {p} ({shown}): {message}") from None


# ------------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Chunk:
    """One task: replicates first..first+count-1 of design point `point`."""

    point: int
    first: int
    count: int

    @property
    def name(self) -> str:
        """The chunk's file name: deterministic, so a resumed sweep finds it."""
        return f"p{self.point}-r{self.first}.parquet"


@dataclass(frozen=True)
class SweepPlan:
    """Everything that determines a sweep's numbers (and nothing that does not)."""

    scenario_file: str
    base: Scenario  # resolved, with the sweep's seed and replicates, no sweep section
    design: Design
    seed: int
    replicates: int
    months: tuple[int, ...]
    measures: tuple[str, ...]
    chunk_size: int
    column_index: tuple[int, ...]
    base_overrides: dict[str, Any] = field(default_factory=dict)
    options: SweepOptions = field(default_factory=lambda: SweepOptions())  # merged; not identity

    @property
    def runs(self) -> int:
        """Runs in the whole sweep: design points x replicates."""
        return len(self.design) * self.replicates

    def chunks(self) -> list[Chunk]:
        """Every chunk, point by point, in replicate order."""
        per_point = list(engine.chunks(self.replicates, self.chunk_size))
        return [Chunk(p, first, count) for p in range(len(self.design)) for first, count in per_point]

    def chunks_of(self, point: int) -> list[Chunk]:
        """The chunks of one design point, in replicate order."""
        return [
            Chunk(point, first, count) for first, count in engine.chunks(self.replicates, self.chunk_size)
        ]

    def identity(self) -> dict[str, Any]:
        """What a resumed sweep must share with the folder's manifest (JSON data)."""
        return self._identity

    @cached_property
    def _identity(self) -> dict[str, Any]:
        return json.loads(
            json.dumps(
                {
                    "format": FORMAT,
                    "scenario": self.base.model_dump(mode="json"),
                    "design": self.design.as_dict(),
                    "seed": self.seed,
                    "replicates": self.replicates,
                    "replicate_seeds": "numpy.random.SeedSequence(seed).generate_state(replicates, uint64), "
                    "the same for every design point",
                    "months": list(self.months),
                    "measures": [f"{metrics.REGION}.{m}" for m in self.measures],
                    "chunk_size": self.chunk_size,
                }
            )
        )

    def key(self) -> str:
        """A hash of the identity, stamped into every chunk file."""
        return self._key

    @cached_property
    def _key(self) -> str:
        text = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def resuming(self, folder: str | Path) -> SweepPlan:
        """This plan, with the chunk size of the sweep in `folder` if the user chose none.

        So `--resume` works without repeating `--chunk-size`; an explicit,
        different chunk size is still refused by `check_folder`.
        """
        manifest = Path(folder) / "manifest.json"
        if self.options.chunk_size is not None or not manifest.exists():
            return self
        try:
            size = json.loads(manifest.read_text())["identity"]["chunk_size"]
        except (OSError, ValueError, KeyError, TypeError):
            return self
        if isinstance(size, int) and size >= 1 and size != self.chunk_size:
            return replace(self, chunk_size=size)
        return self


def default_chunk_size(setup: Setup) -> int:
    """Replicates per chunk: about 0.1-0.5 s of engine time, bounded memory.

    The engine's cost per replicate grows with the horizon and the number of
    actors; 60 months and a dozen actors run ~1,000 replicates in ~0.2 s.
    """
    work = setup.horizon * (setup.n_regional * setup.n_partners + 1)
    return int(min(5000, max(10, round(60 * 1000 * 31 / work))))


def plan_sweep(
    scenario_file: str | Path,
    options: SweepOptions,
    overrides: dict[str, Any] | None = None,
    seed: int | None = None,
) -> SweepPlan:
    """Load the scenario, merge its `sweep:` section under `options`, and check everything.

    `overrides` are `--set` values applied to the base scenario. Raises
    ScenarioError for a bad scenario file and SweepError for a bad sweep.
    """
    file = str(scenario_file)
    base_overrides = dict(overrides or {})
    base = load_scenario(file, base_overrides)
    options = options.over(section_options(base.sweep, file))
    replicates = options.replicates if options.replicates is not None else base.replicates
    run_seed = base.seed if seed is None else seed
    if seed is not None:
        base_overrides["seed"] = seed
    base = base.model_copy(update={"sweep": None, "seed": run_seed, "replicates": replicates})
    horizon = base.horizon
    if options.months is not None:
        bad = [m for m in options.months if not 0 <= m <= horizon]
        if bad:
            raise SweepError(f"--months: {bad[0]} is outside 0..{horizon} (the scenario's horizon months)")
        months = tuple(sorted(set(options.months)))
    else:
        months = tuple(sorted({m for m in [*base.outputs.months, horizon] if 0 < m <= horizon}))
    integer = check_paths(options.params, base, file, base_overrides)
    design = make_design(options.design or "grid", options.params, options.samples, run_seed, integer)
    validate_design(design, base, file, base_overrides)
    setup = build_setup(base)
    columns = metrics.columns(setup)
    measures = tuple(metrics.HEADLINE)
    column_index = tuple(columns.index(metrics.REGION, m) for m in measures)
    return SweepPlan(
        scenario_file=file,
        base=base,
        design=design,
        seed=run_seed,
        replicates=replicates,
        months=months,
        measures=measures,
        chunk_size=options.chunk_size or default_chunk_size(setup),
        column_index=column_index,
        base_overrides=base_overrides,
        options=options,
    )


# ------------------------------------------------------------------ the worker side


@dataclass(frozen=True)
class Job:
    """What every chunk of a sweep shares; shipped once to each worker."""

    key: str
    base_json: str
    seed: int
    months: tuple[int, ...]
    column_index: tuple[int, ...]


@dataclass(frozen=True)
class Task:
    """One chunk and its design point's overrides (so workers need not hold the design)."""

    chunk: Chunk
    overrides: tuple[tuple[str, float | int], ...]


_SETUPS: dict[tuple[str, tuple], Setup] = {}


def run_chunk(job: Job, task: Task) -> np.ndarray:
    """Run one chunk: (months, count, measures) headline outcomes. Runs in a worker.

    Seeds come from the job's run seed and the chunk's replicate range, so the
    numbers depend on nothing else. The design point's Setup is cached: a
    worker usually runs several chunks of the same point in a row.
    """
    from .executors import relax_malloc_trimming

    relax_malloc_trimming()
    cache_key = (job.key, task.overrides)
    setup = _SETUPS.get(cache_key)
    if setup is None:
        try:
            scenario = point_scenario(job.base_json, dict(task.overrides))
        except ValueError as e:  # only in designs too large to check every point up front
            shown = ", ".join(f"{k}={v}" for k, v in task.overrides)
            raise SweepError(
                f"design point {task.chunk.point} ({shown}) is not a valid scenario: {e}"
            ) from None
        setup = build_setup(scenario)
        if len(_SETUPS) >= 8:
            _SETUPS.pop(next(iter(_SETUPS)))
        _SETUPS[cache_key] = setup
    seeds = engine.replicate_seeds(job.seed, task.chunk.count, task.chunk.first)
    return engine.run_replicates(setup, seeds, job.months, np.asarray(job.column_index))


# --------------------------------------------------------------------- files on disk


def chunk_table(plan: SweepPlan, chunk: Chunk, data: np.ndarray) -> pa.Table:
    """A chunk's results as a table: one row per (replicate, month), one column per measure."""
    T, R, C = data.shape
    columns: dict[str, Any] = {
        "point": np.full(R * T, chunk.point, dtype=np.int32),
        "replicate": np.repeat(np.arange(chunk.first, chunk.first + R, dtype=np.int32), T),
        "month": np.tile(np.asarray(plan.months, dtype=np.int16), R),
    }
    flat = data.transpose(1, 0, 2).reshape(R * T, C)
    for c, name in enumerate(plan.measures):
        columns[name] = flat[:, c]
    return pa.table(columns)


def read_point(folder: Path, plan: SweepPlan, point: int) -> np.ndarray:
    """(months, replicates, measures) of one design point, from its chunk files."""
    parts = []
    for chunk in plan.chunks_of(point):
        table = pq.read_table(folder / "chunks" / chunk.name, columns=list(plan.measures))
        flat = np.column_stack([table.column(m).to_numpy() for m in plan.measures])
        parts.append(flat.reshape(chunk.count, len(plan.months), len(plan.measures)))
    return np.concatenate(parts, axis=0).transpose(1, 0, 2)


def _chunk_ok(path: Path, key: str, rows: int) -> bool:
    try:
        meta = pq.read_metadata(path)
    except (OSError, pa.ArrowException):
        return False
    stamp = (meta.metadata or {}).get(b"balancesim_sweep", b"").decode()
    return stamp == key and meta.num_rows == rows


# ---------------------------------------------------------------------- the folder


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out += _differences(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
        return out
    if a != b:
        if isinstance(a, list | dict) or isinstance(b, list | dict):
            return [path or "(all)"]
        return [f"{path}: {a!r} in the folder, {b!r} now"]
    return []


def check_folder(folder: Path, plan: SweepPlan, resume: bool) -> tuple[set[str], list[Path]]:
    """Check the sweep folder without changing it: (finished chunk names, stale files).

    A fresh sweep needs a folder that is new or empty. With `resume`, a folder
    holding a sweep must hold *this* sweep (same identity); its chunk files
    stamped with this sweep's key and holding the right number of rows are
    finished. Stale files are hidden temporaries (from a killed write) and
    chunk files that fail that check.
    """
    manifest = folder / "manifest.json"
    stale: list[Path] = []
    if folder.exists():
        if not folder.is_dir():
            raise SweepError(f"--out {folder}: exists and is not a folder")
        stale += [*folder.glob(".*.tmp"), *folder.glob("chunks/.*.tmp")]
    if manifest.exists():
        if not resume:
            raise SweepError(
                f"{folder} already holds a sweep (manifest.json): add --resume to continue it, "
                "or choose another --out"
            )
        try:
            old = read_manifest(manifest)
        except ManifestError as e:
            raise SweepError(str(e)) from None
        differ = _differences(old.get("identity"), plan.identity())
        if differ:
            shown = "; ".join(differ[:5]) + ("; ..." if len(differ) > 5 else "")
            raise SweepError(
                f"cannot resume {folder}: this sweep differs from the one it holds ({shown}); "
                "choose another --out for a new sweep"
            )
        done: set[str] = set()
        key = plan.key()
        for chunk in plan.chunks():
            path = folder / "chunks" / chunk.name
            if path.exists():
                if _chunk_ok(path, key, chunk.count * len(plan.months)):
                    done.add(chunk.name)
                else:
                    stale.append(path)
        return done, stale
    if folder.exists():
        visible = [p for p in folder.iterdir() if not p.name.startswith(".")]
        chunk_dir = folder / "chunks"
        if chunk_dir.is_dir() and not any(not p.name.startswith(".") for p in chunk_dir.iterdir()):
            visible.remove(chunk_dir)
        if visible:
            raise SweepError(
                f"--out {folder}: the folder exists and is not a sweep folder (no manifest.json); "
                "choose another --out"
            )
    return set(), stale


def _manifest(plan: SweepPlan, status: str, extra: dict[str, Any]) -> dict[str, Any]:
    from .store import versions

    return {
        "balancesim_sweep": FORMAT,
        "status": status,
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        "scenario_file": plan.scenario_file,
        "base_overrides": plan.base_overrides,
        "key": plan.key(),
        "identity": plan.identity(),
        "design_points": len(plan.design),
        "runs": plan.runs,
        "chunks": len(plan.chunks()),
        "chunk_files": "chunks/p<point>-r<first replicate>.parquet: "
        "point, replicate, month, one column per measure",
        "versions": versions(),
        **extra,
    }


# ---------------------------------------------------------------------------- running


@dataclass
class SweepOutcome:
    """What `run_sweep` did and where it put it."""

    folder: Path
    plan: SweepPlan
    summary: pd.DataFrame
    sobol: pd.DataFrame | None
    files: list[Path]
    chunks_run: int
    chunks_skipped: int
    timings: dict[str, float]


Progress = Callable[[int, int], None]  # (runs just finished, design points complete)


def run_sweep(
    plan: SweepPlan,
    folder: str | Path,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    plots: bool = True,
    command: list[str] | None = None,
    on_start: Callable[[int, int, str], None] | None = None,
) -> SweepOutcome:
    """Run (or resume) a sweep into `folder` and write its summary, design and plots.

    `progress(runs, points_complete)` is called after each chunk is written;
    `on_start(pending_runs, points_complete, executor_description)` once the
    executor is up. Results are identical whatever the executor, the worker
    count, the chunk size or the order of completion.
    """
    from .executors import make_runner

    folder = Path(folder)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if resume:
        plan = plan.resuming(folder)
    done, stale = check_folder(folder, plan, resume)
    chunks = plan.chunks()
    pending = [c for c in chunks if c.name not in done]
    remaining = {p: len(plan.chunks_of(p)) for p in range(len(plan.design))}
    for c in chunks:
        if c.name in done:
            remaining[c.point] -= 1
    complete = sum(1 for r in remaining.values() if r == 0)
    key = plan.key()
    job = Job(key, json.dumps(plan.base.model_dump(mode="json")), plan.seed, plan.months, plan.column_index)
    tasks = (Task(c, tuple(plan.design.overrides(c.point).items())) for c in pending)
    timings["prepare_s"] = time.perf_counter() - started
    started = time.perf_counter()
    # Start the executor before writing anything: if it is unavailable, the folder stays as it was.
    runner = make_runner(executor, workers, scheduler) if pending else None
    timings["executor_start_s"] = time.perf_counter() - started
    extra = {"command": command, "executor": executor, "workers": workers, "scheduler": scheduler}
    try:
        (folder / "chunks").mkdir(parents=True, exist_ok=True)
        for path in stale:
            path.unlink(missing_ok=True)
        write_json(folder / "manifest.json", _manifest(plan, "running", extra))
    except BaseException:
        if runner is not None:
            runner.close()
        raise
    started = time.perf_counter()
    if runner is not None:
        try:
            if on_start is not None:
                on_start(sum(c.count for c in pending), complete, runner.description)
            for task, data in runner.map_unordered(run_chunk, job, tasks):
                chunk = task.chunk
                write_table(
                    folder / "chunks" / chunk.name, chunk_table(plan, chunk, data), {"balancesim_sweep": key}
                )
                remaining[chunk.point] -= 1
                if remaining[chunk.point] == 0:
                    complete += 1
                if progress is not None:
                    progress(chunk.count, complete)
        finally:
            runner.close()
    timings["simulate_s"] = time.perf_counter() - started
    started = time.perf_counter()
    summary = summarise(folder, plan)
    sobol = sobol_indices(summary, plan) if plan.design.kind == "sobol" else None
    files = write_outputs(folder, plan, summary, sobol, plots)
    timings["summarise_s"] = time.perf_counter() - started
    write_json(
        folder / "manifest.json",
        _manifest(
            plan,
            "complete",
            {
                **extra,
                "chunks_run": len(pending),
                "chunks_skipped": len(chunks) - len(pending),
                "timings_s": {k: round(v, 4) for k, v in timings.items()},
                "outputs": [str(p.relative_to(folder)) for p in files],
            },
        ),
    )
    return SweepOutcome(
        folder, plan, summary, sobol, files, len(pending), len(chunks) - len(pending), timings
    )


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
    from .experiment import calendar_month

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


def _labels(plan: SweepPlan) -> dict[str, str]:
    from .plots import LABELS, literal

    names = {a.id: literal(a.name) for a in plan.base.actors}  # never mathtext
    a, b = plan.base.balance_pair
    third = (
        ", ".join(literal(p.name) for p in plan.base.partners if p.kind == "third_party") or "third parties"
    )
    return {
        m: LABELS[m][0].format(a=names[a], b=names[b], third=third) if m in LABELS else m
        for m in plan.measures
    }


def sweep_figures(plan: SweepPlan, summary: pd.DataFrame, sobol: pd.DataFrame | None) -> dict[str, Any]:
    """The sweep's figures: a response curve (one parameter), heatmaps (a grid of two), Sobol bars.

    All at the last chosen month. Designs of other shapes get no figure but
    the table (which plots easily with pandas).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .experiment import calendar_month

    figures: dict[str, Any] = {}
    month = plan.months[-1]
    when = f"month {month} ({calendar_month(plan.base.start, month)})"
    labels = _labels(plan)
    last = summary[summary["month"] == month]
    paths = plan.design.paths
    n = len(plan.measures)
    cols = 3
    rows = math.ceil(n / cols)
    from .plots import literal
    from .wording import plural

    subtitle = (
        f"{literal(plan.base.name)}: {plural(plan.replicates, 'run')} per point, seed {plan.seed}, {when}"
    )
    if sobol is not None:
        fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
        part = sobol[sobol["month"] == month]
        x = np.arange(len(paths))
        for ax, measure in zip(axes.flat, plan.measures, strict=False):
            s = part[part["measure"] == measure].set_index("parameter").reindex(paths)
            ax.bar(
                x - 0.2, s["S1"], 0.4, yerr=s["S1_conf"], capsize=3, label="first order (S1)", color="#2e86c1"
            )
            ax.bar(x + 0.2, s["ST"], 0.4, yerr=s["ST_conf"], capsize=3, label="total (ST)", color="#c0392b")
            ax.set_xticks(x)
            ax.set_xticklabels([p.split(".")[-1] for p in paths], rotation=30, fontsize=8)
            ax.set_title(labels[measure], fontsize=10)
            ax.axhline(0, color="black", lw=0.6)
            ax.grid(alpha=0.3, axis="y")
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        axes.flat[0].legend(fontsize=8)
        fig.suptitle(f"Sobol indices with 95% confidence intervals\n{subtitle}", fontsize=11)
        fig.tight_layout()
        figures["sobol.png"] = fig
    elif len(paths) == 1:
        fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
        for ax, measure in zip(axes.flat, plan.measures, strict=False):
            s = last[last["measure"] == measure].sort_values(paths[0])
            x = s[paths[0]].to_numpy(dtype=float)
            ax.fill_between(x, s["p5"], s["p95"], color="#1f4e79", alpha=0.18, lw=0, label="5–95%")
            ax.plot(x, s["median"], color="#1f4e79", lw=1.8, marker="o", ms=3, label="median")
            ax.plot(x, s["mean"], color="#1f4e79", lw=1, ls="--", label="mean")
            ax.set_title(labels[measure], fontsize=10)
            ax.set_xlabel(paths[0], fontsize=8)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        axes.flat[0].legend(fontsize=8)
        fig.suptitle(f"Response to {paths[0]}\n{subtitle}", fontsize=11)
        fig.tight_layout()
        figures["response.png"] = fig
    elif len(paths) == 2 and plan.design.kind == "grid":
        xs = plan.design.params[1].values
        ys = plan.design.params[0].values
        fig, axes = plt.subplots(rows, cols, figsize=(4.8 * cols, 3.8 * rows), squeeze=False)
        for ax, measure in zip(axes.flat, plan.measures, strict=False):
            s = last[last["measure"] == measure].sort_values("point")
            grid = s["mean"].to_numpy().reshape(len(ys), len(xs))  # first parameter slowest
            image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
            ax.set_xticks(range(len(xs)))
            ax.set_xticklabels([f"{v:g}" for v in xs], fontsize=7, rotation=45)
            ax.set_yticks(range(len(ys)))
            ax.set_yticklabels([f"{v:g}" for v in ys], fontsize=7)
            ax.set_xlabel(paths[1], fontsize=8)
            ax.set_ylabel(paths[0], fontsize=8)
            ax.set_title(f"{labels[measure]} (mean)", fontsize=10)
            fig.colorbar(image, ax=ax, fraction=0.046)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        fig.suptitle(f"Mean outcome over {paths[0]} x {paths[1]}\n{subtitle}", fontsize=11)
        fig.tight_layout()
        figures["heatmap.png"] = fig
    return figures


def iter_chunk_files(folder: str | Path) -> Iterator[Path]:
    """The complete chunk files of a sweep folder (hidden temporary files are skipped)."""
    yield from sorted(p for p in (Path(folder) / "chunks").glob("*.parquet") if not p.name.startswith("."))
