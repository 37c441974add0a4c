"""`balancesim hindcast SCENARIO --targets FILE`: observed against modelled for every target.

Only click is imported at the top, so `balancesim --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from balancesim.cli.options import (
    posterior_option,
    replicates_option,
    seed_option,
    uncertainty_option,
)
from balancesim.cli.outputs import output_folder
from balancesim.experiment.folders import folder_name, legacy_files

if TYPE_CHECKING:
    from balancesim.experiment.folders import Output

if TYPE_CHECKING:
    from rich.console import Console

    from balancesim.analysis.hindcast import Hindcast
    from balancesim.experiment.batch import Uncertainty

EPILOG = """\b
Examples:
  balancesim hindcast scenarios/baseline.yaml --targets targets/central_asia_2021_2023.yaml
  balancesim hindcast scenarios/baseline.yaml --targets targets/central_asia_2021_2023.yaml -n 500 --seed 7

\b
Pass rule: a value passes when its observed 90% interval overlaps the modelled
5-95% band; an event (a yes/no fact) when the observed outcome happens in at
least 10% of runs (docs/targets.md).
Exit status: 0 done (whatever the score), 1 failure while running or
writing, 2 invalid input (scenario, target file, options), 130 interrupted.
"""


@click.command(epilog=EPILOG)
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--targets", "targets_file", required=True, type=click.Path(dir_okay=False), help="Target file (YAML)."
)
@replicates_option("Runs (default: the scenario's).", kind=click.IntRange(2, 100_000))
@seed_option()
@output_folder(
    "hindcast",
    "Output folder: new, empty, or an earlier hindcast, which is replaced "
    "(default: results/hindcast/<scenario>).",
    default=lambda p: Path("results") / "hindcast" / folder_name(p["scenario"]),
    inputs=("scenario", "targets_file", "posterior_dir"),
    legacy=legacy_files("summary.json", "table.csv", "hindcast.png"),
)
@uncertainty_option(
    "prior: each run draws its values from the scenario's priors (and the posterior, if any); "
    "none: the scenario's values only [default: prior with --posterior, else none]."
)
@posterior_option(
    "Draw the calibrated values from this `balancesim calibrate` folder (the hindcast after calibration)."
)
def hindcast(
    scenario: str,
    targets_file: str,
    replicates: int | None,
    seed: int | None,
    out: Output,
    uncertainty: Uncertainty | None,
    posterior_dir: str | None,
) -> None:
    """Run SCENARIO and put every target of FILE next to the modelled figure.

    Prints a table (observed, modelled median and 90% band, pass or fail) and
    the score, and writes table.csv, summary.json and hindcast.png (one panel
    per target) to --out (checked before the runs).
    """
    from balancesim.analysis import hindcast as hc
    from balancesim.analysis.targets import TargetFileError, check_against, load_targets
    from balancesim.cli.common import parse_settings, progress_bar, read_scenario, use_posterior
    from balancesim.cli.console import err, print_files
    from balancesim.cli.console import out as terminal
    from balancesim.cli.exits import InputError
    from balancesim.experiment import batch as experiment
    from balancesim.figures.hindcast import hindcast_figure
    from balancesim.model import metrics
    from balancesim.model.state import build_setup

    try:
        targets = load_targets(targets_file)
    except TargetFileError as e:
        raise InputError(str(e)) from None
    spec = read_scenario(scenario, parse_settings((), replicates, seed))
    if posterior_dir is not None:
        use_posterior(spec, posterior_dir)
    if uncertainty is None:
        uncertainty = "prior" if posterior_dir is not None else "none"
    try:  # check before running: a wrong measure should not cost a run
        check_against(targets, metrics.columns(build_setup(spec)), spec.start, spec.horizon)
    except TargetFileError as e:
        raise InputError(str(e)) from None
    bar, advance = progress_bar(spec.replicates, f"hindcast {Path(scenario).stem}")
    try:
        with bar:
            results = experiment.run(spec, progress=advance, uncertainty=uncertainty)
    except experiment.RunTooLarge as e:
        raise InputError(f"{scenario}: {e}") from None
    except KeyboardInterrupt:
        err.print("interrupted: nothing written")
        raise SystemExit(130) from None
    found = hc.hindcast(results, targets, name=spec.name)
    try:
        files = hc.write_outputs(found, out, hindcast_figure)
    except KeyboardInterrupt:
        err.print("interrupted: nothing written")
        raise SystemExit(130) from None
    _print(found, terminal)
    print_files("Written", out.folder, files)


def _print(found: Hindcast, out: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=f"Hindcast: {found.scenario_name}, {found.replicates} runs, seed {found.seed}",
        title_justify="left",
    )
    for name in ("target", "period", "observed", "modelled median [90%]", "runs as observed", "verdict"):
        table.add_column(name, overflow="fold")
    row: Any  # pandas types the fields of itertuples' rows as any scalar
    for row in found.table.itertuples(index=False):
        period = f"{row.since} → {row.period}" if row.since else row.period
        share = "" if row.kind == "value" else f"{row.outcome_share:.0%}"
        verdict = Text("PASS", style="green") if row.passed else Text("FAIL", style="bold red")
        table.add_row(
            row.target,
            period,
            row.observed,
            f"{row.median:+.3f} [{row.p5:+.3f}, {row.p95:+.3f}]",
            share,
            verdict,
        )
    out.print(table)
    out.print(
        f"Score: {found.passed} of {len(found.table)} targets pass ({found.score:.0%}); "
        f"distance {found.distance:.1f} (0 is a perfect fit)"
    )
    values = found.table[found.table["kind"] == "value"]
    out.print(
        f"Within the observation band (modelled median inside the observed 90% interval): "
        f"{int(values['in_band'].sum())} of {len(values)} quantitative targets"
    )
