"""Output folders: one writer at a time, nothing half-written, nothing left behind.

Every command that writes a folder (`run`, `sweep`, `validate`) goes
through here:

* `locked(folder)` takes an exclusive lock (the `filelock` package, an OS
  file lock released when the process ends, however it ends) on a hidden
  file beside the folder, `.<name>.lock`. A second writer of the same
  folder, a second sweep or a concurrent `--resume`, is refused at once with
  `FolderBusy` instead of mixing its files with the first one's.
* `make_partial(parent, name)` creates the hidden folder `.<name>.partial`
  in which a run or a report is written. It records its owner (pid, host,
  process start time), so a later command can tell a folder left by a killed
  process from one still being written. `swap_in` moves the finished folder
  into place: a folder without the leading dot is always complete.
* `clean_partials(parent)` removes the partial folders whose process is
  gone and reports the others.
* `check_target(folder, ...)` refuses a non-empty folder that does not hold
  an earlier output of the same command, so no user file is overwritten.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OWNER = ".owner.json"  # in a partial folder: who is writing it
PARTIAL = ".partial"


class FolderBusy(RuntimeError):
    """Another process is writing the folder (not the input's fault: exit status 1)."""


class FolderRefused(ValueError):
    """The folder holds something else (a user's files): the input's fault, exit status 2."""


def safe_name(name: str) -> str:
    """A name usable as one folder inside the results: no path separators, no leading dots
    (`..` would leave the results folder, `.x` would be hidden), `scenario` if nothing is left."""
    return name.replace("/", "_").replace("\\", "_").lstrip(".") or "scenario"


def folder_name(scenario_file: str | Path) -> str:
    """The results folder name for a scenario file: its stem, made safe.

    A file named `...yaml` has the stem `..`; used as is, results would land
    outside `--out`. Only letters, digits, `-`, `_` and inner dots are kept.
    """
    stem = re.sub(r"[^\w.-]+", "_", Path(scenario_file).stem, flags=re.ASCII).strip("._")
    return stem or "scenario"


def check_writable(folder: Path) -> None:
    """Raise OSError unless files can be written in `folder`; creates nothing that stays.

    Probes the folder, or the nearest existing folder above it, with a hidden
    temporary folder holding 4 KiB, so that a read-only or full disk is found
    before any simulation work, and a run that then fails leaves no folder.
    """
    import errno
    import shutil
    import tempfile

    target = folder.absolute()
    while not target.exists() and target != target.parent:
        target = target.parent
    if not target.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(target))
    probe = tempfile.mkdtemp(prefix=".balancesim-probe-", dir=target)
    try:
        with open(os.path.join(probe, "probe"), "wb") as f:
            f.write(b"\0" * 4096)
            f.flush()
            os.fsync(f.fileno())
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def lock_path(folder: Path) -> Path:
    """The hidden lock file of `folder`: `.<name>.lock` beside it (it outlives a swapped folder)."""
    folder = Path(folder)
    return folder.parent / f".{folder.name}.lock"


@contextlib.contextmanager
def locked(folder: str | Path, option: str = "--out") -> Iterator[None]:
    """Hold an exclusive lock on `folder` for the duration of the block, or raise FolderBusy.

    Never waits: a folder in use means another command is writing it, and
    waiting would only let the two write one after the other into the same
    place. The lock file records who holds it, for the message.
    """
    from filelock import FileLock, Timeout

    folder = Path(folder)
    path = lock_path(folder)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(e.errno, f"cannot create {path.parent}: {e.strerror}") from None
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        holder = _read_owner(path)
        who = f" (pid {holder['pid']} on {holder['host']})" if holder else ""
        raise FolderBusy(
            f"{option} {folder}: another balancesim command is writing this folder{who}; "
            "wait for it to finish or choose another folder"
        ) from None
    try:
        with contextlib.suppress(OSError):
            path.write_text(json.dumps(owner()) + "\n")
        yield
    finally:
        lock.release()


def owner() -> dict[str, Any]:
    """This process as the owner of a folder: pid, host name and start time."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": _start_time(os.getpid())}


def _start_time(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


def _read_owner(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and isinstance(data.get("pid"), int) and isinstance(data.get("host"), str):
        return data
    return None


def alive(record: dict[str, Any] | None) -> bool | None:
    """Is the owner process still running? None when this machine cannot tell (another host, no record).

    A pid alone is not enough (pids are reused): the process must also have
    started when the owner did.
    """
    if record is None or record.get("host") != socket.gethostname():
        return None
    started = _start_time(record["pid"])
    if started is None:
        return False
    recorded = record.get("started")
    return not isinstance(recorded, int | float) or abs(started - recorded) < 1.0


def make_partial(parent: Path, name: str) -> Path:
    """Create `parent/.<name>.partial` exclusively and record this process as its owner.

    A leftover of a killed process of the same name is removed first; one
    still being written raises FileExistsError (callers pick another name or
    hold the folder's lock, which rules that out).
    """
    parent.mkdir(parents=True, exist_ok=True)
    partial = parent / f".{name}{PARTIAL}"
    for _ in range(2):
        try:
            partial.mkdir()
        except FileExistsError:
            if alive(_read_owner(partial / OWNER)) is not False:
                raise
            shutil.rmtree(partial, ignore_errors=True)
            continue
        (partial / OWNER).write_text(json.dumps(owner()) + "\n")
        return partial
    raise FileExistsError(partial)


def swap_in(partial: Path, final: Path) -> None:
    """Move the finished `partial` folder to `final`, replacing an earlier output there.

    The earlier folder is moved aside first and removed last, so at every
    moment `final` is either the old complete folder, absent for an instant,
    or the new complete one; never a mix.
    """
    (partial / OWNER).unlink(missing_ok=True)
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    try:
        os.replace(partial, final)
    except BaseException:
        if old is not None:
            os.replace(old, final)
        raise
    fsync_dir(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def written_whole(folder: str | Path) -> Iterator[Path]:
    """Write an output folder whole: lock it, yield a fresh partial folder, swap it in at the end.

    The block writes into the partial folder; when it ends without error the
    partial folder replaces `folder` (an earlier output of the same name is
    replaced only then), otherwise it is removed. A second writer of the same
    folder gets `FolderBusy` at once.
    """
    folder = Path(folder)
    with locked(folder):
        partial = make_partial(folder.parent, folder.name)
        try:
            yield partial
            swap_in(partial, folder)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable (fsync the folder itself)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Leftovers:
    """Partial folders found beside an output: removed (owner gone) and kept (owner alive or unknown)."""

    removed: list[Path]
    kept: list[tuple[Path, str]]

    def notes(self) -> list[str]:
        """One line per finding, for the console."""
        lines = []
        if self.removed:
            names = ", ".join(p.name for p in self.removed)
            lines.append(f"removed {len(self.removed)} unfinished folder(s) of killed commands: {names}")
        lines += [f"note: {path} is unfinished: {why}" for path, why in self.kept]
        return lines


def clean_partials(parent: Path) -> Leftovers:
    """Remove `parent/.*.partial` folders whose owner process is gone; report the others."""
    found = Leftovers([], [])
    if not parent.is_dir():
        return found
    for path in sorted(parent.glob(f".*{PARTIAL}")):
        if not path.is_dir():
            continue
        record = _read_owner(path / OWNER)
        state = alive(record)
        if state is False:
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                found.removed.append(path)
        elif state is True and record is not None:  # alive only with a record
            found.kept.append((path, f"being written by pid {record['pid']}"))
        elif record is not None:
            found.kept.append((path, f"written on host {record['host']}; remove it if nothing runs there"))
        else:
            found.kept.append((path, "no owner recorded (an older version?); remove it if nothing runs"))
    return found


def check_target(folder: Path, earlier: Callable[[Path], bool], what: str, option: str = "--out") -> None:
    """Refuse (FolderRefused) a `folder` that exists and holds anything but an earlier `what`.

    An empty folder, a missing one and an earlier output of the same
    command (as `earlier` judges it) may be written; anything else would
    mean replacing or mixing with files the user put there.
    """
    if not folder.exists():
        return
    if not folder.is_dir():
        raise FolderRefused(f"{option} {folder}: exists and is not a folder")
    if not any(folder.iterdir()) or earlier(folder):
        return
    raise FolderRefused(
        f"{option} {folder}: the folder is not empty and does not hold an earlier {what}; "
        "choose another folder (nothing was written)"
    )
