"""The `balancesim` command line: the command group and its commands, one module each.

Exit status: 0 success, 1 failure while running (e.g. cannot write results),
2 invalid input (bad scenario file, bad option), 130 interrupted; `exits.py`
decides it for every command. Heavy libraries (numpy, pandas, mesa, scipy,
matplotlib) are imported inside the commands, so that `balancesim --help`
answers at once. What the commands share is in `common.py` (scenario and
posterior input) and `options.py` (the options several
commands take), `outputs.py` (`--out` and the output-folder policy).
"""

from __future__ import annotations

import click

from balancesim.cli.calibrate import calibrate
from balancesim.cli.check import check, schema
from balancesim.cli.compare import compare
from balancesim.cli.discover import discover
from balancesim.cli.exits import Group, run_program
from balancesim.cli.explain import explain
from balancesim.cli.hindcast import hindcast
from balancesim.cli.report import report
from balancesim.cli.run import run
from balancesim.cli.sweep import sweep
from balancesim.cli.validate import validate
from balancesim.cli.viz import viz


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="balancesim")
def main() -> None:
    """Agent-based simulation of small states balancing between great powers.

    Scenario files (YAML) describe actors, institutions, parameters and shocks;
    see docs/scenarios.md. Start with `balancesim run scenarios/baseline.yaml`.
    """


for command in (
    run,
    compare,
    report,
    explain,
    check,
    schema,
    viz,
    discover,
    hindcast,
    calibrate,
    sweep,
    validate,
):
    main.add_command(command)


def program() -> None:
    """The `balancesim` console script: `main` with the exit statuses kept (see exits.run_program)."""
    run_program(main)


if __name__ == "__main__":
    program()
