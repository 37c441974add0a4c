"""The browser-testing ground: Mesa's own SolaraViz examples render and step offline.

These use only Mesa's bundled examples, so they check the ground (Chromium, Solara's
bundled assets, the offline settings in browser_support) independently of balancesim.
"""

from __future__ import annotations

import re
from pathlib import Path

import mesa
import pytest

from .browser_support import (  # fixtures are used by name below
    ASSET_ALIASES,
    KATEX_DIR,
    KATEX_STUBS,
    VEGA_EMBED_DESTROYED_RACE,
    build_asset_overlay,
    chromium,  # noqa: F401
    screenshot,
    solara_server,  # noqa: F401
    wait_for_solara_viz,
    watched_page,  # noqa: F401
)

MESA_EXAMPLES = Path(mesa.__file__).parent / "examples" / "basic"

MATPLOTLIB_APP = """
import solara
from mesa.examples.basic.boltzmann_wealth_model.model import BoltzmannScenario, BoltzmannWealth
from mesa.visualization import SolaraViz, SpaceRenderer, make_plot_component
from mesa.visualization.components import AgentPortrayalStyle

model = BoltzmannWealth(scenario=BoltzmannScenario(n=50, width=10, height=10))
renderer = SpaceRenderer(model, backend="matplotlib").setup_agents(
    lambda agent: AgentPortrayalStyle(color="tab:blue", size=20)
)
renderer.render()


def StepNote(model):  # a solara.Markdown, which loads KaTeX on mount
    return solara.Markdown(f"Markdown says: {model.steps} steps")


page = SolaraViz(
    model, renderer, components=[make_plot_component("Gini"), StepNote], name="Boltzmann"
)
"""


def _time(page) -> str:
    match = re.search(r"Time:\s*([\d.]+)", page.inner_text("body"))
    assert match, "no 'Time:' in the SolaraViz page"
    return match.group(1)


def test_overlay_serves_every_pinned_asset_solara_asks_for(tmp_path):
    """Each `<cdn>/pkg@version/...` url in Solara's (Vue 2) front end exists offline.

    Catches a Solara upgrade that asks for a file solara-assets does not bundle.
    """
    import solara

    overlay = build_asset_overlay(tmp_path / "cdn")
    root = Path(solara.__file__).parent
    pattern = re.compile(r"(?:getCdn\(\)\}|\{\{\s*cdn\s*\}\})/((?:@[\w-]+/)?[\w.-]+@[\w.-]+)/")
    wanted = set()
    for path in [*root.rglob("*.vue"), *root.rglob("*.py"), *root.rglob("*.j2")]:
        if "website" in path.parts:  # solara.dev's own pages, not served by `solara run`
            continue
        wanted.update(pattern.findall(path.read_text(errors="replace")))
    # the Vue 3 app is only used with ipyvue>=2, which the project pins away (<2)
    wanted = {w for w in wanted if not w.startswith("@widgetti/solara-vuetify3-app@")}
    assert wanted, "found no CDN references in solara: did its layout change?"
    missing = sorted(w for w in wanted if not (overlay / w).is_dir())
    assert not missing, f"solara asks for assets the offline overlay lacks: {missing}"
    for alias in ASSET_ALIASES:
        assert (overlay / alias / "build").is_dir()
    for rel in KATEX_STUBS:
        assert (overlay / KATEX_DIR / rel).is_file()


@pytest.mark.browser
@pytest.mark.slow
def test_matplotlib_solaraviz_renders_and_steps_offline(tmp_path, solara_server, watched_page):  # noqa: F811
    app = tmp_path / "app.py"
    app.write_text(MATPLOTLIB_APP)
    server = solara_server(app)
    page, watch = watched_page
    page.goto(server.url)
    step = wait_for_solara_viz(page)
    page.wait_for_load_state("networkidle")
    assert _time(page) == "0.0"
    # matplotlib figures arrive as images (space and Gini plot)
    page.wait_for_function("document.querySelectorAll('img').length >= 2", timeout=15_000)
    page.get_by_text("Markdown says: 0 steps").wait_for(timeout=15_000)
    step.click()
    page.get_by_text("Time: 1.0").wait_for(timeout=15_000)
    # a Markdown component follows the model (it asks for KaTeX on mount: see the overlay)
    page.get_by_text("Markdown says: 1 steps").wait_for(timeout=15_000)
    page.wait_for_load_state("networkidle")
    screenshot(page, "ground-matplotlib-after-step")
    watch.assert_offline_clean()


@pytest.mark.browser
@pytest.mark.slow
def test_altair_and_markdown_solaraviz_renders_offline(solara_server, watched_page):  # noqa: F811
    """virus_on_network: altair (vega-lite) network space and line plot."""
    server = solara_server(MESA_EXAMPLES / "virus_on_network" / "app.py")
    page, watch = watched_page
    page.goto(server.url)
    step = wait_for_solara_viz(page)
    # the space and the line plot: vega-embed draws each into a canvas
    page.wait_for_function(
        "document.querySelectorAll('.vega-embed canvas.marks').length >= 2", timeout=30_000
    )
    step.click()
    page.get_by_text("Time: 1.0").wait_for(timeout=15_000)
    page.wait_for_load_state("networkidle")
    screenshot(page, "ground-altair-after-step")
    watch.assert_offline_clean(allow_page_errors=(VEGA_EMBED_DESTROYED_RACE,))
