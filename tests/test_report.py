"""`balancesim report`: one self-contained HTML file that opens offline in Chromium with every figure."""

from __future__ import annotations

from click.testing import CliRunner

from balancesim.cli.main import main

from .browser_support import (  # fixtures are used by name below
    chromium,  # noqa: F401
    watched_page,  # noqa: F401
)
from .conftest import ROOT

TAIWAN = ROOT / "scenarios" / "taiwan_shock.yaml"
BASELINE = ROOT / "scenarios" / "baseline.yaml"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _hostile_scenario(tmp_path):
    path = tmp_path / "hostile.yaml"
    path.write_text(
        f'extends: {TAIWAN}\nname: "<script>window.hacked=1</script> & <b>war</b>"\n'
        f"compare_with: {BASELINE}\n"
    )
    return path


def test_report_of_a_run_and_a_comparison_opens_offline_with_every_figure(tmp_path, watched_page):  # noqa: F811
    run = tmp_path / "run"
    r = invoke("run", str(_hostile_scenario(tmp_path)), "-n", "8", "--out", str(run))
    assert r.exit_code == 0, r.output
    cmp = tmp_path / "cmp"
    r = invoke(
        "compare", str(BASELINE), str(TAIWAN), "-n", "8", "--baseline", str(BASELINE), "--out", str(cmp)
    )
    assert r.exit_code == 0, r.output
    page, watch = watched_page
    for folder, figures in ((run, len(list((run / "plots").glob("*.png")))), (cmp, 1)):
        r = invoke("report", str(folder))
        assert r.exit_code == 0, r.output
        html = folder.parent / f"{folder.name}.html"
        text = html.read_text()
        assert "<script" not in text and "http://" not in text and "https://" not in text
        assert "How to reproduce it" in text and "git commit" in text and "Assumptions" in text
        page.goto(html.as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth])")
        assert len(images) == figures >= 1
        assert all(done and width > 0 for done, width in images), images
        assert page.evaluate("window.hacked === undefined")
        body = page.inner_text("body")
        assert "The question:" in body
        if folder == run:
            assert "<script>window.hacked=1</script> & <b>war</b>" in body  # shown as written
            assert "toward Russia" in body and "shocks.taiwan_war.severity" in body
        else:
            assert "Tipping:" in body and "tip_chance" in body
    # the report itself is opened from disk (file://); nothing else may be asked for
    problems = [p for p in watch.problems() if not p.endswith(".html") or "file://" not in p]
    assert not problems and watch.requests == 2, problems


def test_report_refuses_a_folder_that_is_not_a_run(tmp_path):
    r = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert r.exit_code == 2 and "manifest.json" in r.output
