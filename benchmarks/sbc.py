"""Benchmark: simulation-based calibration (SBC) of `balancesim calibrate` at full size.

For `--truths` parameter points drawn from the prior (default 100; at least 50), the model makes a
synthetic record (one run at the truth plus observation noise, `calibration.sbc`), and the posterior
is computed as `calibrate` computes it: a bank of prior points, 20 runs each, weighted by the
synthetic likelihood. The calibrated priors are the ones `calibrate` screens in on the baseline
(docs/calibration.md); every other prior is drawn afresh in every run, as in a calibration. A
calibrated posterior's 90% intervals hold the truth 85-95% of the time, and its CDF at the truth
is uniform.

    .venv/bin/python benchmarks/sbc.py                              # 100 truths, 2,000 points x 20 runs
    .venv/bin/python benchmarks/sbc.py --truths 50 --points 500     # quicker
    .venv/bin/python benchmarks/sbc.py --figure docs/img/sbc.png    # the docs' figure

Prints the coverage per parameter and overall, the weights' effective sample size and the time.
The reduced version in the test suite is tests/test_sbc.py.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# What `balancesim calibrate scenarios/baseline.yaml --targets targets/central_asia_2021_2023.yaml`
# screens in (docs/calibration.md, "Screening").
PATHS = [
    "shocks.war_opinion.effects.0.amount",
    "parameters.adjustment_rate",
    "parameters.lock_in",
    "parameters.filter_selectivity",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truths", type=int, default=100)
    parser.add_argument("--points", type=int, default=2000, help="bank of prior points")
    parser.add_argument("--replicates", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--figure", type=Path, help="write the figure (PNG) here")
    args = parser.parse_args()

    from balancesim import load_scenario
    from balancesim.analysis.targets import load_targets
    from balancesim.calibration.problem import build_problem
    from balancesim.calibration.sbc import run_sbc
    from balancesim.experiment.executors import make_runner

    scenario = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    targets = load_targets(ROOT / "targets" / "central_asia_2021_2023.yaml")
    problem = build_problem(scenario, targets, PATHS)
    runner = make_runner("process" if args.workers > 1 else "serial", args.workers)
    started = time.perf_counter()
    try:
        result = run_sbc(problem, args.truths, args.points, args.replicates, args.seed, runner)
    finally:
        runner.close()
    seconds = time.perf_counter() - started
    print(
        f"SBC: {args.truths} truths, bank {args.points} points x {args.replicates} runs, "
        f"{result.simulations:,} runs, {seconds:.0f} s ({args.workers} workers)"
    )
    for path, share in result.coverage().items():
        print(f"  90% interval holds the truth: {share:.1%}  {path}")
    width = (result.intervals[..., 1] - result.intervals[..., 0]).mean(axis=0) / (2 * 1.6449)
    for path, w in zip(result.paths, width, strict=True):
        print(f"  mean 90% width / prior's: {w:.2f}  {path}")
    print(f"  effective sample size: median {np.median(result.ess):.0f}, min {result.ess.min():.0f}")
    if args.figure:
        figure(result, args).savefig(args.figure, dpi=110)
        print(f"  figure: {args.figure}")


def figure(result, args):
    from matplotlib.figure import Figure

    p = len(result.paths)
    fig = Figure(figsize=(3.0 * p, 3.1))
    axes = fig.subplots(1, p, squeeze=False)[0]
    bins = 10
    n = len(result.cdf)
    for j, ax in enumerate(axes):
        ax.hist(result.cdf[:, j], bins=bins, range=(0, 1), color="tab:blue", alpha=0.7)
        expected = n / bins
        band = 1.96 * np.sqrt(expected * (1 - 1 / bins))
        ax.axhspan(expected - band, expected + band, color="0.5", alpha=0.2, lw=0)
        ax.axhline(expected, color="0.3", lw=0.8)
        cov = result.covered[:, j].mean()
        ax.set_title(f"{result.paths[j]}\n90% interval holds truth: {cov:.0%}", fontsize=7.5)
        ax.set_xlabel("posterior CDF at the truth", fontsize=7.5)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("truths", fontsize=8)
    fig.suptitle(
        f"Simulation-based calibration: {n} truths from the prior, bank {args.points} points x "
        f"{args.replicates} runs (grey: 95% band of a uniform histogram)",
        fontsize=8.5,
    )
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    main()
