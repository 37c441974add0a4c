"""The run figures: titles that fit, no empty figures, right plurals, names shown literally."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from balancesim import load_scenario
from balancesim import run as simulate
from balancesim.figures import runs as plots
from balancesim.text.wording import plural

from .conftest import ROOT

MINIMAL = ROOT / "tests" / "data" / "minimal.yaml"
ONE_STATE = f"""extends: {MINIMAL}
name: One state
actors:
  - {{id: kyrgyzstan, remove: true}}
institutions:
  - {{id: csto, remove: true}}
shocks:
  - {{id: border_clash, remove: true}}
"""


@pytest.fixture(scope="module")
def one_state(tmp_path_factory):
    """One regional state, no security alliance, one run."""
    path = tmp_path_factory.mktemp("one") / "one.yaml"
    path.write_text(ONE_STATE, encoding="utf-8")
    return simulate(load_scenario(path), replicates=1, seed=3)


def _inside(fig, text) -> bool:
    fig.canvas.draw()
    box = text.get_window_extent()
    return box.x0 >= 0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height


def test_engagement_title_fits_with_one_state(one_state):
    fig = plots.engagement(one_state)
    assert _inside(fig, fig._suptitle)


def test_every_title_fits(one_state):
    for draw in (plots.headline, plots.engagement, plots.balance_by_state):
        fig = draw(one_state)
        texts = [fig._suptitle] if fig._suptitle is not None else []
        texts += [ax.title for ax in fig.axes if ax.get_title()]
        assert texts and all(_inside(fig, t) for t in texts), draw.__name__
        plt.close(fig)


def test_no_alliances_figure_without_a_security_alliance(one_state, tmp_path: Path):
    assert "alliances.png" not in plots.figure_names(one_state)
    written = plots.write_all(one_state, tmp_path)
    assert sorted(p.name for p in written) == ["balance_by_state.png", "engagement.png", "headline.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in sorted(written)]


def test_plural_forms_in_titles(one_state):
    fig = plots.headline(one_state)
    assert "across 1 run\n" in fig.get_suptitle() and "1 runs" not in fig.get_suptitle()
    assert plural(1, "shock") == "1 shock" and plural(2, "shock") == "2 shocks"
    assert plural(1200, "run") == "1,200 runs"


def test_mathtext_in_names_is_shown_literally(one_state, tmp_path: Path):
    named = one_state.scenario.model_copy(update={"name": "$x^$ cost $5"})
    results = simulate(named, replicates=1, seed=3)
    paths = plots.write_all(results, tmp_path)
    assert len(paths) == 3 and all(p.stat().st_size > 0 for p in paths)
    fig = plots.headline(results)
    assert "$x^$ cost $5" in fig.get_suptitle()  # drawn as typed: mathtext is off for every figure
