"""`balancesim explain RUN_FOLDER --actor STATE`: why a state moved, mechanism by mechanism.

Reads a run folder written with `balancesim run --trace` (analysis/explain.py),
prints the largest contributions with their bands and writes a waterfall
figure and every contribution (contributions.csv) to its own output folder
(`--out`, default results/explain/<run folder>-<actor>/): the run folder is
an input and is never written. Only click is imported at the top, so
`balancesim --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from balancesim.cli.outputs import output_folder

if TYPE_CHECKING:
    from balancesim.experiment.folders import Output

EPILOG = """\b
Examples:
  balancesim run scenarios/taiwan_shock.yaml --baseline scenarios/baseline.yaml --trace --out results/tw
  balancesim explain results/tw --actor kazakhstan
  balancesim explain results/tw --actor kazakhstan --from 2024-03 --to 2027-03 --partner russia
  balancesim explain results/tw --actor kazakhstan --out results/why-kazakhstan

\b
With a baseline in the folder the contributions are the effect: the paired
difference of each mechanism's contribution between the scenario and the
baseline, run by run. Writes waterfall.png and contributions.csv (every
row; the table printed is its first --top rows). Exit status: 0 done,
1 failure while writing or a damaged run folder, 2 invalid input.
"""


@click.command(epilog=EPILOG)
@click.argument("run_folder", type=click.Path(file_okay=False))
@click.option("--actor", required=True, help="The regional state to explain, e.g. kazakhstan.")
@click.option("--from", "start", metavar="YYYY-MM", help="Start of the window [default: the run's start].")
@click.option("--to", "end", metavar="YYYY-MM", help="End of the window [default: the run's end].")
@click.option("--partner", help="Only this outside power.")
@click.option("--domain", type=click.Choice(["security", "economy"]), help="Only this domain.")
@click.option("--top", type=click.IntRange(1), default=12, show_default=True, help="Rows printed.")
@output_folder(
    "explain",
    "Output folder: new, empty, or an earlier explanation, which is replaced "
    "[default: results/explain/<run folder>-<actor>/].",
    default=lambda p: _default_folder(p["run_folder"], p["actor"]),
    inputs=("run_folder",),
)
def explain(
    run_folder: str,
    actor: str,
    start: str | None,
    end: str | None,
    partner: str | None,
    domain: str | None,
    top: int,
    out: Output,
) -> None:
    """Why ACTOR moved: each mechanism's contribution to its change, with 5-95% bands over runs."""
    from rich.table import Table
    from rich.text import Text

    from balancesim.analysis.explain import ExplainError, explain_folder
    from balancesim.cli.console import out as console
    from balancesim.cli.console import print_files
    from balancesim.cli.exits import InputError
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
    console.print(table)
    lead = frame[(frame.variable == "engagement") & (frame.mechanism == "total change")].iloc[0]
    data = waterfall_data(frame, "engagement", lead.partner, lead.domain)
    title = (
        f"{what} {found.actor_name}'s {lead.domain} engagement with {lead.partner}, "
        f"{found.start} to {found.end}"
    )
    write_waterfall(data, title.replace("$", r"\$"), out.partial / "waterfall.png")
    frame.to_csv(out.partial / "contributions.csv", index=False, float_format="%.6g")
    print_files("Written", out.folder, out.commit())


def _default_folder(run_folder: str, actor: Any) -> Path:
    """results/explain/<run folder's name>-<actor>, made one safe folder name."""
    from balancesim.experiment.folders import clean_name

    return Path("results") / "explain" / clean_name(f"{Path(run_folder).resolve().name}-{actor}", "explain")
