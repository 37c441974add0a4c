"""`balancesim calibrate --method history` (the default): history matching in waves, on the executors."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

MIN_ESS = 10  # below this effective sample size no parameter is called informed

# budget -> (screening points, points per wave, waves, replicates per point, pattern runs per arm)
BUDGETS = {
    "small": (300, 60, 2, 20, 30),
    "default": (2000, 200, 3, 20, 60),
}

if TYPE_CHECKING:
    from balancesim.experiment.folders import Output


def calibrate_history(
    spec: Any,
    targets: Any,
    scenario: str,
    targets_file: str,
    budget: str,
    seed: int,
    params: tuple[str, ...],
    output: Output,
    workers: int | None,
) -> None:
    """Screen by implausibility, history-match in waves, write the posterior folder, print the verdicts."""
    from balancesim.calibration.history import effective_size, history_match, screen_by_implausibility
    from balancesim.calibration.problem import CalibrationError, build_problem
    from balancesim.calibration.report import (
        INFORMED,
        manifest_json,
        parameter_table,
        posterior_frame,
        write_folder,
    )
    from balancesim.cli.console import err, out
    from balancesim.cli.exits import InputError, RunError
    from balancesim.experiment.executors import make_runner
    from balancesim.experiment.folders import FolderBusy, FolderRefused

    if budget not in BUDGETS:
        raise InputError(f"--budget {budget}: history matching takes small or default")
    screen_points, points, waves, replicates, pattern_runs = BUDGETS[budget]
    started = time.perf_counter()
    try:
        folder = output.folder
        output.open()  # locked before the work: a second writer stops at once
        runner = make_runner("process" if workers != 1 else "serial", workers)
        try:
            problem = build_problem(spec, targets, params)
            screening = None
            if not params:
                err.print(f"screening {problem.dimension} priors: {screen_points} points x {replicates} runs")
                screening = screen_by_implausibility(problem, screen_points, replicates, seed, 12, runner)
                problem = build_problem(spec, targets, [p for p, _ in screening])
            matching = history_match(
                problem,
                points=points,
                waves=waves,
                replicates=replicates,
                seed=seed,
                pattern_runs=pattern_runs,
                runner=runner,
                progress=lambda text: err.print(text, markup=False),
            )
        finally:
            runner.close()
        z, weights = matching.posterior
        values = problem.values(z)
        table = parameter_table(problem, values, weights)
        ess = effective_size(weights)
        if ess < MIN_ESS:  # a handful of kept points has a small sd by chance, not by information
            table["informed"] = False
        first = matching.waves[0]
        shares = first.shares()
        spread = _target_spread(targets, first)
        manifest = {
            "balancesim_calibration": 2,
            "method": "history",
            "scenario": spec.name,
            "scenario_file": scenario,
            "targets_file": targets_file,
            "targets": len(targets),
            "seed": seed,
            "budget": budget,
            "settings": matching.settings,
            "parameters": problem.paths,
            "screening": None if screening is None else [{"path": p, "rho": r} for p, r in screening],
            "ruled_out_on_prior_draws": shares,
            "waves": [w.shares() for w in matching.waves],
            "particles": len(weights),
            "effective_sample_size": ess,
            "simulations": matching.simulations,
            "informed_rule": f"posterior sd < {INFORMED} x prior sd",
            "informed": table.loc[table["informed"], "path"].tolist(),
            "uninformative": table.loc[~table["informed"], "path"].tolist(),
            "seconds": time.perf_counter() - started,
            "command": ["balancesim", *sys.argv[1:]],
        }
        write_folder(
            output,
            {
                "posterior.parquet": posterior_frame(values, weights),
                "parameters.csv": table.to_csv(index=False, float_format="%.6g"),
                "targets.csv": spread.to_csv(index=False, float_format="%.6g"),
                "manifest.json": manifest_json(manifest),
            },
        )
    except KeyboardInterrupt:
        err.print("interrupted: nothing written")
        raise SystemExit(130) from None
    except FolderRefused as e:
        raise InputError(str(e)) from None
    except FolderBusy as e:
        raise RunError(str(e)) from None
    except CalibrationError as e:
        raise InputError(f"{scenario}: {e}") from None
    out.print(
        f"History matching of {len(table)} parameters on {len(targets)} targets: "
        f"{matching.simulations:,} runs in {manifest['seconds']:.0f} s",
        markup=False,
    )
    out.print(
        f"Ruled out on prior draws: by the data {shares['data']:.0%}, "
        f"by the patterns {shares['patterns']:.0%}, by both {shares['both']:.0%}, "
        f"by either {shares['either']:.0%}",
        markup=False,
    )
    if manifest["effective_sample_size"] < MIN_ESS:
        out.print(
            f"Only {manifest['particles']} points kept (effective sample size "
            f"{manifest['effective_sample_size']:.1f} < {MIN_ESS}): too few to call any parameter informed",
            markup=False,
        )
    for row in table.itertuples(index=False):
        verdict = "informed" if row.informed else "uninformative"
        out.print(
            f"  {row.path}: prior {row.prior_mean:.4g} (sd {row.prior_sd:.3g}) -> posterior "
            f"{row.posterior_mean:.4g} (sd {row.posterior_sd:.3g}), sd ratio {row.sd_ratio:.2f}: {verdict}",
            markup=False,
        )
    from balancesim.cli.console import print_files

    print_files("Written", folder, sorted(folder.iterdir()))


def _target_spread(targets: Any, wave: Any) -> Any:
    """Per target, over the prior draws: its implausibility's median and the share of points above 3."""
    import numpy as np
    import pandas as pd

    impl = wave.implausibility
    return pd.DataFrame(
        {
            "target": targets.ids,
            "kind": [t.kind for _, t in targets],
            "observation_sd": [t.sd() if t.kind == "value" else np.nan for _, t in targets],
            "implausibility_median": np.median(impl, axis=0),
            "share_above_3": (impl > 3).mean(axis=0),
        }
    )
