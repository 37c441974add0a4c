"""Target files (format, located errors, checks against the model) and the hindcast."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from balancesim.analysis import hindcast as hc
from balancesim.analysis.targets import (
    Target,
    TargetFileError,
    check_against,
    dump_targets,
    implausibilities,
    implausibility,
    load_targets,
    markdown_table,
    model_months,
    observed_vector,
    replace_table,
    statistics,
)
from balancesim.cli.main import main
from balancesim.model import metrics

from .conftest import ROOT

BASELINE = str(ROOT / "scenarios" / "baseline.yaml")
PROJECT_TARGETS = ROOT / "targets" / "central_asia_2021_2023.yaml"

GOOD = """\
name: test targets
targets:
  kz_china_change:
    description: China's share rises
    measure: share.china.economy[kazakhstan]
    since: "2022"
    period: 2023-01..2023-09
    value: 0.04
    uncertainty: 0.02
    mapping: 0.01
    confidence: high
    source: national statistics
"""


def write(tmp_path, text: str, name: str = "t.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


# ---------------------------------------------------------------------- the format


def test_project_target_file_loads_checks_and_round_trips(tmp_path, baseline_setup, baseline):
    targets = load_targets(PROJECT_TARGETS)
    values = [t for _, t in targets if t.kind == "value"]
    assert len(values) >= 15  # quantitative targets, each with its value and an sd above 0
    assert all(t.value is not None and t.sd() > 0 for t in values)
    assert all(t.occurred is not None for _, t in targets if t.kind == "event")
    check_against(targets, metrics.columns(baseline_setup), baseline.start, baseline.horizon)
    text = " ".join(t.description for _, t in targets)
    for n in (1, 2, 3, 4, 5, 7):  # the "should reproduce" list, except Armenia (not modelled)
        assert f"should reproduce {n}" in text or f", {n})" in text
    again = load_targets(write(tmp_path, dump_targets(targets.spec), "again.yaml"))
    assert again.spec == targets.spec


def test_round_trip_of_a_small_file(tmp_path):
    first = load_targets(write(tmp_path, GOOD))
    second = load_targets(write(tmp_path, dump_targets(first.spec), "b.yaml"))
    assert second.spec == first.spec
    assert (
        first.where("kz_china_change", "period") == f"{tmp_path / 't.yaml'}:7: targets.kz_china_change.period"
    )


BROKEN = [
    (
        "value: 0.04",
        "valeu: 0.04",
        ":8: targets.kz_china_change.valeu: unknown key 'valeu' (did you mean 'value'?)",
    ),
    (
        "period: 2023-01..2023-09",
        "period: 2023-13",
        ":7: targets.kz_china_change.period: '2023-13' is not a period: "
        "expected YYYY, YYYY-MM or YYYY-MM..YYYY-MM",
    ),
    (
        "confidence: high",
        "confidence: hihg",
        ":11: targets.kz_china_change.confidence: 'hihg' is not one of high, medium-high, medium, "
        "medium-low, low (did you mean 'high'?)",
    ),
    (
        'since: "2022"',
        'since: "2024"',
        ":3: targets.kz_china_change: since '2024' must start before period '2023-01..2023-09'",
    ),
    (
        "uncertainty: 0.02",
        "uncertainty: -1",
        ":9: targets.kz_china_change.uncertainty: -1 is below the minimum 0",
    ),
    (
        "value: 0.04",
        "value: true",
        ":8: targets.kz_china_change.value: expected a number, got true (a boolean)",
    ),
    (
        "measure: share.china.economy[kazakhstan]",
        "measure: share.china.economy[kazakhstan] *",
        ":5: targets.kz_china_change.measure: 'share.china.economy[kazakhstan] *': unexpected character '*'",
    ),
    ("  kz_china_change:", "  KZ-china:", ":3: targets.KZ-china: 'KZ-china' is not a valid target id"),
    (
        "source: national statistics",
        "source: a\n    source: b",
        ":13: targets.kz_china_change.source: duplicate key 'source' (first on line 12)",
    ),
    ("name: test targets", "name: [unclosed", ":2: syntax error"),
    (
        "value: 0.04",
        "value: !!python/object:os.system 1",
        "YAML tag '!!python/object:os.system' is not allowed",
    ),
]


@pytest.mark.parametrize(("old", "new", "message"), BROKEN, ids=[b[1].split(":")[0].strip() for b in BROKEN])
def test_broken_target_files_give_file_and_line(tmp_path, old, new, message):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(TargetFileError) as e:
        load_targets(path)
    assert f"{path}{message}" in str(e.value) or message in str(e.value), str(e.value)
    if message.startswith(":"):
        assert str(e.value).startswith(f"{path}:")


def test_a_value_needs_an_uncertainty_and_a_target_needs_something_to_compare(tmp_path):
    no_sd = GOOD.replace("    uncertainty: 0.02\n", "").replace("    mapping: 0.01\n", "")
    with pytest.raises(TargetFileError, match=r":3: targets.kz_china_change: a value needs an uncertainty"):
        load_targets(write(tmp_path, no_sd))
    with pytest.raises(TargetFileError, match="a value needs an uncertainty above 0"):  # sd 0 is refused
        zero = no_sd.replace("value: 0.04", "value: 0.04\n    uncertainty: 0")
        load_targets(write(tmp_path, zero, "z.yaml"))
    with pytest.raises(TargetFileError, match=r"needs a value .with its uncertainty., a range or an event"):
        load_targets(write(tmp_path, GOOD.replace("    value: 0.04\n", ""), "c.yaml"))
    with pytest.raises(TargetFileError, match="an event needs `occurred`"):
        load_targets(write(tmp_path, no_sd.replace("value: 0.04", "event: {above: 0}"), "e.yaml"))
    with pytest.raises(TargetFileError, match="unknown key 'direction'"):  # direction-only scoring is gone
        load_targets(write(tmp_path, GOOD.replace("mapping: 0.01", "direction: up"), "d.yaml"))


def test_docs_targets_table_is_generated_from_the_file():
    doc = (ROOT / "docs" / "targets.md").read_text()
    table = markdown_table(load_targets(PROJECT_TARGETS))
    assert replace_table(doc, table) == doc, "run `python -m balancesim.analysis.targets` to refresh it"
    assert "`kz_china_russia_gap_2023`" in doc and "binomial" in doc


def test_measures_and_periods_are_checked_against_the_model(tmp_path, baseline_setup, baseline):
    text = GOOD.replace(
        "share.china.economy[kazakhstan]", "share.china.econmy[kazakhstan] - balance[kazakstan]"
    )
    text = text.replace("2023-01..2023-09", "2030-01")
    targets = load_targets(write(tmp_path, text))
    with pytest.raises(TargetFileError) as e:
        check_against(targets, metrics.columns(baseline_setup), baseline.start, baseline.horizon)
    lines = str(e.value).splitlines()
    path = tmp_path / "t.yaml"
    assert lines == [
        f"{path}:5: targets.kz_china_change.measure: no measure 'share.china.econmy' for 'kazakhstan' "
        "(did you mean 'share.china.economy'?)",
        f"{path}:5: targets.kz_china_change.measure: unknown actor 'kazakstan' (did you mean 'kazakhstan'?)",
        f"{path}:7: targets.kz_china_change.period: '2030-01' lies outside the model's months "
        "(2022-03 + 0..60)",
    ]


def test_hindcast_command_refuses_broken_files_and_writes_nothing(tmp_path):
    path = write(tmp_path, GOOD.replace("share.china.economy", "share.chna.economy"))
    out = tmp_path / "out"
    r = invoke("hindcast", BASELINE, "--targets", str(path), "-n", "4", "--out", str(out))
    assert r.exit_code == 2, r.output
    assert "no measure 'share.chna.economy' for 'kazakhstan'" in r.output and "Traceback" not in r.output
    assert not out.exists()
    r = invoke("hindcast", BASELINE, "--targets", str(tmp_path / "missing.yaml"), "--out", str(out))
    assert r.exit_code == 2 and "cannot read the file: no such file" in r.output


# ------------------------------------------------------------ statistics by construction


def test_statistic_is_the_mean_over_the_period_minus_the_mean_since():
    columns = metrics.Columns(("kazakhstan", "kazakhstan"), ("share.china.economy", "share.russia.economy"))
    months = np.arange(25)
    data = np.zeros((25, 3, 2))
    data[:, :, 0] = (months / 100)[:, None] + np.array(
        [0.0, 0.1, 0.2]
    )  # replicates shifted: no effect on a change
    data[:, :, 1] = 0.3
    spec = load_targets_text(GOOD).spec
    stats = statistics(spec, data, columns, "2022-03", months)
    # 2022 -> months 0..9 (mean 4.5); Jan-Sep 2023 -> months 10..18 (mean 14): change 0.095
    assert stats[:, 0] == pytest.approx([0.095] * 3)
    assert model_months("2022", "2022-03", 60).tolist() == list(range(10))
    level = Target.model_validate(
        {
            "description": "gap",
            "measure": "share.china.economy[kazakhstan] - share.russia.economy[kazakhstan]",
            "period": "2022-05",
            "value": 0.0,
            "uncertainty": 0.1,
            "confidence": "low",
            "source": "x",
        }
    )
    from balancesim.analysis.targets import series, statistic

    assert statistic(level, series(level, data, columns), months, "2022-03") == pytest.approx(
        [-0.28, -0.18, -0.08]
    )


def load_targets_text(text: str):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.yaml"
        path.write_text(text)
        return load_targets(path)


def _target(**fields) -> Target:
    base = {"description": "x", "measure": "balance", "period": "2023", "confidence": "high", "source": "s"}
    return Target.model_validate(base | fields)


def test_pass_rules_known_by_construction():
    rng = np.random.default_rng(0)
    stat = rng.normal(0.5, 0.05, 1000)  # modelled 90% band about [0.42, 0.58]
    assert hc.judge(_target(value=0.6, uncertainty=0.02), stat)["passed"]  # [0.567, 0.633] overlaps
    assert not hc.judge(_target(value=0.7, uncertainty=0.05), stat)["passed"]  # [0.618, 0.782] does not
    assert not hc.judge(_target(value=0.64, uncertainty=0.03), stat)["passed"]  # [0.591, 0.689]
    assert hc.judge(_target(value=0.64, uncertainty=0.03, mapping=0.04), stat)["passed"]  # sd 0.05: overlaps
    assert hc.judge(_target(range=[0.1, 0.43]), stat)["passed"]
    assert not hc.judge(_target(range=[0.1, 0.4]), stat)["passed"]
    assert hc.judge(_target(value=0.52, uncertainty=0.02), stat)["in_band"]  # median 0.5 in [0.487, 0.553]
    assert not hc.judge(_target(value=0.6, uncertainty=0.02), stat)["in_band"]
    runs = np.where(np.arange(100) < 8, 1.0, 0.0)  # the event (above 0) in 8 runs of 100
    assert hc.judge(_target(event={"above": 0}, occurred=False), runs)["passed"]  # 92% as observed
    assert hc.judge(_target(event={"above": 0}, occurred=True), runs)["outcome_share"] == 0.08
    assert not hc.judge(_target(event={"above": 0}, occurred=True), runs)["passed"]  # 8% < 10%
    assert hc.judge(_target(event={"above": 0}, occurred=True), np.roll(runs, 3) + (np.arange(100) < 12))[
        "passed"
    ]
    row = hc.judge(_target(value=0.5, uncertainty=0.05), np.full(10, 0.5))
    assert row["distance"] == 0.0 and row["median"] == 0.5


def test_implausibility_scales_by_total_variance_and_events_are_binomial():
    t = _target(value=0.2, uncertainty=0.03, mapping=0.04)  # sd 0.05
    ens = np.array([[0.2, 0.2, 0.2, 0.2], [0.3, 0.3, 0.3, 0.3]])
    # no replicate spread: |mean - 0.2| / (0.05 sqrt(1 + 0.5^2))
    assert implausibility(t, ens).tolist() == pytest.approx([0.0, 0.1 / (0.05 * np.sqrt(1.25))])
    assert implausibility(t, ens, discrepancy=0.0)[1] == pytest.approx(2.0)
    noisy = np.array([[0.3, 0.1, 0.5, 0.3]])  # the same mean, a large spread: less implausible
    assert implausibility(t, noisy, discrepancy=0.0)[0] < 1.0
    never = _target(event={"above": 0}, occurred=False)
    runs = np.zeros((3, 20))
    runs[1, :10] = 1  # half the runs show an event that did not happen
    runs[2, :] = 1  # every run does
    i = implausibility(never, runs)
    assert i[0] == pytest.approx(0.0, abs=0.03) and 0.5 < i[1] < 1.0 and i[2] > 2.2
    spec = load_targets_text(GOOD).spec
    spec.targets["gap"] = t
    spec.targets["never"] = never
    assert observed_vector(spec).tolist() == [0.04, 0.2, 0.0]
    stats = np.zeros((2, 20, 3))
    stats[:, :, 0] = 0.04
    stats[:, :, 1] = 0.2
    stats[1, :, 2] = 1.0
    both = implausibilities(spec, stats)
    assert both.shape == (2, 3) and both[0].max() < 0.05 and both[1, 2] > 2.2


# ---------------------------------------------------------------- hindcast end to end


def test_hindcast_on_a_tiny_run(tmp_path):
    text = """\
    name: tiny
    targets:
      csto_members:
        description: a member leaves the CSTO (nobody did)
        measure: members.csto
        period: 2023-12
        event: {below: 2.5}
        occurred: false
        confidence: high
        source: records
      kz_approval:
        description: a Kazakh approval of Russia in 2022 far above the baseline's (about 0.35)
        measure: opinion.russia[kazakhstan]
        period: "2022"
        value: 0.9
        uncertainty: 0.04
        confidence: high
        source: Gallup
      kz_china_rise:
        description: China's share in Kazakhstan rises
        measure: share.china.economy[kazakhstan]
        since: "2022"
        period: "2023"
        value: 0.04
        uncertainty: 0.01
        mapping: 0.01
        confidence: high
        source: statistics
    """
    path = write(tmp_path, text)
    out = tmp_path / "hindcast"
    r = invoke("hindcast", BASELINE, "--targets", str(path), "-n", "8", "--seed", "3", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == [
        ".balancesim-output.json",
        "hindcast.png",
        "summary.json",
        "table.csv",
    ]
    table = pd.read_csv(out / "table.csv").set_index("target")
    assert table.loc["csto_members", "passed"] and table.loc["csto_members", "median"] == 3
    assert not table.loc["kz_approval", "passed"] and table.loc["kz_approval", "median"] < 0.5
    assert table.loc["csto_members", "outcome_share"] == 1.0 and table.loc["csto_members", "kind"] == "event"
    assert table.loc["kz_china_rise", "kind"] == "value"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["targets"] == 3 and summary["replicates"] == 8 and "kz_approval" in summary["failed"]
    assert summary["score"] == pytest.approx(summary["passed"] / 3)
    assert "Score:" in r.output and "kz_approval" in r.output and "Within the observation band" in r.output
    assert not [p for p in tmp_path.glob(".hindcast*") if p.suffix != ".lock"]  # the lock file stays


def test_hindcast_after_calibration_draws_from_the_posterior(tmp_path):
    """`--posterior DIR`: the runs take the posterior's values (here one particle, so known exactly)."""
    posterior = tmp_path / "calibrated"
    posterior.mkdir()
    pd.DataFrame({"actors.kazakhstan.opinion.russia": [0.95], "weight": [1.0]}).to_parquet(
        posterior / "posterior.parquet"
    )
    path = write(
        tmp_path,
        """\
    name: one
    targets:
      kz_approval:
        description: Kazakh approval of Russia in 2022
        measure: opinion.russia[kazakhstan]
        period: "2022"
        value: 0.3
        uncertainty: 0.04
        confidence: high
        source: Gallup
    """,
    )
    medians = {}
    for label, extra in (("before", []), ("after", ["--posterior", str(posterior)])):
        out = tmp_path / label
        r = invoke(
            "hindcast", BASELINE, "--targets", str(path), "-n", "8", "--seed", "3", "--out", str(out), *extra
        )
        assert r.exit_code == 0, r.output
        medians[label] = pd.read_csv(out / "table.csv").set_index("target").loc["kz_approval", "median"]
    # A starting approval of 0.95 instead of the baseline's 0.55 keeps 2022's mean far higher.
    assert medians["after"] > medians["before"] + 0.2
    r = invoke("hindcast", BASELINE, "--targets", str(path), "-n", "8", "--posterior", str(tmp_path / "none"))
    assert r.exit_code == 2 and "no such folder" in r.output
