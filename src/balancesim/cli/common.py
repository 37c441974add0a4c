"""What the commands share: reading a scenario or a posterior given on the command line,
`--set` strings, a progress bar, and the check that results can be written, each turning
the library's errors into the exit statuses of `exits.py` (output folders: `outputs.py`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balancesim.cli.console import stderr
from balancesim.cli.exits import InputError, RunError, describe_os_error
from balancesim.experiment.folders import check_writable

if TYPE_CHECKING:
    from balancesim.scenario.schema import Scenario


def read_scenario(path: str, overrides: dict[str, Any] | None = None) -> Scenario:
    """The scenario file at `path` with `overrides` applied, or InputError (exit 2) with its message."""
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


def parse_settings(items: tuple[str, ...], replicates: int | None, seed: int | None) -> dict[str, Any]:
    """The overrides of `--set PATH=VALUE ...`, `--replicates` and `--seed`, or InputError (exit 2)."""
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


def check_out_writable(folder: Path) -> None:
    """RunError (exit 1) unless results can be written under `folder`."""
    try:
        check_writable(folder)
    except OSError as e:
        raise RunError(f"--out {folder}: cannot write there ({describe_os_error(e)})") from None


@contextlib.contextmanager
def folder_errors(what: str) -> Iterator[None]:
    """A command writing its folder: refused (not an earlier output) exits 2; another writer
    or a disk error exits 1 with `cannot write WHAT: reason`."""
    from balancesim.experiment.folders import FolderBusy, FolderRefused

    try:
        yield
    except FolderRefused as e:
        raise InputError(str(e)) from None
    except FolderBusy as e:
        raise RunError(str(e)) from None
    except OSError as e:
        raise RunError(f"cannot write {what}: {describe_os_error(e)}") from None
