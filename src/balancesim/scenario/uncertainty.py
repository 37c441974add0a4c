"""Drawing per-run values from a scenario's priors (its `uncertainty:` section).

Each replicate draws its own value of every uncertain PATH. The draw is a
uniform number turned into the value by the distribution's inverse CDF
(`transform`, scipy.stats' `ppf`), and the uniform depends only on (run seed,
PATH, replicate index) (`uniforms`):

* a value does not depend on how many replicates run or how they are chunked;
* a scenario and its baseline draw the same value for the same PATH, so a
  paired comparison stays paired;
* adding an uncertain value reshuffles no other one;
* the draws are apart from the noise (engine.py), which comes from other
  generators.

The uniform of replicate k is the k-th output of a Philox counter-based
generator keyed by (seed, crc32 of the PATH): reaching replicate k is a
counter jump, not k draws, so a chunk starting at replicate 10^6 costs what
one starting at 0 does. Sweep designs and calibration can reuse `transform`
on their own uniforms.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from balancesim.scenario.distributions import Beta, Choice, LogUniform, Normal, Triangular, Uniform

if TYPE_CHECKING:
    from balancesim.scenario.distributions import Distribution
    from balancesim.scenario.schema import Location, Scenario

# Second half of the Philox key: this tag (high 32 bits) and the PATH's crc32 (low 32 bits).
_STREAM = zlib.crc32(b"balancesim.uncertainty")
_PER_COUNTER = 4  # Philox4x64 gives four 64-bit words per counter step


def uniforms(seed: int, path: str, count: int, first: int = 0) -> np.ndarray:
    """Uniforms in (0, 1) of replicates first..first+count-1 for PATH under this run seed."""
    key = np.array([seed, (_STREAM << 32) | zlib.crc32(path.encode())], dtype=np.uint64)
    bits = np.random.Philox(key=key)
    bits.advance(first // _PER_COUNTER)
    skip = first % _PER_COUNTER
    raw = bits.random_raw(skip + count)[skip:]
    # 53 random bits, centred in their interval: never exactly 0 or 1.
    return ((raw >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def transform(dist: Distribution, u: np.ndarray, bounds: tuple[float, float] | None = None) -> np.ndarray:
    """Values of `dist` at the quantiles `u` (its inverse CDF, as scipy.stats' `ppf`).

    `bounds` truncates a normal prior that gives no low/high of its own
    (the value's admissible range; None: not truncated).
    """
    u = np.asarray(u, dtype=float)
    if isinstance(dist, Choice):
        weights = np.ones(len(dist.values)) if dist.weights is None else np.asarray(dist.weights)
        cumulative = np.cumsum(weights) / weights.sum()
        index = np.minimum(np.searchsorted(cumulative, u, side="right"), len(dist.values) - 1)
        return np.asarray(dist.values, dtype=float)[index]
    from scipy import stats

    if isinstance(dist, Normal):
        lo, hi = bounds if bounds is not None else (-np.inf, np.inf)
        lo = lo if dist.low is None else dist.low
        hi = hi if dist.high is None else dist.high
        a, b = (lo - dist.mean) / dist.sd, (hi - dist.mean) / dist.sd
        return np.clip(stats.truncnorm(a, b, loc=dist.mean, scale=dist.sd).ppf(u), lo, hi)
    # Closed forms where the inverse CDF has one (scipy's generic ppf costs
    # several passes of argument checks: too slow for 10^6 runs x 100 priors).
    low, high = dist.low, dist.high
    width = high - low
    if isinstance(dist, Uniform):
        x = low + width * u
    elif isinstance(dist, LogUniform):
        x = np.exp(np.log(low) + np.log(high / low) * u)
    elif isinstance(dist, Triangular):
        c = (dist.mode - low) / width
        x = np.where(
            u < c,
            low + np.sqrt(u * width * (dist.mode - low)),
            high - np.sqrt((1.0 - u) * width * (high - dist.mode)),
        )
    elif isinstance(dist, Beta):
        x = stats.beta(dist.a, dist.b, loc=dist.low, scale=width).ppf(u)
    else:  # pragma: no cover - the schema admits no other kind
        raise TypeError(f"unknown distribution {dist!r}")
    return np.clip(x, dist.low, dist.high)


def spec_of(scenario_or_spec: Scenario | Mapping[str, Distribution]) -> Mapping[str, Distribution]:
    """The priors of a scenario, or the mapping itself."""
    if isinstance(scenario_or_spec, Mapping):
        return scenario_or_spec
    return scenario_or_spec.uncertainty


def draw(
    scenario_or_spec: Scenario | Mapping[str, Distribution], seed: int, replicates: int, first: int = 0
) -> dict[str, np.ndarray]:
    """Each uncertain PATH's values for replicates first..first+replicates-1 of a run of `seed`."""
    from balancesim.scenario.per_run import bounds

    spec = spec_of(scenario_or_spec)
    scenario = None if isinstance(scenario_or_spec, Mapping) else scenario_or_spec
    out = {}
    for path, dist in spec.items():
        limits = bounds(scenario, path) if scenario is not None and isinstance(dist, Normal) else None
        out[path] = transform(dist, uniforms(seed, path, replicates, first), limits)
    posterior = getattr(scenario, "posterior", None)
    if posterior is not None:  # a calibration's posterior replaces the priors of the PATHs it covers
        out |= posterior.draw(seed, replicates, first)
    return out


def describe(dist: Distribution) -> str:
    """A short text of a prior: 'uniform 2..4.5', 'normal 0.25±0.05 in 0.1..0.4'."""
    if isinstance(dist, Choice):
        return "one of " + ", ".join(f"{v:g}" for v in dist.values)
    if isinstance(dist, Normal):
        text = f"normal {dist.mean:g}±{dist.sd:g}"
        if dist.low is not None or dist.high is not None:
            text += f" in {_g(dist.low)}..{_g(dist.high)}"
        return text
    if isinstance(dist, Triangular):
        return f"triangular {dist.low:g}..{dist.high:g}, mode {dist.mode:g}"
    if isinstance(dist, Beta):
        return f"beta({dist.a:g}, {dist.b:g}) on {dist.low:g}..{dist.high:g}"
    return f"{dist.distribution.replace('_', '-')} {dist.low:g}..{dist.high:g}"


def _g(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def summary(spec: Mapping[str, Distribution], values: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """What a run's manifest records: each prior, and the spread of its draws."""
    out = {}
    for path, dist in spec.items():
        v = values[path]
        q = np.quantile(v, [0.05, 0.5, 0.95])
        out[path] = {
            "prior": dist.model_dump(mode="json", exclude_none=True),
            "mean": float(v.mean()),
            "p5": float(q[0]),
            "median": float(q[1]),
            "p95": float(q[2]),
        }
    return out


# ----------------------------------------------------------------- checks of a scenario


def scenario_problems(scenario: Scenario) -> list[tuple[Location, str]]:
    """Everything wrong with a scenario the schema cannot see: its cross-references, then (in a
    scenario whose references are sound, where PATHs mean something) its priors."""
    from balancesim.scenario.schema import reference_problems

    found = reference_problems(scenario)
    if scenario.uncertainty and not found:
        found += problems(scenario)
    return found


def problems(scenario: Scenario) -> list[tuple[Location, str]]:
    """What is wrong with a scenario's priors: unknown PATHs, ranges outside the value's bounds."""
    from balancesim.scenario.per_run import ValuesError, resolve

    out: list[tuple[Location, str]] = []
    seen: dict[tuple[str, tuple[int, ...]], str] = {}
    ranges = {}
    for path, dist in scenario.uncertainty.items():
        loc: Location = ("uncertainty", path)
        try:
            target = resolve(scenario, path)
        except ValuesError as e:
            out.append((loc, str(e).removeprefix(f"{path}: ")))
            continue
        where = (target.field, target.index)
        if where in seen:
            out.append((loc, f"the same value as '{seen[where]}', which already has a prior"))
            continue
        seen[where] = path
        if target.field == "tools0":
            out.append((loc, "a tool share cannot be drawn alone: the three shares must sum to 1"))
            continue
        if target.integer and not isinstance(dist, Choice):
            out.append(((*loc, "distribution"), f"{path} takes whole numbers: use 'choice'"))
            continue
        ranges[path] = _range_problems(out, loc, path, dist, target)
    _severity_problems(out, scenario, ranges)
    return out


MAX_SD_RATIO = 1e6  # a normal prior's sd, at most, in widths of its range (truncnorm stays exact)


def _range_problems(out: list, loc: Location, path: str, dist: Any, target: Any) -> tuple[float, float]:
    """Check the prior's range against the value's bounds; returns its support."""
    lo, hi = target.low, target.high
    if isinstance(dist, Choice):
        for i, v in enumerate(dist.values):
            if not lo <= v <= hi or (target.integer and v != round(v)):
                why = "not a whole number" if lo <= v <= hi else f"outside {path}'s range {lo:g}..{hi:g}"
                out.append(((*loc, "values", i), f"{v:g} is {why}"))
        return dist.support()
    ends = {"low": dist.low, "high": dist.high}
    for name, v in ends.items():
        if v is not None and not lo <= v <= hi:
            side = "below the minimum" if v < lo else "above the maximum"
            out.append(((*loc, name), f"{v:g} is {side} {(lo if v < lo else hi):g} of {path}"))
    if isinstance(dist, Normal):
        low = lo if dist.low is None else dist.low
        high = hi if dist.high is None else dist.high
        if not low <= dist.mean <= high:
            out.append(((*loc, "mean"), f"{dist.mean:g} is outside the range {low:g}..{high:g}"))
        elif math.isfinite(high - low) and dist.sd > MAX_SD_RATIO * (high - low):
            # The truncated normal's quantiles lose all precision (at sd ~1e16 x the width
            # every draw is the mean): such a prior is flat, and a uniform one says so.
            out.append(
                (
                    (*loc, "sd"),
                    f"{dist.sd:g} is more than {MAX_SD_RATIO:g} times the range {low:g}..{high:g} "
                    "(the normal is flat there: use distribution: uniform)",
                )
            )
        return low, high
    return dist.low, dist.high


def _severity_problems(out: list, scenario: Scenario, ranges: dict[str, tuple[float, float]]) -> None:
    """A drawn severity range must keep low <= high in every draw."""
    from balancesim.scenario.schema import SeverityRange

    for shock in scenario.shocks:
        if not isinstance(shock.severity, SeverityRange):
            continue
        low_path, high_path = f"shocks.{shock.id}.severity.low", f"shocks.{shock.id}.severity.high"
        if low_path not in ranges and high_path not in ranges:
            continue
        top_low = ranges.get(low_path, (shock.severity.low,) * 2)[1]
        bottom_high = ranges.get(high_path, (shock.severity.high,) * 2)[0]
        if top_low > bottom_high:
            path = low_path if low_path in ranges else high_path
            out.append(
                (
                    ("uncertainty", path),
                    f"draws could put severity.low ({top_low:g}) above severity.high ({bottom_high:g})",
                )
            )
