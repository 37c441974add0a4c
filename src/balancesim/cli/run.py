"""`balancesim run`: many runs of a scenario, written as data, a summary and plots."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from balancesim.cli.common import check_out_writable, parse_settings, read_scenario, use_posterior
from balancesim.cli.console import err, print_files, print_outcomes, stderr
from balancesim.cli.exits import InputError, RunError, describe_os_error
from balancesim.cli.options import (
    out_option,
    posterior_option,
    replicates_option,
    seed_option,
    uncertainty_option,
)
from balancesim.experiment.folders import folder_name

EPILOG_RUN = """\b
Examples:
  balancesim run scenarios/taiwan_shock.yaml
  balancesim run scenarios/taiwan_shock.yaml --replicates 1000 --seed 7
  balancesim run scenarios/taiwan_shock.yaml --baseline scenarios/baseline.yaml
  balancesim run scenarios/baseline.yaml --set parameters.hedging_tension=0
  balancesim run scenarios/taiwan_shock.yaml --uncertainty none
"""


@click.command(epilog=EPILOG_RUN)
@click.argument("scenario", type=click.Path(dir_okay=False))
@replicates_option()
@seed_option()
@out_option(
    "The exact folder the run writes (new, empty, or an earlier run, which is replaced) "
    "[default: a new results/<scenario>/<run-id>/]."
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False),
    help="Also run this scenario on the same random numbers and plot the difference.",
)
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(["vectorised", "mesa"]),
    default="vectorised",
    show_default=True,
    help="vectorised: all runs at once; mesa: one BalanceModel per run (slower, same numbers).",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Runs stepped together (bounds memory; results do not depend on it).",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a scenario value, e.g. parameters.hedging_tension=0 (repeatable).",
)
@click.option(
    "--measures",
    type=click.Choice(["all", "essential"]),
    default="all",
    show_default=True,
    help="essential: keep only what the summary and plots need (for very large runs).",
)
@uncertainty_option()
@posterior_option()
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
def run(
    scenario: str,
    replicates: int | None,
    seed: int | None,
    out_dir: str | None,
    baseline: str | None,
    engine_name: str,
    chunk_size: int,
    settings: tuple[str, ...],
    measures: str,
    uncertainty: str | None,
    posterior_dir: str | None,
    no_plots: bool,
) -> None:
    """Run SCENARIO many times and write data, a summary and plots."""
    from balancesim.cli.progress import Phases

    name = folder_name(scenario)
    with Phases(stderr(), name) as phases:
        phases.setting_up("reading the scenario")
        overrides = parse_settings(settings, replicates, seed)
        spec = read_scenario(scenario, overrides)
        if posterior_dir is not None:
            use_posterior(spec, posterior_dir, overrides)
        if uncertainty is None:
            uncertainty = "prior" if spec.uncertain else "none"
        base = None
        if baseline is not None:
            # The baseline runs with the same seed and count: common random numbers.
            base = read_scenario(baseline, {**overrides, "replicates": spec.replicates, "seed": spec.seed})
            if base.horizon != spec.horizon:
                raise InputError(
                    f"{baseline}: horizon {base.horizon} differs from {scenario}'s {spec.horizon}; "
                    "a paired comparison needs the same horizon"
                )
        target = None if out_dir is None else Path(out_dir)
        shown = out_dir or f"results/{name}"
        check_out_writable(target or Path("results"))  # before the work, not after it
        phases.setting_up("loading the simulation libraries")
        from balancesim.experiment import batch as experiment
        from balancesim.experiment import store
        from balancesim.experiment.folders import FolderBusy, FolderRefused
        from balancesim.figures import runs as plots

        total = spec.replicates * (2 if base is not None else 1)
        try:
            # The folder is prepared (checked, locked, a partial folder made) before any simulation.
            with store.run_destination(target, Path("results"), name, spec.seed) as destination:
                for note in destination.notes:
                    err.print(note, markup=False, soft_wrap=True)
                options = {
                    "engine_name": engine_name,
                    "chunk_size": chunk_size,
                    "progress": phases.bar(total, "simulating", "runs"),
                    "measures": measures,
                }
                from balancesim.scenario.per_run import ValuesError

                try:
                    results = experiment.run(spec, uncertainty=uncertainty, **options)  # type: ignore[arg-type]
                    base_results = None
                    if base is not None:
                        # The baseline runs with the scenario's draws: paired in its values as in its noise.
                        shared = experiment.shared_values(results, base)
                        base_results = experiment.run(base, values=shared, **options)  # type: ignore[arg-type]
                except experiment.RunTooLarge as e:
                    raise InputError(f"{scenario}: {e}") from None
                except ValuesError as e:  # a drawn value the scenario cannot take
                    raise InputError(f"{scenario}: uncertainty: {e}") from None
                if base_results is not None and len(base_results.drawn) < len(results.drawn):
                    missing = sorted(set(results.drawn) - set(base_results.drawn))
                    err.print(
                        f"note: {baseline} has no {', '.join(missing)}: its runs keep their own values there",
                        markup=False,
                    )
                if base_results is not None and not experiment.common_random_numbers(
                    results.setup, base_results.setup
                ):
                    err.print(
                        f"note: {scenario} and {baseline} differ in their actors or alliances, so their "
                        "runs do not share random numbers; the effect is a difference of runs paired by "
                        "seed, wider than a common-random-numbers comparison",
                        markup=False,
                    )
                figures = [] if no_plots else plots.figure_names(results, base_results)
                phases.bar(1 + len(figures), "writing the data", "files")

                def plot(results, folder: Path, baseline) -> list[Path]:
                    phases.step("writing the plots")
                    return plots.write_all(results, folder, baseline, progress=lambda _: phases.step())

                folder = store.write_run(
                    results,
                    destination,
                    command=["balancesim", *sys.argv[1:]],
                    baseline=base_results,
                    baseline_file=baseline,
                    scenario_file=scenario,
                    plot=None if no_plots else plot,
                )
        except FolderRefused as e:
            raise InputError(str(e)) from None
        except FolderBusy as e:
            raise RunError(str(e)) from None
        except OSError as e:
            raise RunError(f"cannot write the results to {shown}: {describe_os_error(e)}") from None
    print_outcomes(results, base_results)
    print_files("Results", folder, sorted(p for p in folder.rglob("*") if p.is_file()))
