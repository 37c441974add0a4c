"""The browser view (`balancesim viz`, src/balancesim/viz/app.py).

Quick tests render the Solara components in-process (`solara.render`, no
browser); the browser tests serve the page the way users do and drive it in
headless Chromium with the network shut off (see browser_support.py). Set
BALANCESIM_DOC_IMAGES=1 to copy the screenshots into docs/img/.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import time

import ipyvuetify as v
import numpy as np
import pandas as pd
import pytest
import solara
import solara.widgets
from click.testing import CliRunner

from balancesim.cli.main import main
from balancesim.figures.view import why_data, why_figure
from balancesim.model.mesa_model import BalanceModel
from balancesim.viz import app
from balancesim.viz import server as viz

from .browser_support import (  # fixtures are used by name below
    REPO_ROOT,
    chromium,  # noqa: F401
    screenshot,
    solara_server,  # noqa: F401
    viz_cli_server,  # noqa: F401
    wait_for_grid_settled,
    wait_for_solara_viz,
    watched_page,  # noqa: F401
)

TAIWAN = REPO_ROOT / "scenarios" / "taiwan_shock.yaml"
BASELINE = REPO_ROOT / "scenarios" / "baseline.yaml"
DOC_IMAGES = REPO_ROOT / "docs" / "img"


@pytest.fixture(scope="module")
def taiwan():
    return app.load_scenario(TAIWAN)


def render_page(spec):
    """The page as `solara run` shows it (the sidebar needs an AppLayout around it)."""

    @solara.component
    def Wrapped():
        with solara.AppLayout():
            app.BalanceView(spec)

    return solara.render(Wrapped(), handle_error=False)


def html_with(rc, test_id: str) -> str:
    """The markup of the solara.HTML element holding ``data-testid=test_id``."""
    found = [
        w.unsafe_innerHTML
        for w in rc.find(solara.widgets.HTML).widgets
        if f'data-testid="{test_id}"' in w.unsafe_innerHTML
    ]
    assert len(found) == 1, f"expected one element with data-testid={test_id}, found {len(found)}"
    return found[0]


def images(rc) -> list[bytes]:
    import ipywidgets

    return [w.value for w in rc.find(ipywidgets.Image).widgets]


# --------------------------------------------------------------------------- components


def test_page_shows_month_steps_and_redraws(taiwan):
    _box, rc = render_page(taiwan)
    assert "Month 0 (2022-03)" in html_with(rc, "month")
    before = images(rc)
    assert len(before) == 4  # network, two chart panels, why it moved
    rc.find(v.Btn, children=["Step"]).widget.click()
    assert "Month 1 (2022-04)" in html_with(rc, "month")
    after = images(rc)
    assert all(a != b for a, b in zip(before, after, strict=True)), "a figure did not change on Step"
    names = [b.children[0] for b in rc.find(v.Btn).widgets]
    assert {"Reset", "▶", "Step", "War over Taiwan"} <= set(names)


def test_shock_button_fires_the_shock_now(taiwan):
    model = app.VizModel(taiwan, seed=3)
    for _ in range(5):
        model.step()
    china = next(a for a in model.agents if a.actor_id == "china")
    attention, tension = china.attention, model.measure("region", "tension")
    _box, rc = solara.render(app.RunStatus(model), handle_error=False)
    # the baseline's own war shocks have happened at month 1; the Taiwan war has not
    assert "War over Taiwan" not in html_with(rc, "shocks").split("Happened:")[-1]
    rc.find(v.Btn, children=["War over Taiwan"]).widget.click()
    assert model.fired == [(5, "taiwan_war")]
    assert china.attention < attention and model.measure("region", "tension") > tension
    assert "War over Taiwan at month 5 (2022-08)" in html_with(rc, "shocks").split("Happened:")[-1]
    assert f"<b>{model.measure('region', 'tension'):.2f}</b>" in html_with(rc, "relations")


def test_reset_applies_sliders_and_seed(taiwan):
    _box, rc = render_page(taiwan)
    settings = html_with(rc, "settings")
    assert f"seed {app.default_seed(taiwan)};" in settings
    assert "hedging under great-power tension 2," in settings
    seed = rc.find(v.TextField, label="Seed (applies on Reset)").widget
    seed.v_model = "7"
    seed.fire_event("focusout", None)
    rc.find(v.Slider, label="Hedging under great-power tension").widget.v_model = 0.5
    rc.find(v.Btn, children=["Step"]).widget.click()
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert "Month 0 (2022-03)" in html_with(rc, "month")
    settings = html_with(rc, "settings")
    assert "seed 7;" in settings and "hedging under great-power tension 0.5," in settings


def test_reset_keeps_the_balancesim_scenario(taiwan):
    """Mesa's Reset rebuilds the model from model_params; it must not swap in Mesa's own Scenario."""
    from mesa.visualization.solara_viz import _build_model_init_kwargs, _check_model_params

    params = app.model_params(taiwan)
    values = {k: p["value"] if isinstance(p, dict) else p for k, p in params.items()}
    model = app.VizModel(**values)
    _check_model_params(model, params)
    kwargs = _build_model_init_kwargs(
        model, values, add_scenario_when_empty=True, require_model_accepts_scenario=True
    )
    again = type(model)(**kwargs)
    assert again.spec == taiwan and again.replicate_seed == model.replicate_seed
    # the default seed is replicate 0 of `balancesim run`: the same run as BalanceModel's default
    reference = BalanceModel(taiwan, rng=app.default_seed(taiwan))
    for _ in range(3):
        again.step(), reference.step()
    np.testing.assert_array_equal(again.series(), reference.series())


def why_text(rc) -> str:
    return re.sub(r"<[^>]+>", "", html_with(rc, "why"))


def test_why_it_moved_follows_the_state_steps_and_shocks(taiwan):
    """The waterfall cell: the state selected, redrawn on Step and on a shock fired by hand."""
    model = app.VizModel(taiwan, seed=3)
    for _ in range(5):
        model.step()

    @solara.component
    def Both():
        with solara.Column():
            app.RunStatus(model)
            app.WhyItMoved(model)

    _box, rc = solara.render(Both(), handle_error=False)
    assert why_text(rc).startswith("Kazakhstan with Russia, engagement, both domains: this month (4 → 5): ")
    (first,) = images(rc)
    rc.find(v.Select, label="State").widget.v_model = "Uzbekistan"
    text = why_text(rc)
    assert text.startswith("Uzbekistan with Russia") and "since the start (0 → 5)" in text
    (chosen,) = images(rc)
    assert chosen != first
    rc.find(v.Btn, children=["War over Taiwan"]).widget.click()
    fired = why_text(rc)
    assert "next Step (5 → 6), with the shock fired now: " in fired and fired != text
    (shocked,) = images(rc)
    assert shocked != chosen
    # the preview is what Step then records; "shocks this month" carries the war's push
    preview = why_data(model, "uzbekistan", "russia", "engagement, both domains")[0].data
    assert abs(preview.set_index("mechanism").value.get("shocks this month", 0.0)) > 1e-4
    model.step()
    done = why_data(model, "uzbekistan", "russia", "engagement, both domains")
    assert done[0].heading == "this month (5 → 6)"
    pd.testing.assert_frame_equal(done[0].data, preview)


def test_why_it_moved_adds_up_to_the_change(taiwan):
    """Since the start, the terms add up to the state's change in engagement (both domains) and opinion."""
    model = app.VizModel(taiwan, seed=5)
    kazakhstan = next(a for a in model.agents if a.actor_id == "kazakhstan")
    engagement0, opinion0 = kazakhstan.engagement["china"], kazakhstan.opinion["china"]
    for _ in range(8):
        model.step()
    model.fire_shock("taiwan_war")
    model.step()
    for view, change in (
        (
            "engagement, both domains",
            sum(kazakhstan.engagement["china"].values()) - sum(engagement0.values()),
        ),
        ("security engagement", kazakhstan.engagement["china"]["security"] - engagement0["security"]),
        ("public opinion", kazakhstan.opinion["china"] - opinion0),
    ):
        since = why_data(model, "kazakhstan", "china", view)[1].data.set_index("mechanism").value
        assert since["total change"] == pytest.approx(change, abs=1e-12)
        assert since.drop("total change").sum() == pytest.approx(change, abs=1e-12)


def test_why_figure_shows_names_as_typed(taiwan):
    """Scenario names reach the waterfall as text, never as mathtext."""
    actors = [a.model_copy(update={"name": "$x^$"}) if a.id == "kazakhstan" else a for a in taiwan.actors]
    model = app.VizModel(taiwan.model_copy(update={"actors": actors}), seed=1)
    model.step()
    panels = why_data(model, "kazakhstan", "russia", "public opinion")
    fig = why_figure(model, "kazakhstan", "russia", "public opinion", panels)
    fig.canvas.draw()  # mathtext would fail on "$x^$"
    assert fig.get_suptitle().startswith("$x^$ and Russia: public opinion")  # drawn as typed
    _box, rc = solara.render(app.WhyItMoved(model), handle_error=False)
    assert "$x^$ with Russia" in why_text(rc)


def test_states_table_lists_shares_and_opinion(taiwan):
    model = app.VizModel(taiwan)
    _box, rc = solara.render(app.StatesTable(model), handle_error=False)
    shares, opinion = html_with(rc, "shares"), html_with(rc, "opinion")
    for state in ("Kazakhstan", "Kyrgyzstan", "Tajikistan", "Uzbekistan", "Turkmenistan"):
        assert state in shares and state in opinion
    kazakhstan = next(a for a in model.agents if a.actor_id == "kazakhstan")
    assert f"{100 * kazakhstan.engagement_shares['russia']:.0f}%" in shares
    assert f"{100 * kazakhstan.opinion['china']:.0f}%" in opinion


def test_network_shows_exit_threats_and_departures(taiwan):
    model = app.VizModel(taiwan)
    setup = model.setup
    k = setup.regional_ids.index("kazakhstan")
    model.state.exit_threat[k, setup.institution_ids.index("csto"), 0] = 1.0
    model.state.member[k, setup.institution_ids.index("eaeu"), 0] = 0.0
    fig = app.network_figure(model)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"CSTO exit?", "left EAEU", "SCO", "Kazakhstan", "Turkey", "US"} <= texts
    assert any(t.startswith("China\nattention") for t in texts)
    legend = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
    assert {"security ties", "economic ties", "exit threat"} <= legend


def test_scenario_without_shocks_says_so():
    spec = app.load_scenario(BASELINE).model_copy(update={"shocks": []})  # the baseline has the war's
    _box, rc = solara.render(app.RunStatus(app.VizModel(spec)), handle_error=False)
    rc.find(v.Html, children=["This scenario has no shocks."]).assert_single()
    assert not rc.find(v.Btn)


def test_page_reports_a_bad_scenario(monkeypatch, tmp_path):
    monkeypatch.setenv(app.SCENARIO_ENV, str(tmp_path / "nowhere.yaml"))
    _box, rc = solara.render(app.Page(), handle_error=False)
    (alert,) = rc.find(v.Alert).widgets
    assert "Cannot show the scenario" in str(alert.children) and "nowhere.yaml" in str(alert.children)


@pytest.mark.parametrize(
    ("typed", "seed"),
    [
        *((None, None), ("", None), ("  ", None), ("42", 42), (" 7 ", 7), (12, 12), ("abc", None)),
        *(("-3", None), ("²", None), ("٤٢", None), (str(2**64 - 1), 2**64 - 1)),
    ],
)
def test_parse_seed(typed, seed):
    got = app.parse_seed(typed)
    if typed is not None and str(typed).strip() and seed is None:  # text: hashed, reproducibly
        assert got == app.parse_seed(typed) and got >= 0
    else:
        assert got == seed


def test_parse_seed_refuses_a_seed_above_64_bits():
    with pytest.raises(ValueError, match="Seed 18446744073709551616 is too large"):
        app.parse_seed(str(2**64))
    with pytest.raises(ValueError, match=r"Seed 12345678901234567890… \(60 digits\) is too large"):
        app.parse_seed("1234567890" * 6)


# --------------------------------------------------------------------------- command line


def invoke(*args: str):
    return CliRunner().invoke(main, ["viz", *args])


def test_viz_missing_scenario_exits_2(tmp_path):
    r = invoke(str(tmp_path / "missing.yaml"))
    assert r.exit_code == 2
    assert "missing.yaml" in r.output and "Traceback" not in r.output


def test_viz_invalid_scenario_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nhorizon: -3\n")
    r = invoke(str(bad))
    assert r.exit_code == 2
    assert "bad.yaml" in r.output and "Traceback" not in r.output


def test_viz_port_in_use_exits_1():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = invoke(str(TAIWAN), "--port", str(port))
    assert r.exit_code == 1
    assert f"port {port} on 127.0.0.1 is in use" in r.output and "--port" in r.output
    assert "Traceback" not in r.output


def test_viz_bad_host_exits_2():
    r = invoke(str(TAIWAN), "--host", "no-such-host.invalid")
    assert r.exit_code == 2
    assert "--host no-such-host.invalid" in r.output and "Traceback" not in r.output


def _posterior(tmp_path):
    import pandas as pd

    folder = tmp_path / "post"
    folder.mkdir()
    frame = pd.DataFrame({"parameters.lock_in": [2.5, 4.0], "weight": [0.5, 0.5]})
    frame.to_parquet(folder / "posterior.parquet", index=False)
    return folder


def test_view_replicate_k_is_run_replicate_k_with_posterior(monkeypatch, tmp_path):
    """`viz --posterior DIR`: the page's replicate k has run's replicate k values and seed, and says so."""
    from balancesim.experiment import batch as experiment

    folder = _posterior(tmp_path)
    monkeypatch.setenv(viz.SCENARIO_ENV, str(BASELINE))
    monkeypatch.setenv(viz.POSTERIOR_ENV, str(folder))
    spec = app.scenario_from_env()
    assert spec.posterior is not None
    runs = experiment.run(spec, replicates=6, uncertainty="prior")
    assert set(runs.drawn["parameters.lock_in"][[0, 5]]) == {2.5, 4.0}  # the two replicates differ
    for k in (0, 5):
        model = app.VizModel(spec, replicate=str(k))
        assert model.replicate_seed == app.default_seed(spec, k)
        assert model.values == {p: float(v[k]) for p, v in runs.drawn.items()}
        while model.running:
            model.step()
        np.testing.assert_array_equal(model.series(), runs.data[:, k])
    params = app.model_params(spec)
    assert params["seed"]["value"] == "" and params["replicate"]["value"] == "0"
    _box, rc = solara.render(app.Guide(app.VizModel(spec, replicate=2)), handle_error=False)
    note = html_with(rc, "drawn")
    assert "Replicate 2" in note and "drawn from the calibration posterior" in note
    assert f"parameters.lock_in = {runs.drawn['parameters.lock_in'][2]:.4g}" in note


def test_view_without_draws_has_no_replicate_box(taiwan):
    assert "replicate" not in app.model_params(taiwan) and app.VizModel(taiwan).values == {}


def test_viz_bad_posterior_exits_2(tmp_path):
    r = CliRunner().invoke(main, ["viz", str(BASELINE), "--posterior", str(tmp_path / "nope")])
    assert r.exit_code == 2 and r.output.startswith("--posterior: ") and "no such folder" in r.output


def test_url_for():
    assert viz.url_for("127.0.0.1", 8765) == "http://127.0.0.1:8765/"
    assert viz.url_for("0.0.0.0", 80) == "http://127.0.0.1:80/"
    assert viz.url_for("::1", 8000) == "http://[::1]:8000/"


# --------------------------------------------------------------------------- browser


def _month(page) -> int:
    text = page.get_by_test_id("month").inner_text()
    match = re.fullmatch(r"Month (\d+) \(\d{4}-\d{2}\)", text.strip())
    assert match, f"unexpected month label {text!r}"
    return int(match.group(1))


def _wait_month(page, text: str) -> None:
    page.get_by_test_id("month").filter(has_text=text).wait_for()


def _wait_month_stable(page, quiet_ms: int = 800, timeout_s: float = 10.0) -> None:
    """Wait until the month label has not changed for ``quiet_ms``."""
    deadline = time.monotonic() + timeout_s
    last, since = _month(page), time.monotonic()
    while time.monotonic() < deadline:
        page.wait_for_timeout(100)
        now = _month(page)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_ms / 1000:
            return
    raise AssertionError(f"the month kept changing for {timeout_s} s after pausing")


class SentFrames:
    """The WebSocket frames a page sends to the server (widget state, clicks), in order."""

    def __init__(self, page) -> None:
        self.frames: list[str] = []
        page.on("websocket", lambda ws: ws.on("framesent", self._add))

    def _add(self, payload) -> None:
        self.frames.append(payload if isinstance(payload, str) else payload.decode("utf-8", "replace"))

    def wait_for(self, page, pattern: str, timeout_s: float = 15.0) -> None:
        """Wait until a frame matching ``pattern`` has been sent.

        The browser holds back a widget's state while an earlier update of it awaits
        the server's answer (ipywidgets' throttling), but sends clicks at once: a Step
        clicked right after moving a slider can reach the server before the slider's
        last value. Waiting for that value to be sent keeps them in order.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        while not any(regex.search(f) for f in self.frames):
            if time.monotonic() > deadline:
                raise AssertionError(f"no frame matching {pattern!r} was sent in {timeout_s} s")
            page.wait_for_timeout(100)


def _power(page, name: str) -> float:
    row = page.get_by_test_id("powers").locator("tr", has_text=name)
    return float(row.locator("td").nth(2).inner_text())


def _tension(page) -> float:
    return float(page.get_by_test_id("relations").locator("b").first.inner_text())


@contextlib.contextmanager
def keep_evidence(page, name: str, log):
    """On failure: a screenshot test-output/<name>-failed.png and the server's output, then re-raise."""
    try:
        yield
    except Exception:
        screenshot(page, f"{name}-failed")
        print(log()[-3000:])
        raise


def _keep(path, name: str) -> None:
    if os.environ.get("BALANCESIM_DOC_IMAGES"):
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_IMAGES / name)


@pytest.mark.browser
@pytest.mark.slow
def test_balancesim_viz_serves_a_working_page_offline(viz_cli_server, watched_page):  # noqa: F811
    """`balancesim viz scenarios/taiwan_shock.yaml`: loads, steps, plays, fires the shock, resets."""
    t0 = time.monotonic()
    server = viz_cli_server(TAIWAN)
    assert re.search(r"^War over Taiwan \(2024\): http://127\.0\.0\.1:\d+/$", server.output(), re.M)
    page, watch = watched_page
    sent = SentFrames(page)
    with keep_evidence(page, "viz-cli", server.output):
        page.set_viewport_size({"width": 1400, "height": 1400})  # the whole page in a screenshot
        page.goto(server.url)
        step = wait_for_solara_viz(page)
        _wait_month(page, "Month 0 (2022-03)")
        page.wait_for_load_state("networkidle")
        wait_for_grid_settled(page, count=6)
        loaded = time.monotonic() - t0
        path = screenshot(page, "viz-start")
        _keep(path, "viz-start.png")
        assert page.locator(".bs-cell img").count() == 4

        chart = page.locator(".bs-cell", has_text="How the region is aligned").locator("img")
        before = chart.get_attribute("src")
        step.click()
        _wait_month(page, "Month 1 (2022-04)")
        page.wait_for_function(
            "([el, old]) => el.getAttribute('src') !== old",
            arg=[chart.element_handle(), before],
            timeout=10_000,
        )

        # Render Interval 23 (slider steps 1, 3, 5, ...): one Step then advances 23 months
        interval = page.locator(".v-input", has_text="Render Interval").get_by_role("slider")
        interval.focus()
        for _ in range(11):
            interval.press("ArrowRight")
        assert interval.get_attribute("aria-valuenow") == "23"
        sent.wait_for(page, r'"v_model":\s*23[,}]')
        step.click()
        _wait_month(page, "Month 24 (2024-03)")

        china, us, tension = _power(page, "China"), _power(page, "United States"), _tension(page)
        page.get_by_role("button", name="War over Taiwan").click()
        page.get_by_text("War over Taiwan at month 24 (2024-03)").wait_for()
        assert _month(page) == 24  # a shock does not advance time
        assert (
            _power(page, "China") < china and _power(page, "United States") < us and _tension(page) > tension
        )
        page.wait_for_load_state("networkidle")
        path = screenshot(page, "viz-month24-shock")
        _keep(path, "viz-month24-shock.png")

        for _ in range(11):  # back to one month per step, then play a few months
            interval.press("ArrowLeft")
        assert interval.get_attribute("aria-valuenow") == "1"
        sent.wait_for(page, r'"v_model":\s*1[,}]')
        page.get_by_role("button", name="▶").click()
        page.wait_for_function(
            "() => /Month 2[6-9] /.test(document.querySelector('[data-testid=month]')?.textContent ?? '')",
            timeout=20_000,
        )
        page.get_by_role("button", name="❚❚").click()
        page.get_by_role("button", name="▶").wait_for()
        # Mesa's play loop may still be sleeping and steps once more after the pause (on whichever
        # model is current by then): let it finish before Reset
        _wait_month_stable(page)
        page.get_by_role("button", name="Reset").click()
        _wait_month(page, "Month 0 (2022-03)")
        assert "Happened" not in page.get_by_test_id("shocks").inner_text()

    page.wait_for_load_state("networkidle")
    watch.assert_offline_clean()
    assert server.stop() == 0, server.output()
    assert "Traceback" not in server.output()
    took = time.monotonic() - t0
    print(f"balancesim viz: page ready {loaded:.1f} s after the command started; test {took:.1f} s")


@pytest.mark.browser
@pytest.mark.slow
def test_solara_run_app_with_scenario_from_env(solara_server, watched_page):  # noqa: F811
    """`solara run src/balancesim/viz/app.py` (development mode) with BALANCESIM_SCENARIO; the seed box."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    server = solara_server(
        REPO_ROOT / "src" / "balancesim" / "viz" / "app.py", extra_env={app.SCENARIO_ENV: str(BASELINE)}
    )
    page, watch = watched_page
    with keep_evidence(page, "viz-solara-run", server.log):
        page.goto(server.url)
        wait_for_solara_viz(page)
        page.get_by_text("Baseline (Central Asia, 2022-2027)").first.wait_for()
        page.get_by_text("The invasion's shock to public approval of Russia").first.wait_for()
        seed = page.get_by_label("Seed (applies on Reset)")
        applied = page.get_by_test_id("settings").filter(has_text="seed 11;")
        for attempt in range(3):  # typed text, Enter and Reset travel separately: allow for a slow server
            seed.fill("11")
            page.wait_for_timeout(300)
            seed.press("Enter")
            page.wait_for_timeout(300)
            page.get_by_role("button", name="Reset").click()
            try:
                applied.wait_for(timeout=5_000)
                break
            except PlaywrightTimeout:
                if attempt == 2:
                    raise
        page.wait_for_load_state("networkidle")
    watch.assert_offline_clean()


def vuetify_round(value: float, low: float, high: float, step: float) -> float:
    """What the browser's slider (Vuetify 2's VSlider.roundValue) makes of a value."""
    decimals = len(repr(float(step)).split(".")[1].rstrip("0")) if "." in repr(float(step)) else 0
    offset = low % step
    new = round((value - offset) / step) * step + offset
    return float(f"{min(new, high):.{decimals}f}")


@pytest.mark.parametrize("path", [TAIWAN, BASELINE])
def test_sliders_hold_the_scenario_values_so_reset_is_run_replicate_0(path):
    """Every slider's grid holds the scenario's value exactly (the baseline's lock-in of 3.6 is
    not moved to 3.5), so the page's model after Reset, its month-60 figures included, is
    replicate 0 of `balancesim run`."""
    import balancesim

    spec = app.load_scenario(path)
    params = app.model_params(spec)
    shown = {}
    for name in app.SLIDERS:
        p = params[name]
        shown[name] = vuetify_round(p["value"], p["min"], p["max"], p["step"])
        assert shown[name] == getattr(spec.parameters, name), name
    values = {k: p["value"] if isinstance(p, dict) else p for k, p in params.items()}
    model = app.VizModel(**(values | shown))
    while model.running:
        model.step()
    results = balancesim.run(spec, replicates=1, seed=spec.seed)
    np.testing.assert_array_equal(model.series()[-1], results.data[-1, 0])


def test_war_fired_by_hand_is_shown_once(taiwan):
    """Firing the war over Taiwan by hand at month 24 leaves one war: the scheduled one (month
    30) does not happen, and the charts mark one shock line."""
    from balancesim.figures.view import shock_months

    model = app.VizModel(taiwan)
    for _ in range(24):
        model.step()
    model.fire_shock("taiwan_war")
    while model.month < 36:
        model.step()
    assert [name for _, name in shock_months(model)].count("War over Taiwan") == 1
    assert (24, "War over Taiwan") in shock_months(model)


def _src_changes(page, image, old: str) -> str:
    """Wait until the image's src is no longer ``old``; return the new one."""
    page.wait_for_function(
        "([el, old]) => el.getAttribute('src') !== old", arg=[image.element_handle(), old], timeout=15_000
    )
    return image.get_attribute("src")


@pytest.mark.browser
@pytest.mark.slow
def test_why_it_moved_in_the_browser(viz_cli_server, watched_page):  # noqa: F811
    """Selecting a state shows its waterfall; firing a shock by hand changes it."""
    server = viz_cli_server(TAIWAN)
    page, watch = watched_page
    with keep_evidence(page, "viz-why", server.output):
        page.set_viewport_size({"width": 1400, "height": 1400})
        page.goto(server.url)
        step = wait_for_solara_viz(page)
        _wait_month(page, "Month 0 (2022-03)")
        wait_for_grid_settled(page, count=7)
        cell = page.locator(".bs-cell", has_text="Why it moved")
        why = page.get_by_test_id("why")
        assert why.inner_text().startswith("Kazakhstan with Russia") and "no month yet" in why.inner_text()
        image = cell.locator("img")
        start = image.get_attribute("src")
        step.click()
        _wait_month(page, "Month 1 (2022-04)")
        why.filter(has_text="this month (0 → 1)").wait_for()
        kazakhstan = _src_changes(page, image, start)

        cell.locator(".v-select", has_text="State").click()
        page.get_by_role("option", name="Uzbekistan").click()
        why.filter(has_text="Uzbekistan with Russia").wait_for()
        uzbekistan = _src_changes(page, image, kazakhstan)
        text = why.inner_text()

        page.get_by_role("button", name="War over Taiwan").click()
        why.filter(has_text="next Step (1 → 2), with the shock fired now").wait_for()
        _src_changes(page, image, uzbekistan)
        assert why.inner_text() != text and why.inner_text().startswith("Uzbekistan with Russia")
        page.wait_for_load_state("networkidle")
        screenshot(page, "viz-why")
    watch.assert_offline_clean()
    assert server.stop() == 0, server.output()
    assert "Traceback" not in server.output()
