"""Chunk files on disk: one Parquet file per finished chunk, and reading them back.

A chunk file holds one row per (run, month) of a range of runs (possibly of
many design points: columns `point` and `replicate` say which) and one
column per outcome kept; its schema metadata carries the sweep's
key, so a resumed sweep recognises its own files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .plan import Chunk, SweepPlan

# --------------------------------------------------------------------- files on disk


def chunk_table(plan: SweepPlan, chunk: Chunk, data: np.ndarray) -> pa.Table:
    """A chunk's results as a table: one row per (run, month), one column per outcome."""
    T, R, C = data.shape
    point, replicate = chunk.runs(plan.replicates)
    columns: dict[str, Any] = {
        "point": np.repeat(point.astype(np.int32), T),
        "replicate": np.repeat(replicate.astype(np.int32), T),
        "month": np.tile(np.asarray(plan.months, dtype=np.int16), R),
    }
    flat = data.transpose(1, 0, 2).reshape(R * T, C)
    for c, name in enumerate(plan.measures):
        columns[name] = flat[:, c]
    return pa.table(columns)


def read_chunk(folder: Path, plan: SweepPlan, chunk: Chunk) -> np.ndarray:
    """(runs, months, outcomes) of one chunk file."""
    table = pq.read_table(folder / "chunks" / chunk.name, columns=list(plan.measures))
    flat = np.column_stack([table.column(m).to_numpy() for m in plan.measures])
    return flat.reshape(chunk.count, len(plan.months), len(plan.measures))


def iter_chunks(folder: Path, plan: SweepPlan) -> Iterator[np.ndarray]:
    """Every chunk's (runs, months, outcomes), in run order."""
    for chunk in plan.chunks():
        yield read_chunk(folder, plan, chunk)


def chunk_ok(path: Path, key: str, rows: int) -> bool:
    try:
        meta = pq.read_metadata(path)
    except (OSError, pa.ArrowException):
        return False
    stamp = (meta.metadata or {}).get(b"balancesim_sweep", b"").decode()
    return stamp == key and meta.num_rows == rows


def iter_chunk_files(folder: str | Path) -> Iterator[Path]:
    """The complete chunk files of a sweep folder (hidden temporary files are skipped)."""
    yield from sorted(p for p in (Path(folder) / "chunks").glob("*.parquet") if not p.name.startswith("."))
