"""The design: which points a sweep runs, and the check that every point is a valid scenario.

A design point is the base scenario with a set of overrides (dotted PATH ->
value), validated like a scenario file, so a bad path or value gets the
loader's message, naming the PATH and the spec it came from. Designs:

* `grid`: every combination of the values of each parameter, the first
  parameter varying slowest;
* `lhs`: a Latin hypercube of `samples` points over `low:high` ranges;
* `sobol`: SALib's Saltelli/Sobol' sample (`samples` base samples, N x (D + 2)
  points, first-order and total indices; N x (2D + 2) with second-order
  indices) over `low:high` ranges;
* `morris`: SALib's Morris sample (`samples` trajectories, T x (D + 1)
  points, elementary effects) over `low:high` ranges;
* `file`: the rows of a CSV file (`--design-file`), from any sampler.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from balancesim.scenario.files import ScenarioError, load_scenario
from balancesim.scenario.paths import assign, lookup, split_path
from balancesim.scenario.schema import Scenario, did_you_mean
from balancesim.scenario.uncertainty import scenario_problems
from balancesim.sweep.design_file import DesignFile, check_values
from balancesim.sweep.specs import DESIGNS, MAX_POINTS, ParamSpec, SweepError, format_value

FULL_CHECK_POINTS = 5_000  # designs up to this size are validated point by point up front
# Whole-number settings a sweep may not vary: they fix the shape of the output or the seeds.
FIXED = {
    "seed": "the seed is the sweep's own (--seed); every point uses the same replicate seeds",
    "replicates": "the replicate count is the sweep's own (--replicates)",
    "horizon": "every point must report the same months",
    "outputs": "the reported months are the sweep's own (--months)",
    "sweep": "the sweep section describes the sweep itself",
}


def _loader_message(scenario_file: str, overrides: dict[str, Any], base: Scenario) -> str | None:
    """What the scenario loader says about these overrides (None if it accepts them).

    With no file (a Scenario given in memory, as to `evaluate`), the schema's
    own messages about the overridden scenario.
    """
    if not scenario_file:
        from pydantic import ValidationError

        try:
            point_scenario(base.model_dump(mode="json"), overrides)
        except ValidationError as e:
            return "; ".join(
                f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in e.errors()
            )
        except ValueError as e:
            return str(e)
        return None
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
        found, value = lookup(data, parts)
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
            message = _loader_message(scenario_file, {**base_overrides, spec.path: first}, base)
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
    second_order: bool = False  # sobol: the sample also serves second-order indices
    source: DesignFile | None = None  # file: where the points came from (lines, for messages)

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
            "sample_seed": self.seed if self.kind in ("lhs", "sobol", "morris") else None,
            "second_order": self.second_order,
            "file": self.source.file if self.source is not None else None,
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
    second_order: bool = False,
) -> Design:
    """Build the design points; raises SweepError if a spec does not suit the design.

    Grid: the Cartesian product (first parameter slowest). lhs: SALib's Latin
    hypercube. sobol: SALib's Sobol' sample (N x (D + 2) points, or
    N x (2D + 2) with `second_order`) and morris: SALib's Morris sample (N
    trajectories, N x (D + 1) points), both in exactly the sampler's order,
    since the analysis depends on it. Paths holding whole numbers (a shock's
    month) get whole values: grid values must be whole; sampled values are
    rounded.
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
    if kind == "file":
        raise SweepError("a file design comes from --design-file (see file_design)")
    if second_order and kind != "sobol":
        raise SweepError(f"--second-order applies to sobol designs, not {kind}")
    if kind == "grid":
        if samples is not None:
            raise SweepError(
                f"--samples {samples}: applies to lhs, sobol and morris designs; "
                "a grid's size comes from its specs"
            )
        for p in params:
            if p.kind == "range":
                raise SweepError(
                    f"{p.label}: a range low:high needs --design lhs, sobol or morris; "
                    "a grid takes start:stop:count or a comma list"
                )
            if p.path in integer:
                bad = [v for v in p.values if not float(v).is_integer()]
                if bad:
                    raise SweepError(f"{p.label}: {p.path} takes whole numbers, got {format_value(bad[0])}")
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
    elif kind == "morris":
        from balancesim.sweep.morris import sample

        if samples < 2:
            raise SweepError(f"--samples {samples}: a Morris design needs at least 2 trajectories")
        if samples * (len(params) + 1) > MAX_POINTS:
            raise SweepError(
                f"--samples {samples}: {samples * (len(params) + 1):,} points, more than {MAX_POINTS:,}"
            )
        points = sample(problem, samples, seed)
    else:
        from SALib.sample import sobol

        if samples < 2 or samples & (samples - 1):
            raise SweepError(
                f"--samples {samples}: a Sobol design needs a power of 2 (e.g. 64, 256, 1024); "
                "Sobol' sequences lose their balance otherwise"
            )
        size = samples * (2 * len(params) + 2 if second_order else len(params) + 2)
        if size > MAX_POINTS:
            raise SweepError(f"--samples {samples}: {size:,} points, more than {MAX_POINTS:,}")
        points = sobol.sample(problem, samples, calc_second_order=second_order, seed=seed)
    points = np.asarray(points, dtype=float)
    for d, p in enumerate(params):
        if p.path in integer:
            points[:, d] = np.rint(points[:, d])
    return Design(kind, params, points, samples, seed, integer, second_order)


def file_design(source: DesignFile, integer: Iterable[str] = ()) -> Design:
    """The design of a `--design-file`: its rows, in file order; each column's range from its values.

    The ranges (smallest and largest value) only describe the design; the
    points are the file's, checked by `validate_design` with file:line messages.
    """
    params = tuple(
        ParamSpec(
            path,
            f"column {path}",
            "file",
            low=float(source.points[:, d].min()),
            high=float(source.points[:, d].max()),
            origin=source.file,
        )
        for d, path in enumerate(source.paths)
    )
    return Design("file", params, source.points, None, 0, frozenset(integer), source=source)


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
        assign(data, parts, value)
    scenario = Scenario.model_validate_json(
        json.dumps(data, allow_nan=False), strict=True, context={"defer_references": True}
    )
    problems = scenario_problems(scenario)
    if problems:
        raise ValueError("; ".join(message for _, message in problems))
    return scenario


def validate_design(
    design: Design, base: Scenario, scenario_file: str, base_overrides: dict[str, Any]
) -> None:
    """Check every parameter's values, then every design point, against the schema; SweepError if any fails.

    Values are checked one parameter at a time first, its smallest and
    largest value (what a value admits is an interval, so both ends passing
    means every value does), so an out-of-range value is blamed on the spec
    it came from. Then, with two parameters or more, the points themselves
    (combinations can fail where single values pass, e.g. a severity range
    whose low end passes its high end): all of them for designs up to
    FULL_CHECK_POINTS points; beyond that, the engine checks every run's
    values as it runs them (`per_run.with_values`), and a point that fails
    stops the sweep, named with the loader's message.
    """
    data = json.dumps(base.model_dump(mode="json"))
    if design.source is not None:

        def check(overrides: dict[str, Any]) -> str | None:
            try:
                point_scenario(data, overrides)
            except ValueError:
                return _loader_message(scenario_file, {**base_overrides, **overrides}, base)
            return None

        check_values(design.source, design.integer, check, len(design) <= FULL_CHECK_POINTS, {})
        return
    for d, spec in enumerate(design.params):
        column = design.points[:, d]
        for v in (column.min(), column.max()):
            value = int(v) if spec.path in design.integer else float(v)
            try:
                point_scenario(data, {spec.path: value})
            except ValueError:
                message = _loader_message(scenario_file, {**base_overrides, spec.path: value}, base)
                raise SweepError(f"{spec.label}: value {format_value(float(v))}: {message}") from None
    if len(design) > FULL_CHECK_POINTS or len(design.params) < 2:
        return
    for p in range(len(design)):
        overrides = design.overrides(p)
        try:
            point_scenario(data, overrides)
        except ValueError:
            message = _loader_message(scenario_file, {**base_overrides, **overrides}, base)
            shown = ", ".join(f"{k}={format_value(float(v))}" for k, v in overrides.items())
            raise SweepError(f"design point {p} ({shown}): {message}") from None
