"""`balancesim calibrate SCENARIO --targets FILE`: the scenario's priors conditioned on observed targets.

Only click is imported at the top, so `balancesim --help` stays fast (ELFI
alone takes seconds to import).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from balancesim.cli.options import seed_option
from balancesim.cli.outputs import output_folder
from balancesim.experiment.folders import legacy_files

if TYPE_CHECKING:
    from balancesim.experiment.folders import Output

# What `calibrate` wrote before its folders were marked (`folders.legacy_files`).
EARLIER = ("posterior.parquet", "manifest.json", "parameters.csv", "predictive.csv", "report.md")
EARLIER_FIGURES = ("marginals.png", "predictive.png", "screening.csv")

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

    from balancesim.analysis.targets import Targets
    from balancesim.calibration.problem import Problem
    from balancesim.calibration.smc import Budget, Outcome
    from balancesim.scenario.schema import Scenario

EPILOG = """\b
Examples:
  balancesim calibrate scenarios/baseline.yaml --targets targets/central_asia_2021_2023.yaml
  balancesim calibrate scenarios/baseline.yaml --targets targets/central_asia_2021_2023.yaml --budget small
  balancesim calibrate scenarios/baseline.yaml --targets targets/central_asia_2021_2023.yaml \\
      --param parameters.opinion_weight --param actors.china.attention --budget 500 --seed 3
  balancesim run scenarios/taiwan_shock.yaml --posterior results/calibration/baseline

\b
Budget: small (seconds to a minute), default (under 10 minutes on 2 cores), or
N particles per population. See docs/calibration.md.
Exit status: 0 done, 1 failure while running or writing, 2 invalid input
(scenario, target file, options), 130 interrupted (nothing written).
"""


@click.command(epilog=EPILOG)
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--targets", "targets_file", required=True, type=click.Path(dir_okay=False), help="Target file (YAML)."
)
@click.option(
    "--budget",
    default="default",
    show_default=True,
    help="small, default, or N particles per population.",
)
@seed_option("Seed (default: the scenario's).", kind=click.IntRange(0, 2**31 - 1))
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="PATH",
    help="Calibrate this prior (repeatable) [default: the priors the targets respond to most].",
)
@output_folder(
    "calibrate",
    "Output folder: new, empty, or an earlier calibration, which is replaced "
    "(default: results/calibration/<scenario>).",
    default=lambda p: Path("results") / "calibration" / Path(p["scenario"]).stem,
    inputs=("scenario", "targets_file"),
    legacy=legacy_files(*EARLIER, *EARLIER_FIGURES),
)
@click.option(
    "--method",
    type=click.Choice(["history", "smc"]),
    default="history",
    show_default=True,
    help="history: history matching in waves (20 runs per point, the patterns as filters); "
    "smc: ELFI's SMC-ABC, one run per particle (kept for comparison).",
)
@click.option(
    "--workers", type=click.IntRange(1, 256), help="Worker processes (history; default: all cores)."
)
def calibrate(
    scenario: str,
    targets_file: str,
    budget: str,
    seed: int | None,
    params: tuple[str, ...],
    out: Output,
    method: str = "history",
    workers: int | None = None,
) -> None:
    """Calibrate SCENARIO's `uncertainty:` priors against the observed targets of FILE.

    Likelihood-free inference (SMC-ABC with ELFI): writes posterior.parquet
    (weighted draws that `run --posterior` and `uncertainty: {posterior: DIR}`
    use), manifest.json and report.md with figures: prior and posterior
    marginals, which parameters the data pin down, the effective sample size
    and the posterior predictive against every target.
    """
    from balancesim.analysis.targets import TargetFileError, load_targets
    from balancesim.calibration.problem import CalibrationError, build_problem
    from balancesim.calibration.smc import parse_budget
    from balancesim.cli.common import parse_settings, read_scenario
    from balancesim.cli.console import err
    from balancesim.cli.console import out as terminal
    from balancesim.cli.exits import InputError

    try:
        targets = load_targets(targets_file)
    except TargetFileError as e:
        raise InputError(str(e)) from None
    spec = read_scenario(scenario, parse_settings((), None, None))
    seed = spec.seed if seed is None else seed
    try:
        plan = parse_budget(budget)
        problem = build_problem(spec, targets, params)
    except (CalibrationError, TargetFileError) as e:
        raise InputError(f"{scenario}: {e}" if isinstance(e, CalibrationError) else str(e)) from None
    folder = out.folder
    if method == "history":
        from balancesim.cli.calibrate_history import calibrate_history

        calibrate_history(spec, targets, scenario, targets_file, budget, seed, params, out, workers)
        return
    try:
        import elfi  # noqa: F401
    except ImportError:
        raise click.ClickException(
            "calibrate needs ELFI: pip install 'balancesim[calibrate]' (docs/calibration.md)"
        ) from None
    from balancesim.cli.exits import RunError
    from balancesim.experiment.folders import FolderBusy

    try:
        # --out was checked before the command ran (a folder holding anything but an earlier
        # calibration is refused, exit 2); opened now, before any simulation, so a second
        # calibration into the same folder stops at once (exit 1) instead of mixing its files.
        out.open()
        for note in out.notes:
            err.print(note, markup=False, soft_wrap=True)
        found = _calibrate(spec, targets, problem, plan, seed, bool(params), err)
        found["manifest"] |= {
            "scenario_file": scenario,
            "targets_file": targets_file,
            "command": ["balancesim", *sys.argv[1:]],
        }
        _write(out, found, spec.name)
    except KeyboardInterrupt:
        err.print("interrupted: nothing written")
        raise SystemExit(130) from None
    except FolderBusy as e:
        raise RunError(str(e)) from None
    except CalibrationError as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        err.print(f"--out {folder}: cannot write there ({e.strerror or e})")
        raise SystemExit(1) from None
    _print(found, folder, terminal)


def _calibrate(
    spec: Scenario, targets: Targets, problem: Problem, plan: Budget, seed: int, chosen: bool, err: Console
) -> dict[str, Any]:
    """Screen, run SMC-ABC, and run the prior and posterior predictive; everything the folder needs."""
    from balancesim.analysis import hindcast as hc
    from balancesim.calibration.problem import build_problem
    from balancesim.calibration.report import parameter_table, population_table
    from balancesim.calibration.screen import screen
    from balancesim.experiment import batch as experiment
    from balancesim.scenario.posterior import Posterior, run_values
    from balancesim.scenario.uncertainty import draw

    started = time.perf_counter()
    screening = None
    if not chosen and problem.dimension > plan.parameters:
        err.print(f"screening {problem.dimension} priors with {plan.pilot:,} prior runs ...")
        screening = screen(problem, plan.pilot, plan.parameters, seed)
        pilot_runs = problem.simulations
        problem = build_problem(spec, targets, screening.chosen)
        problem.simulations = pilot_runs
    outcome = _with_bar(problem, plan, seed, err)
    post = outcome.posterior
    values = problem.values(post.z)
    weights = post.weights / post.weights.sum()
    params = parameter_table(problem, values, weights)
    pops = population_table(outcome)
    err.print(f"posterior and prior predictive: 2 x {plan.predictive} runs ...")
    posterior = Posterior("", values, weights)
    pred_started = time.perf_counter()
    n = plan.predictive
    prior_values = draw(spec, seed, n)
    prior_run = experiment.run(spec, replicates=n, seed=seed, values=prior_values)
    post_run = experiment.run(spec, replicates=n, seed=seed, values=run_values(spec, posterior, seed, n))
    before = hc.hindcast(prior_run, targets, name=spec.name)
    after = hc.hindcast(post_run, targets, name=f"{spec.name}, posterior")
    table = after.table.copy()
    for col in ("median", "p5", "p95", "passed"):
        table[f"prior_{col}"] = before.table[col].to_numpy()
    manifest = {
        "balancesim_calibration": 1,
        "scenario": spec.name,
        "targets": len(targets),
        "seed": seed,
        "budget": plan.as_dict(),
        "elfi": outcome.settings,
        "parameters": problem.paths,
        "nuisance": sorted(problem.nuisance),
        "populations": pops.to_dict(orient="records"),
        "ess": post.ess,
        "stopped_early": outcome.stopped_early,
        "simulations": problem.simulations,
        "informed_rule": "posterior sd < 0.5 x prior sd",
        "informed": params.loc[params["informed"], "path"].tolist(),
        "screening": None
        if screening is None
        else {"runs": screening.runs, "noise": screening.noise, "seconds": screening.seconds},
        "predictive": {
            "replicates": n,
            "prior_passed": before.passed,
            "posterior_passed": after.passed,
            "prior_distance": before.distance,
            "posterior_distance": after.distance,
        },
        "timings": {
            "screening_s": 0.0 if screening is None else screening.seconds,
            "smc_s": outcome.seconds,
            "predictive_s": time.perf_counter() - pred_started,
            "total_s": time.perf_counter() - started,
        },
        "versions": _versions(outcome.elfi_version),
    }
    return {
        "manifest": manifest,
        "values": values,
        "weights": weights,
        "params": params,
        "populations": pops,
        "predictive": table,
        "hindcast": after,
        "screening": None if screening is None else screening.table,
        "problem": problem,
    }


def _with_bar(problem: Problem, plan: Budget, seed: int, err: Console) -> Outcome:
    """run_smc with a rich progress bar per population (accepted particles of the population)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from balancesim.calibration.smc import run_smc
    from balancesim.cli.console import stderr

    console = stderr()  # a live display needs the Console itself, not the lazy proxy
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[runs]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    tasks: list[TaskID] = []

    def progress(population: int, populations: int, accepted: int, runs: int) -> None:
        while len(tasks) <= population:
            if tasks:
                bar.update(tasks[-1], completed=plan.particles)
            tasks.append(
                bar.add_task(f"population {len(tasks) + 1}/{populations}", total=plan.particles, runs="")
            )
        bar.update(tasks[population], completed=accepted, runs=f"{runs:,} runs")

    with bar:
        outcome = run_smc(problem, plan, seed, progress)
    if not console.is_terminal:
        for p in outcome.populations:
            err.print(
                f"population: {p.simulations:,} runs, acceptance {p.acceptance:.3f}, ESS {p.ess:.0f}, "
                f"threshold {p.threshold:.3g}, {p.seconds:.1f} s"
            )
    return outcome


def _versions(elfi_version: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0], "elfi": elfi_version}
    for name in ("balancesim", "numpy", "scipy", "pandas", "pyarrow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return out


def _write(folder: Output, found: dict[str, Any], name: str) -> None:
    import matplotlib.pyplot as plt

    from balancesim.calibration.report import (
        manifest_json,
        marginals_figure,
        posterior_frame,
        report_text,
        write_folder,
    )
    from balancesim.figures.hindcast import hindcast_figure

    problem = found["problem"]
    marginals = marginals_figure(problem, found["values"], found["weights"], found["params"])
    predictive = hindcast_figure(found["hindcast"])
    files: dict[str, Any] = {
        "posterior.parquet": posterior_frame(found["values"], found["weights"]),
        "parameters.csv": found["params"].to_csv(index=False, float_format="%.6g"),
        "predictive.csv": found["predictive"].to_csv(index=False, float_format="%.6g"),
        "manifest.json": manifest_json(found["manifest"]),
        "report.md": report_text(
            name,
            found["manifest"],
            found["params"],
            found["populations"],
            found["predictive"],
            found["screening"],
        ),
        "marginals.png": marginals,
        "predictive.png": predictive,
    }
    if found["screening"] is not None:
        files["screening.csv"] = found["screening"].to_csv(index=False, float_format="%.6g")
    try:
        write_folder(folder, files)
    finally:
        plt.close(marginals)
        plt.close(predictive)


def _print(found: dict[str, Any], folder: Path, out: Console) -> None:
    m = found["manifest"]
    params = found["params"]
    out.print(
        f"Calibrated {len(params)} parameters on {m['targets']} targets: {m['simulations']:,} runs in "
        f"{m['timings']['total_s']:.0f} s; posterior ESS {m['ess']:.0f}"
        + (" (stopped early at the budget)" if m["stopped_early"] else ""),
        markup=False,
    )
    informed = params.loc[params["informed"], "path"].tolist()
    out.print(f"Informed (posterior sd < 0.5 x prior sd): {', '.join(informed) or 'none'}", markup=False)
    for row in params.loc[~params["informed"]].itertuples(index=False):
        out.print(f"  {row.path}: uninformative (sd ratio {row.sd_ratio:.2f})", markup=False)
    p = m["predictive"]
    out.print(
        f"Targets passed: {p['prior_passed']} of {m['targets']} under the prior, "
        f"{p['posterior_passed']} under the posterior",
        markup=False,
    )
    from balancesim.cli.console import print_files

    print_files("Written", folder, sorted(p for p in folder.iterdir() if not p.name.startswith(".")))
