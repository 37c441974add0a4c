"""Files balancesim wrote, read back verified: nothing damaged or foreign is read as sound.

Every folder a command writes ends with a hidden marker, `.balancesim-output.json`
(`MARKER`), written by the folder policy (`experiment.folders.output`) as the
last step before the folder is swapped into place. It says which command wrote
the folder and lists every file it wrote with its size and sha256:

    {"balancesim_output": 1, "command": "discover",
     "files": {"summary.json": {"bytes": 812, "sha256": "..."}, ...}}

Every reader of those files (run folders' series and params, sweep chunks and
design, posteriors) goes through `listing`, `check` and `read_table`:

* `listing(folder)` is the folder's list of files and checksums: the marker's,
  or for folders written before it, the run manifest's `files` or a sweep's
  `checksums.jsonl`. A file it does not list is not the tool's and is not read
  (a stray `.parquet` in `chunks/` is not counted).
* `check(path, expected)` compares a file's size and sha256 with its entry;
  `read_table` does that, then reads Parquet with page checksums verified
  (files are written with `write_page_checksum=True`), so a file without an
  entry (an older folder) is still checked page by page.
* Damage raises `DamagedFile` (an `OSError`, EIO): one line naming the file;
  the command line exits with status 1, as for any disk failure.

This module sits at the bottom of the layers (posteriors are scenario inputs),
so it imports no other part of balancesim.
"""

from __future__ import annotations

import errno
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

MARKER = ".balancesim-output.json"
FORMAT = 1
CHECKSUMS = "checksums.jsonl"  # a sweep's chunk checksums (sweep.chunks.ChecksumIndex)
MAX_JSON = 64 << 20  # a marker or manifest of more than this is not one

Entry = dict[str, Any]  # {"bytes": int, "sha256": str}


class DamagedFile(OSError):
    """A file the tool wrote that is damaged or changed since: 'PATH: what is wrong' (exit status 1)."""

    def __init__(self, path: str | Path, why: str) -> None:
        super().__init__(errno.EIO, why, str(path))


def sha256_of(path: Path) -> str | None:
    """The sha256 of a file's bytes, or None if it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def entry(path: Path) -> Entry:
    """A file's size and sha256, as markers and manifests list them."""
    return {"bytes": path.stat().st_size, "sha256": sha256_of(path)}


def files_of(folder: Path) -> dict[str, Entry]:
    """Every file under `folder` (relative path -> entry), the marker itself excepted."""
    return {
        p.relative_to(folder).as_posix(): entry(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink() and p.name != MARKER
    }


def read_json(path: Path) -> Any:
    """JSON data of a small file the tool wrote, or None when it is missing or not JSON."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_JSON)
        return json.loads(data.decode("utf-8"))
    except (OSError, ValueError):
        return None


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The folder's marker (command and files), or None when it has none or it is not valid."""
    data = read_json(Path(folder) / MARKER)
    if (
        isinstance(data, dict)
        and data.get("balancesim_output") == FORMAT
        and isinstance(data.get("command"), str)
        and isinstance(data.get("files"), dict)
    ):
        return data
    return None


def marker(command: str, files: dict[str, Entry]) -> bytes:
    """The marker's bytes for `command` having written `files`."""
    return (
        json.dumps({"balancesim_output": FORMAT, "command": command, "files": files}, indent=1) + "\n"
    ).encode()


def listing(folder: str | Path) -> dict[str, Entry] | None:
    """The files the tool wrote in `folder` and their checksums; None when nothing says (an old folder).

    The marker's list; else, for older folders, a run manifest's `files`
    and/or a sweep's `checksums.jsonl` (chunks as `chunks/NAME`).
    """
    folder = Path(folder)
    found = read_marker(folder)
    if found is not None:
        return {str(k): v for k, v in found["files"].items() if isinstance(v, dict)}
    listed: dict[str, Entry] | None = None
    manifest = read_json(folder / "manifest.json")
    if isinstance(manifest, dict) and isinstance(manifest.get("files"), dict):
        listed = {str(k): v for k, v in manifest["files"].items() if isinstance(v, dict)}
    sums = folder / CHECKSUMS
    if sums.is_file():
        listed = dict(listed or {})
        try:
            lines = sums.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            lines = []
        for line in lines:
            try:
                item = json.loads(line)
                listed[f"chunks/{item['file']}"] = {"sha256": str(item["sha256"])}
            except (ValueError, KeyError, TypeError):
                continue
    return listed


def check(path: Path, expected: Entry | None) -> None:
    """DamagedFile unless `path` has the size and sha256 of `expected` (nothing to check without it)."""
    if expected is None:
        return
    size = expected.get("bytes")
    try:
        actual = path.stat().st_size
    except FileNotFoundError:
        raise DamagedFile(path, "missing (the folder's manifest lists it)") from None
    if isinstance(size, int) and size != actual:
        raise DamagedFile(path, f"damaged: {actual} bytes, {size} when it was written")
    sha = expected.get("sha256")
    if isinstance(sha, str) and sha256_of(path) != sha:
        raise DamagedFile(path, "damaged: its sha256 differs from the one recorded when it was written")


def read_table(path: Path, expected: Entry | None = None, columns: list[str] | None = None) -> pa.Table:
    """A Parquet file checked against `expected` and read with its page checksums verified."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    check(path, expected)
    try:
        return pq.read_table(path, columns=columns, page_checksum_verification=True)
    except FileNotFoundError:
        raise DamagedFile(path, "missing") from None
    except (OSError, pa.ArrowException, ValueError) as e:
        text = " ".join(str(e).split())[:160]
        raise DamagedFile(path, f"damaged: not a readable Parquet file ({text})") from None


def read_bytes(path: Path, expected: Entry | None = None, limit: int = MAX_JSON) -> bytes:
    """A small file's bytes, checked against `expected`."""
    check(path, expected)
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except FileNotFoundError:
        raise DamagedFile(path, "missing") from None
