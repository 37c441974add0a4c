"""Chunk files on disk: one Parquet file per finished chunk, and reading them back.

A chunk file holds one row per (replicate, month) of one design point and
one column per headline measure; its schema metadata carries the sweep's
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
