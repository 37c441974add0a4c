"""What a sweep varies: parameter specs (`PATH=SPEC`), the sweep's options and the file's `sweep:` section.

A SPEC is `start:stop:count` (a grid's evenly spaced values), a comma list
or one number, or `low:high` (a range sampled by lhs and sobol designs).
Specs come from `--param` options or from a scenario file's `sweep: params:`
mapping; every message names where the spec was written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from balancesim.scenario.schema import COMMAND_LINE_ONLY, did_you_mean

DESIGNS = ("grid", "lhs", "sobol", "morris")
ALL_MONTHS = (-1,)  # `--months all`: every month 0..horizon (monthly series)
MAX_POINTS = 1_000_000
MAX_GRID_COUNT = 100_000
SECTION_KEYS = (
    "params",
    "design",
    "samples",
    "replicates",
    "months",
    "chunk_size",
    "executor",
    "workers",
    "design_file",
    "outcomes",
    "second_order",
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
        if self.kind == "file":
            return f"{self.origin}: column {self.path}" if self.origin else f"design column {self.path}"
        return f"{self.origin} {self.path}={self.text}"

    def as_dict(self) -> dict[str, Any]:
        """The spec as JSON data, for the manifest."""
        out: dict[str, Any] = {"path": self.path, "spec": self.text, "kind": self.kind}
        if self.kind in ("range", "file"):
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
        text = format_value(float(spec))
        return ParamSpec(path, text, "list", (_number(text, path, text, origin),), origin=origin)
    if isinstance(spec, list | tuple):
        if not spec or any(isinstance(v, bool) or not isinstance(v, int | float) for v in spec):
            raise SweepError(f"{origin} {path}: a list of values must hold numbers only, got {spec!r}")
        spec = ",".join(format_value(float(v)) for v in spec)
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


def format_value(x: float) -> str:
    """A number as people write it in a spec: 3, not 3.0."""
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
    design_file: str | None = None  # a CSV of design points (one column per PATH)
    outcomes: tuple[str, ...] | None = None  # measures kept (default: the regional headline measures)
    second_order: bool | None = None  # sobol: also the second-order indices (N x (2D + 2) points)

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
        if key in COMMAND_LINE_ONLY:
            raise SweepError(
                f"{where}.{key}: not allowed in a scenario file; use {COMMAND_LINE_ONLY[key]} "
                "on the command line"
            )
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
    if months == "all":
        months = ALL_MONTHS
    elif months is not None:
        if not isinstance(months, list) or any(isinstance(m, bool) or not isinstance(m, int) for m in months):
            raise SweepError(f"{where}.months: expected a list of whole numbers, got {months!r}")
        months = tuple(months)
    from balancesim.experiment.executors import EXECUTORS

    outcomes = section.get("outcomes")
    if outcomes is not None:
        if not isinstance(outcomes, list) or not all(isinstance(o, str) for o in outcomes):
            raise SweepError(f"{where}.outcomes: expected a list of measure names, got {outcomes!r}")
        outcomes = tuple(outcomes)
    second = section.get("second_order")
    if second is not None and not isinstance(second, bool):
        raise SweepError(f"{where}.second_order: expected true or false, got {second!r}")
    return SweepOptions(
        params=params,
        design=text("design", DESIGNS),
        samples=whole("samples", 1),
        replicates=whole("replicates", 1),
        months=months,
        chunk_size=whole("chunk_size", 1),
        executor=text("executor", EXECUTORS),
        workers=whole("workers", 1),
        design_file=text("design_file"),
        outcomes=outcomes,
        second_order=second,
    )


def parse_months(text: str) -> tuple[int, ...]:
    """`"30,60"` -> (30, 60); `"all"` -> ALL_MONTHS, every month (the `--months` option)."""
    if text.strip() == "all":
        return ALL_MONTHS
    try:
        months = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise SweepError(
            f"--months {text}: expected whole numbers separated by commas, e.g. 30,60, or 'all'"
        ) from None
    return months
