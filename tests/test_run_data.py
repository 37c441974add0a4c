"""What a run writes, as pandas (and xarray) users read it: tidy columns, one table with the
baseline, a layout version, older folders still readable, the code's git commit."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray

from balancesim.experiment import batch as experiment
from balancesim.experiment import store
from balancesim.model import metrics
from balancesim.model.metrics import MeasureParts, measure_parts
from balancesim.model.state import build_setup

from .conftest import ROOT, SCENARIOS, short


def measure_name(measure: str, partner: str = "", domain: str = "") -> str:
    """The packed name of a measure (layout 1 and the engine's columns)."""
    return ".".join(p for p in (measure, partner, domain) if p)


TIDY = ["scenario", "replicate", "step", "actor", "partner", "domain", "measure", "value"]


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("share.china.security", (None, "china", "security", "share")),
        ("share.china", (None, "china", "", "share")),
        ("invitation.india", (None, "india", "", "invitation")),
        ("members.csto", (None, "csto", "", "members")),
        ("effort.economy", (None, "", "economy", "effort")),
        ("hedging_index", (None, "", "", "hedging_index")),
        # split by position: a partner called "security" is still a partner
        ("share.security", (None, "security", "", "share")),
    ],
)
def test_measure_parts(name, parts):
    assert measure_parts(name) == MeasureParts(*parts)
    assert measure_name(parts[3], parts[1], parts[2]) == name


def test_measure_parts_with_actor_and_errors():
    assert measure_parts("region.hedging_index", with_actor=True) == ("region", "", "", "hedging_index")
    assert measure_parts("kazakhstan.share.us.economy", with_actor=True) == (
        "kazakhstan",
        "us",
        "economy",
        "share",
    )
    for bad in ("hedging_index.china", "share.china.culture", "nonsense.x.y.z", ""):
        with pytest.raises(ValueError):
            measure_parts(bad)
    with pytest.raises(ValueError, match="actor"):
        measure_parts("tension", with_actor=True)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_column_splits_and_packs_back(path):
    from balancesim import load_scenario

    cols = metrics.columns(build_setup(load_scenario(path)))
    parts = cols.parts
    assert len(set(parts)) == len(cols)
    for p, actor, name in zip(parts, cols.actors, cols.measures, strict=True):
        assert p.actor == actor and measure_name(p.measure, p.partner, p.domain) == name


@pytest.fixture(scope="module")
def written(tmp_path_factory, baseline):
    """A short Taiwan run with its baseline, written as `balancesim run --baseline` does."""
    from balancesim import load_scenario

    taiwan = short(load_scenario(ROOT / "scenarios" / "taiwan_shock.yaml"), 36)
    res = experiment.run(taiwan, replicates=6, seed=3)
    base = experiment.run(short(baseline, 36), replicates=6, seed=3)
    root = tmp_path_factory.mktemp("runs")
    folder = store.write_run(res, root, "taiwan", command=["test"], baseline=base)
    return folder, res, base


def test_series_is_one_tidy_table_with_the_baseline(written):
    folder, res, base = written
    assert sorted(p.name for p in folder.iterdir()) == [
        ".balancesim-output.json",
        "manifest.json",
        "params.parquet",  # the shock severity drawn in each run
        "series.parquet",
        "summary.csv",
    ]
    series = pd.read_parquet(folder / "series.parquet")
    assert list(series.columns) == TIDY
    assert (
        not series[["actor", "partner", "domain", "measure"]]
        .apply(lambda c: c.str.contains(".", regex=False))
        .any()
        .any()
    )
    for label, r in (("scenario", res), ("baseline", base)):
        part = series[series["scenario"] == label]
        kz = part[(part.actor == "kazakhstan") & (part.partner == "china") & (part.domain == "security")]
        kz = kz[kz.measure == "share"].sort_values(["replicate", "step"])["value"].to_numpy()
        np.testing.assert_array_equal(kz, r.values("kazakhstan", "share.china.security").T.ravel())
    summary = pd.read_csv(folder / "summary.csv", keep_default_na=False)
    assert list(summary.columns[:4]) == ["actor", "partner", "domain", "measure"]
    assert set(summary["measure"]) >= {"hedging_index", "members"}
    members = summary[(summary.measure == "members") & (summary.quantity == "scenario")]
    assert set(members["partner"]) == {"csto", "eaeu", "sco"}
    assert json.loads((folder / "manifest.json").read_text())["balancesim_run"] == store.FORMAT


def test_pivots_have_no_packed_names_and_no_holes(written):
    """Each measure becomes a dense cube over (replicate, step, actor, partner, domain):
    the shape an xarray user builds (packed names left a 62%-empty cube)."""
    folder, res, _ = written
    series = pd.read_parquet(folder / "series.parquet")
    series = series[series["scenario"] == "scenario"]
    for measure, part in series.groupby("measure", observed=True):
        wide = part.pivot_table(
            index=["replicate", "step"], columns=["actor", "partner", "domain"], values="value", observed=True
        )
        assert wide.shape[0] == res.replicates * len(res.months)
        assert not wide.isna().any().any(), measure
    share = series[series.measure == "share"].drop(columns=["scenario", "measure"])
    cube = share.set_index(["replicate", "step", "actor", "partner", "domain"])["value"].to_xarray()
    assert isinstance(cube, xarray.DataArray)
    states = len(res.setup.regional_ids)
    assert cube.sizes["actor"] == states and cube.isnull().sum() == 0


def test_layout_1_folders_read_as_the_current_layout(written, tmp_path):
    """A folder written before the tidy layout (packed names, baseline_series.parquet) reads the same."""
    folder, _, _ = written
    current = store.read_series(folder)
    old = tmp_path / "old"
    old.mkdir()
    for label, name in (("scenario", "series.parquet"), ("baseline", "baseline_series.parquet")):
        part = current[current["scenario"] == label]
        packed = [
            measure_name(m, p, d) for m, p, d in zip(part.measure, part.partner, part.domain, strict=True)
        ]
        frame = part[["replicate", "step", "actor"]].assign(measure=pd.Categorical(packed), value=part.value)
        frame.to_parquet(old / name, index=False)
    manifest = json.loads((folder / "manifest.json").read_text()) | {"balancesim_run": 1}
    del manifest["files"]  # the checksums of the current folder's files, not of these
    (old / "manifest.json").write_text(json.dumps(manifest))
    again = store.read_series(old)
    pd.testing.assert_frame_equal(
        again.astype({c: str for c in TIDY[:1] + TIDY[3:7]}),
        current.astype({c: str for c in TIDY[:1] + TIDY[3:7]}),
        check_exact=True,
    )
    (old / "manifest.json").write_text(json.dumps(manifest | {"balancesim_run": 99}))
    with pytest.raises(ValueError, match="another version"):
        store.read_series(old)
    (old / "manifest.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a balancesim run folder"):
        store.read_series(old)


def _git(*args: str) -> str:
    src = Path(store.__file__).parent
    return subprocess.run(["git", *args], cwd=src, capture_output=True, text=True, check=True).stdout.strip()


def test_manifest_records_the_git_commit(written):
    """From a checkout the manifest holds the commit and whether tracked files were changed."""
    folder, _, _ = written
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    try:
        _git("ls-files", "--error-unmatch", "store.py")
    except subprocess.CalledProcessError:
        pytest.skip("balancesim is not running from a git checkout")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["git"] == {
        "commit": _git("rev-parse", "HEAD"),
        "modified": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def test_no_git_no_commit_and_no_failure(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a folder without git
    assert store.source_revision() == {}


def test_baseline_with_other_actors_shares_the_table(baseline, tmp_path):
    from balancesim import load_scenario

    crisis = experiment.run(short(load_scenario(ROOT / "scenarios" / "csto_crisis.yaml"), 6), replicates=2)
    base = experiment.run(short(baseline, 6), replicates=2)
    series = store.read_series(store.write_run(crisis, tmp_path, "c", command=["test"], baseline=base))
    actors = series.groupby("scenario", observed=True)["actor"].agg(lambda a: set(a.astype(str)))
    assert actors["scenario"] - actors["baseline"] == {"azerbaijan"}  # Armenia is in the baseline too
    assert len(series) == crisis.data.size + base.data.size
