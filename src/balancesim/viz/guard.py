"""What the page server of `balancesim viz` refuses before Solara sees a request.

Solara's server answers whoever reaches it, and two of its answers are unsafe for a
page that runs on a user's machine:

* Its CDN route (``/_solara/cdn/...``, ``solara/server/cdn_helper.get_path``) deletes
  the folder a request names (``shutil.rmtree``: a clean-up of an old cache layout),
  and fetches whatever is missing from the internet. Any web page the user visits can
  send such a request (an ``<img>`` tag needs no permission). `RequestGuard` lets only
  requests for a file that is in the asset overlay through to Solara; folders, missing
  files and ``..``/``.``/empty path segments get 404.
* DNS rebinding: a web page from ``evil.example`` whose name is then pointed at
  127.0.0.1 can read the page and drive its kernel from the user's browser. The
  browser still sends ``Host: evil.example``, so `RequestGuard` refuses any request
  whose Host header does not name this server (`AllowedHosts`), with 400. A WebSocket
  opened by another site (cross-site WebSocket hijacking) carries that site's Origin
  header: requests with an Origin that is not this server are refused with 403.

Each browser tab is a kernel on the server (about 19 MB with its model and figures).
Solara keeps a kernel whose tab went away for its ``cull_timeout`` (24 hours by
default), with no cap on how many it keeps. `balancesim.viz.server.start` sets that
timeout to `KERNEL_CULL_TIMEOUT` (a tab closed, or a dropped connection, frees its
kernel after that time; a reload within it gets the same kernel back), and
`RequestGuard` refuses the WebSocket of a *new* kernel while `MAX_KERNELS` are alive
(code 1013, "try again later"); an existing kernel's reconnect is never refused.

The guard is plain ASGI (no Starlette import): `serve` adds it to Solara's Starlette
app in the server's own process, then runs ``solara run``. The parent process
(`balancesim.viz.server.start`) passes its settings in the environment (`GUARD_ENV`).
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import stat
import sys
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

#: Kernels (browser tabs) kept at once; each costs about 19 MB.
MAX_KERNELS = 20
#: How long a kernel whose WebSocket closed is kept for a reconnect (Solara's
#: SOLARA_KERNEL_CULL_TIMEOUT; its default is 24 hours).
KERNEL_CULL_TIMEOUT = "2m"
KERNEL_SOCKET = "/jupyter/api/kernels/"

#: Environment variable holding the guard's settings (JSON) for the server process.
GUARD_ENV = "BALANCESIM_VIZ_GUARD"
CDN_PREFIX = "/_solara/cdn"
WILDCARD_HOSTS = ("", "0.0.0.0", "::")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _addresses(host: str) -> set[str]:
    """The IP addresses ``host`` resolves to (none if it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return set()
    return {str(info[4][0]).split("%")[0] for info in infos}


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class AllowedHosts:
    """The Host header values that name a server listening on ``--host``/``--port``.

    ``names`` are lower-case host names and addresses (IPv6 without brackets);
    ``any_address``: any IP address literal is accepted as well (a server on all
    addresses, 0.0.0.0 or ::, is reached by whichever address of the machine the user
    types; an address cannot be rebound, only a name can).
    """

    names: frozenset[str]
    port: int
    any_address: bool = False

    @classmethod
    def for_server(cls, host: str, port: int) -> AllowedHosts:
        """The names a browser may use for a server started with ``--host host --port port``."""
        if host in WILDCARD_HOSTS:
            names = {"localhost", socket.gethostname(), socket.getfqdn()}
            return cls(frozenset(n.lower() for n in names if n), port, any_address=True)
        names = {host.strip("[]").lower(), *_addresses(host)}
        if any(_is_ip(a) and ipaddress.ip_address(a).is_loopback for a in names):
            names |= {"localhost", "127.0.0.1", "::1"}  # what url_for and browsers use for this machine
        return cls(frozenset(names), port)

    def allows(self, host_header: str | None) -> bool:
        """Whether a request with this Host (or Origin host[:port]) header is for this server."""
        if not host_header:
            return False
        try:
            parts = urlsplit("//" + host_header)
            name, port = parts.hostname, parts.port
        except ValueError:  # a bad port, brackets that do not close
            return False
        if not name or parts.path or parts.query or parts.fragment or parts.username is not None:
            return False
        if (port or 80) != self.port:
            return False
        name = name.rstrip(".")  # "localhost." is "localhost"
        return name in self.names or (self.any_address and _is_ip(name))

    def to_json(self) -> str:
        return json.dumps({"names": sorted(self.names), "port": self.port, "any_address": self.any_address})

    @classmethod
    def from_json(cls, text: str) -> AllowedHosts:
        data = json.loads(text)
        return cls(frozenset(data["names"]), int(data["port"]), bool(data["any_address"]))


def cdn_file(cdn_dir: Path, path: str) -> Path | None:
    """The file of the asset overlay that Solara would serve for ``/_solara/cdn/<path>``, or None.

    None unless every segment of ``path`` is a plain name (no empty, ``.`` or ``..``
    segment, no backslash or NUL) and it names a regular file inside ``cdn_dir``
    (symbolic links are refused: nothing outside the overlay is served or touched).
    One segment means its package's main file, as Solara stores it (``pkg/__main.js``).
    """
    if "\\" in path or "\x00" in path:
        return None
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    if len(parts) == 1:
        parts.append("__main.js")
    target = cdn_dir.joinpath(*parts)
    try:
        mode = os.lstat(target).st_mode
        inside = Path(os.path.realpath(target)).is_relative_to(os.path.realpath(cdn_dir))
    except (OSError, ValueError):
        return None
    return target if stat.S_ISREG(mode) and inside else None


class RequestGuard:
    """ASGI middleware: refuses requests for another host, from another site, or for no file on the CDN.

    See the module's docstring for what each refusal prevents.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: AllowedHosts,
        cdn_dir: Path | str,
        kernels: Callable[[], Collection[str]] | None = None,
        max_kernels: int = MAX_KERNELS,
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.cdn_dir = Path(cdn_dir)
        self.kernels = kernels  # the ids of the live kernels (Solara's `kernel_context.contexts`)
        self.max_kernels = max_kernels

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """(status, reason) when the request must be refused, else None."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if not self.hosts.allows(headers.get("host")):
            return 400, "Invalid Host header: this server answers only to the address it was started on."
        origin = headers.get("origin")
        if origin is not None:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not self.hosts.allows(parts.netloc):
                return 403, "Requests from other sites are refused."
        path = scope.get("path", "")
        on_cdn = scope["type"] == "http" and (path == CDN_PREFIX or path.startswith(CDN_PREFIX + "/"))
        if on_cdn and cdn_file(self.cdn_dir, path[len(CDN_PREFIX) + 1 :]) is None:
            return 404, "Not Found"
        if scope["type"] == "websocket" and path.startswith(KERNEL_SOCKET) and self.kernels is not None:
            kernel_id = path[len(KERNEL_SOCKET) :].split("/")[0]
            live = self.kernels()
            if kernel_id not in live and len(live) >= self.max_kernels:
                return 1013, f"{len(live)} browser sessions are open, the most this server keeps."
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            refused = self.refusal(scope)
            if refused is not None:
                await self._refuse(scope, send, *refused)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, reason: str) -> None:
        if scope["type"] == "websocket":
            # closing before accepting: the server answers the handshake with 403
            await send({"type": "websocket.close", "code": 1013 if status == 1013 else 1008})
            return
        body = (reason + "\n").encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def serve() -> None:
    """Entry point of the page server process: ``solara`` with `RequestGuard` in front.

    ``sys.argv[1:]`` are ``solara``'s own arguments (``run balancesim.viz.app --host ...``);
    the guard's settings come from `GUARD_ENV`, the overlay from
    ``SOLARA_ASSETS_PROXY_CACHE_DIR`` (see `balancesim.viz.server.start`). Solara builds its
    app when ``solara.server.starlette`` is imported and its middleware stack on the
    first request, so the guard added here wraps every request, the first included.
    """
    settings = os.environ.get(GUARD_ENV)
    cdn_dir = os.environ.get("SOLARA_ASSETS_PROXY_CACHE_DIR")
    if not settings or not cdn_dir:
        sys.exit(f"balancesim: {GUARD_ENV} and SOLARA_ASSETS_PROXY_CACHE_DIR must be set")
    import solara.__main__
    import solara.server.kernel_context
    import solara.server.starlette

    solara.server.starlette.app.add_middleware(
        RequestGuard,
        hosts=AllowedHosts.from_json(settings),
        cdn_dir=Path(cdn_dir),
        kernels=lambda: solara.server.kernel_context.contexts.keys(),
    )
    solara.__main__.cli(sys.argv[1:], prog_name="solara")
