"""Output folders: one policy for every command, one writer at a time, nothing half-written.

Every command that writes a folder goes through `output(folder, command,
inputs=...)` (the command line's `cli.outputs.output_folder` declares `--out`
with it), or, for the two folders that are not written whole (a run's new
run-id folder, a resumable sweep), through `check_output` and `locked`:

* **checked before any work**: the folder must be new, empty, or an earlier
  output of the *same* command holding nothing else: its marker
  (`.balancesim-output.json`, `scenario.verified.MARKER`, written here as the
  last step) names the command and lists every file it wrote, and any other
  entry (a user's file, hidden or not, a sub-folder, a symbolic link) means
  the folder is refused (`FolderRefused`, exit status 2). An input of the
  command (`discover SWEEP --out SWEEP`, `--posterior DIR --out DIR`), or a
  folder holding one, is refused too, also when reached through a symbolic
  link or `..`. A folder that cannot be written raises OSError ("cannot write
  there", exit status 1), never `FolderBusy`.

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
* `write_marker(partial, command)` lists what a command wrote, for the
  next check and for the readers that verify (`scenario.verified`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from balancesim.scenario.verified import MARKER, files_of, marker, read_marker

OWNER = ".owner.json"  # in a partial folder: who is writing it
PARTIAL = ".partial"


class FolderBusy(OSError):
    """Another process is writing the folder (EBUSY: not the input's fault, exit status 1)."""


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
    return clean_name(Path(scenario_file).stem)


def clean_name(text: str, empty: str = "scenario") -> str:
    """`text` as one folder name: letters, digits, `-`, `_` and inner dots; `empty` if nothing is left."""
    return re.sub(r"[^\w.-]+", "_", text, flags=re.ASCII).strip("._") or empty


def check_writable(folder: Path) -> None:
    """Raise OSError unless files can be written in `folder`; creates nothing that stays.

    Probes the folder, or the nearest existing folder above it, with a hidden
    temporary folder holding 4 KiB, so that a read-only or full disk is found
    before any simulation work, and a run that then fails leaves no folder.
    """
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
    check_writable(path.parent)  # a folder that cannot be written is not one another command holds
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            raise PermissionError(errno.EACCES, "permission denied", str(path)) from None
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
def written_whole(folder: str | Path | Output, command: str) -> Iterator[Path]:
    """Write an output folder of `command` whole: yield the partial folder to write into.

    Given an `Output` already open (the command line's `--out`), its partial
    folder, which the caller commits; given a path, the whole policy
    (`output`): checked, locked, swapped in when the block ends without error.
    """
    if isinstance(folder, Output):
        yield folder.partial
        return
    with output(folder, command) as out:
        yield out.partial


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


def legacy_files(required: str, *patterns: str) -> Judge:
    """A judge of folders written before markers: `required` is there and every file matches a pattern.

    Patterns are `fnmatch` patterns of relative paths (`plots/*.png`); a
    sub-folder is allowed only as the parent of such files.
    """
    import fnmatch

    allowed = (required, *patterns)

    def judge(folder: Path) -> bool:
        if not (folder / required).is_file():
            return False
        for path in folder.rglob("*"):
            name = path.relative_to(folder).as_posix()
            if path.is_symlink():
                return False
            if path.is_dir():
                if not any(p.startswith(name + "/") for p in allowed):
                    return False
            elif not any(fnmatch.fnmatchcase(name, p) for p in allowed):
                return False
        return True

    return judge


# ------------------------------------------------------------------- the policy
Judge = Callable[[Path], bool]  # an earlier output of the command, recognised without a marker


def write_marker(folder: Path, command: str, files: dict[str, Any] | None = None) -> None:
    """Write `folder`'s marker: `command` wrote it, with these files (default: every file in it, hashed)."""
    listed = files if files is not None else {k: v for k, v in files_of(folder).items() if k != OWNER}
    path = folder / MARKER
    tmp = folder / f"{MARKER}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(marker(command, listed))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def foreign(folder: Path, listed: set[str]) -> list[Path]:
    """Entries of `folder` the tool did not write: files not `listed`, symbolic links, empty sub-folders."""
    needed = {MARKER, *listed}
    parents = {str(Path(n).parent.as_posix()) for n in needed}
    ancestors = {a for p in parents for a in _ancestors(p)}
    found = []
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found.append(path)
        elif path.is_dir():
            if name not in ancestors:
                found.append(path)
        elif name not in needed:
            found.append(path)
    return found


def _ancestors(parent: str) -> set[str]:
    out = set()
    path = Path(parent)
    while str(path) not in (".", ""):
        out.add(path.as_posix())
        path = path.parent
    return out


def is_earlier_output(folder: Path, command: str, legacy: Judge | None = None) -> bool:
    """Does `folder` hold an earlier output of `command` and nothing else?

    Its marker must name `command` and list every entry in it. A folder
    without a marker (written before markers existed) counts only if `legacy`
    recognises it.
    """
    found = read_marker(folder)
    if found is None:
        return (folder / MARKER).exists() is False and legacy is not None and legacy(folder)
    return found["command"] == command and not foreign(folder, set(found["files"]))


def check_output(
    folder: Path,
    command: str,
    inputs: Sequence[str | Path] = (),
    option: str = "--out",
    legacy: Judge | None = None,
) -> None:
    """Check an output folder before any work: FolderRefused (the input's fault) or OSError (cannot write).

    Refused: an input of the command, or a folder holding one (whatever path
    reaches it); a symbolic link; anything but a folder; a non-empty folder
    that is not an earlier output of `command` with nothing else in it.
    """
    folder = Path(folder)
    check_inputs(folder, inputs, option)
    if folder.is_symlink():
        raise FolderRefused(
            f"{option} {folder}: is a symbolic link; give the folder itself (nothing was written)"
        )
    check_target(folder, lambda f: is_earlier_output(f, command, legacy), _what(command), option)
    check_writable(folder)


def check_inputs(folder: Path, inputs: Sequence[str | Path], option: str = "--out") -> None:
    """FolderRefused if `folder` is one of the `inputs` or holds one, whatever path reaches it.

    Paths are compared resolved (symbolic links followed, `..` removed), so
    `discover SWEEP --out SWEEP/../SWEEP` or a link to SWEEP is refused too.
    """
    real = Path(os.path.realpath(folder))  # never raises (a symlink loop is refused later, as input)
    for given in inputs:
        source = Path(os.path.realpath(given))
        if source == real or real in source.parents:
            what = "is" if source == real else "holds"
            raise FolderRefused(
                f"{option} {folder}: {what} an input of this command ({given}); "
                "choose another folder (nothing was written)"
            )


@dataclass
class Output:
    """An output folder being written: write into `partial`; `commit()` moves it to `folder`.

    The lock and the partial folder are taken by `open()`, at the latest when
    `partial` is first used; a command that works long before it writes
    (a calibration) opens it first, so that a second writer stops at once.
    """

    folder: Path
    command: str
    option: str = "--out"
    notes: list[str] = field(default_factory=list)
    legacy: Judge | None = None
    committed: bool = False
    _partial: Path | None = None
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def open(self) -> Path:
        """Lock the folder and make its partial folder (once); returns the partial folder."""
        if self._partial is None:
            parent = self.folder.absolute().parent
            missing = [p for p in (parent, *parent.parents) if not p.exists()]
            lock_file = lock_path(self.folder)
            fresh_lock = not lock_file.exists()
            self._stack.callback(_undo, self, list(reversed(missing)), lock_file if fresh_lock else None)
            self._stack.enter_context(locked(self.folder, self.option))
            check_target(
                self.folder,
                lambda f: is_earlier_output(f, self.command, self.legacy),
                _what(self.command),
                self.option,
            )
            self.notes += clean_partials(self.folder.parent).notes()
            self._partial = make_partial(self.folder.parent, self.folder.name)
        return self._partial

    @property
    def partial(self) -> Path:
        """The hidden folder to write into (opened on first use)."""
        return self.open()

    def commit(self) -> list[Path]:
        """Mark the partial folder as `command`'s and swap it in; returns the files written."""
        if not self.committed:
            partial = self.open()
            write_marker(partial, self.command)
            swap_in(partial, self.folder)
            self.committed = True
        return sorted(p for p in self.folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def _undo(out: Output, made: list[Path], lock_file: Path | None) -> None:
    """After a failed write: remove the partial folder, and the lock file and folders it created."""
    if out.committed:
        return
    if out._partial is not None:
        shutil.rmtree(out._partial, ignore_errors=True)
    if lock_file is not None:
        lock_file.unlink(missing_ok=True)
    for path in reversed(made):  # deepest first; only if still empty
        with contextlib.suppress(OSError):
            path.rmdir()


WHAT = {
    "run": "run",
    "validate": "validation report",
    "validate --robust": "robustness report",
    "calibrate": "calibration",
    "discover": "discovery",
    "hindcast": "hindcast",
    "compare": "comparison",
    "explain": "explanation",
}


def _what(command: str) -> str:
    return WHAT.get(command, f"output of `balancesim {command}`")


@contextlib.contextmanager
def output(
    folder: str | Path,
    command: str,
    inputs: Sequence[str | Path] = (),
    option: str = "--out",
    legacy: Judge | None = None,
    lazy: bool = False,
) -> Iterator[Output]:
    """The one entry point of an output folder written whole.

    Checks `folder` (`check_output`) before the block runs; unless `lazy`,
    also locks it and makes the partial folder then (else at the first
    `Output.partial` or `open()`). When the block ends without error the
    partial folder is marked and swapped in (if the block did not `commit()`
    it itself); otherwise it is removed, with the lock file and any parent
    folder the attempt created, and `folder` is as it was. Partial folders of
    killed commands beside it are removed (`Output.notes` reports them).
    """
    folder = Path(folder)
    check_output(folder, command, inputs, option, legacy)
    out = Output(folder, command, option, legacy=legacy)
    with out._stack:
        if not lazy:
            out.open()
        yield out
        out.commit()
