"""Serving the browser view (`balancesim viz`) with no internet access.

The page itself is `balancesim.viz.app`; this module starts it. Solara serves its
front-end files (Vue, Vuetify, require.js, ...) at `/_solara/cdn/...` from a
local cache and, when a file is missing there, fetches it from
cdn.jsdelivr.net. The `solara-assets` package fills that cache, but Solara 1.64
asks for a few files under names solara-assets does not carry (see
docs/viz.md, "Offline"). `build_asset_overlay` makes a cache that has them all;
`offline_env` is the environment that points Solara at it and turns off
everything that would reach the internet (telemetry, the development-mode
install check). `start` runs `solara run balancesim.viz.app` with both, behind
`balancesim.viz.guard.RequestGuard` (refuses other hosts, other sites, and CDN
requests for anything but a file: docs/viz.md, "Security").

Nothing here imports solara: its settings are read from the environment when
it is first imported, so the server runs in a child process that starts with
the right environment.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from balancesim.scenario.text import scenario_folders
from balancesim.viz.guard import GUARD_ENV, KERNEL_CULL_TIMEOUT, AllowedHosts

#: The environment variable naming the scenario file the page shows.
SCENARIO_ENV = "BALANCESIM_SCENARIO"
#: The environment variable naming a calibration folder to draw values from (`viz --posterior`).
POSTERIOR_ENV = "BALANCESIM_POSTERIOR"
#: The folders the page's scenario may name files in (JSON list), as the command saw them.
FOLDERS_ENV = "BALANCESIM_SCENARIO_FOLDERS"

# Solara (1.64) asks for these through its CDN proxy under names that solara-assets
# (1.58.2) does not carry: the altair/vega-lite widget uses major-version urls, while
# the wheel holds exact versions. Pointing the alias at the bundled release serves it.
# (balancesim's page draws with matplotlib; the aliases keep altair pages working too.)
ASSET_ALIASES = {
    "vega@5": "vega@5.21.0",
    "vega-lite@5": "vega-lite@5.2.0",
    "vega-embed@6": "vega-embed@6.20.2",
}

# solara.Markdown loads KaTeX (auto-render) on mount, for every Markdown, math or not;
# no Python package bundles it. Offline we serve a stand-in: an empty stylesheet and an
# auto-render module that leaves the text as it is (``$x$`` stays as typed). Markdown
# without math renders exactly as with the real KaTeX.
KATEX_DIR = "katex@0.16.9"
KATEX_STUBS = {
    "dist/katex.min.css": "/* offline stand-in for KaTeX's stylesheet (see balancesim/viz.py) */\n",
    "dist/katex.min.js": (
        "/* offline stand-in for KaTeX (see balancesim/viz.py) */\n"
        "define([], function () { return { render: function () {},"
        " renderToString: function (s) { return s; } }; });\n"
    ),
    "dist/contrib/auto-render.min.js": (
        "/* offline stand-in for KaTeX auto-render: leaves math as typed */\n"
        "define([], function () { return function renderMathInElement() {}; });\n"
    ),
}

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


class VizError(Exception):
    """`balancesim viz` cannot start; the message says why and what to do."""

    exit_code = 1


class PortInUse(VizError):
    """The port is taken by another program."""


class BadAddress(VizError):
    """--host/--port do not name an address this machine can listen on (invalid input)."""

    exit_code = 2


def solara_assets_dir() -> Path:
    """The folder the ``solara-assets`` wheel unpacks into: ``<prefix>/share/solara/cdn``."""
    candidates = [
        Path(sysconfig.get_path("data")) / "share" / "solara" / "cdn",
        Path(sys.prefix) / "share" / "solara" / "cdn",
    ]
    for path in candidates:
        if (path / "requirejs@2.3.6").is_dir():
            return path
    raise VizError(
        "solara-assets is not installed (looked in "
        + ", ".join(str(c) for c in candidates)
        + "): pip install -e '.[viz]'"
    )


def _place(source: Path, path: Path) -> None:
    """Put a file of its own at ``path`` with the content of ``source``: a hard link, else a copy.

    Never a symbolic link. Solara's CDN route deletes (``shutil.rmtree``) any folder a
    request names, and a folder reached through a link into the virtual environment
    would be deleted there. Removing or replacing a hard link (the only changes Solara
    makes to its cache: ``put_in_cache`` writes a new file and renames it) leaves the
    installed file alone, and linking is 20 times faster than copying the 240 MB.
    """
    try:
        os.link(source, path)
    except OSError:  # another file system (a tmpfs /tmp), or links refused: copy
        shutil.copyfile(source, path)


def _place_tree(source: Path, dest: Path) -> None:
    """``dest`` becomes a tree of real folders holding `_place`d files of ``source``'s tree."""
    for root, _dirs, files in os.walk(source, followlinks=True):
        target = dest / Path(root).relative_to(source)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            path = target / name
            if not path.exists() and not path.is_symlink():
                _place(Path(root, name), path)


def build_asset_overlay(dest: Path) -> Path:
    """Make ``dest`` a complete offline CDN cache for Solara's ``/_solara/cdn`` proxy.

    A tree of real folders whose files are hard links to (or copies of) the files of
    solara-assets, plus ``ASSET_ALIASES`` and the KaTeX stand-in. It holds no symbolic
    link, so nothing done to it (Solara deletes folders that requests name) reaches the
    installed files; `_place` says why. Idempotent. Point
    ``SOLARA_ASSETS_PROXY_CACHE_DIR`` at the result.
    """
    source = solara_assets_dir()
    dest.mkdir(parents=True, exist_ok=True)
    _place_tree(source, dest)
    for alias, real in ASSET_ALIASES.items():
        if (source / real).is_dir():
            _place_tree(source / real, dest / alias)
    for rel, text in KATEX_STUBS.items():
        path = dest / KATEX_DIR / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return dest


def offline_env(asset_dir: Path, solara_home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a ``solara run`` that needs no network at all.

    ``solara_home`` should contain an empty ``.solara_checked`` file (see
    `prepare_offline`): without it, development mode embeds two hidden iframes
    from solara.dev (an install check) the first time it runs on a machine.
    """
    env = dict(os.environ if base is None else base)
    env.update(
        {
            # serve front-end files from our overlay through /_solara/cdn (the default
            # proxy mode; the default cache dir lacks the aliases and KaTeX)
            "SOLARA_ASSETS_PROXY": "true",
            "SOLARA_ASSETS_PROXY_CACHE_DIR": str(asset_dir),
            # no server-side calls to api.mixpanel.com / api.ipify.org
            "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false",
            # own ~/.solara: holds .solara_checked, so the dev-mode page does not embed the
            # hidden https://solara.dev/...success.html "installation check" iframes
            "SOLARA_HOME": str(solara_home),
            # matplotlib must not try a GUI backend in the server process
            "MPLBACKEND": "Agg",
        }
    )
    # a proxy variable would send the server's own (localhost) requests astray
    for var in PROXY_VARIABLES:
        env.pop(var, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def prepare_offline(workdir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Asset overlay and Solara home under ``workdir``; returns the offline environment."""
    solara_home = workdir / "solara-home"
    solara_home.mkdir(parents=True, exist_ok=True)
    (solara_home / ".solara_checked").touch()
    return offline_env(build_asset_overlay(workdir / "cdn"), solara_home, base)


# --------------------------------------------------------------------------- serving


def url_for(host: str, port: int) -> str:
    """The address a browser on this machine opens for a server bound to host:port."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def exposure_warning(host: str) -> str | None:
    """The warning `balancesim viz` prints when other machines can reach the page, else None.

    None for loopback addresses and names that resolve only to them (localhost), and
    for a host that does not resolve (`check_port` reports that).
    """
    if host not in ("", "0.0.0.0", "::"):
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            return None
        if all(ipaddress.ip_address(str(i[4][0]).split("%")[0]).is_loopback for i in infos):
            return None
    return (
        f"Warning: --host {host} makes the page reachable from other machines, and the page "
        "has no login: anyone who can reach this machine's port can see the scenario and run "
        "simulations here. Use it on a trusted network only."
    )


def check_port(host: str, port: int) -> int:
    """Check that a server can listen on host:port; port 0 picks a free one. Returns the port.

    Raises `PortInUse` if another program listens there, `BadAddress` if the host is
    not an address of this machine.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise BadAddress(f"--host {host}: not a known host name or address ({e.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        # as uvicorn does: a port held only by connections in TIME_WAIT is free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"port {port} on {host} is in use by another program; "
                    f"choose another with --port (or --port 0 for any free port)"
                ) from None
            if e.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                raise BadAddress(f"--host {host}: not an address of this machine") from None
            if e.errno == errno.EACCES:
                raise BadAddress(f"--port {port}: permission denied (ports below 1024 need root)") from None
            raise VizError(f"cannot listen on {host}:{port}: {e.strerror}") from None
        return sock.getsockname()[1]


# our own requests to the local server must not go through a proxy
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class VizServer:
    """A running `solara run balancesim.viz.app` child process (see `start`)."""

    process: subprocess.Popen
    url: str
    workdir: Path
    output: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    _tmp: tempfile.TemporaryDirectory | None = None

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    def log(self) -> str:
        """The server's last lines of output."""
        return "".join(self.output)

    def wait(self) -> int:
        return self.process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server's own process group, then SIGKILL it if it lingers."""
        if self.process.poll() is None:
            for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, sig)  # own session: pgid == the child's pid
                try:
                    self.process.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def start(
    scenario: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    production: bool = True,
    workdir: Path | None = None,
    echo: Callable[[str], None] | None = None,
    timeout: float = 90.0,
    posterior: str | os.PathLike[str] | None = None,
) -> VizServer:
    """Start the page for ``scenario`` on host:port, offline; return once it answers.

    The scenario file should have been checked already (`load_scenario`). The
    server's output lines go to ``echo`` (default: dropped) and are kept for
    error messages. ``posterior`` (a checked calibration folder) makes the page
    draw the values it covers from that posterior, as `run --posterior` does.
    Raises `PortInUse` or `VizError` (with the server's output) when it cannot
    start.
    """
    port = check_port(host, port)
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="balancesim-viz-")
        workdir = Path(tmp.name)
    env = prepare_offline(workdir)
    env[SCENARIO_ENV] = str(Path(scenario).resolve())
    # the page's process runs elsewhere: it may read what the command could (scenario_folders)
    env[FOLDERS_ENV] = json.dumps([str(p) for p in scenario_folders(Path(scenario))])
    if posterior is not None:
        env[POSTERIOR_ENV] = str(Path(posterior).resolve())
    else:  # not inherited from the caller's environment: only what this command asked for
        env.pop(POSTERIOR_ENV, None)
    # the server process puts viz_guard.RequestGuard in front of Solara (see its docstring)
    env[GUARD_ENV] = AllowedHosts.for_server(host, port).to_json()
    # a closed tab's kernel is dropped after minutes, not Solara's 24 hours (viz.guard)
    env["SOLARA_KERNEL_CULL_TIMEOUT"] = KERNEL_CULL_TIMEOUT
    # Solara reads the app's name when the guard imports its server, before `solara run` sets it
    env["SOLARA_APP"] = "balancesim.viz.app"
    env["PYTHONUNBUFFERED"] = "1"
    env["SOLARA_THEME_SHOW_BANNER"] = "false"  # the "runs on Solara" badge covers the charts
    # Solara warns on every page load from an address other than "localhost" (127.0.0.1
    # included) that it sets its session cookie SameSite=lax: right for this page, not news
    quiet = "ignore:Cookies with samesite=none require https:UserWarning"
    env["PYTHONWARNINGS"] = ",".join(filter(None, [env.get("PYTHONWARNINGS"), quiet]))
    cmd = [sys.executable, "-c", "from balancesim.viz.guard import serve; serve()"]
    cmd += ["run", "balancesim.viz.app", "--host", host, "--port", str(port)]
    cmd += ["--no-open", "--log-level", "warning"]
    if production:
        cmd.append("--production")
    process = subprocess.Popen(
        cmd,
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,  # own process group: stop() ends it and its children only
    )
    server = VizServer(process, url_for(host, port), workdir, _tmp=tmp)

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            server.output.append(line)
            # Solara announces its own address; `balancesim viz` prints the page's
            if echo is not None and "Solara server is starting at" not in line:
                echo(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True, name="viz-server-output").start()
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            time.sleep(0.1)  # let the output thread catch the last lines
            log = server.log()
            server.stop()
            if "address already in use" in log.lower():
                raise PortInUse(
                    f"port {port} on {host} is in use by another program; choose another with --port"
                )
            raise VizError(f"the page server exited with status {process.returncode}:\n{log[-3000:]}")
        try:
            with _direct.open(f"{server.url}readyz", timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if time.monotonic() > deadline:
            log = server.log()
            server.stop()
            raise VizError(f"the page server did not get ready in {timeout:.0f} s:\n{log[-3000:]}")
        time.sleep(0.2)


def solara_missing() -> str | None:
    """Why the browser view cannot run here, or None if its packages are installed."""
    from importlib.util import find_spec

    missing = [name for name in ("solara", "ipyvuetify", "altair") if find_spec(name) is None]
    if missing:
        return (
            f"the browser view needs {', '.join(missing)}: install the viz extra, "
            "pip install -e '.[viz]' (or make viz)"
        )
    return None
