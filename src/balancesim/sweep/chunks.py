"""Chunk files on disk: one Parquet file per finished chunk, and reading them back.

A chunk file holds one row per (run, month) of a range of runs (possibly of
many design points: columns `point` and `replicate` say which), one
column per outcome kept and one per draw the runs record (`plan.recorded`:
`shocks.ID.severity`, `shocks.ID.month`, the same value in each of a run's
rows); its schema metadata carries the sweep's
key, so a resumed sweep recognises its own files. Its pages carry Parquet
checksums and its sha256 is recorded in `checksums.jsonl` when it is
written, so a damaged chunk is found (and recomputed) instead of summarised.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from balancesim.experiment.store import PARQUET_OPTIONS, write_atomic
from balancesim.sweep.plan import Chunk, SweepPlan

# --------------------------------------------------------------------- files on disk


def chunk_table(
    plan: SweepPlan, chunk: Chunk, data: np.ndarray, recorded: dict[str, np.ndarray] | None = None
) -> pa.Table:
    """A chunk's results as a table: one row per (run, month), one column per outcome, then per draw.

    `recorded` holds each run's own draws (PATH -> (runs,)), one for every PATH of `plan.recorded`.
    """
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
    for path in plan.recorded:
        columns[path] = np.repeat(np.asarray((recorded or {})[path], dtype=float), T)
    return pa.table(columns)


def write_chunk(
    folder: Path,
    plan: SweepPlan,
    chunk: Chunk,
    data: np.ndarray,
    recorded: dict[str, np.ndarray] | None = None,
) -> str:
    """Write a finished chunk atomically (with page checksums); returns the file's sha256.

    The bytes are hashed as they are written, so the checksum is of what
    this process meant to write, not of what a damaged disk gives back.
    """
    table = chunk_table(plan, chunk, data, recorded)
    table = table.replace_schema_metadata({"balancesim_sweep": plan.key()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **PARQUET_OPTIONS)
    payload = sink.getvalue().to_pybytes()
    write_atomic(folder / "chunks" / chunk.name, lambda f: f.write(payload))
    return hashlib.sha256(payload).hexdigest()


def read_chunk(folder: Path, plan: SweepPlan, chunk: Chunk) -> np.ndarray:
    """(runs, months, outcomes) of one chunk file (page checksums verified)."""
    table = pq.read_table(
        folder / "chunks" / chunk.name, columns=list(plan.measures), page_checksum_verification=True
    )
    flat = np.column_stack([table.column(m).to_numpy() for m in plan.measures])
    return flat.reshape(chunk.count, len(plan.months), len(plan.measures))


def iter_chunks(folder: Path, plan: SweepPlan) -> Iterator[np.ndarray]:
    """Every chunk's (runs, months, outcomes), in run order."""
    for chunk in plan.chunks():
        yield read_chunk(folder, plan, chunk)


def file_sha256(path: Path) -> str | None:
    """The sha256 of a file's bytes (None if it cannot be read)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def chunk_ok(path: Path, key: str, rows: int) -> bool:
    """Is `path` a chunk file of the sweep `key` with `rows` rows (its footer says so)?"""
    try:
        meta = pq.read_metadata(path)
    except (OSError, pa.ArrowException):
        return False
    stamp = (meta.metadata or {}).get(b"balancesim_sweep", b"").decode()
    return stamp == key and meta.num_rows == rows


def chunk_readable(path: Path) -> bool:
    """Can every page of `path` be read with its checksum verified?"""
    try:
        pq.read_table(path, page_checksum_verification=True)
    except (OSError, pa.ArrowException):
        return False
    return True


class ChecksumIndex:
    """`checksums.jsonl`: the sha256 of every chunk file, one JSON line per chunk written.

    It sits beside `chunks/`, not in it, so that folder stays a plain Parquet
    dataset.

    A line is appended (and fsynced) right after its chunk file is renamed
    into place. A process killed between the two leaves a complete chunk
    without a line; `verify` then checks that chunk page by page instead. A
    torn last line is ignored. On resume the index is rewritten atomically
    with the verified entries only.
    """

    NAME = "checksums.jsonl"

    def __init__(self, folder: Path) -> None:
        self.path = folder / self.NAME
        self.entries: dict[str, str] = {}

    def load(self) -> ChecksumIndex:
        """Read the entries on disk (the last line for a chunk wins)."""
        try:
            lines = self.path.read_text().splitlines()
        except OSError:
            return self
        for line in lines:
            try:
                entry = json.loads(line)
                self.entries[str(entry["file"])] = str(entry["sha256"])
            except (ValueError, KeyError, TypeError):
                continue
        return self

    def rewrite(self) -> None:
        """Replace the index on disk with the entries held (atomically)."""
        text = "".join(self._line(name, sha) for name, sha in sorted(self.entries.items()))
        write_atomic(self.path, lambda f: f.write(text.encode()))

    def add(self, name: str, sha256: str) -> None:
        """Record a chunk just written: append its line and make it durable."""
        self.entries[name] = sha256
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(self._line(name, sha256))
            f.flush()
            os.fsync(f.fileno())

    @staticmethod
    def _line(name: str, sha256: str) -> str:
        return json.dumps({"file": name, "sha256": sha256}) + "\n"

    def verify(self, path: Path, key: str, rows: int) -> bool:
        """Is this chunk file intact and this sweep's? Unindexed files are checked page by page."""
        if not chunk_ok(path, key, rows):
            return False
        expected = self.entries.get(path.name)
        if expected is not None:
            return file_sha256(path) == expected
        if not chunk_readable(path):
            return False
        sha = file_sha256(path)
        if sha is None:
            return False
        self.entries[path.name] = sha
        return True


def iter_chunk_files(folder: str | Path) -> Iterator[Path]:
    """The complete chunk files of a sweep folder (hidden temporary files are skipped)."""
    yield from sorted(p for p in (Path(folder) / "chunks").glob("*.parquet") if not p.name.startswith("."))
