"""Issue 21's findings: the text guard, bounded reads, exit statuses and the browser view's kernels.

Each test here failed before the guard it names was in place.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib
import pytest
from click.testing import CliRunner
from rich.table import Table
from rich.text import Text

from balancesim.cli import console
from balancesim.cli.main import main
from balancesim.text.guard import for_html, for_matplotlib, for_terminal

from .conftest import ROOT

BASELINE = str(ROOT / "scenarios" / "baseline.yaml")
TARGETS = str(ROOT / "targets" / "central_asia_2021_2023.yaml")
MINIMAL = ROOT / "tests" / "data" / "minimal.yaml"
OSC8 = "\x1b]8;;file:///etc/passwd\x1b\\click\x1b]8;;\x1b\\"
MARKUP = "Budget $x^$ [link=file:///etc/passwd]click[/link] [/] [bold]"


def invoke(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_clean_line(r, status: int) -> str:
    assert r.exit_code == status, r.output
    assert "Traceback" not in r.output and "a bug in balancesim" not in r.output, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1, r.output
    return lines[0]


# ------------------------------------------------------------------ the text guard


def test_for_terminal_escapes_what_a_terminal_would_act_on():
    assert for_terminal("plain ünïcode – text") == "plain ünïcode – text"
    shown = for_terminal(OSC8)
    assert "\x1b" not in shown and "\\x1b]8;;file:///etc/passwd" in shown
    assert for_terminal("a\u202eb\x07c\x9bd") == "a\\u202eb\\x07c\\x9bd"  # bidi override, bell, C1 CSI
    assert for_terminal("two\nlines") == "two\nlines"
    assert for_terminal("two\nlines", lines=False) == "two\\x0alines"
    assert for_matplotlib("$x^$") == r"\$x^\$"
    assert for_html('<a href="x">&') == "&lt;a href=&quot;x&quot;&gt;&amp;"


def _guarded_output(*objects) -> str:
    buffer = io.StringIO()
    c = console.guarded_console(file=buffer, force_terminal=True, width=300, color_system="truecolor")
    for o in objects:
        c.print(o)
    return buffer.getvalue()


def test_the_console_prints_markup_escapes_and_links_as_text():
    table = Table(title=MARKUP)
    table.add_column(OSC8)
    table.add_row(MARKUP)
    table.add_row(Text(OSC8))
    shown = _guarded_output(MARKUP, Text(OSC8), table)
    assert "\x1b]8;" not in shown  # no hyperlink, whether from markup or an escape sequence
    assert shown.count("[link=file:///etc/passwd]click[/link] [/] [bold]") == 3
    assert "\\x1b]8;;file:///etc/passwd" in shown


def test_the_command_consoles_are_guarded():
    assert isinstance(console.out._console(), console.guarded_console_class())
    assert isinstance(console.stderr(), console.guarded_console_class())


def _named(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "named.yaml"
    path.write_text(f"extends: {BASELINE}\nname: '{name}'\n", encoding="utf-8")
    return path


def test_hindcast_prints_and_plots_a_name_with_markup_and_mathtext(tmp_path, monkeypatch):
    buffer = io.StringIO()
    guarded = console.guarded_console(file=buffer, force_terminal=True, width=300)
    monkeypatch.setattr(console, "out", guarded)
    path = _named(tmp_path, MARKUP)
    r = invoke("hindcast", path, "--targets", TARGETS, "-n", "3", "--out", tmp_path / "h")
    assert r.exit_code == 0, r.output
    assert "Budget $x^$ [link=file:///etc/passwd]click[/link]" in buffer.getvalue()
    assert "\x1b]8;" not in buffer.getvalue()
    assert (tmp_path / "h" / "hindcast.png").stat().st_size > 0


def test_figures_draw_mathtext_as_typed():
    import balancesim.figures  # noqa: F401 - the guard is importing the package

    assert matplotlib.rcParams["text.parse_math"] is False
    from balancesim.calibration.report import marginals_figure  # noqa: F401 - draws through figures


def test_calibrate_writes_a_scenario_named_with_mathtext(tmp_path):
    path = _named(tmp_path, "Budget $x^$")
    out = tmp_path / "cal"
    r = invoke(
        "calibrate",
        path,
        "--targets",
        TARGETS,
        "--method",
        "smc",
        "--budget",
        "10",
        "--seed",
        "2",
        "--out",
        out,
    )
    assert r.exit_code == 0, r.output
    assert (out / "predictive.png").stat().st_size > 0 and (out / "posterior.parquet").exists()


def test_error_messages_escape_control_characters_in_file_names(tmp_path):
    r = invoke("check", tmp_path / f"no{OSC8}.yaml")
    line = one_clean_line(r, 2)
    assert "\x1b" not in r.output and "\\x1b]8;;file:" in line


# ------------------------------------------------------------------ bounded reads


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "directory"])
@pytest.mark.parametrize("role", ["scenario", "targets", "design"])
def test_files_named_on_the_command_line_must_be_regular(tmp_path, kind, role):
    target = tmp_path / "thing"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev_zero":
        target.symlink_to("/dev/zero")
    else:
        target.mkdir()
    if role == "scenario":
        r = invoke("check", target)
    elif role == "targets":
        r = invoke("hindcast", BASELINE, "--targets", target, "-n", "2", "--out", tmp_path / "h")
    else:
        r = invoke("sweep", BASELINE, "--design-file", target, "-n", "2", "--out", tmp_path / "s")
    if kind == "directory":  # refused by click's own check of the argument
        assert r.exit_code == 2 and "is a directory" in r.output and "Traceback" not in r.output
        return
    line = one_clean_line(r, 2)
    assert any(w in line for w in ("named pipe", "a device")), line


def test_a_file_over_the_limit_is_refused_unread(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (1 << 20) + b"\n")
    assert "larger than 1 MiB" in one_clean_line(invoke("check", big), 2)


def test_extends_outside_the_scenario_folder_is_refused_and_never_echoed(tmp_path, monkeypatch):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "shadow").write_text("root:$6$SECRETHASH:19000:0:99999:7:::\n")
    folder = tmp_path / "scen"
    folder.mkdir()
    (folder / "s.yaml").write_text("extends: ../secret/shadow\nname: x\n")
    monkeypatch.chdir(folder)
    line = one_clean_line(invoke("check", "s.yaml"), 2)
    assert "outside the scenario's folder" in line and "SECRETHASH" not in line
    (folder / "t.yaml").write_text(f"extends: {secret / 'shadow'}\nname: x\n")
    assert "SECRETHASH" not in one_clean_line(invoke("check", "t.yaml"), 2)
    (folder / "link.yaml").symlink_to(secret / "shadow")  # a symlink inside leading outside
    (folder / "u.yaml").write_text("extends: link.yaml\nname: x\n")
    assert "outside the scenario's folder" in one_clean_line(invoke("check", "u.yaml"), 2)


def test_sweep_design_file_is_relative_to_the_scenario_and_confined(tmp_path, monkeypatch):
    (tmp_path / "secret.csv").write_text("parameters.lock_in\nSECRET-LINE\n")
    folder = tmp_path / "scen"
    folder.mkdir()
    (folder / "points.csv").write_text("parameters.lock_in\n1\n2\n")
    minimal = folder / "minimal.yaml"
    minimal.write_text(MINIMAL.read_text())
    (folder / "inside.yaml").write_text("extends: minimal.yaml\nsweep:\n  design_file: points.csv\n")
    (folder / "outside.yaml").write_text("extends: minimal.yaml\nsweep:\n  design_file: ../secret.csv\n")
    monkeypatch.chdir(ROOT)  # the current folder is not the scenario's: relative to the scenario
    r = invoke("sweep", folder / "inside.yaml", "-n", "2", "--executor", "serial", "--out", tmp_path / "a")
    assert r.exit_code == 0, r.output
    r = invoke("sweep", folder / "outside.yaml", "-n", "2", "--executor", "serial", "--out", tmp_path / "b")
    line = one_clean_line(r, 2)
    assert "outside the scenario's folder" in line and "SECRET" not in line
    assert not (tmp_path / "b").exists()


def test_a_posterior_that_is_a_fifo_does_not_hang(tmp_path):
    post = tmp_path / "post"
    post.mkdir()
    os.mkfifo(post / "posterior.parquet")
    r = invoke("run", BASELINE, "-n", "2", "--posterior", post, "--out", tmp_path / "r")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output


# ------------------------------------------------------------------ exit statuses


def test_a_prior_so_wide_it_collapses_to_its_mean_is_refused(tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_text(
        f"extends: {MINIMAL}\nuncertainty:\n"
        "  actors.china.attention: {distribution: normal, mean: 0.5, sd: 1.0e+17}\n"
    )
    line = one_clean_line(invoke("check", path), 2)
    assert "sd: 1e+17 is more than 1e+06 times the range 0..1" in line


def test_set_an_empty_id_list_is_refused():
    line = one_clean_line(invoke("run", BASELINE, "-n", "2", "--set", "actors=[]"), 2)
    assert "actors: an empty list changes nothing" in line


def test_an_invalid_design_point_is_one_line(tmp_path):
    r = invoke(
        "sweep",
        ROOT / "scenarios" / "taiwan_shock.yaml",
        "-p",
        "shocks.taiwan_war.severity.low=0.2:0.9",
        "-p",
        "shocks.taiwan_war.severity.high=0.5:1",
        "--design",
        "lhs",
        "--samples",
        "5001",
        "-n",
        "1",
        "--executor",
        "serial",
        "--out",
        tmp_path / "s",
    )
    assert r.exit_code == 2, r.output
    (line,) = [x for x in r.output.splitlines() if "not a valid scenario" in x]
    assert re.search(
        r"is not a valid scenario: shocks.4.severity: low \([0-9.]+\) must not exceed high", line
    )
    assert "pydantic" not in r.output and "validation errors" not in r.output


def test_where_nested_1000_deep_is_bad_input(tmp_path):
    run = tmp_path / "run"
    assert invoke("run", BASELINE, "-n", "4", "--out", run, "--no-plots").exit_code == 0
    for where in (
        "(" * 1000 + "balance@12 > 0" + ")" * 1000,
        "not " * 1000 + "balance@12 > 0",
        "-" * 1000 + "1 < balance@12",
    ):
        line = one_clean_line(invoke("discover", run, "--where", where), 2)
        assert "nested more than 100 deep" in line


def test_a_damaged_chunk_is_one_line_naming_the_file(tmp_path):
    sweep = tmp_path / "sw"
    r = invoke(
        "sweep", BASELINE, "-p", "parameters.lock_in=1,2", "-n", "2", "--executor", "serial", "--out", sweep
    )
    assert r.exit_code == 0, r.output
    (chunk,) = sorted((sweep / "chunks").glob("*.parquet"))[:1]
    chunk.write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1")
    line = one_clean_line(invoke("discover", sweep, "--where", "balance@60 > 0"), 1)  # the verified reader
    assert chunk.name in line and "damaged" in line


def test_a_5000_digit_budget_is_bad_input():
    line = one_clean_line(invoke("calibrate", BASELINE, "--targets", TARGETS, "--budget", "9" * 5000), 2)
    assert "--budget 99999999999999999999...: expected small, default or a number" in line


def test_a_symlink_loop_scenario_is_bad_input(tmp_path):
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    for args in (("check",), ("run", "--out", tmp_path / "r"), ("hindcast", "--targets", TARGETS)):
        cmd, *rest = args
        line = one_clean_line(invoke(cmd, tmp_path / "a.yaml", *rest), 2)
        assert "symlink loop" in line


# ------------------------------------------------------------------ the browser view's kernels


def _websocket(guard, path: str) -> list[dict]:
    sent: list[dict] = []
    reached: list[str] = []

    async def app(scope, receive, send):
        reached.append(scope["path"])

    async def send(message):
        sent.append(message)

    async def receive():  # pragma: no cover - never called
        return {}

    guard.app = app
    scope = {"type": "websocket", "path": path, "headers": [(b"host", b"127.0.0.1:8765")]}
    with ThreadPoolExecutor(1) as pool:  # a loop of its own, whatever runs in this thread
        pool.submit(asyncio.run, guard(scope, receive, send)).result()
    return sent if not reached else [{"type": "passed"}]


def test_new_kernels_are_refused_at_the_cap_and_reconnects_are_not(tmp_path):
    from balancesim.viz.guard import MAX_KERNELS, AllowedHosts, RequestGuard

    live = {f"k{i}" for i in range(MAX_KERNELS)}
    guard = RequestGuard(
        None, hosts=AllowedHosts.for_server("127.0.0.1", 8765), cdn_dir=tmp_path, kernels=lambda: live
    )
    assert _websocket(guard, "/jupyter/api/kernels/new/channels") == [
        {"type": "websocket.close", "code": 1013}
    ]
    assert _websocket(guard, "/jupyter/api/kernels/k3/channels") == [{"type": "passed"}]
    live.discard("k0")
    assert _websocket(guard, "/jupyter/api/kernels/new/channels") == [{"type": "passed"}]


def test_the_server_culls_closed_kernels_within_minutes(tmp_path, monkeypatch):
    import solara.util

    from balancesim.viz import server

    captured = {}

    class Stop(Exception):
        pass

    def popen(cmd, env, **kwargs):
        captured.update(env)
        raise Stop

    monkeypatch.setattr(server.subprocess, "Popen", popen)
    with pytest.raises(Stop):
        server.start(BASELINE, "127.0.0.1", 0, workdir=tmp_path)
    assert solara.util.parse_timedelta(captured["SOLARA_KERNEL_CULL_TIMEOUT"]) <= 300
