"""`balancesim viz`: serve the browser view of one run of a scenario."""

from __future__ import annotations

import sys
from typing import Any

import click

from balancesim.cli.common import read_scenario, use_posterior
from balancesim.cli.console import err
from balancesim.cli.exits import InputError, RunError
from balancesim.cli.options import posterior_option

EPILOG_VIZ = """\b
Examples:
  balancesim viz scenarios/taiwan_shock.yaml
  balancesim viz scenarios/baseline.yaml --port 8800
  balancesim viz scenarios/taiwan_shock.yaml --host 0.0.0.0   (reachable from other machines)
  balancesim viz scenarios/baseline.yaml --posterior results/calibration/baseline
"""


@click.command(epilog=EPILOG_VIZ)
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
@posterior_option(
    "Draw the calibrated values from this `balancesim calibrate` folder: the page's replicate k "
    "is `run --posterior DIR` replicate k."
)
def viz(scenario: str, port: int, host: str, posterior_dir: str | None) -> None:
    """Serve a page showing one run of SCENARIO, for the browser (no internet needed).

    Step, play and reset the run, change the main parameters and the seed, and make
    the scenario's shocks happen by hand; see docs/viz.md. Ctrl-C stops the server.
    """
    import signal

    from balancesim.viz import server as v

    spec = read_scenario(scenario)
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
