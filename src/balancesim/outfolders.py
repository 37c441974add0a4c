"""Where results go: folder names derived from scenario files, and writability checks.

Light on imports (the standard library only), so that commands can check
their output folder before loading the simulation libraries.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def folder_name(scenario: str) -> str:
    """The results folder name for a scenario file: its stem, made safe.

    A file named `...yaml` has the stem `..`; used as is, results would land
    outside `--out`. Only letters, digits, `-`, `_` and inner dots are kept.
    """
    stem = re.sub(r"[^\w.-]+", "_", Path(scenario).stem, flags=re.ASCII).strip("._")
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
