"""Benchmark: the vectorised engine against the Mesa loop, in one process.

Times (best of three) BalanceModel run replicate by replicate (the Mesa path, with its
DataCollector and all measures every month) and the engine on the same
scenario, and prints replicate-runs per second and their ratio. Both runs
keep the full time series of every measure, so they do the same work.

    .venv/bin/python benchmarks/engine_vs_mesa.py                # speed
    .venv/bin/python benchmarks/engine_vs_mesa.py --memory       # + peak memory of large runs
    .venv/bin/python benchmarks/engine_vs_mesa.py --profile      # + where the engine spends its time

Targets (issue 4): engine >= 100x the Mesa loop; >= 5,000 replicate-runs of
60 months per second on one core; a 1,000,000-replicate run keeping only
end-of-run outcomes under 2 GiB.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "taiwan_shock.yaml"


REPEATS = 3  # best of: the first touch of fresh memory is slow on a VM, and other jobs interfere


def mesa_loop(scenario, seed: int, n: int) -> float:
    from balancesim import BalanceModel
    from balancesim.model import engine

    def once() -> float:
        started = time.perf_counter()
        for s in engine.replicate_seeds(seed, n):
            model = BalanceModel(scenario, rng=int(s))
            while model.running:
                model.step()
        return n / (time.perf_counter() - started)

    return max(once() for _ in range(REPEATS))


def engine_rate(setup, seed: int, n: int, **kwargs) -> float:
    from balancesim.model import engine

    def once() -> float:
        started = time.perf_counter()
        engine.simulate(setup, seed, n, **kwargs)
        return n / (time.perf_counter() - started)

    return max(once() for _ in range(REPEATS))


def memory_case(replicates: int, keep: str) -> None:
    """Run one large case (in a child process) and print its peak resident memory."""
    from balancesim import load_scenario
    from balancesim.model import engine, metrics
    from balancesim.model.state import build_setup

    setup = build_setup(load_scenario(SCENARIO))
    cols = metrics.columns(setup)
    headline = np.array([cols.index(metrics.REGION, m) for m in metrics.HEADLINE])
    started = time.perf_counter()
    if keep == "series":  # every month of the headline measures
        out = engine.simulate(setup, 1, replicates, column_index=headline)
    else:  # end-of-run outcomes only: final month, headline measures
        out = engine.simulate(setup, 1, replicates, months=[setup.horizon], column_index=headline)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
    print(
        f"{replicates:>9,} replicates, keep {keep:<6}: result {out.nbytes / 2**20:8.1f} MiB, "
        f"peak RSS {peak:5.2f} GiB, {elapsed:6.1f} s ({replicates / elapsed:,.0f} runs/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mesa-replicates", type=int, default=50)
    parser.add_argument("--engine-replicates", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory", action="store_true", help="also measure peak memory of large runs")
    parser.add_argument("--profile", action="store_true", help="also profile the engine")
    parser.add_argument("--memory-case", nargs=2, metavar=("REPLICATES", "KEEP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_case:
        memory_case(int(args.memory_case[0]), args.memory_case[1])
        return

    from balancesim import load_scenario
    from balancesim.model.metrics import HEADLINE, REGION, columns
    from balancesim.model.state import build_setup

    scenario = load_scenario(SCENARIO)
    setup = build_setup(scenario)
    print(
        f"scenario: {SCENARIO.name}, {scenario.horizon} months, {len(scenario.actors)} actors; "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '-')}"
    )
    engine_rate(setup, args.seed, 200)  # warm up
    mesa = mesa_loop(scenario, args.seed, args.mesa_replicates)
    full = engine_rate(setup, args.seed, args.engine_replicates)
    cols = columns(setup)
    headline = np.array([cols.index(REGION, m) for m in HEADLINE])
    final = engine_rate(
        setup, args.seed, args.engine_replicates, months=[setup.horizon], column_index=headline
    )
    print(f"Mesa loop ({args.mesa_replicates} replicates, all measures every month): {mesa:10,.1f} runs/s")
    print(
        f"engine ({args.engine_replicates} replicates, all measures every month):  {full:10,.1f} runs/s"
        f"  = {full / mesa:6.1f}x Mesa"
    )
    print(
        f"engine ({args.engine_replicates} replicates, end-of-run outcomes only): {final:10,.1f} runs/s"
        f"  = {final / mesa:6.1f}x Mesa"
    )

    if args.profile:
        from balancesim.model import engine

        seeds = engine.replicate_seeds(args.seed, 1000)
        profile = cProfile.Profile()
        profile.runcall(engine.run_replicates, setup, seeds, [setup.horizon], headline)
        pstats.Stats(profile).sort_stats("tottime").print_stats(12)

    if args.memory:
        for replicates, keep in ((100_000, "series"), (1_000_000, "final")):
            subprocess.run([sys.executable, __file__, "--memory-case", str(replicates), keep], check=True)


if __name__ == "__main__":
    main()
