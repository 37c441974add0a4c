"""The `balancesim` command line.

Exit status: 0 success, 1 failure while running (e.g. cannot write results),
2 invalid input (bad scenario file, bad option), 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from .scenario_files import ScenarioError, load_scenario, parse_overrides

err = Console(stderr=True, highlight=False)
out = Console(highlight=False, width=None if sys.stdout.isatty() else 110)

EPILOG_RUN = """\b
Examples:
  balancesim run scenarios/taiwan_shock.yaml
  balancesim run scenarios/taiwan_shock.yaml --replicates 1000 --seed 7
  balancesim run scenarios/taiwan_shock.yaml --baseline scenarios/baseline.yaml
  balancesim run scenarios/baseline.yaml --set parameters.hedging_tension=0
"""


class InputError(click.ClickException):
    """Invalid input: the message is printed as is and the exit status is 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(self.format_message(), err=True)  # unwrapped: one problem per line


def _load(path: str, overrides: dict[str, Any] | None = None):
    try:
        return load_scenario(path, overrides)
    except ScenarioError as e:
        raise InputError(str(e)) from None


def _overrides(items: tuple[str, ...], replicates: int | None, seed: int | None) -> dict[str, Any]:
    try:
        values = parse_overrides(items)
    except ScenarioError as e:
        raise InputError(str(e)) from None
    if replicates is not None:
        values["replicates"] = replicates
    if seed is not None:
        values["seed"] = seed
    return values


def progress_bar(total: int, label: str) -> tuple[Progress, Callable[[int], None]]:
    """A rich progress bar on stderr and the callback that advances it."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    task = bar.add_task(label, total=total, rate="")

    def advance(n: int) -> None:
        bar.advance(task, n)
        t = bar.tasks[task]
        if t.elapsed:
            bar.update(task, rate=f"{t.completed / t.elapsed:,.0f} runs/s")

    return bar, advance


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="balancesim")
def main() -> None:
    """Agent-based simulation of small states balancing between great powers.

    Scenario files (YAML) describe actors, institutions, parameters and shocks;
    see docs/scenarios.md. Start with `balancesim run scenarios/baseline.yaml`.
    """


@main.command(epilog=EPILOG_RUN)
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--replicates", "-n", type=click.IntRange(1), help="Number of runs (default: the scenario's).")
@click.option("--seed", "-s", type=click.IntRange(0, 2**63 - 1), help="Run seed (default: the scenario's).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="results",
    show_default=True,
    help="Folder under which results/<scenario>/<run-id>/ is written.",
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
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
def run(
    scenario: str,
    replicates: int | None,
    seed: int | None,
    out_dir: str,
    baseline: str | None,
    engine_name: str,
    chunk_size: int,
    settings: tuple[str, ...],
    measures: str,
    no_plots: bool,
) -> None:
    """Run SCENARIO many times and write data, a summary and plots."""
    from . import experiment, plots, store

    overrides = _overrides(settings, replicates, seed)
    spec = _load(scenario, overrides)
    base = None
    if baseline is not None:
        # The baseline runs with the same seed and count: common random numbers.
        base = _load(baseline, {**overrides, "replicates": spec.replicates, "seed": spec.seed})
        if base.horizon != spec.horizon:
            raise InputError(
                f"{baseline}: horizon {base.horizon} differs from {scenario}'s {spec.horizon}; "
                "a paired comparison needs the same horizon"
            )
    total = spec.replicates * (2 if base is not None else 1)
    bar, advance = progress_bar(total, f"{Path(scenario).stem}")
    options = {
        "engine_name": engine_name,
        "chunk_size": chunk_size,
        "progress": advance,
        "measures": measures,
    }
    try:
        with bar:
            results = experiment.run(spec, **options)
            base_results = None if base is None else experiment.run(base, **options)
    except experiment.RunTooLarge as e:
        raise InputError(f"{scenario}: {e}") from None
    if base_results is not None and not experiment.common_random_numbers(results.setup, base_results.setup):
        err.print(
            f"note: {scenario} and {baseline} differ in their actors or alliances, so their runs do not "
            "share random numbers; the effect is a difference of runs paired by seed, wider than a "
            "common-random-numbers comparison"
        )
    folder = store.write_run(
        results,
        Path(out_dir),
        Path(scenario).stem,
        command=["balancesim", *sys.argv[1:]],
        baseline=base_results,
        baseline_file=baseline,
        scenario_file=scenario,
        plot=None if no_plots else plots.write_all,
    )
    _print_outcomes(results, base_results)
    out.print(f"\nResults: [bold]{folder}[/bold]")
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            out.print(f"  {path.relative_to(folder)}")


def _print_outcomes(results, baseline) -> None:
    from .experiment import calendar_month
    from .metrics import HEADLINE, REGION

    last = int(results.months[-1])
    names = {a.id: a.name for a in results.scenario.actors}
    a, b = results.scenario.balance_pair
    table = Table(
        title=f"{results.scenario.name}: {results.replicates} runs, seed {results.seed}, "
        f"month {last} ({calendar_month(results.scenario.start, last)})",
        title_justify="left",
    )
    table.add_column("regional outcome")
    table.add_column("median [5%–95%]", justify="right")
    if baseline is not None:
        table.add_column("baseline", justify="right")
        table.add_column("effect (paired)", justify="right")
    labels = {f"members.{i.id}": f"{i.id.upper()} members" for i in results.scenario.institutions}
    labels |= {
        "balance": f"{names[a]}–{names[b]} balance",
        "tension": f"{names[a]}–{names[b]} tension",
        "coordination": f"{names[a]}–{names[b]} coordination",
        "gains": "gains from competition",
    }

    def cell(v) -> str:
        import numpy as np

        q = np.quantile(v, [0.05, 0.5, 0.95])
        return f"{q[1]:+.3f} [{q[0]:+.3f}, {q[2]:+.3f}]"

    keys = list(HEADLINE) + [f"members.{i}" for i in results.setup.institution_ids]
    for key in keys:
        v = results.values(REGION, key)[last]
        row = [labels.get(key, key.replace("_", " ")), cell(v)]
        if baseline is not None:
            bv = baseline.values(REGION, key)[last] if baseline.has(REGION, key) else None
            row += ["—", "—"] if bv is None else [cell(bv), cell(v - bv)]
        table.add_row(*row)
    out.print(table)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def check(files: tuple[str, ...]) -> None:
    """Validate scenario FILES without running them (exit 2 if any is invalid)."""
    bad = 0
    for f in files:
        try:
            spec = load_scenario(f)
        except ScenarioError as e:
            click.echo(str(e), err=True)
            bad += 1
            continue
        click.echo(
            f"{f}: ok ({spec.name}; {len(spec.actors)} actors, {spec.horizon} months, "
            f"{len(spec.shocks)} shocks)",
        )
    if bad:
        raise SystemExit(2)


@main.command()
@click.option(
    "--out", "out_file", type=click.Path(dir_okay=False), help="Write to this file instead of stdout."
)
def schema(out_file: str | None) -> None:
    """Print the JSON Schema of scenario files (for editor completion and checking)."""
    from .scenario import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if out_file is None:
        click.echo(text, nl=False)
    else:
        Path(out_file).write_text(text)
        err.print(f"wrote {out_file}")


EPILOG_SWEEP = """\b
SPEC is start:stop:count (grid), a comma list (grid), or low:high (lhs, sobol).
PATH is any numeric value of the scenario, as for --set, e.g.
parameters.hedging_tension, actors.china.attention, relations.tension,
shocks.taiwan_war.severity, shocks.taiwan_war.month.
Every design point runs the same replicate seeds (common random numbers).
A `sweep:` section in the scenario file takes the same settings; options
given here override it (any --param replaces its params). See docs/sweeps.md.

\b
Examples:
  balancesim sweep scenarios/taiwan_shock.yaml -p parameters.hedging_tension=0:4:11 -n 100
  balancesim sweep scenarios/taiwan_shock.yaml -p parameters.hedging_tension=0:4:11 \\
      -p shocks.taiwan_war.severity=0:1:11 --replicates 100 --executor process --workers 2
  balancesim sweep scenarios/baseline.yaml --design sobol --samples 256 -n 50 \\
      -p parameters.lock_in=1:6 -p parameters.hedging_tension=0:4 -p actors.china.attention=0.3:0.8
  balancesim sweep scenarios/taiwan_shock.yaml -p relations.tension=0.1,0.25,0.4 --out results/t --resume
  balancesim sweep scenarios/taiwan_shock.yaml -p parameters.lock_in=1:5:5 --scheduler tcp://10.0.0.5:8786
"""


@main.command(epilog=EPILOG_SWEEP)
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="PATH=SPEC",
    help="A value to vary and its spec (repeatable).",
)
@click.option(
    "--design",
    type=click.Choice(["grid", "lhs", "sobol"]),
    help="grid: all combinations; lhs: Latin hypercube; sobol: Saltelli sample + Sobol indices "
    "[default: grid].",
)
@click.option(
    "--samples", type=click.IntRange(1), help="lhs: number of points; sobol: base samples N (a power of 2)."
)
@click.option(
    "--replicates", "-n", type=click.IntRange(1), help="Runs per design point (default: the scenario's)."
)
@click.option("--seed", "-s", type=click.IntRange(0, 2**63 - 1), help="Run seed (default: the scenario's).")
@click.option(
    "--months",
    metavar="M,M,...",
    help="Months summarised (default: the scenario's outputs.months and the horizon).",
)
@click.option(
    "--executor",
    type=click.Choice(["serial", "process", "dask"]),
    help="Where chunks run [default: process; dask if --scheduler is given].",
)
@click.option(
    "--workers", type=click.IntRange(1), help="Worker processes (process, dask LocalCluster) [default: CPUs]."
)
@click.option("--scheduler", metavar="ADDRESS", help="Join a running Dask scheduler, e.g. tcp://HOST:8786.")
@click.option(
    "--chunk-size",
    type=click.IntRange(1),
    help="Replicates per task (results do not depend on it) [default: ~0.2 s of work].",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="The sweep folder [default: results/<scenario>/sweep].",
)
@click.option("--resume", is_flag=True, help="Continue the sweep in --out, skipping finished chunks.")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a base scenario value for every point (repeatable).",
)
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
def sweep(
    scenario: str,
    params: tuple[str, ...],
    design: str | None,
    samples: int | None,
    replicates: int | None,
    seed: int | None,
    months: str | None,
    executor: str | None,
    workers: int | None,
    scheduler: str | None,
    chunk_size: int | None,
    out_dir: str | None,
    resume: bool,
    settings: tuple[str, ...],
    no_plots: bool,
) -> None:
    """Run SCENARIO over a design of parameter values, in resumable chunks."""
    import re

    from . import sweep as sw
    from .executors import ExecutorUnavailable

    overrides = _overrides(settings, None, None)
    try:
        given = sw.SweepOptions(
            params=tuple(sw.parse_param(p) for p in params),
            design=design,
            samples=samples,
            replicates=replicates,
            months=sw.parse_months(months) if months else None,
            chunk_size=chunk_size,
            executor=executor,
            workers=workers,
            scheduler=scheduler,
            out=out_dir,
        )
        plan = sw.plan_sweep(scenario, given, overrides, seed=seed)
    except (ScenarioError, sw.SweepError) as e:
        raise InputError(str(e)) from None
    opts = plan.options
    executor = opts.executor or ("dask" if opts.scheduler else "process")
    if opts.scheduler is not None:
        if executor != "dask":
            raise InputError(f"--scheduler {opts.scheduler}: needs --executor dask (not {executor})")
        if not re.fullmatch(r"[a-z0-9+]+://\S+", opts.scheduler):
            raise InputError(f"--scheduler {opts.scheduler}: expected an address like tcp://HOST:PORT")
    folder = Path(opts.out or Path("results") / Path(scenario).stem / "sweep")
    points = len(plan.design)
    label = Path(scenario).stem
    bar, advance = progress_bar(plan.runs, f"{label}: 0/{points} points")
    task = bar.task_ids[0]

    def started(pending: int, complete: int, description: str) -> None:
        err.print(
            f"{label}: {points} design points x {plan.replicates} runs, "
            f"{pending:,} runs to do, executor {description}",
            markup=False,
            soft_wrap=True,
        )
        bar.update(task, total=pending, description=f"{label}: {complete}/{points} points")

    def progress(runs: int, complete: int) -> None:
        bar.update(task, description=f"{label}: {complete}/{points} points")
        advance(runs)

    try:
        with bar:
            outcome = sw.run_sweep(
                plan,
                folder,
                executor=executor,
                workers=opts.workers,
                scheduler=opts.scheduler,
                resume=resume,
                progress=progress,
                plots=not no_plots,
                command=["balancesim", *sys.argv[1:]],
                on_start=started,
            )
    except (sw.SweepError, ExecutorUnavailable) as e:
        raise InputError(str(e)) from None
    except KeyboardInterrupt:
        err.print(f"interrupted: finished chunks are kept in {folder}; add --resume to continue")
        raise SystemExit(130) from None
    except OSError as e:
        raise click.ClickException(f"cannot write the sweep to {folder}: {e}") from None
    _print_sweep(outcome)


def _print_sweep(outcome) -> None:
    plan = outcome.plan
    t = outcome.timings
    out.print(
        f"{len(plan.design)} design points x {plan.replicates} runs = {plan.runs:,} runs "
        f"({outcome.chunks_run} chunks run, {outcome.chunks_skipped} already done) in "
        f"{sum(t.values()):.1f} s",
        markup=False,
    )
    if outcome.sobol is not None:
        month = plan.months[-1]
        table = Table(title=f"Sobol indices at month {month} (95% CI)", title_justify="left")
        for name in ("measure", "parameter", "S1", "ST"):
            table.add_column(name, justify="left" if name in ("measure", "parameter") else "right")
        for row in outcome.sobol[outcome.sobol["month"] == month].itertuples():
            table.add_row(
                str(row.measure),
                row.parameter,
                f"{row.S1:+.3f} ± {row.S1_conf:.3f}",
                f"{row.ST:+.3f} ± {row.ST_conf:.3f}",
            )
        out.print(table)
    out.print(f"\nSweep: [bold]{outcome.folder}[/bold]")
    for path in outcome.files:
        out.print(f"  {path.relative_to(outcome.folder)}")
    out.print("  chunks/ (every run's outcomes, one Parquet file per chunk)")


EPILOG_VIZ = """\b
Examples:
  balancesim viz scenarios/taiwan_shock.yaml
  balancesim viz scenarios/baseline.yaml --port 8800
  balancesim viz scenarios/taiwan_shock.yaml --host 0.0.0.0   (reachable from other machines)
"""


@main.command(epilog=EPILOG_VIZ)
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to serve the page on (0: any free port).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; 0.0.0.0 makes the page reachable from other machines.",
)
def viz(scenario: str, port: int, host: str) -> None:
    """Serve a page showing one run of SCENARIO, for the browser (no internet needed).

    Step, play and reset the run, change the main parameters and the seed, and make
    the scenario's shocks happen by hand; see docs/viz.md. Ctrl-C stops the server.
    """
    import signal

    from . import viz as v

    spec = _load(scenario)
    problem = v.solara_missing()
    if problem is not None:
        raise click.ClickException(problem)
    try:
        server = v.start(scenario, host, port, echo=lambda line: click.echo(line, err=True))
    except v.VizError as e:
        raise (InputError if e.exit_code == 2 else click.ClickException)(str(e)) from None

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        click.echo(f"{spec.name}: {server.url}")
        sys.stdout.flush()
        if host in ("0.0.0.0", "::"):
            err.print(f"Listening on all addresses: elsewhere, use this machine's name, port {server.port}.")
        err.print("Open the address in a browser; Ctrl-C stops the server.")
        status = server.wait()
    except KeyboardInterrupt:
        status = 0
        err.print("stopped")
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
    if status != 0:
        raise click.ClickException(f"the page server stopped with status {status}:\n{server.log()[-3000:]}")


EPILOG_VALIDATE = """\b
Examples:
  balancesim validate
  balancesim validate --replicates 200 --seed 7 --out results/validation-quick
\b
Exit status: 0 every check passes; 1 a check fails or is unclear (with
--strict, also when a knock-out control leaves its pattern in place);
2 invalid input.
"""


def _writable_folder(folder: Path) -> None:
    """Create `folder` and make sure a file can be written there, or raise InputError."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise InputError(f"--out {folder}: cannot write there ({e.strerror or e})") from None


@main.command(epilog=EPILOG_VALIDATE)
@click.option(
    "--replicates",
    "-n",
    type=click.IntRange(20, 100_000),
    default=1000,
    show_default=True,
    help="Runs per experiment arm.",
)
@click.option(
    "--seed",
    "-s",
    type=click.IntRange(0, 2**63 - 1),
    default=20220301,
    show_default=True,
    help="Seed shared by every arm (common random numbers).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="results/validation",
    show_default=True,
    help="Folder for report.md, one PNG per pattern, summary.json and table.csv.",
)
@click.option(
    "--scenarios",
    "scenario_dir",
    type=click.Path(file_okay=False),
    help="Folder with baseline.yaml and the other scenarios (default: the project's scenarios/).",
)
@click.option(
    "--strict", is_flag=True, help="Also fail when a knock-out control does not remove its pattern."
)
def validate(replicates: int, seed: int, out_dir: str, scenario_dir: str | None, strict: bool) -> None:
    """Check the model against the patterns P1-P8 of the claims list.

    Each pattern runs as a seeded experiment over many replicates, with
    knock-out controls that switch off the rule behind it. Prints a table
    (figure, 95% interval, threshold and why, verdict) and writes a report
    with one plot per pattern; docs/validation.md explains how to read it.
    """
    from . import validation as val

    folder = Path(out_dir)
    _writable_folder(folder)
    scenarios = Path(scenario_dir) if scenario_dir is not None else val.SCENARIO_DIR
    bar, advance = progress_bar(val.count_runs(val.CHECKS, replicates, val.MECHANISMS), "validate")
    try:
        with bar:
            result = val.run_validation(replicates, seed, scenarios, progress=advance)
    except val.ValidationError as e:
        raise InputError(str(e)) from None
    report = val.write_report(result, folder, command=" ".join(["balancesim", *sys.argv[1:]]))
    _print_validation(result)
    out.print(f"\nReport: [bold]{report}[/bold]")
    if not result.passed or (strict and not result.controls_ok):
        raise SystemExit(1)


def _print_validation(result) -> None:
    from .validation import table_rows

    table = Table(
        title=f"Validation: {result.replicates} runs per arm, seed {result.seed}, "
        f"{result.runs_simulated:,} runs in {result.seconds:.1f} s",
        title_justify="left",
        show_lines=True,
    )
    for name in ("check", "claims", "figure", "value [95%]", "threshold", "why", "verdict", "knock-out"):
        table.add_column(name, overflow="fold")
    style = {"PASS": "green", "FAIL": "bold red", "UNCLEAR": "yellow"}
    for row in table_rows(result):
        verdict = f"[{style[row['verdict']]}]{row['verdict']}[/]"
        table.add_row(
            row["check"],
            row["claims"],
            row["measure"],
            row["figure"],
            row["threshold"],
            row["why"],
            verdict,
            row["knockout"],
        )
    out.print(table)
    failed = [r.check.id for r in result.results if not r.passed]
    weak = [
        f"{r.check.id} ({k.knockout.switch})"
        for r in result.results
        for k in r.knockouts
        if not k.informative
    ]
    out.print("All checks pass." if not failed else f"Not passing: {', '.join(failed)}.")
    if weak:
        listed = ", ".join(weak)
        out.print(f"Knock-outs that leave their pattern in place (the check proves nothing there): {listed}.")
    inert = [r.mechanism.name for r in result.influence if not r.moved]
    if result.influence:
        out.print(
            f"Mechanism influence: {len(result.influence) - len(inert)} of {len(result.influence)} "
            "mechanisms move a headline outcome beyond the noise band"
            + (f"; inert: {', '.join(inert)}." if inert else ".")
        )


from .analysis.discover_command import discover  # noqa: E402
from .analysis.hindcast_command import hindcast  # noqa: E402

main.add_command(discover)
main.add_command(hindcast)

if __name__ == "__main__":
    main()
