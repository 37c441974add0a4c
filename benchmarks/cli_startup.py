"""Benchmark: how long `balancesim --help` takes, against a bare interpreter.

Runs each command in a child process `--runs` times (default 5) and prints
the median wall time of each:

* `python -c pass`: the interpreter alone, the floor no command can beat;
* `python -c "import balancesim"`: the package (its names load lazily);
* `balancesim --help`: the console script, as a user types it.

    .venv/bin/python benchmarks/cli_startup.py            # median of 5
    .venv/bin/python benchmarks/cli_startup.py --runs 11

Target (issue 12): `balancesim --help` under 0.3 s. The command line imports
numpy, pandas, mesa, scipy and matplotlib only inside the commands that need
them (tests/test_progress.py checks that none is loaded by `--help`). Other
work on the machine skews the figures: the load average is printed too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.3


def median_time(command: list[str], runs: int) -> float:
    """Median wall time of `runs` runs of `command` (output discarded), after one warm-up run."""
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)  # warm the file cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (default 5)")
    args = parser.parse_args()
    script = Path(sys.executable).parent / "balancesim"
    help_command = (
        [str(script), "--help"] if script.exists() else [shutil.which("balancesim") or "balancesim", "--help"]
    )
    commands = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "python -c 'import balancesim'": [sys.executable, "-c", "import balancesim"],
        "balancesim --help": help_command,
    }
    results = {name: median_time(command, args.runs) for name, command in commands.items()}
    base = results["python -c pass (baseline)"]
    print(f"median of {args.runs} runs; load average {os.getloadavg()[0]:.2f}")
    for name, seconds in results.items():
        extra = "" if name.endswith("(baseline)") else f"  (+{seconds - base:.3f} s over the baseline)"
        print(f"  {name:32s} {seconds:.3f} s{extra}")
    verdict = "meets" if results["balancesim --help"] < TARGET_S else "MISSES"
    print(f"balancesim --help {verdict} the {TARGET_S} s target")


if __name__ == "__main__":
    main()
