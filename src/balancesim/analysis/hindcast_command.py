"""`balancesim hindcast SCENARIO --targets FILE`: observed against modelled for every target.

Only click is imported at the top, so `balancesim --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

EPILOG = """\b
Examples:
  balancesim hindcast scenarios/baseline.yaml --targets targets/central_asia_2021_2023.yaml
  balancesim hindcast scenarios/baseline.yaml --targets targets/central_asia_2021_2023.yaml -n 500 --seed 7

\b
Pass rule: a value passes when its observed 90% interval overlaps the modelled
5-95% band; a direction when at least 80% of runs show it (docs/targets.md).
Exit status: 0 done (whatever the score), 1 failure while running or
writing, 2 invalid input (scenario, target file, options), 130 interrupted.
"""


@click.command(epilog=EPILOG)
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--targets", "targets_file", required=True, type=click.Path(dir_okay=False), help="Target file (YAML)."
)
@click.option("--replicates", "-n", type=click.IntRange(2, 100_000), help="Runs (default: the scenario's).")
@click.option("--seed", "-s", type=click.IntRange(0, 2**63 - 1), help="Run seed (default: the scenario's).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Output folder (default: results/hindcast/<scenario>).",
)
def hindcast(
    scenario: str, targets_file: str, replicates: int | None, seed: int | None, out_dir: str | None
) -> None:
    """Run SCENARIO and put every target of FILE next to the modelled figure.

    Prints a table (observed, modelled median and 90% band, pass or fail) and
    the score, and writes table.csv, summary.json and hindcast.png (one panel
    per target) to --out.
    """
    from .. import experiment, metrics
    from ..cli import InputError, _load, _overrides, err, out, progress_bar
    from ..folders import FolderBusy
    from ..state import build_setup
    from . import hindcast as hc
    from .targets import TargetFileError, check_against, load_targets

    try:
        targets = load_targets(targets_file)
    except TargetFileError as e:
        raise InputError(str(e)) from None
    spec = _load(scenario, _overrides((), replicates, seed))
    try:  # check before running: a wrong measure should not cost a run
        check_against(targets, metrics.columns(build_setup(spec)), spec.start, spec.horizon)
    except TargetFileError as e:
        raise InputError(str(e)) from None
    folder = Path(out_dir) if out_dir else Path("results") / "hindcast" / Path(scenario).stem
    bar, advance = progress_bar(spec.replicates, f"hindcast {Path(scenario).stem}")
    try:
        with bar:
            results = experiment.run(spec, progress=advance)
    except experiment.RunTooLarge as e:
        raise InputError(f"{scenario}: {e}") from None
    except KeyboardInterrupt:
        err.print("interrupted: nothing written")
        raise SystemExit(130) from None
    found = hc.hindcast(results, targets, name=spec.name)
    try:
        files = hc.write_outputs(found, folder)
    except KeyboardInterrupt:
        err.print("interrupted: nothing written")
        raise SystemExit(130) from None
    except FolderBusy as e:
        err.print(str(e), markup=False)
        raise SystemExit(1) from None
    except OSError as e:
        err.print(f"--out {folder}: cannot write there ({e.strerror or e})")
        raise SystemExit(1) from None
    _print(found, out)
    out.print(f"\nWritten: [bold]{folder}[/bold]")
    for path in files:
        out.print(f"  {path.name}")


def _print(found, out) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title=f"Hindcast: {found.scenario_name}, {found.replicates} runs, seed {found.seed}",
        title_justify="left",
    )
    for name in ("target", "period", "observed", "modelled median [90%]", "in direction", "verdict"):
        table.add_column(name, overflow="fold")
    for row in found.table.itertuples(index=False):
        period = f"{row.since} → {row.period}" if row.since else row.period
        share = "" if row.kind == "value" else f"{row.share_in_direction:.0%}"
        verdict = "[green]PASS[/]" if row.passed else "[bold red]FAIL[/]"
        table.add_row(
            row.target,
            escape(period),
            escape(row.observed),
            escape(f"{row.median:+.3f} [{row.p5:+.3f}, {row.p95:+.3f}]"),
            share,
            verdict,
        )
    out.print(table)
    out.print(
        f"Score: {found.passed} of {len(found.table)} targets pass ({found.score:.0%}); "
        f"distance {found.distance:.1f} (0 is a perfect fit)"
    )
