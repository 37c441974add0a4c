"""Benchmark: drawing per-run values from priors, and running with them.

Times (best of three) `uncertainty.draw` of every prior of taiwan_shock.yaml
(inherited from baseline.yaml) for many replicates, a chunk of them far into
the run (a counter jump, so it costs what the first chunk costs), and the
engine with and without the drawn values.

    .venv/bin/python benchmarks/uncertainty.py                   # 10^6 draws per prior
    .venv/bin/python benchmarks/uncertainty.py --replicates 100000

Target (issue 9): 10^6 replicates of every prior in seconds, not minutes; the
engine with drawn values within a few percent of the engine without.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "taiwan_shock.yaml"
REPEATS = 3


def best(f) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        f()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=2000, help="replicates for the engine comparison")
    args = parser.parse_args()

    from balancesim import load_scenario
    from balancesim.model import engine
    from balancesim.model.state import build_setup
    from balancesim.scenario import uncertainty

    scenario = load_scenario(SCENARIO)
    n, priors = args.replicates, len(scenario.uncertainty)
    uncertainty.draw(scenario, 1, 10)  # imports scipy
    t = best(lambda: uncertainty.draw(scenario, 1, n))
    per_value = t / (priors * n) * 1e9
    print(f"draw: {priors} priors x {n:,} replicates in {t:.2f} s ({per_value:.0f} ns per value)")
    chunk = 1000
    t0 = best(lambda: uncertainty.draw(scenario, 1, chunk))
    t1 = best(lambda: uncertainty.draw(scenario, 1, chunk, first=10**9))
    print(f"draw of {chunk:,} replicates at replicate 0: {t0 * 1e3:.1f} ms; at 10^9: {t1 * 1e3:.1f} ms")

    setup = build_setup(scenario)
    values = uncertainty.draw(scenario, 1, args.runs)
    plain = best(lambda: engine.simulate(setup, 1, args.runs, months=[scenario.horizon]))
    drawn = best(lambda: engine.simulate(setup, 1, args.runs, months=[scenario.horizon], values=values))
    print(
        f"engine, {args.runs:,} runs: {args.runs / plain:,.0f} runs/s at the scenario's values, "
        f"{args.runs / drawn:,.0f} runs/s with {priors} drawn values ({drawn / plain - 1:+.1%})"
    )


if __name__ == "__main__":
    main()
