"""Benchmark: what the decision trace costs the engine.

Times (best of three) the engine on the war over Taiwan with the trace off
and on, in this process, and the engine of another checkout (default: none;
`--against /path/to/checkout/src`, e.g. the main branch's) in a child
process, and prints replicate-runs per second and the ratios.

    .venv/bin/python benchmarks/trace.py
    .venv/bin/python benchmarks/trace.py --against ../main/src --replicates 500

Wall-clock times on a shared machine vary by +-20%, more than the 3% target,
so `--instructions` counts instead the CPU instructions of one engine run
(`valgrind --tool=callgrind`): a child process runs the engine once to warm
up, then once counted, trace off, then the same trace on (callgrind dumps
its counts at marks between the runs, so imports and warm-up are left
out); with `--against`, the other checkout's engine, trace off:

    git worktree add ../balancesim-before 0851e0b     # the commit before the trace
    .venv/bin/python benchmarks/trace.py --instructions --against ../balancesim-before/src

Targets (issue 20): trace off within 3% of the engine without it; trace on
at most 4x the engine's time.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "taiwan_shock.yaml"
REPEATS = 3
INSTRUCTION_REPLICATES = 20  # small: the engine runs about 50x slower under callgrind


def rate(replicates: int, traced: bool) -> float:
    """Replicate-runs per second, best of REPEATS."""
    from balancesim import load_scenario
    from balancesim.model import engine
    from balancesim.model.state import build_setup

    setup = build_setup(load_scenario(SCENARIO))
    best = 0.0
    for _ in range(REPEATS):
        kwargs = {}
        if traced:
            from balancesim.model.trace import Trace

            kwargs["trace"] = Trace.empty(setup, replicates)
        started = time.perf_counter()
        engine.simulate(setup, 1, replicates, **kwargs)
        best = max(best, replicates / (time.perf_counter() - started))
    return best


def runs(replicates: int, traced: bool) -> None:
    """The child that callgrind counts: a warm-up run, then the measured run, each between marks.

    `time.sleep(0)` marks the phases: callgrind dumps its counts before each
    (`--dump-before=time_sleep`), so part 2 is the measured run trace off and,
    with `traced`, part 4 the measured run trace on (part 3 its warm-up).
    """
    from balancesim import load_scenario
    from balancesim.model import engine
    from balancesim.model.state import build_setup

    setup = build_setup(load_scenario(SCENARIO))
    engine.simulate(setup, 1, replicates)  # warm-up: first calls, caches
    time.sleep(0)
    engine.simulate(setup, 1, replicates)
    time.sleep(0)
    if traced:
        from balancesim.model.trace import Trace

        engine.simulate(setup, 1, replicates, trace=Trace.empty(setup, replicates))
        time.sleep(0)
        engine.simulate(setup, 1, replicates, trace=Trace.empty(setup, replicates))
        time.sleep(0)


def instructions(src: Path, replicates: int, traced: bool) -> list[int]:
    """Instructions of the phases of `runs` (callgrind) with the engine of `src`: [off] or [off, on]."""
    env = {**os.environ, "PYTHONPATH": str(src.resolve()), "PYTHONHASHSEED": "0"}
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "callgrind.out")
        command = [
            "valgrind",
            "--tool=callgrind",
            "--dump-before=time_sleep",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--child-runs",
            "--replicates",
            str(replicates),
            *(["--traced"] if traced else []),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        parts = {}
        for path in Path(tmp).glob("callgrind.out.*"):
            totals = re.search(r"^totals:\s*(\d+)", path.read_text(errors="replace"), re.M)
            if totals:
                parts[int(path.suffix[1:])] = int(totals.group(1))
    wanted = [2, 4] if traced else [2]
    if done.returncode != 0 or not set(wanted) <= set(parts):
        sys.exit(f"callgrind failed ({' '.join(command)}):\n{done.stderr[-2000:]}")
    return [parts[k] for k in wanted]


def count_main(args: argparse.Namespace) -> None:
    if shutil.which("valgrind") is None:
        sys.exit("--instructions needs valgrind (apt-get install valgrind)")
    here = ROOT / "src"
    n = args.replicates or INSTRUCTION_REPLICATES
    print(f"instructions of one engine run: {SCENARIO.name}, {n} replicates, callgrind")
    off, on = instructions(here, n, traced=True)
    print(f"engine, trace off: {off:>15,}")
    print(f"engine, trace on:  {on:>15,}   {on / off:.2f}x the trace off (target <= 4x)")
    if args.against:
        (other,) = instructions(Path(args.against), n, traced=False)
        print(
            f"engine of {args.against}: {other:>15,}   trace off is {100 * (off / other - 1):+.2f}% "
            "(target within 3%)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=None, help="default 400 (20 with --instructions)")
    parser.add_argument("--against", help="src folder of another checkout to time the engine of")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions with callgrind instead of timing"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-runs", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_runs:
        runs(args.replicates, args.traced)
        return
    if args.instructions:
        count_main(args)
        return
    replicates = args.replicates or 400
    if args.child:
        print(rate(replicates, traced=False))
        return
    off = rate(replicates, traced=False)
    on = rate(replicates, traced=True)
    print(f"engine, trace off: {off:8.0f} runs/s")
    print(f"engine, trace on:  {on:8.0f} runs/s   time {off / on:.2f}x the trace off (target <= 4x)")
    if args.against:
        env = {**os.environ, "PYTHONPATH": str(Path(args.against).resolve())}
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--replicates", str(replicates)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        other = float(out.strip().splitlines()[-1])
        print(
            f"engine of {args.against}: {other:8.0f} runs/s   trace off is {100 * (off / other - 1):+.1f}% "
            "(target within 3%)"
        )


if __name__ == "__main__":
    main()
