"""The `balancesim` command line.

Exit status: 0 success, 1 failure while running (e.g. cannot write results),
2 invalid input (bad scenario file, bad option), 130 interrupted; `exits.py`
decides it for every command. Heavy libraries (numpy, pandas, mesa, scipy,
matplotlib) and even rich are imported inside the commands, so that
`balancesim --help` answers at once.

run, check, schema and viz are here; the other commands have modules of
their own (sweep_command.py, validate_command.py, calibration/command.py,
analysis/*_command.py), registered at the end, and import the helpers they
share (`_load`, `_overrides`, `use_posterior`, `progress_bar`,
`write_or_fail`, ...) from here.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from balancesim.cli.console import err, out, print_files, print_outcomes, stderr  # noqa: F401 - out is used by command modules
from balancesim.cli.exits import Group, InputError, RunError, describe_os_error, run_program
from balancesim.experiment.folders import check_writable, folder_name
from balancesim.text.wording import plural

EPILOG_RUN = """\b
Examples:
  balancesim run scenarios/taiwan_shock.yaml
  balancesim run scenarios/taiwan_shock.yaml --replicates 1000 --seed 7
  balancesim run scenarios/taiwan_shock.yaml --baseline scenarios/baseline.yaml
  balancesim run scenarios/baseline.yaml --set parameters.hedging_tension=0
  balancesim run scenarios/taiwan_shock.yaml --uncertainty none
"""


def _load(path: str, overrides: dict[str, Any] | None = None):
    from balancesim.scenario.files import ScenarioError, load_scenario

    try:
        return load_scenario(path, overrides)
    except ScenarioError as e:
        raise InputError(str(e)) from None


def use_posterior(spec: Any, folder: str, fixed: Iterable[str] = ()) -> None:
    """Attach `--posterior DIR` to a loaded scenario (less the `fixed` PATHs), or raise InputError."""
    from balancesim.scenario.posterior import PosteriorError, read_posterior

    try:
        posterior = read_posterior(folder, spec, where="--posterior")
    except PosteriorError as e:
        raise InputError(str(e)) from None
    spec.set_posterior(posterior.without(list(fixed)))


def _overrides(items: tuple[str, ...], replicates: int | None, seed: int | None) -> dict[str, Any]:
    from balancesim.scenario.files import ScenarioError, parse_overrides

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
    from balancesim.cli.progress import Phases

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
    from balancesim.experiment.folders import FolderBusy

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
    from balancesim.cli.progress import Phases

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
        from balancesim.experiment import batch as experiment
        from balancesim.experiment import store
        from balancesim.experiment.folders import FolderBusy, FolderRefused
        from balancesim.figures import runs as plots

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
                from balancesim.scenario.per_run import ValuesError

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


@main.command()
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

    from balancesim.viz import server as v

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


def program() -> None:
    """The `balancesim` console script: `main` with the exit statuses kept (see exits.run_program)."""
    run_program(main)


from balancesim.cli.calibrate import calibrate  # noqa: E402
from balancesim.cli.discover import discover  # noqa: E402
from balancesim.cli.hindcast import hindcast  # noqa: E402
from balancesim.cli.sweep import sweep  # noqa: E402
from balancesim.cli.validate import validate  # noqa: E402

main.add_command(discover)
main.add_command(hindcast)
main.add_command(calibrate)
main.add_command(sweep)
main.add_command(validate)

if __name__ == "__main__":
    program()
