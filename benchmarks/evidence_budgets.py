"""Benchmark: wall time of the default budgets of `calibrate` and `validate --robust`.

Targets (issue 18): `balancesim calibrate` at its default budget under 10 minutes on 2 cores;
`balancesim validate --robust` (30 draws x 400 runs per arm) under 4 minutes with 2 processes.
Runs each command once in a child process, into a temporary folder, and prints its wall time
against the target with the machine's load average (other work on the machine skews it).

    .venv/bin/python benchmarks/evidence_budgets.py               # both
    .venv/bin/python benchmarks/evidence_budgets.py --only robust
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "calibrate": (
        [
            "calibrate",
            "scenarios/baseline.yaml",
            "--targets",
            "targets/central_asia_2021_2023.yaml",
            "--workers",
            "2",
        ],
        600.0,
    ),
    "robust": (["validate", "--robust", "--workers", "2"], 240.0),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(COMMANDS))
    args = parser.parse_args()
    for name, (command, target) in COMMANDS.items():
        if args.only and name != args.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / name
            load = os.getloadavg()[0]
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "balancesim", *command, "--out", str(out)],
                cwd=ROOT,
                check=False,
                stdout=subprocess.DEVNULL,
            )
            seconds = time.perf_counter() - started
        verdict = "within" if seconds <= target else "OVER"
        print(f"{name}: {seconds:.0f} s (target {target:.0f} s: {verdict}); load average at start {load:.1f}")


if __name__ == "__main__":
    main()
