"""Benchmark: EMA Workbench's perform_experiments through the batch adapter vs one `evaluate` call.

Times (best of three) `ema_workbench.perform_experiments` over 50 points of
taiwan_shock.yaml's priors of lock-in and tension, run through
`balancesim.sweep.ema.BatchEvaluator` (one `evaluate` call for all points),
against `balancesim.evaluate` called once with the same 50 points, and,
with --sequential, EMA's own SequentialEvaluator (one call per point).

    .venv/bin/python benchmarks/ema.py [--points 50] [--replicates 50] [--sequential]

Target (issue 22): perform_experiments within 1.5x of the one `evaluate` call.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "taiwan_shock.yaml"
PATHS = ["parameters.lock_in", "relations.tension"]
OUTCOMES = ["balance", "share.china[kazakhstan]"]
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
    parser.add_argument("--points", type=int, default=50)
    parser.add_argument("--replicates", type=int, default=50)
    parser.add_argument("--sequential", action="store_true", help="also time EMA's SequentialEvaluator")
    args = parser.parse_args()

    from ema_workbench import Samplers, perform_experiments
    from ema_workbench.em_framework.evaluators import SequentialEvaluator

    import balancesim
    from balancesim.sweep.ema import BatchEvaluator, EMAModel

    logging.getLogger("EMA").setLevel(logging.WARNING)
    model = EMAModel(SCENARIO, paths=PATHS, outcomes=OUTCOMES, replicates=args.replicates)
    experiments, _ = perform_experiments(model, args.points, evaluator=BatchEvaluator(model))
    names = [u.name for u in model.uncertainties]
    points = [model.point(row) for row in experiments[names].to_dict("records")]
    month = model.month

    def ema() -> None:
        perform_experiments(
            model, args.points, evaluator=BatchEvaluator(model), uncertainty_sampling=Samplers.LHS
        )

    def once() -> None:
        balancesim.evaluate(SCENARIO, points, replicates=args.replicates, outcomes=OUTCOMES, months=[month])

    calls = model.calls
    t_once = best(once)
    t_ema = best(ema)
    print(f"{args.points} points x {args.replicates} replicates, {SCENARIO.name}")
    print(f"  balancesim.evaluate, one call        {t_once:7.2f} s")
    print(
        f"  perform_experiments + BatchEvaluator {t_ema:7.2f} s  ({t_ema / t_once:.2f}x; "
        f"{(model.calls - calls) // REPEATS} evaluate call per perform_experiments)"
    )
    if args.sequential:
        started = time.perf_counter()
        perform_experiments(model, args.points, evaluator=SequentialEvaluator(model))
        t_seq = time.perf_counter() - started
        print(f"  perform_experiments, sequential      {t_seq:7.2f} s  ({t_seq / t_once:.2f}x)")


if __name__ == "__main__":
    main()
