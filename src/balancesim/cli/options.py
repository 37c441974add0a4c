"""The options several commands take, declared once: `-n/--replicates`, `-s/--seed`,
`--out`, `--posterior` and `--uncertainty`.

Each function returns a click decorator; a command names only what differs (its help
text, a range or a default), so that the same option reads and checks the same way
everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

SEED_RANGE = click.IntRange(0, 2**63 - 1)

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def replicates_option(
    help: str = "Number of runs (default: the scenario's).",
    kind: click.IntRange | None = None,
    default: int | None = None,
) -> Decorator:
    """`-n/--replicates`: how many runs (per point or arm, as the help says)."""
    return click.option(
        "--replicates",
        "-n",
        type=kind or click.IntRange(1),
        default=default,
        show_default=default is not None,
        help=help,
    )


def seed_option(
    help: str = "Run seed (default: the scenario's).",
    kind: click.IntRange = SEED_RANGE,
    default: int | None = None,
) -> Decorator:
    """`-s/--seed`: the run seed; replicate k's seed follows from it (README, Python API)."""
    return click.option(
        "--seed", "-s", type=kind, default=default, show_default=default is not None, help=help
    )


def out_option(help: str, default: str | None = None) -> Decorator:
    """`--out DIR`: the exact folder a command writes (README, "What a run writes")."""
    return click.option(
        "--out",
        "out_dir",
        type=click.Path(file_okay=False),
        default=default,
        show_default=default is not None,
        help=help,
    )


def posterior_option(
    help: str = "Draw the calibrated values from this `balancesim calibrate` folder (its "
    "posterior.parquet) instead of their priors.",
) -> Decorator:
    """`--posterior DIR`: a calibration's folder whose posterior the runs draw from."""
    return click.option("--posterior", "posterior_dir", type=click.Path(file_okay=False), help=help)


def uncertainty_option(
    help: str = "prior: each run draws its values from the scenario's `uncertainty:` priors; "
    "none: the scenario's values only [default: prior if the scenario has priors].",
) -> Decorator:
    """`--uncertainty prior|none`: whether runs draw from the priors."""
    return click.option("--uncertainty", type=click.Choice(["prior", "none"]), help=help)
