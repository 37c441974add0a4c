"""What the commands print to a pipe or a file: nothing wrapped."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import ROOT


def test_piped_validate_breaks_no_line(tmp_path):
    """Piped, every table row is one line (a wrapped cell would add a line starting with │
    right after it) and the long texts of the table appear whole."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "80"}
    r = subprocess.run(
        [sys.executable, "-m", "balancesim", "validate", "-n", "20", "--out", str(tmp_path / "v")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert r.returncode in (0, 1), r.stderr
    lines = r.stdout.splitlines()
    rows = [k for k, line in enumerate(lines) if line.startswith("│")]
    assert len(rows) > 20
    assert all(not lines[k + 1].startswith("│") for k in rows)
    assert any(
        "'unlikely to change much, though nobody knows for sure': allow up to one future in ten" in line
        for line in lines
    )
