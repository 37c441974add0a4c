"""`balancesim check` and `balancesim schema`: scenario files checked without running them,
and the JSON Schema they follow."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from balancesim.cli.exits import RunError, describe_os_error
from balancesim.text.wording import plural


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def check(files: tuple[str, ...]) -> None:
    """Validate scenario FILES without running them (exit 2 if any is invalid)."""
    from balancesim.scenario.files import ScenarioError, load_scenario

    bad = 0
    for f in files:
        try:
            spec = load_scenario(f)
        except ScenarioError as e:
            click.echo(str(e), err=True)
            bad += 1
            continue
        click.echo(
            f"{f}: ok ({spec.name}; {plural(len(spec.actors), 'actor')}, "
            f"{plural(spec.horizon, 'month')}, {plural(len(spec.shocks), 'shock')})",
        )
    if bad:
        raise SystemExit(2)


@click.command()
@click.option(
    "--out", "out_file", type=click.Path(dir_okay=False), help="Write to this file instead of stdout."
)
def schema(out_file: str | None) -> None:
    """Print the JSON Schema of scenario files (for editor completion and checking)."""
    from balancesim.scenario.schema import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if out_file is None:
        click.echo(text, nl=False)
        return
    # Written under a hidden name and renamed: a full disk leaves no half-written schema.
    path = Path(out_file)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise RunError(f"cannot write {out_file}: {describe_os_error(e)}") from None
    click.echo(f"wrote {out_file}", err=True)
