"""Benchmark: what the decision trace costs the engine.

Times (best of three) the engine on the war over Taiwan with the trace off
and on, in this process, and the engine of another checkout (default: none;
`--against /path/to/checkout/src`, e.g. the main branch's) in a child
process, and prints replicate-runs per second and the ratios.

    .venv/bin/python benchmarks/trace.py
    .venv/bin/python benchmarks/trace.py --against ../main/src --replicates 500

Targets (issue 20): trace off within 3% of the engine without it; trace on
at most 4x the engine's time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "taiwan_shock.yaml"
REPEATS = 3


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=400)
    parser.add_argument("--against", help="src folder of another checkout to time the engine of")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(rate(args.replicates, traced=False))
        return
    off = rate(args.replicates, traced=False)
    on = rate(args.replicates, traced=True)
    print(f"engine, trace off: {off:8.0f} runs/s")
    print(f"engine, trace on:  {on:8.0f} runs/s   time {off / on:.2f}x the trace off (target <= 4x)")
    if args.against:
        env = {**os.environ, "PYTHONPATH": str(Path(args.against).resolve())}
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--replicates", str(args.replicates)],
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
