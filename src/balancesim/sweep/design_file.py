"""Design points from a CSV file (`sweep --design-file`): one column per PATH, one row per point.

Any sampler can then drive a sweep: SALib's Morris or FAST samples, EMA
Workbench's experiments, a hand-written table. The file is read with the
`csv` module so that every problem names the file, the line and the column:

    design.csv:7: column parameters.lock_in: 'high' is not a number

Values are checked against the scenario by the caller (`check_values`): each
column's smallest and largest value first (a value's admissible set is an
interval, so both ends passing means every value does), then, for designs of
a bounded size, every row as a whole (combinations can fail where single
values pass, e.g. a severity range whose low end exceeds its high end).
A column named `point` is ignored, so a sweep's own design.csv can be fed back.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from balancesim.scenario.text import excerpt, os_reason, read_bounded
from balancesim.sweep.specs import SweepError

MAX_ROWS = 1_000_000
MAX_BYTES = 128 << 20  # a million rows of a few dozen columns
IGNORED = ("point",)  # a sweep's design.csv numbers its points; that is not an input


class DesignFileError(SweepError):
    """A design file that cannot be used; the message names file, line and column."""


@dataclass(frozen=True)
class DesignFile:
    """The points of a design file: `points[p, d]` is column `paths[d]` on line `lines[p]`."""

    file: str
    paths: tuple[str, ...]
    points: np.ndarray  # (P, D) float64
    lines: tuple[int, ...]  # 1-based line of each point in the file

    def where(self, point: int, path: str | None = None) -> str:
        """`file:line` (and `: column PATH`) of a point, for messages; `design point P` without a file."""
        text = f"{self.file}:{self.lines[point]}" if self.file else f"design point {point}"
        return f"{text}: column {path}" if path is not None else text


def read_design_file(
    path: str | Path, within: tuple[Path, ...] | None = None, shown: str | None = None
) -> DesignFile:
    """Read and check the shape of a design CSV: a header of PATHs, then rows of numbers.

    The file is read by the one bounded reader (`read_bounded`): a regular
    file of at most MAX_BYTES; with `within` (a scenario's `sweep.design_file`)
    only inside those folders. `shown` is the name used in messages. Raises
    DesignFileError for a missing, refused or unreadable file, an empty
    header, a repeated column, a row of the wrong length, or a value that is
    not a finite number. Empty lines are skipped; messages quote at most a
    short excerpt of a cell, never the file.
    """
    name = shown or str(path)
    try:
        text = read_bounded(path, MAX_BYTES, within).decode("utf-8-sig")
    except OSError as e:
        raise DesignFileError(f"{name}: cannot read it: {os_reason(e)}") from None
    except UnicodeDecodeError:
        raise DesignFileError(f"{name}: not UTF-8 text (expected a CSV file)") from None
    rows = csv.reader(text.splitlines())
    header: list[str] | None = None
    keep: list[int] = []
    values: list[list[float]] = []
    lines: list[int] = []
    for line, row in enumerate(rows, start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip() for cell in row]
            for k, column in enumerate(header):
                if not column:
                    raise DesignFileError(f"{name}:{line}: column {k + 1} has no name (expected a PATH)")
                if header.index(column) != k:
                    raise DesignFileError(f"{name}:{line}: column {excerpt(column, 40)} appears twice")
            keep = [k for k, column in enumerate(header) if column not in IGNORED]
            if not keep:
                raise DesignFileError(f"{name}:{line}: no PATH columns (expected e.g. parameters.lock_in)")
            continue
        if len(row) != len(header):
            raise DesignFileError(
                f"{name}:{line}: {len(row)} values, expected {len(header)} (one per column)"
            )
        if len(values) >= MAX_ROWS:
            raise DesignFileError(f"{name}:{line}: more than {MAX_ROWS:,} design points")
        point = []
        for k in keep:
            cell = row[k].strip()
            try:
                value = float(cell)
            except ValueError:
                bad = f"'{excerpt(cell, 40)}'" if cell else "an empty cell"
                raise DesignFileError(
                    f"{name}:{line}: column {excerpt(header[k], 40)}: {bad} is not a number"
                ) from None
            if not math.isfinite(value):
                raise DesignFileError(f"{name}:{line}: column {header[k]}: NaN/infinity is not allowed")
            point.append(value)
        values.append(point)
        lines.append(line)
    if header is None:
        raise DesignFileError(f"{name}: empty file (expected a header of PATHs, then one row per point)")
    if not values:
        raise DesignFileError(f"{name}: no design points (only a header)")
    paths = tuple(header[k] for k in keep)
    return DesignFile(
        name, paths, np.asarray(values, dtype=float).reshape(len(values), len(paths)), tuple(lines)
    )


Check = Callable[[dict[str, Any]], str | None]  # overrides -> the loader's message, or None if valid


def check_values(
    design: DesignFile, integer: frozenset[str], check: Check, whole_rows: bool, base: dict[str, Any]
) -> None:
    """Check a design file's values against the scenario; DesignFileError at the first bad one.

    `check(overrides)` validates the base scenario with these overrides and
    returns the loader's message (None when valid); `base` holds values every
    point shares (e.g. `--set`). Integer paths (a shock's month) need whole
    numbers. With `whole_rows`, every row is then checked as a whole.
    """
    for d, path in enumerate(design.paths):
        column = design.points[:, d]
        if path in integer:
            bad = np.flatnonzero(column != np.rint(column))
            if len(bad):
                p = int(bad[0])
                raise DesignFileError(
                    f"{design.where(p, path)}: {path} takes whole numbers, got {column[p]:g}"
                )
        for p in (int(np.argmin(column)), int(np.argmax(column))):
            message = check({**base, path: _value(column[p], path in integer)})
            if message is not None:
                raise DesignFileError(f"{design.where(p, path)}: value {column[p]:g}: {message}")
    if not whole_rows or len(design.paths) < 2:
        return
    for p in range(len(design.points)):
        overrides = {
            path: _value(v, path in integer) for path, v in zip(design.paths, design.points[p], strict=True)
        }
        message = check({**base, **overrides})
        if message is not None:
            raise DesignFileError(f"{design.where(p)}: {message}")


def _value(x: float, whole: bool) -> float | int:
    return round(x) if whole else float(x)
