"""`balancesim validate`: the pattern checks P1-P8, or with --robust their share over the prior.

The command only: the checks, knock-outs and report are the `validation`
package. Only click and the light console modules are imported at the top,
so `balancesim --help` stays fast (the validation package loads numpy).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from balancesim.cli.common import folder_errors
from balancesim.cli.console import err, print_files, print_validation, stderr
from balancesim.cli.exits import InputError
from balancesim.cli.options import out_option, posterior_option, replicates_option, seed_option

ROBUST_FOLDER = "results/validation-robust"

EPILOG = """\b
Examples:
  balancesim validate
  balancesim validate --replicates 200 --seed 7 --out results/validation-quick
  balancesim validate --robust                  (30 draws from the prior x 400 runs per arm)
  balancesim validate --robust --draws 10 -n 50 (a quick look)
  balancesim validate --robust --workers 2      (blocks of draws on 2 processes)
\b
Exit status: 0 every check passes; 1 a check fails or is unclear (with
--strict, also when a knock-out control leaves its pattern in place);
2 invalid input.
"""


@click.command(epilog=EPILOG)
@replicates_option(
    "Runs per experiment arm (with --robust: per arm and draw, default 400).",
    kind=click.IntRange(20, 100_000),
    default=1000,
)
@seed_option("Seed shared by every arm (common random numbers).", default=20220301)
@out_option(
    "The exact folder of the report (report.md, one PNG per pattern, summary.json, table.csv); "
    "new, empty, or an earlier report, which is replaced [--robust: robust.csv and robust.json, "
    "default results/validation-robust].",
    default="results/validation",
)
@click.option(
    "--scenarios",
    "scenario_dir",
    type=click.Path(file_okay=False),
    help="Folder with baseline.yaml and the other scenarios (default: the project's scenarios/).",
)
@click.option(
    "--strict", is_flag=True, help="Also fail when a knock-out control does not remove its pattern."
)
@click.option(
    "--robust",
    is_flag=True,
    help="Run every check and knock-out at draws from the baseline's prior (its uncertainty: section) "
    "and report the share of draws in which each holds.",
)
@click.option(
    "--draws",
    type=click.IntRange(1, 100_000),
    default=30,  # validation.robust.DEFAULT_DRAWS (not imported here: it would load numpy for --help)
    show_default=True,
    help="With --robust: draws from the prior (or the posterior).",
)
@posterior_option(
    "With --robust: draw the calibrated values from this `balancesim calibrate` folder "
    "(its posterior.parquet) instead of their priors; the other values from their priors."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="With --robust: worker processes running blocks of draws (the verdicts do not depend on it).",
)
def validate(
    replicates: int,
    seed: int,
    out_dir: str,
    scenario_dir: str | None,
    strict: bool,
    robust: bool,
    draws: int,
    posterior_dir: str | None,
    workers: int = 1,
) -> None:
    """Check the model against the patterns P1-P8 of the claims list.

    Each pattern runs as a seeded experiment over many replicates, with
    knock-out controls that switch off the rule behind it. Prints a table
    (figure, 95% interval, threshold and why, verdict) and writes a report
    with one plot per pattern; docs/validation.md explains how to read it.
    """
    from balancesim.cli.common import check_out_writable
    from balancesim.cli.progress import Phases

    folder = Path(out_dir)
    if posterior_dir is not None and not robust:
        raise InputError(
            "--posterior: only with --robust (the checks themselves run at the calibrated values)"
        )
    if robust:
        from balancesim.validation.robust import DEFAULT_RUNS

        given = click.get_current_context().get_parameter_source("replicates")
        runs = replicates if given != click.core.ParameterSource.DEFAULT else DEFAULT_RUNS
        if click.get_current_context().get_parameter_source("out_dir") == click.core.ParameterSource.DEFAULT:
            folder = Path(ROBUST_FOLDER)  # not the report's folder: each command replaces only its own
        _validate_robust(runs, draws, seed, scenario_dir, folder, posterior_dir, workers)
        return
    with Phases(stderr(), "validate") as phases:
        phases.setting_up("loading the simulation libraries")
        check_out_writable(folder)
        from balancesim import validation as val

        scenarios = Path(scenario_dir) if scenario_dir is not None else val.SCENARIO_DIR
        # Checked and locked before the work: a folder that is not an earlier report is refused
        # at once, and a second validation into the same folder cannot mix its files with ours.
        with (
            folder_errors(f"the report to {folder}"),
            val.report_folder(folder, tuple(p for p in (scenario_dir,) if p)) as notes,
        ):
            for note in notes:
                err.print(note, markup=False, soft_wrap=True)
            advance = phases.bar(val.count_runs(val.CHECKS, replicates, val.MECHANISMS), "simulating", "runs")
            try:
                result = val.run_validation(replicates, seed, scenarios, progress=advance)
            except val.ValidationError as e:
                raise InputError(str(e)) from None
            phases.bar(1, "writing the report and plots")
            report = val.write_report(result, folder, command=" ".join(["balancesim", *sys.argv[1:]]))
    print_validation(result)
    print_files("Report", report.parent, [report])
    if not result.passed or (strict and not result.controls_ok):
        raise SystemExit(1)


def _validate_robust(
    runs: int,
    draws: int,
    seed: int,
    scenario_dir: str | None,
    folder: Path,
    posterior: str | None,
    workers: int = 1,
) -> None:
    """`validate --robust`: the share of prior (or posterior) draws in which each check holds."""
    from balancesim.cli.common import check_out_writable
    from balancesim.cli.console import print_robust
    from balancesim.cli.progress import Phases

    with Phases(stderr(), "validate --robust") as phases:
        phases.setting_up("loading the simulation libraries")
        check_out_writable(folder)
        from balancesim import validation as val
        from balancesim.cli.outputs import opened
        from balancesim.validation.robust import count_robust_runs, run_robust, write_robust

        scenarios = Path(scenario_dir) if scenario_dir is not None else val.SCENARIO_DIR
        inputs = [p for p in (scenario_dir, posterior) if p]
        # The output-folder policy of every command (cli/outputs.py): checked and locked
        # before the work, replaced whole only if it holds an earlier robustness report.
        with opened(folder, "validate --robust", inputs, lazy=False) as out:
            advance = phases.bar(count_robust_runs(val.CHECKS, draws, runs), f"{draws} draws", "runs")
            from balancesim.experiment.executors import make_runner

            runner = make_runner("process", workers) if workers > 1 else None
            try:
                result = run_robust(
                    draws, runs, seed, scenarios, progress=advance, posterior=posterior, runner=runner
                )
            except val.ValidationError as e:
                raise InputError(str(e)) from None
            finally:
                if runner is not None:
                    runner.close()
            write_robust(result, out.partial)
            files = out.commit()
    print_robust(result)
    print_files("Robustness", folder, files)
