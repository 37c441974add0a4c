"""`balancesim sweep SCENARIO -p PATH=SPEC ...`: a scenario over a design of parameter values.

The command only: the sweep itself (design, plan, chunks, summary) is the
`sweep` package. Only click and the light console modules are imported at the
top, so `balancesim --help` stays fast (the sweep package loads numpy, pandas
and pyarrow).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from balancesim.cli.console import err, print_sweep, stderr
from balancesim.cli.exits import InputError, RunError, describe_os_error
from balancesim.cli.options import out_option, posterior_option, replicates_option, seed_option
from balancesim.experiment.folders import folder_name
from balancesim.text.wording import plural

EPILOG = """\b
SPEC is start:stop:count (grid), a comma list (grid), or low:high (lhs, sobol, morris).
--design-file takes the points from a CSV instead (one column per PATH).
PATH is any numeric value of the scenario, as for --set, e.g.
parameters.hedging_tension, actors.china.attention, relations.tension,
shocks.taiwan_war.severity, shocks.taiwan_war.month.
Every design point runs the same replicate seeds (common random numbers).
A `sweep:` section in the scenario file takes the same settings; options
given here override it (any --param replaces its params). Where the work runs
(--scheduler) and where it is written (--out) come from the command line only.
See docs/sweeps.md.

\b
Examples:
  balancesim sweep scenarios/taiwan_shock.yaml -p parameters.hedging_tension=0:4:11 -n 100
  balancesim sweep scenarios/taiwan_shock.yaml -p parameters.hedging_tension=0:4:11 \\
      -p shocks.taiwan_war.severity=0:1:11 --replicates 100 --executor process --workers 2
  balancesim sweep scenarios/baseline.yaml --design sobol --samples 256 -n 50 \\
      -p parameters.lock_in=1:6 -p parameters.hedging_tension=0:4 -p actors.china.attention=0.3:0.8
  balancesim sweep scenarios/taiwan_shock.yaml -p relations.tension=0.1,0.25,0.4 --out results/t --resume
  balancesim sweep scenarios/taiwan_shock.yaml -p parameters.lock_in=1:5:5 --scheduler tcp://10.0.0.5:8786
  balancesim sweep scenarios/taiwan_shock.yaml --design morris --samples 20 -n 20 \\
      -p parameters.lock_in=1:6 -p relations.tension=0.1:0.5 --outcomes 'balance,share.china[kazakhstan]'
  balancesim sweep scenarios/taiwan_shock.yaml --design-file points.csv -n 50
"""


@click.command(epilog=EPILOG)
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="PATH=SPEC",
    help="A value to vary and its spec (repeatable).",
)
@click.option(
    "--design",
    type=click.Choice(["grid", "lhs", "sobol", "morris"]),
    help="grid: all combinations; lhs: Latin hypercube; sobol: Saltelli sample + Sobol indices; "
    "morris: Morris trajectories + elementary effects [default: grid].",
)
@click.option(
    "--samples",
    type=click.IntRange(1),
    help="lhs: number of points; sobol: base samples N (a power of 2); morris: trajectories.",
)
@click.option(
    "--second-order",
    is_flag=True,
    default=None,
    help="sobol: also second-order indices (N x (2D + 2) points).",
)
@click.option(
    "--design-file",
    type=click.Path(dir_okay=False),
    help="Design points from a CSV file: one column per PATH, one row per point (instead of --param).",
)
@click.option(
    "--outcomes",
    metavar="NAME,...",
    help="Measures kept, e.g. balance,share.china.economy[kazakhstan] [default: the regional headline].",
)
@replicates_option("Runs per design point (default: the scenario's).")
@seed_option()
@click.option(
    "--months",
    metavar="M,M,...|all",
    help="Months kept and summarised; 'all': every month, the monthly series "
    "(default: the scenario's outputs.months and the horizon).",
)
@click.option(
    "--executor",
    type=click.Choice(["serial", "process", "dask"]),
    help="Where chunks run [default: process; dask if --scheduler is given].",
)
@click.option(
    "--workers", type=click.IntRange(1), help="Worker processes (process, dask LocalCluster) [default: CPUs]."
)
@click.option("--scheduler", metavar="ADDRESS", help="Join a running Dask scheduler, e.g. tcp://HOST:8786.")
@click.option(
    "--chunk-size",
    type=click.IntRange(1),
    help="Replicates per task (results do not depend on it) [default: ~0.2 s of work].",
)
@out_option(
    "The exact folder the sweep writes (new, empty, or this sweep's for --resume) "
    "[default: results/<scenario>/sweep]."
)
@click.option("--resume", is_flag=True, help="Continue the sweep in --out, skipping finished chunks.")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a base scenario value for every point (repeatable).",
)
@posterior_option(
    "Each run draws the values of this `balancesim calibrate` folder that the design and --set do not give."
)
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
def sweep(
    scenario: str,
    params: tuple[str, ...],
    design: str | None,
    samples: int | None,
    second_order: bool | None,
    design_file: str | None,
    outcomes: str | None,
    replicates: int | None,
    seed: int | None,
    months: str | None,
    executor: str | None,
    workers: int | None,
    scheduler: str | None,
    chunk_size: int | None,
    out_dir: str | None,
    resume: bool,
    settings: tuple[str, ...],
    posterior_dir: str | None,
    no_plots: bool,
) -> None:
    """Run SCENARIO over a design of parameter values, in resumable chunks."""
    from balancesim.cli.common import parse_settings
    from balancesim.cli.progress import Phases

    name = folder_name(scenario)
    with Phases(stderr(), name) as phases:
        phases.setting_up("planning the sweep")
        from balancesim import sweep as sw
        from balancesim.experiment.executors import ExecutorFailed, ExecutorUnavailable
        from balancesim.experiment.folders import FolderBusy, FolderRefused
        from balancesim.figures.sweep import sweep_figures
        from balancesim.scenario.files import ScenarioError

        overrides = parse_settings(settings, None, None)
        try:
            given = sw.SweepOptions(
                params=tuple(sw.parse_param(p) for p in params),
                design=design,
                samples=samples,
                replicates=replicates,
                months=sw.parse_months(months) if months else None,
                design_file=design_file,
                outcomes=(outcomes,) if outcomes else None,
                second_order=second_order or None,
                chunk_size=chunk_size,
                executor=executor,
                workers=workers,
            )
            plan = sw.plan_sweep(scenario, given, overrides, seed=seed, posterior=posterior_dir)
        except (ScenarioError, sw.SweepError) as e:
            raise InputError(str(e)) from None
        opts = plan.options
        executor = opts.executor or ("dask" if scheduler else "process")
        if scheduler is not None:
            if executor != "dask":
                raise InputError(f"--scheduler {scheduler}: needs --executor dask (not {executor})")
            if not re.fullmatch(r"[a-z0-9+]+://\S+", scheduler):
                raise InputError(f"--scheduler {scheduler}: expected an address like tcp://HOST:PORT")
        folder = Path(out_dir or Path("results") / name / "sweep")
        if executor == "dask":
            import logging

            # Dask logs each lost worker or connection with a traceback; the sweep reports
            # what it means for the user in one line instead.
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
        points = len(plan.design)
        phases.setting_up(f"starting the {executor} executor")
        advance = None

        def started(pending: int, complete: int, description: str) -> None:
            nonlocal advance
            err.print(
                f"{name}: {plural(points, 'design point')} x {plural(plan.replicates, 'run')}, "
                f"{plural(pending, 'run')} to do, executor {description}",
                markup=False,
                soft_wrap=True,
            )
            advance = phases.bar(pending, f"{complete}/{points} points", "runs")

        def progress(runs: int, complete: int) -> None:
            phases.describe(f"{complete}/{points} points")
            if advance is not None:
                advance(runs)
            if complete == points:
                phases.setting_up("writing the summary and plots")

        try:
            outcome = sw.run_sweep(
                plan,
                folder,
                executor=executor,
                workers=opts.workers,
                scheduler=scheduler,
                resume=resume,
                progress=progress,
                plots=None if no_plots else sweep_figures,
                command=["balancesim", *sys.argv[1:]],
                on_start=started,
                notify=lambda message: err.print(f"note: {message}", markup=False, soft_wrap=True),
            )
        except (sw.SweepError, FolderRefused) as e:
            raise InputError(str(e)) from None
        except ExecutorUnavailable as e:
            raise (InputError if e.input_fault else RunError)(str(e)) from None
        except (ExecutorFailed, sw.SweepFailed) as e:
            raise RunError(
                f"{e}; the finished chunks are kept in {folder}: add --resume to continue"
            ) from None
        except FolderBusy as e:
            raise RunError(str(e)) from None
        except KeyboardInterrupt:
            phases.progress.stop()
            err.print(
                f"interrupted: finished chunks are kept in {folder}; add --resume to continue", markup=False
            )
            raise SystemExit(130) from None
        except OSError as e:
            raise RunError(f"cannot write the sweep to {folder}: {describe_os_error(e)}") from None
    print_sweep(outcome)
