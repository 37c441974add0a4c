"""Packed sweeps: chunks of runs from many design points give the numbers of points run alone."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from balancesim import sweep as sw
from balancesim.model import engine
from balancesim.model.state import build_setup
from balancesim.scenario.files import load_scenario

from .conftest import ROOT

MINIMAL = str(ROOT / "tests" / "data" / "minimal.yaml")
PARAMS = ("parameters.lock_in=1:6", "relations.tension=0.05:0.5", "actors.china.attention=0.3:0.8")


def lhs_plan(chunk_size: int | None = None, replicates: int = 3, **kw) -> sw.SweepPlan:
    options = sw.SweepOptions(
        params=tuple(sw.parse_param(p) for p in PARAMS),
        design="lhs",
        samples=13,
        replicates=replicates,
        chunk_size=chunk_size,
        **kw,
    )
    return sw.plan_sweep(MINIMAL, options)


def frames(folder) -> pd.DataFrame:
    parts = [pq.read_table(p).to_pandas() for p in sw.iter_chunk_files(folder)]
    return pd.concat(parts).sort_values(["point", "replicate", "month"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """13 LHS points x 3 runs in chunks of 7 runs: most chunks hold runs of three points."""
    plan = lhs_plan(chunk_size=7)
    assert plan.per_run
    folder = tmp_path_factory.mktemp("packed") / "s"
    return plan, folder, sw.run_sweep(plan, folder, executor="serial", plots=False)


def test_a_chunk_holds_runs_of_several_points(packed):
    plan, folder, _ = packed
    assert len(plan.chunks()) == 6  # 39 runs in chunks of 7
    first = pq.read_table(folder / "chunks" / "r7.parquet").to_pandas()
    assert sorted(first["point"].unique()) == [2, 3, 4]  # runs 7..13
    assert list(first.drop_duplicates(["point", "replicate"])["replicate"]) == [1, 2, 0, 1, 2, 0, 1]


def test_every_point_equals_its_own_engine_run(packed):
    plan, folder, outcome = packed
    data = frames(folder)
    for p in (0, 5, 12):
        scenario = load_scenario(MINIMAL, plan.design.overrides(p))
        direct = engine.run_replicates(
            build_setup(scenario),
            engine.replicate_seeds(scenario.seed, 3),
            plan.months,
            np.array(plan.column_index),
        )
        mine = data[data["point"] == p].sort_values(["replicate", "month"])
        assert np.array_equal(
            mine[list(plan.measures)].to_numpy(), direct.transpose(1, 0, 2).reshape(-1, len(plan.measures))
        )
        # and the summary is that point's statistics over its runs
        row = outcome.summary[(outcome.summary["point"] == p) & (outcome.summary["measure"] == "balance")]
        assert row["mean"].to_numpy() == pytest.approx(
            direct[:, :, plan.measures.index("balance")].mean(axis=1)
        )


@pytest.mark.parametrize(
    ("executor", "chunk_size"), [("serial", 1), ("serial", 3), ("serial", 39), ("process", 5), ("dask", 4)]
)
def test_identical_across_chunk_sizes_and_executors(packed, tmp_path, executor, chunk_size):
    _, folder0, outcome0 = packed
    plan = lhs_plan(chunk_size=chunk_size)
    outcome = sw.run_sweep(plan, tmp_path / "s", executor=executor, workers=2, plots=False)
    pd.testing.assert_frame_equal(frames(tmp_path / "s"), frames(folder0), check_exact=True)
    pd.testing.assert_frame_equal(outcome.summary, outcome0.summary, check_exact=True)


def test_one_call_per_point_gives_the_same_numbers(packed, tmp_path):
    # The fallback for paths the engine cannot vary per run.
    plan, folder0, outcome0 = packed
    outcome = sw.run_sweep(replace(plan, per_run=False), tmp_path / "s", executor="serial", plots=False)
    pd.testing.assert_frame_equal(frames(tmp_path / "s"), frames(folder0), check_exact=True)
    pd.testing.assert_frame_equal(outcome.summary, outcome0.summary, check_exact=True)


def test_resume_of_packed_chunks(packed, tmp_path):
    plan, folder0, outcome0 = packed
    folder = tmp_path / "s"
    sw.run_sweep(plan, folder, executor="serial", plots=False)
    (folder / "chunks" / "r14.parquet").unlink()  # runs 14-20: points 4, 5 and 6
    (folder / "chunks" / "r35.parquet").unlink()
    progress = []
    outcome = sw.run_sweep(
        plan,
        folder,
        executor="serial",
        resume=True,
        plots=False,
        progress=lambda r, c: progress.append((r, c)),
    )
    assert outcome.chunks_run == 2 and outcome.chunks_skipped == 4
    assert progress == [(7, 11), (4, 13)]  # 8 points untouched; then points 4-6; then 11 and 12
    pd.testing.assert_frame_equal(frames(folder), frames(folder0), check_exact=True)
    pd.testing.assert_frame_equal(outcome.summary, outcome0.summary, check_exact=True)


def test_points_of_large_designs_are_checked_in_the_worker(packed):
    # Designs over FULL_CHECK_POINTS points are not checked point by point up front.
    plan, _, _ = packed
    bad = plan.design.points.copy()
    bad[4, 0] = 99.0  # lock_in above its maximum
    plan = replace(plan, design=replace(plan.design, points=bad))
    job = sw.make_job(plan)
    task = next(sw.make_tasks(plan, [sw.Chunk(14, 7)]))
    with pytest.raises(sw.SweepError, match=r"design point 4 \(parameters.lock_in=99.0, .*\) is not a valid"):
        sw.run_chunk(job, task)


def test_point_statistics_stream_over_uneven_blocks():
    rng = np.random.default_rng(1)
    runs = rng.normal(size=(5 * 4, 2, 3))  # 5 points x 4 replicates, 2 months, 3 measures
    blocks = [runs[:3], runs[3:11], runs[11:12], runs[12:]]
    mean, quant = sw.point_statistics(blocks, 4, 5)
    by_point = runs.reshape(5, 4, 2, 3)
    assert np.array_equal(mean, by_point.mean(axis=1))
    assert np.array_equal(quant, np.quantile(by_point, sw.QUANTILES, axis=1))
    with pytest.raises(ValueError, match="4 complete design points, expected 5"):
        sw.point_statistics([runs[:18]], 4, 5)
