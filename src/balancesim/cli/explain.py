"""`balancesim explain RUN_FOLDER --actor STATE`: why a state moved, mechanism by mechanism.

Reads a run folder written with `balancesim run --trace` (analysis/explain.py),
prints the largest contributions with their bands and writes a waterfall
figure. Only click is imported at the top, so `balancesim --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

EPILOG = """\b
Examples:
  balancesim run scenarios/taiwan_shock.yaml --baseline scenarios/baseline.yaml --trace --out results/tw
  balancesim explain results/tw --actor kazakhstan
  balancesim explain results/tw --actor kazakhstan --from 2024-03 --to 2027-03 --partner russia

\b
With a baseline in the folder the contributions are the effect: the paired
difference of each mechanism's contribution between the scenario and the
baseline, run by run. Exit status: 0 done, 1 failure while writing, 2 invalid input.
"""


@click.command(epilog=EPILOG)
@click.argument("run_folder", type=click.Path(file_okay=False))
@click.option("--actor", required=True, help="The regional state to explain, e.g. kazakhstan.")
@click.option("--from", "start", metavar="YYYY-MM", help="Start of the window [default: the run's start].")
@click.option("--to", "end", metavar="YYYY-MM", help="End of the window [default: the run's end].")
@click.option("--partner", help="Only this outside power.")
@click.option("--domain", type=click.Choice(["security", "economy"]), help="Only this domain.")
@click.option("--top", type=click.IntRange(1), default=12, show_default=True, help="Rows printed.")
@click.option(
    "--figure",
    type=click.Path(dir_okay=False),
    help="The waterfall [default: RUN_FOLDER/plots/explain-ACTOR.png].",
)
def explain(
    run_folder: str,
    actor: str,
    start: str | None,
    end: str | None,
    partner: str | None,
    domain: str | None,
    top: int,
    figure: str | None,
) -> None:
    """Why ACTOR moved: each mechanism's contribution to its change, with 5-95% bands over runs."""
    from rich.table import Table
    from rich.text import Text

    from balancesim.analysis.explain import ExplainError, explain_folder
    from balancesim.cli.console import out, print_files
    from balancesim.cli.exits import InputError, RunError, describe_os_error
    from balancesim.experiment.store import ManifestError
    from balancesim.figures.explain import waterfall_data, write_waterfall

    try:
        found = explain_folder(run_folder, actor, start, end, partner, domain)
    except (ExplainError, ManifestError) as e:
        raise InputError(str(e)) from None
    frame = found.frame
    what = "effect on" if found.effect else "change of"
    table = Table(
        title=Text(
            f"{found.scenario_name}: {what} {found.actor_name}, {found.start} to {found.end}, "
            f"{found.replicates} runs"
        ),
        title_justify="left",
    )
    for name, justify in (
        ("variable", "left"),
        ("partner", "left"),
        ("domain", "left"),
        ("mechanism", "left"),
        ("claims", "left"),
        ("median [5%–95%]", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in frame.head(top).itertuples():
        band = f"{row.median:+.4f} [{row.low:+.4f}, {row.high:+.4f}]"
        table.add_row(
            *(Text(str(v)) for v in (row.variable, row.partner, row.domain, row.mechanism, row.claims, band))
        )
    out.print(table)
    lead = frame[(frame.variable == "engagement") & (frame.mechanism == "total change")].iloc[0]
    data = waterfall_data(frame, "engagement", lead.partner, lead.domain)
    title = (
        f"{what} {found.actor_name}'s {lead.domain} engagement with {lead.partner}, "
        f"{found.start} to {found.end}"
    )
    path = Path(figure) if figure else Path(run_folder) / "plots" / f"explain-{actor}.png"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_waterfall(data, title.replace("$", r"\$"), path)
    except OSError as e:
        raise RunError(f"cannot write {path}: {describe_os_error(e)}") from None
    print_files("Written", path.parent, [path])
