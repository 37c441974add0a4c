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
    value: 0.043                               # or range: [low, high], or event + occurred
    uncertainty: 0.01                          # the measurement's standard deviation
    mapping: 0.015                             # the sd of mapping the figure onto the measure
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
result array (months, R, C): the summary statistics a calibrator needs, and
`implausibilities` compares replicate ensembles of them with the observations
(history matching; yes/no facts by the probability of the observed outcome).
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


class Event(BaseModel):
    """A yes/no fact: a run shows the event when its statistic is above `above` or below `below`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    above: float | None = None
    below: float | None = None

    @model_validator(mode="after")
    def _some(self) -> Event:
        if self.above is None and self.below is None:
            raise ValueError("an event needs `above`, `below` or both (the side of the statistic that is it)")
        return self

    def text(self) -> str:
        """'above 0 or below 0'."""
        sides = (("above", self.above), ("below", self.below))
        return " or ".join(f"{word} {x:g}" for word, x in sides if x is not None)

    def happens(self, stat: np.ndarray) -> np.ndarray:
        out = np.zeros(np.shape(stat), dtype=bool)
        if self.above is not None:
            out |= stat > self.above
        if self.below is not None:
            out |= stat < self.below
        return out


class Target(BaseModel):
    """One observed figure and how it maps to the model (see docs/targets.md).

    A target is one of three kinds: a **value** (`value` with `uncertainty`,
    the measurement's sd, and `mapping`, the sd of the error of mapping the
    observed figure onto the model's measure), a **range** (a 90% interval)
    or an **event** (a yes/no fact: `event` says which statistic is the
    event, `occurred` whether it happened; it is scored by the probability
    of the observed outcome across runs, a binomial term).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    description: str = Field(min_length=1)
    measure: str = Field(min_length=1, description="A measure, or a formula: a - b + c")
    period: str = Field(description="YYYY, YYYY-MM or YYYY-MM..YYYY-MM: the statistic is the mean over it")
    since: str | None = Field(None, description="For a change: the earlier period subtracted")
    value: float | None = None
    range: list[float] | None = Field(None, min_length=2, max_length=2)
    uncertainty: float | None = Field(None, ge=0, description="Standard deviation of the measurement")
    mapping: float | None = Field(
        None, ge=0, description="Standard deviation of the error of mapping the figure onto the measure"
    )
    event: Event | None = None
    occurred: bool | None = None
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
        given = [k for k in ("value", "range", "event") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of a value, a range or an event, not {' and '.join(given)}")
        if not given:
            raise ValueError("needs a value (with its uncertainty), a range or an event")
        if self.range is not None and self.range[0] >= self.range[1]:
            raise ValueError(f"range: low ({self.range[0]}) must be below high ({self.range[1]})")
        if self.value is not None and not (self.uncertainty or self.mapping):
            raise ValueError(
                "a value needs an uncertainty above 0 (its standard deviation; a yes/no fact is an event)"
            )
        if (self.event is None) != (self.occurred is None):
            raise ValueError("an event needs `occurred` (true or false), and `occurred` an event")
        if self.event is not None and (self.uncertainty is not None or self.mapping is not None):
            raise ValueError("an event has no uncertainty: it is scored by its probability across runs")
        return self

    @property
    def formula(self) -> Term:
        return parse_formula(self.measure)

    @property
    def kind(self) -> str:
        """'value' (a value or a range, compared through its sd) or 'event' (a yes/no fact)."""
        return "event" if self.event is not None else "value"

    def centre(self) -> float:
        """The observed statistic: the value or the range's midpoint (an event: 1 or 0)."""
        if self.event is not None:
            return 1.0 if self.occurred else 0.0
        if self.range is not None:
            return (self.range[0] + self.range[1]) / 2
        return float(self.value)  # type: ignore[arg-type]

    def interval(self) -> tuple[float, float] | None:
        """The observed 90% interval: the range, or value +- Z90 sd (None for an event)."""
        if self.range is not None:
            return float(self.range[0]), float(self.range[1])
        if self.value is None:
            return None
        u = Z90 * self.sd()
        return self.value - u, self.value + u

    def sd(self) -> float:
        """The observation's total sd: measurement and mapping errors (a range is a 90% interval)."""
        if self.range is not None:
            return (self.range[1] - self.range[0]) / (2 * Z90)
        return float(np.hypot(self.uncertainty or 0.0, self.mapping or 0.0))

    def happens(self, stat: np.ndarray) -> np.ndarray:
        """Per run: whether the run shows the event (an event target only)."""
        assert self.event is not None
        return self.event.happens(np.asarray(stat))

    def outcome_probability(self, stat: np.ndarray) -> float:
        """The probability of the observed outcome across runs, (k + 1/2) / (R + 1): never 0 or 1."""
        hits = self.happens(stat)
        k = int(hits.sum()) if self.occurred else int((~hits).sum())
        return (k + 0.5) / (len(hits) + 1)


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
    compare with `observed_vector`, through `implausibilities`.
    """
    spec = targets.spec if isinstance(targets, Targets) else targets
    months = np.arange(data.shape[0]) if months is None else np.asarray(months)
    out = np.empty((data.shape[1], len(spec.targets)))
    for k, t in enumerate(spec.targets.values()):
        out[:, k] = statistic(t, series(t, data, columns), months, start)
    return out


def observed_vector(targets: Targets | TargetFile) -> np.ndarray:
    """The observed statistic of each target: its value, the range's midpoint, 1 or 0 for an event."""
    spec = targets.spec if isinstance(targets, Targets) else targets
    return np.array([t.centre() for t in spec.targets.values()])


def replicate_distance(stats: np.ndarray, targets: Targets | TargetFile) -> np.ndarray:
    """A distance per run (R,) for `calibrate --method smc` (one run per particle).

    Each value target adds ((s - observed) / sd)^2; each event adds 9 (three
    sd) when the run's outcome is not the observed one. Kept for comparison
    only: one noisy run per particle is what history matching avoids.
    """
    spec = targets.spec if isinstance(targets, Targets) else targets
    total = np.zeros(stats.shape[0])
    for k, t in enumerate(spec.targets.values()):
        s = stats[:, k]
        if t.kind == "event":
            total += np.where(t.happens(s) == bool(t.occurred), 0.0, 9.0)
        else:
            total += ((s - t.centre()) / t.sd()) ** 2
    return total


DISCREPANCY = 0.5  # the model-discrepancy sd of every value target, as a multiple of its observation sd


def implausibility(target: Target, stat: np.ndarray, discrepancy: float = DISCREPANCY) -> np.ndarray:
    """History matching's implausibility of one target at each parameter point.

    `stat` is (..., R): the target's statistic in R replicate runs at each
    point. A value (or range) target compares the replicates' mean with the
    observation, scaled by the total variance: observation (measurement and
    mapping), model discrepancy (`discrepancy` x the observation sd, squared),
    the ensemble's own variance (the world is one run of a noisy process) and
    the variance of the mean of R runs:

        I = |mean - observed| / sqrt(sd_obs^2 (1 + discrepancy^2) + var_R (1 + 1/R))

    An event (a yes/no fact) has the binomial term: q, the probability of
    the observed outcome across the R runs ((k + 1/2) / (R + 1)), turned
    into the normal deviate with that two-sided tail, I = Phi^-1(1 - q/2):
    q = 1 gives 0, q = 0.05 gives 1.96, q = 0.0027 gives 3.
    """
    from scipy.special import ndtri

    stat = np.asarray(stat, dtype=float)
    r = stat.shape[-1]
    if target.kind == "event":
        hits = target.happens(stat)
        k = hits.sum(axis=-1) if target.occurred else (~hits).sum(axis=-1)
        q = (k + 0.5) / (r + 1)
        return np.maximum(ndtri(1 - q / 2), 0.0)
    mean = stat.mean(axis=-1)
    var = stat.var(axis=-1, ddof=1) if r > 1 else np.zeros(mean.shape)
    total = target.sd() ** 2 * (1 + discrepancy**2) + var * (1 + 1 / r)
    return np.abs(mean - target.centre()) / np.sqrt(np.maximum(total, 1e-12))


def implausibilities(
    targets: Targets | TargetFile, stats: np.ndarray, discrepancy: float = DISCREPANCY
) -> np.ndarray:
    """Every target's implausibility (N, K) from statistics (N, R, K): N points, R replicates each."""
    spec = targets.spec if isinstance(targets, Targets) else targets
    return np.stack(
        [implausibility(t, stats[:, :, k], discrepancy) for k, t in enumerate(spec.targets.values())], axis=-1
    )


def log_likelihood(
    targets: Targets | TargetFile,
    stats: np.ndarray,
    observed: np.ndarray | None = None,
    discrepancy: float = DISCREPANCY,
) -> np.ndarray:
    """The synthetic log-likelihood of each point (N,) from statistics (N, R, K), summed over targets.

    A value target is Gaussian with the implausibility's total variance
    (observation, discrepancy, the ensemble's variance and that of its mean),
    so its term is -I^2 / 2 - ln(total sd); an event adds ln q, q the
    probability of the observed outcome over the R runs ((k + 1/2) / (R + 1)).
    `observed` (K,) replaces the file's observed values (value targets) and
    outcomes (events: 1 happened, 0 not), for synthetic data.
    """
    spec = targets.spec if isinstance(targets, Targets) else targets
    stats = np.asarray(stats, dtype=float)
    r = stats.shape[1]
    out = np.zeros(stats.shape[0])
    for k, t in enumerate(spec.targets.values()):
        stat = stats[:, :, k]
        centre = t.centre() if observed is None else float(observed[k])
        if t.kind == "event":
            hits = t.happens(stat).sum(axis=1)
            occurred = centre > 0.5
            out += np.log(((hits if occurred else r - hits) + 0.5) / (r + 1))
            continue
        var = stat.var(axis=1, ddof=1) if r > 1 else np.zeros(len(stat))
        total = np.maximum(t.sd() ** 2 * (1 + discrepancy**2) + var * (1 + 1 / r), 1e-12)
        out += -0.5 * (stat.mean(axis=1) - centre) ** 2 / total - 0.5 * np.log(total)
    return out


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


TABLE_BEGIN = "<!-- targets table: generated from the target file by analysis.targets.markdown_table -->"
TABLE_END = "<!-- end of the generated targets table -->"


def markdown_table(targets: Targets | TargetFile) -> str:
    """docs/targets.md's table of every target, generated from the file (a test keeps the doc current)."""
    spec = targets.spec if isinstance(targets, Targets) else targets
    lines = [
        "| target | observed | model statistic | compared as |",
        "| --- | --- | --- | --- |",
    ]
    for ident, t in spec.targets.items():
        when = f"mean over {t.period}" + (f" minus mean over {t.since}" if t.since else "")
        if t.event is not None:
            how = f"event ({t.event.text()}): {'happened' if t.occurred else 'did not happen'}; binomial"
        elif t.range is not None:
            how = f"range {t.range[0]:g} to {t.range[1]:g} (90%)"
        else:
            how = (
                f"value {t.value:+g}, sd {t.sd():.3g} (measurement {t.uncertainty or 0:g}, "
                f"mapping {t.mapping or 0:g})"
            )
        observed = (t.observed or "").replace("|", "/")
        lines.append(f"| `{ident}` | {observed} | `{t.measure}`, {when} | {how} ({t.confidence}) |")
    return "\n".join(lines) + "\n"


def replace_table(text: str, table: str) -> str:
    """`text` with the part between TABLE_BEGIN and TABLE_END replaced by `table`."""
    head, begin, rest = text.partition(TABLE_BEGIN)
    _, end, tail = rest.partition(TABLE_END)
    if not begin or not end:
        raise ValueError("the document has no generated targets table markers")
    return f"{head}{TABLE_BEGIN}\n{table}{TABLE_END}{tail}"


def _main() -> None:  # pragma: no cover - `python -m balancesim.analysis.targets` refreshes the doc
    root = Path(__file__).resolve().parents[3]
    doc = root / "docs" / "targets.md"
    table = markdown_table(load_targets(root / "targets" / "central_asia_2021_2023.yaml"))
    doc.write_text(replace_table(doc.read_text(), table))


if __name__ == "__main__":
    _main()
