"""The `balancesim` command line.

Exit status: 0 success, 1 failure while running (e.g. cannot write results),
2 invalid input (bad scenario file, bad option), 130 interrupted; `exits.py`
decides it for every command. Heavy libraries (numpy, pandas, mesa, scipy,
matplotlib) and even rich are imported inside the commands, so that
`balancesim --help` answers at once.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from .console import err, out, print_files, print_outcomes, print_sweep, print_validation, stderr  # noqa: F401 - out is used by command modules
from .exits import Group, InputError, RunError, describe_os_error, run_program
from .folders import check_writable, folder_name
from .wording import plural

EPILOG_RUN = """\b
Examples:
  balancesim run scenarios/taiwan_shock.yaml
  balancesim run scenarios/taiwan_shock.yaml --replicates 1000 --seed 7
  balancesim run scenarios/taiwan_shock.yaml --baseline scenarios/baseline.yaml
  balancesim run scenarios/baseline.yaml --set parameters.hedging_tension=0
  balancesim run scenarios/taiwan_shock.yaml --uncertainty none
"""


def _load(path: str, overrides: dict[str, Any] | None = None):
    from .scenario_files import ScenarioError, load_scenario

    try:
        return load_scenario(path, overrides)
    except ScenarioError as e:
        raise InputError(str(e)) from None


def use_posterior(spec: Any, folder: str, fixed: Iterable[str] = ()) -> None:
    """Attach `--posterior DIR` to a loaded scenario (less the `fixed` PATHs), or raise InputError."""
    from .calibration.posterior import PosteriorError, read_posterior

    try:
        posterior = read_posterior(folder, spec, where="--posterior")
    except PosteriorError as e:
        raise InputError(str(e)) from None
    spec.set_posterior(posterior.without(list(fixed)))


def _overrides(items: tuple[str, ...], replicates: int | None, seed: int | None) -> dict[str, Any]:
    from .scenario_files import ScenarioError, parse_overrides

    try:
        values = parse_overrides(items)
    except ScenarioError as e:
        raise InputError(str(e)) from None
    if replicates is not None:
        values["replicates"] = replicates
    if seed is not None:
        values["seed"] = seed
    return values


def progress_bar(total: int, label: str) -> tuple[Any, Callable[[int], None]]:
    """A live display on stderr with one bar of `total` runs, and the callback that advances it.

    For commands in other modules (`with bar: ... advance(n)`); a command with
    several phases (set-up, simulation, writing) uses `progress.Phases` itself.
    """
    from .progress import Phases

    phases = Phases(stderr(), label)
    return phases, phases.bar(total, "simulating", "runs")


def _writable_out(folder: Path) -> None:
    """RunError (exit 1) unless results can be written under `folder`."""
    try:
        check_writable(folder)
    except OSError as e:
        raise RunError(f"--out {folder}: cannot write there ({describe_os_error(e)})") from None


def write_or_fail(write: Callable[[], list[Path]], folder: Path) -> list[Path]:
    """Call a command's `write()` of `folder`: another writer or a disk error is one line, exit 1."""
    from .folders import FolderBusy

    try:
        return write()
    except FolderBusy as e:
        raise RunError(str(e)) from None
    except OSError as e:
        raise RunError(f"--out {folder}: cannot write there ({describe_os_error(e)})") from None


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
    help="The exact folder the run writes (new, empty, or an earlier run, which is replaced) "
    "[default: a new results/<scenario>/<run-id>/].",
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
@click.option(
    "--uncertainty",
    type=click.Choice(["prior", "none"]),
    help="prior: each run draws its values from the scenario's `uncertainty:` priors; "
    "none: the scenario's values only [default: prior if the scenario has priors].",
)
@click.option(
    "--posterior",
    "posterior_dir",
    type=click.Path(file_okay=False),
    help="Draw the calibrated values from this `balancesim calibrate` folder (its posterior.parquet) "
    "instead of their priors.",
)
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
def run(
    scenario: str,
    replicates: int | None,
    seed: int | None,
    out_dir: str | None,
    baseline: str | None,
    engine_name: str,
    chunk_size: int,
    settings: tuple[str, ...],
    measures: str,
    uncertainty: str | None,
    posterior_dir: str | None,
    no_plots: bool,
) -> None:
    """Run SCENARIO many times and write data, a summary and plots."""
    from .progress import Phases

    name = folder_name(scenario)
    with Phases(stderr(), name) as phases:
        phases.setting_up("reading the scenario")
        overrides = _overrides(settings, replicates, seed)
        spec = _load(scenario, overrides)
        if posterior_dir is not None:
            use_posterior(spec, posterior_dir, overrides)
        if uncertainty is None:
            uncertainty = "prior" if spec.uncertain else "none"
        base = None
        if baseline is not None:
            # The baseline runs with the same seed and count: common random numbers.
            base = _load(baseline, {**overrides, "replicates": spec.replicates, "seed": spec.seed})
            if base.horizon != spec.horizon:
                raise InputError(
                    f"{baseline}: horizon {base.horizon} differs from {scenario}'s {spec.horizon}; "
                    "a paired comparison needs the same horizon"
                )
        target = None if out_dir is None else Path(out_dir)
        shown = out_dir or f"results/{name}"
        _writable_out(target or Path("results"))  # before the work, not after it
        phases.setting_up("loading the simulation libraries")
        from . import experiment, plots, store
        from .folders import FolderBusy, FolderRefused

        total = spec.replicates * (2 if base is not None else 1)
        try:
            # The folder is prepared (checked, locked, a partial folder made) before any simulation.
            with store.run_destination(target, Path("results"), name, spec.seed) as destination:
                for note in destination.notes:
                    err.print(note, markup=False, soft_wrap=True)
                options = {
                    "engine_name": engine_name,
                    "chunk_size": chunk_size,
                    "progress": phases.bar(total, "simulating", "runs"),
                    "measures": measures,
                }
                from .per_run import ValuesError

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
                phases.bar(1 + len(figures), "writing the data", "files")

                def plot(results, folder: Path, baseline) -> list[Path]:
                    phases.step("writing the plots")
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
        except FolderRefused as e:
            raise InputError(str(e)) from None
        except FolderBusy as e:
            raise RunError(str(e)) from None
        except OSError as e:
            raise RunError(f"cannot write the results to {shown}: {describe_os_error(e)}") from None
    print_outcomes(results, base_results)
    print_files("Results", folder, sorted(p for p in folder.rglob("*") if p.is_file()))


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def check(files: tuple[str, ...]) -> None:
    """Validate scenario FILES without running them (exit 2 if any is invalid)."""
    from .scenario_files import ScenarioError, load_scenario

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


EPILOG_SWEEP = """\b
SPEC is start:stop:count (grid), a comma list (grid), or low:high (lhs, sobol, morris).
--design-file takes the points from a CSV instead (one column per PATH).
PATH is any numeric value of the scenario, as for --set, e.g.
parameters.hedging_tension, actors.china.attention, relations.tension,
shocks.taiwan_war.severity, shocks.taiwan_war.month.
Every design point runs the same replicate seeds (common random numbers).
A `sweep:` section in the scenario file takes the same settings; options
given here override it (any --param replaces its params). Where the work runs
(--scheduler) and where it is written (--out) come from the command line only.
See docs/sweeps.md.

\b
Examples:
  balancesim sweep scenarios/taiwan_shock.yaml -p parameters.hedging_tension=0:4:11 -n 100
  balancesim sweep scenarios/taiwan_shock.yaml -p parameters.hedging_tension=0:4:11 \\
      -p shocks.taiwan_war.severity=0:1:11 --replicates 100 --executor process --workers 2
  balancesim sweep scenarios/baseline.yaml --design sobol --samples 256 -n 50 \\
      -p parameters.lock_in=1:6 -p parameters.hedging_tension=0:4 -p actors.china.attention=0.3:0.8
  balancesim sweep scenarios/taiwan_shock.yaml -p relations.tension=0.1,0.25,0.4 --out results/t --resume
  balancesim sweep scenarios/taiwan_shock.yaml -p parameters.lock_in=1:5:5 --scheduler tcp://10.0.0.5:8786
  balancesim sweep scenarios/taiwan_shock.yaml --design morris --samples 20 -n 20 \\
      -p parameters.lock_in=1:6 -p relations.tension=0.1:0.5 --outcomes 'balance,share.china[kazakhstan]'
  balancesim sweep scenarios/taiwan_shock.yaml --design-file points.csv -n 50
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
    type=click.Choice(["grid", "lhs", "sobol", "morris"]),
    help="grid: all combinations; lhs: Latin hypercube; sobol: Saltelli sample + Sobol indices; "
    "morris: Morris trajectories + elementary effects [default: grid].",
)
@click.option(
    "--samples",
    type=click.IntRange(1),
    help="lhs: number of points; sobol: base samples N (a power of 2); morris: trajectories.",
)
@click.option(
    "--second-order",
    is_flag=True,
    default=None,
    help="sobol: also second-order indices (N x (2D + 2) points).",
)
@click.option(
    "--design-file",
    type=click.Path(dir_okay=False),
    help="Design points from a CSV file: one column per PATH, one row per point (instead of --param).",
)
@click.option(
    "--outcomes",
    metavar="NAME,...",
    help="Measures kept, e.g. balance,share.china.economy[kazakhstan] [default: the regional headline].",
)
@click.option(
    "--replicates", "-n", type=click.IntRange(1), help="Runs per design point (default: the scenario's)."
)
@click.option("--seed", "-s", type=click.IntRange(0, 2**63 - 1), help="Run seed (default: the scenario's).")
@click.option(
    "--months",
    metavar="M,M,...|all",
    help="Months kept and summarised; 'all': every month, the monthly series "
    "(default: the scenario's outputs.months and the horizon).",
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
    help="The exact folder the sweep writes (new, empty, or this sweep's for --resume) "
    "[default: results/<scenario>/sweep].",
)
@click.option("--resume", is_flag=True, help="Continue the sweep in --out, skipping finished chunks.")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a base scenario value for every point (repeatable).",
)
@click.option(
    "--posterior",
    "posterior_dir",
    type=click.Path(file_okay=False),
    help="Each run draws the values of this `balancesim calibrate` folder that the design and --set "
    "do not give.",
)
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
def sweep(
    scenario: str,
    params: tuple[str, ...],
    design: str | None,
    samples: int | None,
    second_order: bool | None,
    design_file: str | None,
    outcomes: str | None,
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
    posterior_dir: str | None,
    no_plots: bool,
) -> None:
    """Run SCENARIO over a design of parameter values, in resumable chunks."""
    from .progress import Phases

    name = folder_name(scenario)
    with Phases(stderr(), name) as phases:
        phases.setting_up("planning the sweep")
        from . import sweep as sw
        from .executors import ExecutorFailed, ExecutorUnavailable
        from .folders import FolderBusy, FolderRefused
        from .scenario_files import ScenarioError

        overrides = _overrides(settings, None, None)
        try:
            given = sw.SweepOptions(
                params=tuple(sw.parse_param(p) for p in params),
                design=design,
                samples=samples,
                replicates=replicates,
                months=sw.parse_months(months) if months else None,
                design_file=design_file,
                outcomes=(outcomes,) if outcomes else None,
                second_order=second_order or None,
                chunk_size=chunk_size,
                executor=executor,
                workers=workers,
            )
            plan = sw.plan_sweep(scenario, given, overrides, seed=seed, posterior=posterior_dir)
        except (ScenarioError, sw.SweepError) as e:
            raise InputError(str(e)) from None
        opts = plan.options
        executor = opts.executor or ("dask" if scheduler else "process")
        if scheduler is not None:
            if executor != "dask":
                raise InputError(f"--scheduler {scheduler}: needs --executor dask (not {executor})")
            if not re.fullmatch(r"[a-z0-9+]+://\S+", scheduler):
                raise InputError(f"--scheduler {scheduler}: expected an address like tcp://HOST:PORT")
        folder = Path(out_dir or Path("results") / name / "sweep")
        if executor == "dask":
            import logging

            # Dask logs each lost worker or connection with a traceback; the sweep reports
            # what it means for the user in one line instead.
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
        points = len(plan.design)
        phases.setting_up(f"starting the {executor} executor")
        advance = None

        def started(pending: int, complete: int, description: str) -> None:
            nonlocal advance
            err.print(
                f"{name}: {plural(points, 'design point')} x {plural(plan.replicates, 'run')}, "
                f"{plural(pending, 'run')} to do, executor {description}",
                markup=False,
                soft_wrap=True,
            )
            advance = phases.bar(pending, f"{complete}/{points} points", "runs")

        def progress(runs: int, complete: int) -> None:
            phases.describe(f"{complete}/{points} points")
            if advance is not None:
                advance(runs)
            if complete == points:
                phases.setting_up("writing the summary and plots")

        try:
            outcome = sw.run_sweep(
                plan,
                folder,
                executor=executor,
                workers=opts.workers,
                scheduler=scheduler,
                resume=resume,
                progress=progress,
                plots=not no_plots,
                command=["balancesim", *sys.argv[1:]],
                on_start=started,
                notify=lambda message: err.print(f"note: {message}", markup=False, soft_wrap=True),
            )
        except (sw.SweepError, FolderRefused) as e:
            raise InputError(str(e)) from None
        except ExecutorUnavailable as e:
            raise (InputError if e.input_fault else RunError)(str(e)) from None
        except (ExecutorFailed, sw.SweepFailed) as e:
            raise RunError(
                f"{e}; the finished chunks are kept in {folder}: add --resume to continue"
            ) from None
        except FolderBusy as e:
            raise RunError(str(e)) from None
        except KeyboardInterrupt:
            phases.progress.stop()
            err.print(
                f"interrupted: finished chunks are kept in {folder}; add --resume to continue", markup=False
            )
            raise SystemExit(130) from None
        except OSError as e:
            raise RunError(f"cannot write the sweep to {folder}: {describe_os_error(e)}") from None
    print_sweep(outcome)


EPILOG_VIZ = """\b
Examples:
  balancesim viz scenarios/taiwan_shock.yaml
  balancesim viz scenarios/baseline.yaml --port 8800
  balancesim viz scenarios/taiwan_shock.yaml --host 0.0.0.0   (reachable from other machines)
  balancesim viz scenarios/baseline.yaml --posterior results/calibration/baseline
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
@click.option(
    "--posterior",
    "posterior_dir",
    type=click.Path(file_okay=False),
    help="Draw the calibrated values from this `balancesim calibrate` folder: the page's replicate k "
    "is `run --posterior DIR` replicate k.",
)
def viz(scenario: str, port: int, host: str, posterior_dir: str | None) -> None:
    """Serve a page showing one run of SCENARIO, for the browser (no internet needed).

    Step, play and reset the run, change the main parameters and the seed, and make
    the scenario's shocks happen by hand; see docs/viz.md. Ctrl-C stops the server.
    """
    import signal

    from . import viz as v

    spec = _load(scenario)
    if posterior_dir is not None:  # checked here, so a bad folder exits 2 before any server starts
        use_posterior(spec, posterior_dir)
    problem = v.solara_missing()
    if problem is not None:
        raise RunError(problem)
    warning = v.exposure_warning(host)
    if warning:
        click.echo(warning, err=True)
    try:
        server = v.start(
            scenario, host, port, echo=lambda line: click.echo(line, err=True), posterior=posterior_dir
        )
    except v.VizError as e:
        raise (InputError if e.exit_code == 2 else RunError)(str(e)) from None

    class Stopped(Exception):
        """SIGTERM: a service manager stopping the server, a normal end (status 0)."""

    def stop(signum: int, frame: Any) -> None:
        raise Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    interrupted = False
    try:
        click.echo(f"{spec.name}: {server.url}")
        sys.stdout.flush()
        if host in ("0.0.0.0", "::"):
            err.print(f"Listening on all addresses: elsewhere, use this machine's name, port {server.port}.")
        err.print("Open the address in a browser; Ctrl-C stops the server.")
        status = server.wait()
    except Stopped:
        status = 0
    except KeyboardInterrupt:
        status, interrupted = 0, True
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
    if status != 0:
        raise RunError(f"the page server stopped with status {status}:\n{server.log()[-3000:]}")
    err.print("stopped")
    if interrupted:
        raise click.exceptions.Exit(130)  # Ctrl-C, as for every command


EPILOG_VALIDATE = """\b
Examples:
  balancesim validate
  balancesim validate --replicates 200 --seed 7 --out results/validation-quick
  balancesim validate --robust                  (30 draws from the prior x 400 runs per arm)
  balancesim validate --robust --draws 10 -n 50 (a quick look)
\b
Exit status: 0 every check passes; 1 a check fails or is unclear (with
--strict, also when a knock-out control leaves its pattern in place);
2 invalid input.
"""


@main.command(epilog=EPILOG_VALIDATE)
@click.option(
    "--replicates",
    "-n",
    type=click.IntRange(20, 100_000),
    default=1000,
    show_default=True,
    help="Runs per experiment arm (with --robust: per arm and draw, default 400).",
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
    help="The exact folder of the report (report.md, one PNG per pattern, summary.json, table.csv); "
    "new, empty, or an earlier report, which is replaced.",
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
@click.option(
    "--robust",
    is_flag=True,
    help="Run every check and knock-out at draws from the baseline's prior (its uncertainty: section) "
    "and report the share of draws in which each holds.",
)
@click.option(
    "--draws",
    type=click.IntRange(1, 100_000),
    default=30,  # validation.robust.DEFAULT_DRAWS (not imported here: it would load numpy for --help)
    show_default=True,
    help="With --robust: draws from the prior (or the posterior).",
)
@click.option(
    "--posterior",
    "posterior_dir",
    type=click.Path(),
    help="With --robust: draw the calibrated values from this `balancesim calibrate` folder "
    "(its posterior.parquet) instead of their priors; the other values from their priors.",
)
def validate(
    replicates: int,
    seed: int,
    out_dir: str,
    scenario_dir: str | None,
    strict: bool,
    robust: bool,
    draws: int,
    posterior_dir: str | None,
) -> None:
    """Check the model against the patterns P1-P8 of the claims list.

    Each pattern runs as a seeded experiment over many replicates, with
    knock-out controls that switch off the rule behind it. Prints a table
    (figure, 95% interval, threshold and why, verdict) and writes a report
    with one plot per pattern; docs/validation.md explains how to read it.
    """
    from .progress import Phases

    folder = Path(out_dir)
    if posterior_dir is not None and not robust:
        raise InputError(
            "--posterior: only with --robust (the checks themselves run at the calibrated values)"
        )
    if robust:
        from .validation.robust import DEFAULT_RUNS

        given = click.get_current_context().get_parameter_source("replicates")
        runs = replicates if given != click.core.ParameterSource.DEFAULT else DEFAULT_RUNS
        _validate_robust(runs, draws, seed, scenario_dir, folder, posterior_dir)
        return
    with Phases(stderr(), "validate") as phases:
        phases.setting_up("loading the simulation libraries")
        _writable_out(folder)
        from . import validation as val
        from .folders import FolderBusy, FolderRefused

        scenarios = Path(scenario_dir) if scenario_dir is not None else val.SCENARIO_DIR
        try:
            # Checked and locked before the work: a folder that is not an earlier report is refused
            # at once, and a second validation into the same folder cannot mix its files with ours.
            with val.report_folder(folder) as notes:
                for note in notes:
                    err.print(note, markup=False, soft_wrap=True)
                advance = phases.bar(
                    val.count_runs(val.CHECKS, replicates, val.MECHANISMS), "simulating", "runs"
                )
                try:
                    result = val.run_validation(replicates, seed, scenarios, progress=advance)
                except val.ValidationError as e:
                    raise InputError(str(e)) from None
                phases.bar(1, "writing the report and plots")
                report = val.write_report(result, folder, command=" ".join(["balancesim", *sys.argv[1:]]))
        except FolderRefused as e:
            raise InputError(str(e)) from None
        except FolderBusy as e:
            raise RunError(str(e)) from None
        except OSError as e:
            raise RunError(f"cannot write the report to {folder}: {describe_os_error(e)}") from None
    print_validation(result)
    print_files("Report", report.parent, [report])
    if not result.passed or (strict and not result.controls_ok):
        raise SystemExit(1)


def _validate_robust(
    runs: int, draws: int, seed: int, scenario_dir: str | None, folder: Path, posterior: str | None
) -> None:
    """`validate --robust`: the share of prior (or posterior) draws in which each check holds."""
    from .console import print_robust
    from .progress import Phases

    with Phases(stderr(), "validate --robust") as phases:
        phases.setting_up("loading the simulation libraries")
        _writable_out(folder)
        from . import validation as val
        from .folders import FolderBusy, locked
        from .validation.robust import count_robust_runs, run_robust, write_robust

        scenarios = Path(scenario_dir) if scenario_dir is not None else val.SCENARIO_DIR
        try:
            # Locked before the work, as `validate` does: a second command writing the same
            # folder is refused at once instead of mixing its files with ours.
            with locked(folder):
                advance = phases.bar(count_robust_runs(val.CHECKS, draws, runs), f"{draws} draws", "runs")
                try:
                    result = run_robust(draws, runs, seed, scenarios, progress=advance, posterior=posterior)
                except val.ValidationError as e:
                    raise InputError(str(e)) from None
                files = write_robust(result, folder)
        except FolderBusy as e:
            raise RunError(str(e)) from None
        except OSError as e:
            raise RunError(f"cannot write to {folder}: {describe_os_error(e)}") from None
    print_robust(result)
    print_files("Robustness", folder, files)


def program() -> None:
    """The `balancesim` console script: `main` with the exit statuses kept (see exits.run_program)."""
    run_program(main)


from .analysis.discover_command import discover  # noqa: E402
from .analysis.hindcast_command import hindcast  # noqa: E402
from .calibration.command import calibrate  # noqa: E402

main.add_command(discover)
main.add_command(hindcast)
main.add_command(calibrate)

if __name__ == "__main__":
    program()
