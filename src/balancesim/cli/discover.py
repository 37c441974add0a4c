"""`balancesim discover RESULTS --where EXPR`: the boxes of inputs in which an outcome happens.

Only click and rich are imported at the top, so `balancesim --help` stays
fast; pandas, prim and scikit-learn load when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from balancesim.cli.outputs import output_folder
from balancesim.experiment.folders import legacy_files

if TYPE_CHECKING:
    from balancesim.experiment.folders import Output

if TYPE_CHECKING:
    from rich.console import Console

    from balancesim.analysis.discover import Discovery

EPILOG = """\b
Examples:
  balancesim discover results/t/sweep --where 'balance@60 < 0'
  balancesim discover results/t/sweep --where 'balance[kazakhstan]@60 < 0'
  balancesim discover results/baseline/20261128-034956-seed7 \\
      --where 'member.csto[kyrgyzstan]@60 == 0 or exit_threat.csto[kyrgyzstan]@60 == 1'
  balancesim discover results/t/sweep --where 'hedging_index@2027-03 > 0.75' --min-coverage 0.6

\b
EXPR compares outcomes at months with numbers: MEASURE[ACTOR]@MONTH (no
[ACTOR]: the region as a whole; MONTH a model month or YYYY-MM), joined by
+ and -, compared by < <= > >= == !=, combined with and, or, not and
parentheses. Exit status: 0 done, 1 failure while writing, 2 invalid input.
"""


@click.command(epilog=EPILOG)
@click.argument("results", type=click.Path(file_okay=False))
@click.option("--where", "expression", required=True, metavar="EXPR", help="The outcome of interest.")
@output_folder(
    "discover",
    "Output folder: new, empty, or an earlier discovery, which is replaced "
    "(default: RESULTS/discover-<expression as a name>).",
    default=lambda p: _default_folder(p["results"], p["expression"]),
    inputs=("results",),
    legacy=legacy_files("summary.json", "trajectory.csv", "box.csv", "tree.csv", "tree.txt", "plots/*.png"),
)
@click.option(
    "--min-coverage",
    type=click.FloatRange(0.0, 1.0),
    default=0.8,
    show_default=True,
    help="The chosen box is the densest with at least this coverage.",
)
@click.option("--box", "box", type=click.IntRange(0), help="Choose this box of the trajectory instead.")
@click.option(
    "--peel-alpha",
    type=click.FloatRange(0.01, 0.5),
    default=0.05,
    show_default=True,
    help="Share of the runs PRIM peels off at each step.",
)
@click.option(
    "--tree-depth", type=click.IntRange(1, 8), default=3, show_default=True, help="Depth of the CART tree."
)
def discover(
    results: str,
    expression: str,
    out: Output,
    min_coverage: float,
    box: int | None,
    peel_alpha: float,
    tree_depth: int,
) -> None:
    """Find the ranges of the inputs in which the outcome EXPR happens (PRIM and CART).

    RESULTS is a sweep folder or a run folder made with drawn values
    (params.parquet). Prints the peeling trajectory's trade-off, the chosen
    box with each limit's quasi-p value and the tree's leaves, and writes
    them with plots to --out. See docs/discover.md.
    """
    from balancesim.cli.console import err

    try:
        _discover(results, expression, out, min_coverage, box, peel_alpha, tree_depth)
    except KeyboardInterrupt:
        err.print("interrupted: nothing written")
        raise SystemExit(130) from None


def _default_folder(results: str, expression: str) -> Path:
    from balancesim.analysis.expressions import slug

    return Path(results) / f"discover-{slug(expression)}"


def _discover(
    results: str,
    expression: str,
    output: Output,
    min_coverage: float,
    box: int | None,
    peel_alpha: float,
    tree_depth: int,
) -> None:
    from balancesim.analysis import discover as dc
    from balancesim.analysis.expressions import ExpressionError
    from balancesim.analysis.results_data import ResultsError, open_results
    from balancesim.cli.console import err, out, print_files
    from balancesim.cli.exits import InputError

    try:
        data = open_results(results)
    except ResultsError as e:
        raise InputError(f"RESULTS {e}") from None
    try:
        found = dc.discover(
            data, expression, min_coverage=min_coverage, box=box, peel_alpha=peel_alpha, tree_depth=tree_depth
        )
    except ExpressionError as e:
        raise InputError(f"--where {e}") from None
    except ResultsError as e:
        where = "" if str(e).startswith("--box") else f"--where '{expression}': "
        raise InputError(f"{where}{e}") from None
    except dc.MissingExtra as e:
        err.print(str(e))
        raise SystemExit(1) from None
    from balancesim.figures.discover import discovery_figures

    files = dc.write_outputs(found, output, discovery_figures)
    _print(found, out)
    for line in found.warnings:
        out.print(line, markup=False)
    print_files("Written", output.folder, files)


def _print(found: Discovery, out: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    from balancesim.analysis import discover as dc

    out.print(
        Text.assemble(
            (found.expression, "bold"),
            f": {found.cases} of {found.runs} runs "
            f"({found.cases / found.runs:.1%}) in {found.data.kind} {found.data.folder}",
        )
    )
    trajectory = found.trajectory
    shown = sorted(
        {0, found.chosen, len(trajectory) - 1, *range(0, len(trajectory), max(1, len(trajectory) // 8))}
    )
    table = Table(title="PRIM peeling trajectory (selected boxes)", title_justify="left")
    for name in ("box", "coverage", "density", "mass", "restricted"):
        table.add_column(name, justify="right")
    row: Any  # pandas types the fields of itertuples' rows as any scalar
    for i in shown:
        row = trajectory.iloc[i]
        mark = " ◀ chosen" if i == found.chosen else ""
        table.add_row(
            f"{i}{mark}",
            f"{row['coverage']:.3f}",
            f"{row['density']:.3f}",
            f"{row['mass']:.3f}",
            str(int(row["restricted"])),
        )
    out.print(table)
    box = Table(
        title=f"Box {found.chosen}: coverage {found.box['coverage']:.3f}, density {found.box['density']:.3f} "
        f"({dc.rule_text(found)})",
        title_justify="left",
    )
    for name in ("input", "low", "high", "range in runs", "quasi-p"):
        box.add_column(name, justify="left" if name == "input" else "right")
    for row in found.limits.itertuples(index=False):
        box.add_row(
            row.input,
            f"{row.low:.4g}",
            f"{row.high:.4g}",
            f"{row.full_low:.4g}..{row.full_high:.4g}",
            f"{row.qp:.2g}",
        )
    if found.limits.empty:
        box.add_row("(no limit: the box is every run)", "", "", "", "")
    out.print(box)
    leaves = Table(title="CART leaves, densest first", title_justify="left")
    for name in ("rule", "runs", "density", "coverage"):
        leaves.add_column(name, justify="left" if name == "rule" else "right", overflow="fold")
    for row in found.leaves.head(6).itertuples(index=False):
        leaves.add_row(row.rule, str(row.runs), f"{row.density:.3f}", f"{row.coverage:.3f}")
    out.print(leaves)
