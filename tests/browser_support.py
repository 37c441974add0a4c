"""Offline browser testing of Solara/SolaraViz pages: a Solara server and headless Chromium.

A plain module, imported by browser tests::

    from .browser_support import chromium, solara_server, viz_cli_server, watched_page  # noqa: F401

What it takes care of (see docs/viz.md, "Offline" and "Tests", for why each piece is needed):

* ``start_solara(app)`` runs ``solara run APP`` on a free 127.0.0.1 port as a subprocess,
  with the offline environment of ``balancesim.viz.server`` (``prepare_offline``): front-end assets
  served from the ``solara-assets`` wheel through an overlay directory that adds the few
  files Solara asks for under other names, no telemetry and no "phone home" check iframe.
  It waits for ``/readyz`` and stops the server (its own process group only) afterwards.
* ``start_viz_cli(scenario)`` runs ``balancesim viz SCENARIO --port 0`` as a user would and
  returns once it prints the page's address; ``stop()`` sends it SIGTERM (Ctrl-C).
* ``launch_chromium(p)`` launches Playwright on Debian's ``/usr/bin/chromium`` (Playwright's
  own browser download does not work here); the ``chromium`` fixture skips with
  "install Debian's chromium: apt-get install chromium" when it is missing.
* ``watched_page`` shuts the network off (requests to other hosts fail at once) and attaches
  a ``PageWatch``, which records every failed request, HTTP error and request to a host
  other than localhost; ``assert_offline_clean()`` fails the test on any of them.
* ``wait_for_solara_viz`` / ``wait_for_grid_settled``: the page is interactive / its panels
  have stopped moving (SolaraViz animates them into place).

Screenshots go to ``test-output/`` (git-ignored).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright import sync_api

# The offline pieces live in the package (`balancesim viz` needs them too); re-exported here.
from balancesim.viz.server import (  # noqa: F401
    ASSET_ALIASES,
    KATEX_DIR,
    KATEX_STUBS,
    build_asset_overlay,
    offline_env,
    prepare_offline,
    solara_assets_dir,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_OUTPUT = REPO_ROOT / "test-output"

CHROMIUM = Path(os.environ.get("BALANCESIM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_MISSING = "install Debian's chromium: apt-get install chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

# A known, harmless front-end race, not an offline problem: solara's altair widget
# (vegalite.vue) calls vegaEmbed from a require() callback without checking that its Vue
# component still exists; when Mesa re-renders a chart during the first page load (about
# one load in three here), vega-embed gets an undefined element and throws this.  The
# chart that replaced it renders.  Pass it to ``assert_offline_clean(allow_page_errors=...)``
# in tests of altair pages only.
VEGA_EMBED_DESTROYED_RACE = "Cannot read properties of undefined (reading 'usermeta')"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def solara_executable() -> str:
    exe = Path(sys.executable).with_name("solara")
    return str(exe) if exe.exists() else "solara"


@dataclass
class SolaraServer:
    """A ``solara run`` subprocess; use ``start_solara`` to make one."""

    app: Path
    port: int
    process: subprocess.Popen
    log_path: Path
    workdir: Path
    startup_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server's own process group, then SIGKILL it if it lingers."""
        if self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)  # start_new_session: pgid == our child's pid
            try:
                self.process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> SolaraServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_solara(
    app: str | os.PathLike[str],
    *,
    workdir: Path | None = None,
    production: bool = False,
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    timeout: float = 120.0,
) -> SolaraServer:
    """Start ``solara run APP`` on a free localhost port, offline; return when it is ready.

    ``app`` is a file (``app.py``) or a module name, as ``solara run`` takes it.  Ready
    means ``/readyz`` answers 200, which Solara serves only after it has executed the app
    module.  Raises with the server's log when it exits or does not get ready in time.
    """
    if Path(app).exists():  # a file: the server runs in workdir, so make the path absolute
        app = Path(app).resolve()
    workdir = Path(workdir or tempfile.mkdtemp(prefix="solara-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = prepare_offline(workdir)
    if extra_env:
        env.update(extra_env)
    port = free_port()
    cmd = [solara_executable(), "run", str(app), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--no-open", "--log-level", "warning"]
    if production:
        cmd.append("--production")
    cmd += extra_args or []
    log_path = workdir / "server.log"
    t0 = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            cmd,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop() ends it and its children only
        )
    server = SolaraServer(Path(app), port, process, log_path, workdir)
    deadline = t0 + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"solara run {app} exited with {process.returncode}:\n{server.log()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}readyz", timeout=2) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"solara run {app} not ready after {timeout:.0f}s:\n{server.log()[-4000:]}")
        time.sleep(0.2)
    server.startup_seconds = time.monotonic() - t0
    return server


@dataclass
class VizCliServer:
    """``balancesim viz SCENARIO`` as a user runs it; use ``start_viz_cli`` to make one."""

    process: subprocess.Popen
    url: str
    lines: list[str]
    startup_seconds: float = 0.0

    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM ``balancesim viz`` (it stops its server), SIGKILL it if it lingers; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def start_viz_cli(
    scenario: str | os.PathLike[str],
    *args: str,
    timeout: float = 90.0,
    cwd: Path = REPO_ROOT,
    extra_env: dict[str, str] | None = None,
) -> VizCliServer:
    """Run ``balancesim viz SCENARIO --port 0 ARGS`` and return once it prints the page's address.

    ``extra_env`` is added to its environment (e.g. ``TMPDIR``: where it makes its asset overlay).
    """
    import queue
    import re
    import threading

    exe = Path(sys.executable).with_name("balancesim")
    cmd = [str(exe) if exe.exists() else "balancesim", "viz", str(scenario), "--port", "0", *args]
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update(extra_env or {})
    t0 = time.monotonic()
    process = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    lines: list[str] = []
    found: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            match = re.search(r"(http://\S+/)\s*$", line)
            if match:
                found.put(match.group(1))

    threading.Thread(target=pump, daemon=True).start()
    server = VizCliServer(process, "", lines)
    try:
        server.url = found.get(timeout=timeout)
    except queue.Empty:
        server.stop()
        raise RuntimeError(
            f"balancesim viz printed no address in {timeout:.0f}s:\n{server.output()}"
        ) from None
    server.startup_seconds = time.monotonic() - t0
    return server


# --------------------------------------------------------------------------- browser


def chromium_available() -> bool:
    return CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)


def launch_chromium(playwright, **kwargs):
    """Launch headless Debian Chromium through Playwright (sync API)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, **kwargs
    )


@dataclass
class PageWatch:
    """Records what a page asked for; ``problems()`` lists all that went wrong."""

    failed: list[str] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: int = 0
    _pending: dict[int, str] = field(default_factory=dict)

    def attach(self, page) -> PageWatch:
        page.on("request", self._on_request)
        page.on("requestfinished", lambda r: self._pending.pop(id(r), None))
        page.on("requestfailed", self._on_failed)
        page.on("response", self._on_response)
        page.on("console", self._on_console)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        return self

    def _on_request(self, request) -> None:
        self.requests += 1
        url = request.url
        if url.startswith(("data:", "blob:", "about:")):
            return
        self._pending[id(request)] = url
        if urlparse(url).hostname not in LOCAL_HOSTS:
            self.external.append(url)

    def _on_failed(self, request) -> None:
        self._pending.pop(id(request), None)
        self.failed.append(f"{request.url} ({request.failure})")

    def _on_response(self, response) -> None:
        if response.status >= 400:
            self.http_errors.append(f"{response.url} -> HTTP {response.status}")

    def _on_console(self, message) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    @property
    def pending(self) -> list[str]:
        """Requests neither finished nor failed (websockets are not requests here)."""
        return list(self._pending.values())

    def problems(
        self,
        *,
        include_pending: bool = True,
        include_console: bool = False,
        allow_page_errors: tuple[str, ...] = (),
    ) -> list[str]:
        """Everything that went wrong; page errors containing an ``allow_page_errors`` text are left out."""
        out = [f"failed: {u}" for u in self.failed]
        out += [f"http error: {u}" for u in self.http_errors]
        out += [f"non-localhost request: {u}" for u in self.external]
        out += [
            f"page error: {e}"
            for e in self.page_errors
            if not any(allowed in e for allowed in allow_page_errors)
        ]
        if include_pending:
            out += [f"still pending: {u}" for u in self.pending]
        if include_console:
            out += [f"console error: {e}" for e in self.console_errors]
        return out

    def assert_offline_clean(self, **kwargs) -> None:
        problems = self.problems(**kwargs)
        assert not problems, "page was not served cleanly offline:\n  " + "\n  ".join(problems)


def screenshot(page, name: str) -> Path:
    """Full-page screenshot to ``test-output/<name>.png``; returns the path."""
    TEST_OUTPUT.mkdir(exist_ok=True)
    path = TEST_OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_for_solara_viz(page, timeout_ms: float = 60_000):
    """Wait until a Mesa SolaraViz page is interactive; return its Step button locator."""
    step = page.get_by_role("button", name="Step", exact=True)
    step.wait_for(state="visible", timeout=timeout_ms)
    return step


# SolaraViz lays its components out with vue-grid-layout, which animates them into place
# (vertical compaction) after the first render: true when no item moved since the last call.
_GRID_SETTLED = """(count) => {
  const items = [...document.querySelectorAll('.vue-grid-item')].filter(e => e.offsetWidth > 0);
  const now = JSON.stringify(items.map(e => { const r = e.getBoundingClientRect(); return [r.x, r.y]; }));
  const same = items.length >= count && window.__gridPositions === now;
  window.__gridPositions = now;
  return same;
}"""


def wait_for_grid_settled(page, count: int = 1, timeout_ms: float = 15_000) -> None:
    """Wait until SolaraViz's component grid (at least ``count`` items) has stopped moving."""
    page.wait_for_function(_GRID_SETTLED, arg=count, polling=300, timeout=timeout_ms)


# --------------------------------------------------------------------------- fixtures


class _SharedBrowser:
    """One Playwright Chromium for the whole session.

    Each test module that imports the ``chromium`` fixture gets its own copy of it
    (pytest registers fixtures per module), and Playwright's sync API cannot run
    twice at once in a thread; so the copies share this browser, closed by the last.
    """

    def __init__(self) -> None:
        self.users = 0
        self.playwright = None
        self.browser = None

    def acquire(self, sync_api) -> object:
        if self.browser is None:
            self.playwright = sync_api.sync_playwright().start()
            try:
                self.browser = launch_chromium(self.playwright)
            except Exception:
                self.playwright.stop()
                self.playwright = None
                raise
        self.users += 1
        return self.browser

    def release(self) -> None:
        self.users -= 1
        if self.users == 0 and self.browser is not None:
            try:
                self.browser.close()
            finally:
                self.playwright.stop()
                self.browser = self.playwright = None


_SHARED_BROWSER = _SharedBrowser()


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """A Playwright Chromium browser (Debian's), shared by the session's tests."""
    if not chromium_available():
        pytest.skip(CHROMIUM_MISSING)
    browser = _SHARED_BROWSER.acquire(sync_api)
    try:
        yield browser
    finally:
        _SHARED_BROWSER.release()


def _is_external(url: str) -> bool:
    parts = urlparse(url)
    return parts.scheme in ("http", "https") and parts.hostname not in LOCAL_HOSTS


@pytest.fixture
def watched_page(chromium) -> Iterator[tuple[object, PageWatch]]:
    """A fresh page (own context) with a ``PageWatch`` attached: ``page, watch = watched_page``."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    # the network is shut off: requests to anything but this machine fail at once (and
    # PageWatch reports them), so a test behaves the same with or without internet access
    context.route(_is_external, lambda route: route.abort("internetdisconnected"))
    context.set_default_timeout(30_000)
    page = context.new_page()
    watch = PageWatch().attach(page)
    try:
        yield page, watch
    finally:
        context.close()


def _servers(start: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """A factory fixture's body: `start(...)` servers on demand, stop them all afterwards."""
    servers: list[Any] = []

    def started(*args: Any, **kwargs: Any) -> Any:
        server = start(*args, **kwargs)
        servers.append(server)
        return server

    try:
        yield started
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def solara_server(tmp_path) -> Iterator[object]:
    """Factory: ``server = solara_server("path/to/app.py")``; every server is stopped after."""
    count = iter(range(1_000_000))

    def start(app, **kwargs) -> SolaraServer:
        kwargs.setdefault("workdir", tmp_path / f"server{next(count)}")
        return start_solara(app, **kwargs)

    yield from _servers(start)


@pytest.fixture
def viz_cli_server() -> Iterator[object]:
    """Factory: ``server = viz_cli_server("scenarios/x.yaml")`` runs ``balancesim viz``; stopped after."""
    yield from _servers(start_viz_cli)
