"""What the browser view (`balancesim viz`) must withstand: hostile requests and hostile scenarios.

* A GET request changes nothing on disk (Solara's CDN route deletes folders it is
  asked for), requests for another Host or from another site are refused
  (balancesim.viz.guard).
* Every text from a scenario file is shown as text: HTML, matplotlib mathtext and
  rich markup in names and descriptions neither run nor break the page.
* A seed the model cannot use gives a message in the page, not a traceback.
* A server other machines can reach says that the page has no login.

Quick tests run in-process; the browser tests share one `balancesim viz` server of a
scenario whose every name is hostile markup.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import shutil
import socket
from pathlib import Path

import ipywidgets
import pytest
import solara
import solara.widgets
from click.testing import CliRunner

from balancesim.cli.main import main
from balancesim.figures.view import why_data, why_figure
from balancesim.viz import app
from balancesim.viz import server as viz
from balancesim.viz.guard import AllowedHosts, cdn_file

from .browser_support import (  # fixtures are used by name below
    REPO_ROOT,
    chromium,  # noqa: F401
    screenshot,
    start_viz_cli,
    wait_for_solara_viz,
    watched_page,  # noqa: F401
)

TAIWAN = REPO_ROOT / "scenarios" / "taiwan_shock.yaml"
ACTORS = [
    *("russia", "china", "india", "turkey", "eu", "us"),
    *("kazakhstan", "kyrgyzstan", "tajikistan", "uzbekistan", "turkmenistan"),
]
INSTITUTIONS = ["csto", "eaeu", "sco"]
# HTML that would run script, matplotlib mathtext that does not parse, rich markup, a
# markdown link to javascript: each must be shown as typed
MARKUP = "$x^$ [/] [link=file:///etc/passwd]x"


def hostile(k: int) -> str:
    return f"<img src=x onerror=alert({k})> {MARKUP}"


def write_hostile_scenario(path: Path) -> Path:
    """taiwan_shock.yaml with every name and description replaced by hostile markup."""
    lines = [
        f"extends: {json.dumps(str(TAIWAN))}",
        f"name: {json.dumps('<script>alert(100)</script> ' + hostile(101))}",
        "description: "
        + json.dumps(f"<script>alert(102)</script> [link](javascript:alert(103)) {hostile(104)}"),
        "actors:",
        *(f"  - {{id: {a}, name: {json.dumps(hostile(k))}}}" for k, a in enumerate(ACTORS)),
        "institutions:",
        *(f"  - {{id: {i}, name: {json.dumps(hostile(50 + k))}}}" for k, i in enumerate(INSTITUTIONS)),
        "shocks:",
        f"  - {{id: taiwan_war, name: {json.dumps(hostile(99))}}}",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def hostile_spec(tmp_path_factory):
    return app.load_scenario(write_hostile_scenario(tmp_path_factory.mktemp("hostile") / "hostile.yaml"))


# --------------------------------------------------------------------------- in-process


def test_scenario_texts_are_never_markup(hostile_spec):
    """Names reach the page's HTML escaped and matplotlib as text (``$x^$`` is no math)."""

    @solara.component
    def Wrapped():
        with solara.AppLayout():
            app.BalanceView(hostile_spec)

    _box, rc = solara.render(Wrapped(), handle_error=False)
    markup = "".join(w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets)
    assert "<img" not in markup and "<script" not in markup
    assert "&lt;img src=x onerror=alert(0)&gt;" in markup  # the balance note names the pair
    assert "&lt;script&gt;alert(100)" in markup
    assert len(rc.find(ipywidgets.Image).widgets) == 4  # every figure was drawn
    model = app.VizModel(hostile_spec)
    model.fire_shock("taiwan_war")
    model.step()

    def waterfall_figure(model):
        state, partner = model.setup.regional_ids[0], model.setup.partner_ids[0]
        panels = why_data(model, state, partner, "public opinion")
        return why_figure(model, state, partner, "public opinion", panels)

    for figure in (app.network_figure, app.alignment_figure, app.powers_figure, waterfall_figure):
        fig = figure(model)
        fig.savefig(io.BytesIO(), format="png")  # mathtext would raise here
        shown = [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]
        assert any("$x^$" in t for t in shown), figure.__name__  # as typed: mathtext is off


@pytest.mark.parametrize("typed", ["1" * 30, str(2**64), 2**70])
def test_a_seed_too_large_gives_a_message_and_a_working_run(typed):
    spec = app.load_scenario(TAIWAN)
    model = app.VizModel(spec, seed=typed)
    assert model.replicate_seed == app.default_seed(spec)
    model.step()
    _box, rc = solara.render(app.RunStatus(model), handle_error=False)
    markup = [w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets]
    (note,) = [m for m in markup if 'data-testid="seed-problem"' in m]
    assert "is too large" in note and str(app.MAX_SEED) in note and str(app.default_seed(spec)) in note
    assert app.VizModel(spec, seed=str(app.MAX_SEED)).seed_problem is None


def test_allowed_hosts():
    local = AllowedHosts.for_server("127.0.0.1", 8765)
    assert all(local.allows(h) for h in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765", "LOCALHOST.:8765"))
    refused = [
        "evil.example:8765",
        "127.0.0.1:8766",
        "127.0.0.1",
        "",
        None,
        "127.0.0.1:x",
        "[::1",
        "a@127.0.0.1:8765",
    ]
    assert not any(local.allows(h) for h in refused)
    assert AllowedHosts.for_server("127.0.0.1", 80).allows("localhost")  # port 80 goes unsaid
    anywhere = AllowedHosts.for_server("0.0.0.0", 8765)
    assert anywhere.allows("192.0.2.7:8765") and anywhere.allows(f"{socket.gethostname()}:8765")
    assert not anywhere.allows("evil.example:8765")  # an address cannot be rebound, a name can
    assert AllowedHosts.from_json(anywhere.to_json()) == anywhere


def test_cdn_file_is_a_plain_file_of_the_overlay_or_nothing(tmp_path):
    cdn = tmp_path / "cdn"
    (cdn / "pkg@1.0.0" / "dist").mkdir(parents=True)
    (cdn / "pkg@1.0.0" / "dist" / "a.js").write_text("a")
    (cdn / "pkg@1.0.0" / "__main.js").write_text("main")
    (tmp_path / "outside.js").write_text("no")
    (cdn / "pkg@1.0.0" / "link.js").symlink_to(tmp_path / "outside.js")
    assert cdn_file(cdn, "pkg@1.0.0/dist/a.js") == cdn / "pkg@1.0.0" / "dist" / "a.js"
    assert cdn_file(cdn, "pkg@1.0.0") == cdn / "pkg@1.0.0" / "__main.js"
    for path in [
        *("pkg@1.0.0/dist", "pkg@1.0.0/dist/", "pkg@1.0.0//dist/a.js", "pkg@1.0.0/./dist/a.js"),
        *("pkg@1.0.0/x/../dist/a.js", "../outside.js", "pkg@1.0.0/link.js", "pkg@1.0.0\\dist\\a.js"),
        *("", "/", "pkg@1.0.0/dist/missing.js", "pkg@1.0.0/dist/a.js\x00"),
    ]:
        assert cdn_file(cdn, path) is None, path


def test_viz_warns_that_the_page_has_no_login_on_other_hosts():
    for host in ("0.0.0.0", "::", "192.0.2.1"):
        assert "has no login" in viz.exposure_warning(host)
    for host in ("127.0.0.1", "localhost", "::1", "no-such-host.invalid"):
        assert viz.exposure_warning(host) is None
    with socket.socket() as busy:  # the command stops at the busy port, after the warning
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = CliRunner().invoke(main, ["viz", str(TAIWAN), "--host", "0.0.0.0", "--port", str(port)])
    assert r.exit_code == 1 and "in use" in r.output
    assert "Warning: --host 0.0.0.0 makes the page reachable from other machines" in r.output
    assert "has no login" in r.output
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = CliRunner().invoke(main, ["viz", str(TAIWAN), "--port", str(port)])
    assert r.exit_code == 1 and "login" not in r.output


def test_overlay_holds_no_link_out_of_itself(tmp_path):
    """Deleting a folder of the overlay (what Solara's CDN route does) leaves solara-assets alone."""
    overlay = viz.build_asset_overlay(tmp_path / "cdn")
    links = [p for p in overlay.rglob("*") if p.is_symlink()]
    assert not links, f"the overlay links out of itself: {links[:3]}"
    assets = viz.solara_assets_dir()
    before = fingerprint(assets)
    for folder in ("echarts@5.4.0/theme", "vega@5/build", "requirejs@2.3.6"):
        shutil.rmtree(overlay / folder)
    assert fingerprint(assets) == before
    assert (assets / "echarts@5.4.0" / "theme").is_dir()


# --------------------------------------------------------------------------- the real server


def fingerprint(root: Path) -> str:
    """A hash of every path under ``root`` with its kind, size and modification time."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            path = Path(folder, name)
            info = path.lstat()
            digest.update(
                f"{path.relative_to(root)}|{info.st_mode}|{info.st_size}|{info.st_mtime_ns}\n".encode()
            )
    return digest.hexdigest()


def request(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    """The status of ``GET path``, sent as written (no client-side clean-up of ``..`` or ``%2F``)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        headers = {"Host": f"127.0.0.1:{port}", **(headers or {})}
        for key, value in headers.items():
            connection.putheader(key, value)
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    """`balancesim viz` of the hostile scenario; its asset overlay goes under ``server.tmp``."""
    root = tmp_path_factory.mktemp("viz-hostile")
    scenario = write_hostile_scenario(root / "hostile.yaml")
    tmp = root / "tmp"
    tmp.mkdir()
    server = start_viz_cli(scenario, extra_env={"TMPDIR": str(tmp)})
    server.tmp = tmp
    try:
        yield server
    finally:
        server.stop()


def attack(hostile_server) -> None:
    """Folders, ``..``, encoded slashes on the CDN route: 404, nothing deleted; other hosts refused."""
    (overlay,) = hostile_server.tmp.glob("balancesim-viz-*/cdn")
    assets = viz.solara_assets_dir()
    dist = next(p for p in sorted(assets.rglob("dist")) if p.is_dir()).relative_to(assets).as_posix()
    before = fingerprint(overlay), fingerprint(assets)
    port = int(hostile_server.url.rstrip("/").rsplit(":", 1)[1])
    assert request(port, "/_solara/cdn/requirejs@2.3.6/require.js") == 200
    attacks = [
        *("echarts@5.4.0/theme", "echarts@5.4.0/theme/", dist, "vega@5/build", "katex@0.16.9/dist"),
        *(
            "echarts@5.4.0/x/../theme",
            "echarts@5.4.0/./theme",
            "echarts@5.4.0//theme",
            "echarts@5.4.0%2Ftheme",
        ),
        *("echarts@5.4.0/%2e%2e/echarts@5.4.0/theme", "..%2F..%2Fcdn", "%2e%2e/%2e%2e", "", "@widgetti"),
    ]
    for path in attacks:
        assert request(port, f"/_solara/cdn/{path}") == 404, path
    assert (fingerprint(overlay), fingerprint(assets)) == before, "a GET request changed files on disk"
    # DNS rebinding and requests from other sites, a WebSocket to the kernel included
    assert request(port, "/", {"Host": f"evil.example:{port}"}) == 400
    assert request(port, "/", {"Host": f"127.0.0.1:{port + 1}"}) == 400
    assert request(port, "/", {"Origin": "http://evil.example"}) == 403
    websocket = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}
    websocket["Sec-WebSocket-Key"] = "dGhlIHNhbXBsZSBub25jZQ=="
    kernel = "/jupyter/api/kernels/x/channels?session_id=y"
    assert request(port, kernel, {**websocket, "Origin": "http://evil.example"}) == 403
    assert request(port, "/", {"Host": f"localhost:{port}"}) == 200


@pytest.mark.browser
@pytest.mark.slow
def test_hostile_requests_and_a_hostile_scenario(hostile_server, watched_page):  # noqa: F811
    """`attack`; then the page still works, and in it: no dialog, no injected element, no
    traceback, the hostile names shown as text; a 30-digit seed, Reset and Step.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    attack(hostile_server)
    page, watch = watched_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(hostile_server.url)
        step = wait_for_solara_viz(page)
        page.get_by_test_id("month").filter(has_text="Month 0 (2022-03)").wait_for()
        page.wait_for_function("document.querySelectorAll('.bs-cell img').length === 4", timeout=30_000)
        page.get_by_text(hostile(0), exact=False).first.wait_for()  # shown as text
        page.get_by_role("button", name=hostile(99)).click()
        page.get_by_text(f"Happened: {hostile(99)} at month 0").wait_for()
        step.click()
        page.get_by_test_id("month").filter(has_text="Month 1 (2022-04)").wait_for()

        seed = page.get_by_label("Seed (applies on Reset)")
        problem = page.get_by_test_id("seed-problem")
        for attempt in range(3):  # typed text, Enter and Reset travel separately: allow for a slow server
            seed.fill("1" * 30)
            page.wait_for_timeout(300)
            seed.press("Enter")
            page.wait_for_timeout(300)
            page.get_by_role("button", name="Reset").click()
            try:
                problem.wait_for(timeout=5_000)
                break
            except PlaywrightTimeout:
                if attempt == 2:
                    raise
        assert "1" * 30 + " is too large" in problem.inner_text()
        step.click()  # and the run goes on
        page.get_by_test_id("month").filter(has_text="Month 1 (2022-04)").wait_for()
        page.wait_for_load_state("networkidle")

        assert dialogs == []
        injected = (
            "document.querySelectorAll('img[src=x], img[onerror], a[href^=javascript], script:not([src])')"
        )
        scripts = page.evaluate(f"[...{injected}].filter(e => /alert\\(/.test(e.outerHTML)).length")
        assert scripts == 0
        text = page.inner_text("body")
        for leak in ("Traceback", str(REPO_ROOT), "site-packages"):
            assert leak not in text, f"the page shows {leak!r}"
        assert "<script>alert(102)</script> [link](javascript:alert(103))" in text
        watch.assert_offline_clean()
    except Exception:
        screenshot(page, "viz-hostile-failed")
        print(hostile_server.output()[-3000:])
        raise
    assert "Traceback" not in hostile_server.output()
