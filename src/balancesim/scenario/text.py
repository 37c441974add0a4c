"""Reading scenario text safely: bounded, non-blocking reads, checked text, short excerpts.

A scenario file, or a file it names with `extends:`, may be anything: a FIFO
that never delivers, a device that never ends, someone else's /etc/passwd,
a binary. These helpers make reading it bounded (size and time) and make the
messages about it short and inert:

* `read_bounded` is the one reader of files opened by name: regular files
  only, at most a size limit, never blocking, and (for files a scenario
  names) only inside the scenario's folders (`scenario_folders`);
* `text_problem` / `key_problem` say why a string cannot be scenario text
  (lone surrogates, control characters; keys are short one-line names);
* `excerpt` quotes at most MAX_EXCERPT characters of one line, with control
  characters escaped, so no message reproduces a file or drives the terminal;
  `describe_value` and `format_number` quote values as people wrote them.
"""

from __future__ import annotations

import errno
import os
import stat
import unicodedata
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 1 << 20  # scenario files are hand-written; anything bigger is a mistake
MAX_EXCERPT = 80  # characters of a file's text quoted in a message (never a whole file)


def excerpt(text: str, limit: int = MAX_EXCERPT) -> str:
    """At most `limit` characters of `text`'s first line, for quoting in a message.

    A value may be a whole file (a plain scalar spanning every line of a file
    named by `extends:`, say /etc/passwd): messages quote a short excerpt,
    never the content. Control characters and lone surrogates are shown as
    escapes, so a message cannot drive the terminal.
    """
    lines = text.strip().splitlines() or [""]
    line = lines[0]
    more = len(lines) > 1 or len(line) > limit
    shown = "".join(repr(c)[1:-1] if unicodedata.category(c) in ("Cc", "Cs") else c for c in line[:limit])
    return shown + ("..." if more else "")


def text_problem(text: str, allowed: str = "\t\n\r") -> str | None:
    """Why `text` cannot be a scenario string, or None if it can.

    Lone surrogates (a YAML escape like "\\ud800", or a command-line byte that
    is not UTF-8) cannot be written out as UTF-8, and control characters
    (escape sequences) would act on the terminal when a name is printed.
    """
    for c in text:
        category = unicodedata.category(c)
        if category == "Cs":
            return f"contains a lone surrogate U+{ord(c):04X}, which is not a character (expected UTF-8 text)"
        if category == "Cc" and c not in allowed:
            return f"contains the control character U+{ord(c):04X} (expected printable text)"
    return None


def key_problem(key: str) -> str | None:
    """Why `key` cannot be a key of a scenario mapping (keys are short one-line names), or None."""
    problem = text_problem(key, allowed="")
    if problem is None and len(key) > MAX_EXCERPT:
        problem = f"has {len(key):,} characters (keys are short names)"
    return None if problem is None else f"a key {problem}: '{excerpt(key, 40)}'"


def read_bounded(
    path: str | Path, limit: int = MAX_FILE_BYTES, within: tuple[Path, ...] | None = None
) -> bytes:
    """The whole of a file the tool opens by name, never blocking and never more than `limit` bytes.

    The one reader for every file named by a user or a scenario (scenario
    files, `extends:`, target files, design files, posteriors, manifests).
    Anything but a regular file is refused before it is opened: a FIFO or
    `/dev/stdin` would wait for a writer forever, `/dev/zero` would stream
    without end, a directory has no text. The file is opened non-blocking and
    checked again by descriptor, in case it was swapped, and read with a
    bound. With `within` (the folders a scenario may name files in, see
    `scenario_folders`), a path that resolves (through symlinks) outside them
    is refused before it is opened, so its content is never read, let alone
    quoted. Raises OSError; `os_reason` says why in words.
    """
    path = Path(path)
    if within is not None:
        real = Path(os.path.realpath(path))
        if not any(real == root or root in real.parents for root in within):
            raise _Refused(
                "it is outside the scenario's folder (a scenario may name files only in its own "
                "folder or below it, or under the current folder)",
                str(path),
            )
    _require_regular(os.stat(path).st_mode, path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOCTTY", 0) | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        _require_regular(info.st_mode, path)
        if info.st_size > limit:
            raise _Refused(f"it is larger than {_size(limit)}, the limit for this file", str(path))
        data = f.read(limit + 1)
    if len(data) > limit:  # grew while being read
        raise _Refused(f"it is larger than {_size(limit)}, the limit for this file", str(path))
    return data


def scenario_folders(scenario_file: str | Path) -> tuple[Path, ...]:
    """The folders in which a scenario may name files (`extends:`, `sweep.design_file`).

    The folder of the scenario file given to the command, and the current
    folder (the user's project), both with symlinks resolved; a name leading
    anywhere else (`../../etc/shadow`, `/etc/passwd`) is refused unread.
    """
    here = Path(os.path.realpath(Path(scenario_file).parent))
    cwd = Path(os.path.realpath(os.getcwd()))
    return (here,) if here == cwd else (here, cwd)


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n:,} bytes"


def _require_regular(mode: int, path: Path) -> None:
    if stat.S_ISREG(mode):
        return
    kind = (
        "a directory"
        if stat.S_ISDIR(mode)
        else "a named pipe (FIFO)"
        if stat.S_ISFIFO(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    raise _Refused(f"it is {kind}, not a regular file", str(path))


class _Refused(OSError):
    """A file refused before or while reading: its reason is the whole message."""

    def __init__(self, reason: str, filename: str) -> None:
        super().__init__(0, reason, filename)
        self.reason = reason


def os_reason(e: OSError) -> str:
    """Why a file could not be read, in words (no errno numbers, no full paths)."""
    if isinstance(e, _Refused):
        return e.reason
    if isinstance(e, FileNotFoundError):
        return "no such file"
    if isinstance(e, IsADirectoryError):
        return "it is a directory, not a file"
    if isinstance(e, PermissionError):
        return "permission denied"
    if e.errno == errno.ELOOP:
        return "too many levels of symbolic links (a symlink loop?)"
    return (e.strerror or str(e)).lower()


def describe_value(value: Any, raw: str | None = None) -> str:
    """How a value is quoted in messages: 'text', 0.3, true (a boolean), a mapping."""
    if isinstance(value, bool):
        return f"{raw or str(value).lower()} (a boolean)"
    if value is None:
        return raw if raw not in (None, "") else "null"
    if isinstance(value, str):
        return f"'{excerpt(value, 40)}'"
    if isinstance(value, int | float):
        return raw if raw is not None else format_number(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def format_number(x: object) -> str:
    """A limit or value as people write it: 1 not 1.0, 0.25, 10000000."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return str(x) if isinstance(x, int) else repr(x)
