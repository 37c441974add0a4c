"""A calibration's posterior as per-run values: read, checked against a scenario, drawn per replicate.

A posterior folder (written by `balancesim calibrate`) holds
`posterior.parquet`: one column per calibrated PATH and a `weight` column,
one row per particle. Using it means each replicate takes one particle,
picked with probability proportional to its weight, and runs with that
particle's values of every PATH (a joint draw: the values' correlations are
kept). The pick inverts the weights' cumulative distribution at a uniform
from `uncertainty.uniforms(seed, "posterior", ...)`: it depends only on the
run seed and the replicate index, so it is reproducible, independent of
chunking, and a scenario and its baseline pick the same particle.

Priors of the scenario that the posterior does not cover are still drawn
from their priors (`uncertainty.draw`), as in any `--uncertainty prior` run.

This module imports no ELFI: `run`, `sweep` and `viz` use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from balancesim.scenario.text import os_reason, read_bounded

if TYPE_CHECKING:
    from balancesim.scenario.schema import Scenario

FILE = "posterior.parquet"
MAX_BYTES = 256 << 20  # a posterior is a few thousand particles; anything near this is not one
WEIGHT = "weight"
STREAM = "posterior"  # the PATH-like key of the particle-picking uniforms


class PosteriorError(ValueError):
    """A posterior folder that cannot be used; the message names the folder or file and the problem."""


@dataclass
class Posterior:
    """Weighted particles: values (N,) per PATH and their weights (N,)."""

    folder: str
    values: dict[str, np.ndarray]
    weights: np.ndarray

    @property
    def paths(self) -> list[str]:
        return list(self.values)

    def without(self, fixed: list[str]) -> Posterior:
        """This posterior without the PATHs that `--set` fixed (and the values under them)."""
        from balancesim.scenario.paths import split_path

        cut = [split_path(p) for p in fixed]
        kept = {
            p: v
            for p, v in self.values.items()
            if not any(c is not None and (split_path(p) or ())[: len(c)] == c for c in cut)
        }
        return Posterior(self.folder, kept, self.weights)

    def pick(self, seed: int, replicates: int, first: int = 0) -> np.ndarray:
        """The particle index of replicates first..first+replicates-1 under this run seed."""
        from balancesim.scenario.uncertainty import uniforms

        cdf = np.cumsum(self.weights) / self.weights.sum()
        u = uniforms(seed, STREAM, replicates, first)
        return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)

    def draw(self, seed: int, replicates: int, first: int = 0) -> dict[str, np.ndarray]:
        """Each PATH's value for each replicate: the values of the particle it picked."""
        index = self.pick(seed, replicates, first)
        return {p: v[index] for p, v in self.values.items()}


def read_posterior(folder: str | Path, scenario: Scenario | None = None, where: str = "") -> Posterior:
    """Read `folder`/posterior.parquet, verified, and check it (against `scenario` when given).

    A folder `calibrate` wrote lists the file's sha256 (its marker): a file
    that differs raises `verified.DamagedFile` (an OSError, exit status 1),
    as does a Parquet page whose checksum fails.

    `where` prefixes messages (e.g. 'scen.yaml:12: uncertainty.posterior' or
    '--posterior'). Raises PosteriorError: missing folder or file, unreadable
    file, no weight column, bad weights, a column that is not a PATH of the
    scenario, a value outside the PATH's bounds.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    prefix = f"{where}: " if where else ""
    folder = Path(folder)
    if not folder.is_dir():
        raise PosteriorError(f"{prefix}{folder}: no such folder (expected a `balancesim calibrate` output)")
    file = folder / FILE
    if not file.is_file():
        raise PosteriorError(f"{prefix}{file}: missing (expected a `balancesim calibrate` output)")
    from balancesim.scenario import verified

    listed = verified.listing(folder)
    if listed is None:  # not written by `calibrate`: checked as any input, page checksums still verified
        try:
            data = pa.BufferReader(read_bounded(file, MAX_BYTES))  # a regular file, of bounded size
            table = pq.read_table(data, page_checksum_verification=True)
        except pa.ArrowException as e:
            raise PosteriorError(f"{prefix}{file}: not a readable Parquet file ({e})") from None
        except OSError as e:
            raise PosteriorError(f"{prefix}{file}: cannot read it: {os_reason(e)}") from None
    else:  # the calibration's own file: damage is one line, exit status 1 (verified.DamagedFile)
        table = verified.read_table(file, listed.get(FILE))
    names = table.column_names
    if WEIGHT not in names:
        raise PosteriorError(f"{prefix}{file}: no '{WEIGHT}' column (columns: {', '.join(names)})")
    paths = [n for n in names if n != WEIGHT]
    if not paths:
        raise PosteriorError(f"{prefix}{file}: no parameter columns besides '{WEIGHT}'")
    if table.num_rows == 0:
        raise PosteriorError(f"{prefix}{file}: no rows")
    columns = {}
    for name in names:
        if not pa.types.is_floating(table.schema.field(name).type) and not pa.types.is_integer(
            table.schema.field(name).type
        ):
            raise PosteriorError(
                f"{prefix}{file}: column '{name}' is {table.schema.field(name).type}, not numbers"
            )
        v = table.column(name).to_numpy(zero_copy_only=False).astype(float)
        if not np.all(np.isfinite(v)):
            raise PosteriorError(f"{prefix}{file}: column '{name}' has missing or infinite values")
        columns[name] = v
    weights = columns.pop(WEIGHT)
    if np.any(weights < 0) or weights.sum() <= 0:
        raise PosteriorError(f"{prefix}{file}: weights must be at least 0 with a positive sum")
    if scenario is not None:
        _check(scenario, columns, f"{prefix}{file}")
    return Posterior(str(folder), columns, weights)


def _check(scenario: Scenario, columns: dict[str, np.ndarray], where: str) -> None:
    from balancesim.scenario.per_run import ValuesError, resolve

    problems = []
    for path, v in columns.items():
        try:
            target = resolve(scenario, path)
        except ValuesError as e:
            problems.append(f"{where}: column '{path}': {str(e).removeprefix(f'{path}: ')}")
            continue
        lo, hi = target.low, target.high
        bad = np.flatnonzero((v < lo) | (v > hi))
        if bad.size:
            problems.append(
                f"{where}: column '{path}': {v[bad[0]]:g} (row {bad[0]}) is outside the value's range "
                f"{lo:g}..{hi:g}"
            )
    if problems:
        raise PosteriorError("\n".join(problems))


def run_values(
    scenario: Scenario, posterior: Posterior, seed: int, replicates: int, first: int = 0
) -> dict[str, np.ndarray]:
    """Per-run values of a run with a posterior: its draws, and the scenario's other priors' draws."""
    from balancesim.scenario.uncertainty import draw

    drawn = draw(scenario, seed, replicates, first) if scenario.uncertainty else {}
    return {p: v for p, v in drawn.items() if p not in posterior.values} | posterior.draw(
        seed, replicates, first
    )
