"""What long commands show while they work, and how fast `balancesim --help` starts."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from rich.console import Console

from balancesim.cli.progress import Phases


def _render(phases: Phases) -> str:
    phases.progress.refresh()
    return phases.progress.console.file.getvalue()  # type: ignore[attr-defined]


def test_phases_show_setup_then_labelled_times_then_writing():
    console = Console(file=io.StringIO(), force_terminal=True, width=160, color_system=None)
    with Phases(console, "my [bold]scenario[/]") as phases:
        phases.setting_up("reading the scenario")
        setup = _render(phases)
        advance = phases.bar(10, "simulating", "runs")
        advance(4)
        simulating = _render(phases)
        phases.bar(3, "writing the data", "files")
        phases.step("writing the plots")
        writing = _render(phases)
    assert "my [bold]scenario[/]: reading the scenario" in setup  # literal, not markup
    assert "simulating" in simulating and "4/10 runs" in simulating
    assert "elapsed" in simulating and "left" in simulating
    assert "writing the plots" in writing and "1/3 files" in writing


def test_no_display_when_stderr_is_not_a_terminal():
    console = Console(file=io.StringIO(), force_terminal=False)
    with Phases(console, "x") as phases:
        phases.bar(5, "simulating", "runs")(5)
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]


HEAVY = ("numpy", "pandas", "mesa", "scipy", "matplotlib", "pyarrow", "SALib", "dask", "solara")


def test_the_command_line_imports_no_heavy_library():
    """`balancesim --help` stays fast: the CLI module and the package load none of these."""
    code = (
        "import sys, json, balancesim, balancesim.cli.main; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []
    help_run = subprocess.run(
        [
            sys.executable,
            "-c",
            code.replace("print", "balancesim.cli.main.main(['--help'], standalone_mode=False); print"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(help_run.stdout.splitlines()[-1]) == []


def test_the_public_api_still_loads_on_use():
    code = "import balancesim; print(balancesim.run.__module__, balancesim.BalanceModel.__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["balancesim.experiment.batch", "BalanceModel"]


def test_run_shows_its_phases_on_a_terminal(tmp_path, monkeypatch):
    """`run` on a terminal: set-up status, the simulation bar, then the writing bar (all transient)."""
    from click.testing import CliRunner

    from balancesim.cli import console
    from balancesim.cli.main import main

    from .conftest import ROOT

    screen = Console(file=io.StringIO(), force_terminal=True, width=160, color_system=None)
    monkeypatch.setattr(console, "err", screen)
    minimal = str(ROOT / "tests" / "data" / "minimal.yaml")
    r = CliRunner().invoke(main, ["run", minimal, "-n", "3", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    shown = screen.file.getvalue()  # type: ignore[attr-defined]
    for phase in ("reading the scenario", "simulating", "runs", "writing", "elapsed"):
        assert phase in shown, phase
