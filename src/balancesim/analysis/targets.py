"""Observed targets as data: a YAML target file, its checks, and each target's modelled statistic.

A target is one observed figure the model should reproduce, for example
"China's share of Kazakhstan's trade rose by 3-4 points from 2022 to 2023".
A target file (docs/targets.md) maps each figure to a model measure:

```yaml
name: Central Asia, 2021-2023
targets:
  kz_china_trade_change:
    measure: share.china.economy[kazakhstan]   # or a formula: a - b
    since: "2022"                              # optional: the statistic is a change
    period: 2023-01..2023-09                   # a month, a year or FROM..TO
    value: 0.043                               # or range: [low, high]
    uncertainty: 0.02                          # the observation's standard deviation
    direction: up                              # where only the direction is trusted
    tolerance: 0.0                             # a change within +-tolerance is flat
    confidence: high
    source: national statistics via ...
```

The **statistic** of a target in one run is the formula's mean over the
period's model months (compare like with like: a yearly figure is the mean
of the year's months), minus its mean over the `since` period for a change.
Periods are calendar months; month 0 is the scenario's `start`, and a
period reaching before it (2022 with a start of 2022-03) is cut to the
months the model has.

Files are read with the scenario loader's located YAML (`scenario_yaml`):
the same file:line messages, the same limits (size, aliases, tags), and
`extends:` merges targets by id. Validation is pydantic (strict), then the
measures and periods are checked against a scenario's measure names.

`statistics` computes every target's statistic per replicate from an engine
result array (months, R, C): the summary statistics a calibrator needs, with
`replicate_distance` as its distance.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from balancesim.analysis.expressions import ExpressionError, Ref, Term, evaluate, parse_formula, references

Direction = Literal["up", "down", "flat", "not_down", "not_up"]
Confidence = Literal["high", "medium-high", "medium", "medium-low", "low"]
_MONTH = r"\d{4}-(0[1-9]|1[0-2])"
_PERIOD = re.compile(rf"^(\d{{4}}|{_MONTH})(\.\.({_MONTH}))?$")
TargetId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Z90 = 1.6448536269514722  # the 95% quantile of the normal: +-Z90 sd is a 90% interval


class TargetFileError(ValueError):
    """A target file that cannot be used; `str()` is one `file:line: path: message` per problem."""


def _period_ok(text: str) -> str:
    text = text.strip()
    m = _PERIOD.match(text)
    if m is None:
        raise ValueError(f"'{text}' is not a period: expected YYYY, YYYY-MM or YYYY-MM..YYYY-MM")
    first, last = calendar_span(text)
    if last < first:
        raise ValueError(f"'{text}': the period ends before it starts")
    return text


def calendar_span(text: str) -> tuple[int, int]:
    """'2023' -> (2023*12, 2023*12 + 11) in absolute months (year * 12 + month - 1)."""

    def absolute(part: str, end: bool) -> int:
        if len(part) == 4:
            return int(part) * 12 + (11 if end else 0)
        y, m = map(int, part.split("-"))
        return y * 12 + m - 1

    lo, _, hi = text.partition("..")
    return absolute(lo, False), absolute(hi or lo, True)


class Target(BaseModel):
    """One observed figure and how it maps to the model (see docs/targets.md)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    description: str = Field(min_length=1)
    measure: str = Field(min_length=1, description="A measure, or a formula: a - b + c")
    period: str = Field(description="YYYY, YYYY-MM or YYYY-MM..YYYY-MM: the statistic is the mean over it")
    since: str | None = Field(None, description="For a change: the earlier period subtracted")
    value: float | None = None
    range: list[float] | None = Field(None, min_length=2, max_length=2)
    uncertainty: float | None = Field(None, ge=0, description="Standard deviation of the observation")
    direction: Direction | None = None
    tolerance: float | None = Field(
        None, ge=0, description="For a direction: a change within +-tolerance counts as flat"
    )
    confidence: Confidence
    source: str = Field(min_length=1)
    observed: str | None = Field(None, description="The observed figure as reported")
    note: str | None = None

    @field_validator("period", "since", mode="before")
    @classmethod
    def _year(cls, value: Any) -> Any:
        # `period: 2023` is read by YAML as a number: a year is a period too.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("period", "since")
    @classmethod
    def _period(cls, text: str | None) -> str | None:
        return None if text is None else _period_ok(text)

    @field_validator("measure")
    @classmethod
    def _formula(cls, text: str) -> str:
        try:
            parse_formula(text)
        except ExpressionError as e:
            raise ValueError(str(e)) from None
        return text

    @model_validator(mode="after")
    def _consistent(self) -> Target:
        if self.since is not None and calendar_span(self.since)[0] >= calendar_span(self.period)[0]:
            raise ValueError(f"since '{self.since}' must start before period '{self.period}'")
        if self.value is not None and self.range is not None:
            raise ValueError("give a value or a range, not both")
        if self.value is None and self.range is None and self.direction is None:
            raise ValueError("needs a value, a range or a direction")
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError(f"range: low ({self.range[0]}) must not exceed high ({self.range[1]})")
        if self.direction == "flat" and not self.tolerance:
            raise ValueError("direction 'flat' needs a tolerance above 0 (how small a change is flat)")
        if self.tolerance is not None and self.direction is None:
            raise ValueError("a tolerance goes with a direction")
        if self.value is not None and self.direction is None and self.uncertainty is None:
            raise ValueError("a value needs an uncertainty (its standard deviation)")
        return self

    @property
    def formula(self) -> Term:
        return parse_formula(self.measure)

    @property
    def kind(self) -> str:
        """How the target passes: 'direction' (only the direction is trusted) or 'value'."""
        return "direction" if self.direction is not None else "value"

    def interval(self) -> tuple[float, float] | None:
        """The observed 90% interval: the range, or value +- Z90 uncertainty."""
        if self.range is not None:
            return float(self.range[0]), float(self.range[1])
        if self.value is None:
            return None
        u = Z90 * (self.uncertainty or 0.0)
        return self.value - u, self.value + u

    def sd(self) -> float:
        """The observation's standard deviation (a range is read as a 90% interval)."""
        if self.range is not None:
            return (self.range[1] - self.range[0]) / (2 * Z90)
        return float(self.uncertainty or 0.0)

    def holds(self, stat: np.ndarray) -> np.ndarray:
        """Per run: whether the statistic shows the observed direction, beyond the tolerance."""
        tol = float(self.tolerance or 0.0)
        return {
            "up": lambda s: s > tol,
            "down": lambda s: s < -tol,
            "flat": lambda s: np.abs(s) <= tol,
            "not_down": lambda s: s >= -tol,
            "not_up": lambda s: s <= tol,
        }[self.direction or "up"](stat)


class TargetFile(BaseModel):
    """A file of targets: a name, a description and the targets by id."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(min_length=1)
    description: str | None = None
    targets: dict[TargetId, Target] = Field(min_length=1)


@dataclass
class Targets:
    """A loaded target file, with the file and line of every target (for messages)."""

    file: str
    spec: TargetFile
    lines: dict[str, dict[str, tuple[str, int | None]]]  # id -> field -> (file, line)

    def __iter__(self) -> Iterator[tuple[str, Target]]:
        return iter(self.spec.targets.items())

    def __len__(self) -> int:
        return len(self.spec.targets)

    @property
    def ids(self) -> list[str]:
        return list(self.spec.targets)

    def where(self, ident: str, field: str = "") -> str:
        file, line = (
            self.lines.get(ident, {}).get(field) or self.lines.get(ident, {}).get("") or (self.file, None)
        )
        loc = f"targets.{ident}" + (f".{field}" if field else "")
        return f"{file}:{line}: {loc}" if line else f"{file}: {loc}"


# ------------------------------------------------------------------------- loading


def load_targets(path: str | Path) -> Targets:
    """Read and validate a target file; TargetFileError with file:line messages otherwise."""
    from balancesim.scenario.located import ScenarioError, locate, plain
    from balancesim.scenario.yaml_reader import Loader

    loader = Loader()
    tree = loader.load_root(path)
    try:
        loader.fail_if_any()
    except ScenarioError as e:
        raise TargetFileError(
            str(e).replace("expected a scenario mapping", "expected a target mapping")
        ) from None
    assert tree is not None
    data = plain(tree)
    try:
        spec = TargetFile.model_validate_json(json.dumps(data, allow_nan=False), strict=True)
    except ValidationError as e:
        for loc, message in _messages(e, tree):
            loader.add(locate(tree, loc), loc, message)
        raise TargetFileError(str(loader.error())) from None
    lines: dict[str, dict[str, tuple[str, int | None]]] = {}
    for ident, node in tree.value["targets"].value.items():
        entry = {"": (node.where.file, node.where.line)}
        for field, child in (node.value or {}).items():
            entry[field] = (child.where.file, child.where.line)
        lines[ident] = entry
    return Targets(str(path), spec, lines)


def _messages(error: ValidationError, tree: Any) -> list[tuple[tuple, str]]:
    """pydantic errors -> (location, message), worded as the scenario loader words them."""
    from balancesim.scenario.messages import ErrorInfo, explain_one
    from balancesim.scenario.schema import did_you_mean

    out = []
    for e in error.errors(include_url=False):
        loc = tuple(e["loc"])
        path = tuple(p for p in loc if p != "[key]")
        if e["type"] == "extra_forbidden":
            model = Target if len(path) == 3 else TargetFile
            key = str(path[-1])
            out.append((path, f"unknown key '{key}' ({did_you_mean(key, list(model.model_fields))})"))
            continue
        if e["type"] == "string_pattern_mismatch" and loc[-1] == "[key]":
            out.append((path, f"'{path[-1]}' is not a valid target id (lowercase letters, digits and _)"))
            continue
        out.append(explain_one(ErrorInfo(e["type"], path, [], loc, e), tree))
    return out


def check_against(targets: Targets, columns: Any, start: str, horizon: int) -> None:
    """Check every measure and period against a scenario; TargetFileError listing each problem.

    `columns` is the scenario's `metrics.Columns`: every (actor, measure) it computes.
    """
    from balancesim.scenario.schema import did_you_mean

    problems = []
    actors = set(columns.actors)
    by_actor: dict[str, set[str]] = {}
    for a, m in zip(columns.actors, columns.measures, strict=True):
        by_actor.setdefault(a, set()).add(m)
    for ident, t in targets:
        for ref in references(t.formula):
            if ref.actor not in actors:
                hint = did_you_mean(ref.actor, actors)
                problems.append(f"{targets.where(ident, 'measure')}: unknown actor '{ref.actor}' ({hint})")
            elif ref.measure not in by_actor[ref.actor]:
                hint = did_you_mean(ref.measure, by_actor[ref.actor])
                whose = "the region" if ref.actor == "region" else f"'{ref.actor}'"
                problems.append(
                    f"{targets.where(ident, 'measure')}: no measure '{ref.measure}' for {whose} ({hint})"
                )
        for field in ("period", "since"):
            text = getattr(t, field)
            if text is not None and not model_months(text, start, horizon).size:
                problems.append(
                    f"{targets.where(ident, field)}: '{text}' lies outside the model's months "
                    f"({start} + 0..{horizon})"
                )
    if problems:
        raise TargetFileError("\n".join(problems))


def model_months(period: str, start: str, horizon: int) -> np.ndarray:
    """The model months of a calendar period, cut to 0..horizon (empty if none)."""
    y0, m0 = map(int, start.split("-"))
    first, last = calendar_span(period)
    origin = y0 * 12 + m0 - 1
    lo, hi = max(first - origin, 0), min(last - origin, horizon)
    return np.arange(lo, hi + 1) if lo <= hi else np.arange(0)


# ------------------------------------------------------------- modelled statistics


def series(target: Target, data: np.ndarray, columns: Any) -> np.ndarray:
    """The target's formula at every month of `data` (months, R, C): (months, R)."""

    def value(ref: Ref) -> np.ndarray:
        return data[:, :, columns.index(ref.actor, ref.measure)]

    return np.broadcast_to(np.asarray(evaluate(target.formula, value), dtype=float), data.shape[:2])


def statistic(target: Target, path: np.ndarray, months: np.ndarray, start: str) -> np.ndarray:
    """Per run: the mean of `path` (months, R) over the period, minus over `since` for a change."""
    horizon = int(months[-1])
    slot = {int(m): k for k, m in enumerate(months)}

    def mean_over(period: str) -> np.ndarray:
        wanted = [slot[m] for m in model_months(period, start, horizon) if m in slot]
        if not wanted:
            raise ValueError(f"no model month of '{period}' is in the data")
        return path[wanted].mean(axis=0)

    stat = mean_over(target.period)
    if target.since is not None:
        stat = stat - mean_over(target.since)
    return stat


def statistics(
    targets: Targets | TargetFile,
    data: np.ndarray,
    columns: Any,
    start: str,
    months: np.ndarray | None = None,
) -> np.ndarray:
    """Every target's modelled statistic per replicate: (R, K), targets in file order.

    `data` is an engine result (months, R, C) (`engine.simulate`, `Results.data`)
    with `columns` its `metrics.Columns`; `months` the model month of each row
    (default 0, 1, ...). These are the summary statistics a calibrator can
    compare with `observed_vector`, using `replicate_distance`.
    """
    spec = targets.spec if isinstance(targets, Targets) else targets
    months = np.arange(data.shape[0]) if months is None else np.asarray(months)
    out = np.empty((data.shape[1], len(spec.targets)))
    for k, t in enumerate(spec.targets.values()):
        out[:, k] = statistic(t, series(t, data, columns), months, start)
    return out


def observed_vector(targets: Targets | TargetFile) -> np.ndarray:
    """The observed statistic of each target: its value, the range's midpoint, else 0 (a direction)."""
    spec = targets.spec if isinstance(targets, Targets) else targets
    out = []
    for t in spec.targets.values():
        if t.value is not None:
            out.append(t.value)
        elif t.range is not None:
            out.append(sum(t.range) / 2)
        else:
            out.append(0.0)
    return np.array(out)


def replicate_distance(stats: np.ndarray, targets: Targets | TargetFile) -> np.ndarray:
    """A distance per run (R,) between its statistics (R, K) and the observations.

    Value targets add ((s - observed) / sd)^2 (sd: the observation's, at least
    0.01); direction targets add nothing when the run shows the direction and
    ((shortfall) / max(tolerance, 0.02))^2 otherwise, the shortfall being how
    far the statistic is from the side it should be on. The sum is a
    chi-square-like discrepancy: small is close.
    """
    spec = targets.spec if isinstance(targets, Targets) else targets
    total = np.zeros(stats.shape[0])
    for k, t in enumerate(spec.targets.values()):
        s = stats[:, k]
        if t.kind == "value":
            observed = t.value if t.value is not None else sum(t.range or (0.0, 0.0)) / 2
            total += ((s - observed) / max(t.sd(), 0.01)) ** 2
            continue
        tol = float(t.tolerance or 0.0)
        shortfall = {
            "up": np.maximum(tol - s, 0.0),
            "down": np.maximum(s + tol, 0.0),
            "flat": np.maximum(np.abs(s) - tol, 0.0),
            "not_down": np.maximum(-tol - s, 0.0),
            "not_up": np.maximum(s - tol, 0.0),
        }[t.direction or "up"]
        total += np.where(t.holds(s), 0.0, (shortfall / max(tol, 0.02)) ** 2)
    return total


def dump_targets(spec: TargetFile) -> str:
    """The target file as YAML (fields left at their default omitted)."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = None
    # ruamel.yaml declares the attribute as None, not bool
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    buffer = io.StringIO()
    yaml.dump(spec.model_dump(mode="json", exclude_none=True), buffer)
    return buffer.getvalue()
