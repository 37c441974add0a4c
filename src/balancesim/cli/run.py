"""`balancesim run`: many runs of a scenario, written as data, a summary and plots."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from balancesim.cli.common import (
    check_out_writable,
    folder_errors,
    parse_settings,
    read_scenario,
    use_posterior,
)
from balancesim.cli.console import (
    err,
    out,
    print_assumptions,
    print_effects,
    print_files,
    print_outcomes,
    stderr,
)
from balancesim.cli.exits import InputError
from balancesim.cli.options import (
    out_option,
    posterior_option,
    replicates_option,
    seed_option,
    uncertainty_option,
)
from balancesim.experiment.folders import folder_name

if TYPE_CHECKING:
    from balancesim.experiment.batch import Results, Uncertainty
    from balancesim.scenario.schema import Scenario

EPILOG_RUN = """\b
Examples:
  balancesim run scenarios/taiwan_shock.yaml
  balancesim run scenarios/taiwan_shock.yaml --replicates 1000 --seed 7
  balancesim run scenarios/taiwan_shock.yaml --no-compare
  balancesim run scenarios/taiwan_shock.yaml --until 2030-12
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
    help="Compare with this scenario (run on the same random numbers) instead of the scenario's "
    "`compare_with` (default: the file it extends, when it changes anything).",
)
@click.option(
    "--no-compare",
    is_flag=True,
    help="Levels only: no comparison run, no effect table.",
)
@click.option(
    "--until",
    metavar="YYYY-MM",
    help="Run to this calendar month, past the scenario's own end if need be (its trends carry "
    "the world there; they are printed with the result).",
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
@click.option(
    "--trace",
    is_flag=True,
    help="Record why each state moved, by mechanism (trace.parquet, for `balancesim explain`).",
)
def run(
    scenario: str,
    replicates: int | None,
    seed: int | None,
    out_dir: str | None,
    baseline: str | None,
    no_compare: bool,
    until: str | None,
    engine_name: str,
    chunk_size: int,
    settings: tuple[str, ...],
    measures: str,
    uncertainty: Uncertainty | None,
    posterior_dir: str | None,
    no_plots: bool,
    trace: bool = False,
) -> None:
    """Run SCENARIO many times and write data, a summary and plots."""
    from balancesim.cli.progress import Phases

    name = folder_name(scenario)
    with Phases(stderr(), name) as phases:
        phases.setting_up("reading the scenario")
        if baseline is not None and no_compare:
            raise InputError("--baseline and --no-compare: give one of them")
        overrides = parse_settings(settings, replicates, seed)
        if until is not None:
            overrides["until"] = until
        spec = read_scenario(scenario, overrides)
        if posterior_dir is not None:
            use_posterior(spec, posterior_dir, overrides)
        if uncertainty is None:
            uncertainty = "prior" if spec.uncertain else "none"
        base = None
        if baseline is None and not no_compare:
            baseline = default_comparison(spec, scenario)
            if baseline is not None:
                base = comparison_scenario(baseline, overrides, spec)
        elif baseline is not None:
            # The baseline runs with the same seed and count: common random numbers.
            base = read_scenario(baseline, {**overrides, "replicates": spec.replicates, "seed": spec.seed})
        if base is not None and base.horizon != spec.horizon:
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
        from balancesim.figures import runs as plots

        total = spec.replicates * (2 if base is not None else 1)
        # The folder is prepared (checked, locked, a partial folder made) before any simulation.
        with (
            folder_errors(f"the results to {shown}"),
            store.run_destination(
                target,
                Path("results"),
                name,
                spec.seed,
                tuple(p for p in (scenario, baseline, posterior_dir) if p),
            ) as destination,
        ):
            for note in destination.notes:
                err.print(note, markup=False, soft_wrap=True)
            options = {
                "engine_name": engine_name,
                "chunk_size": chunk_size,
                "progress": phases.bar(total, "simulating", "runs"),
                "measures": measures,
                "trace": trace,
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
            # the data are written while the plots are drawn (store.write_run); the bar counts plots
            phases.bar(
                max(1, len(figures)),
                "writing the data and the plots" if figures else "writing the data",
                "files",
            )

            def plot(results: Results, folder: Path, baseline: Results | None) -> list[Path]:
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
    if base_results is not None:
        print_effects(results, base_results)
        out.print("\nLevels (the runs themselves):", markup=False)
    print_outcomes(results, base_results)
    if spec.horizon > spec.own_horizon:
        print_assumptions(spec)
    print_files("Results", folder, sorted(p for p in folder.rglob("*") if p.is_file()))


def default_comparison(spec: Scenario, scenario: str) -> str | None:
    """The file the scenario is compared with (`compare_with`, else what it extends), or None."""
    from balancesim.scenario.files import ScenarioError, compared_with

    try:
        return compared_with(spec)
    except ScenarioError as e:
        raise InputError(f"{scenario}: compare_with: {str(e).splitlines()[0]}") from None


def comparison_scenario(path: str, overrides: dict[str, Any], spec: Scenario) -> Scenario | None:
    """The comparison scenario with the run's overrides that apply to it (same seed, count, horizon).

    None (with a note) when it cannot run over the scenario's horizon.

    A `--set` of something only the scenario has (e.g. its own shock's severity) is left out
    of the comparison, with a note.
    """
    from balancesim.scenario.files import ScenarioError, load_scenario

    fixed = {"replicates": spec.replicates, "seed": spec.seed, "horizon": spec.horizon}
    kept = {**overrides, **fixed}
    try:
        return load_scenario(path, kept)
    except ScenarioError:
        pass
    dropped = []
    for key, value in overrides.items():
        if key in fixed:
            continue
        try:
            load_scenario(path, {key: value})
        except ScenarioError:
            dropped.append(key)
            del kept[key]
    if dropped:
        err.print(f"note: {path} has no {', '.join(dropped)}: the comparison keeps its own", markup=False)
    try:
        return load_scenario(path, kept)
    except ScenarioError as e:
        err.print(f"note: no comparison: {str(e).splitlines()[0]}", markup=False)
        return None
