"""The patterns file: one versioned file holds every figure the checks test against."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest

from balancesim.validation.checks import CHECKS
from balancesim.validation.patterns import DEFAULT, PatternsError, load

from .conftest import ROOT

CHECKS_DIR = ROOT / "src" / "balancesim" / "validation" / "checks"
STATES = (
    "kazakhstan",
    "kyrgyzstan",
    "tajikistan",
    "uzbekistan",
    "turkmenistan",
    "armenia",
    "russia",
    "china",
)


def test_the_file_is_versioned_with_dated_reasons_and_is_package_data():
    p = load()
    assert p.version >= 2 and len(p.sha256) == 64
    versions = [h["version"] for h in p.data["history"]]
    assert p.version == max(versions) and all(h["date"] and h["reason"] for h in p.data["history"])
    assert '"validation/patterns/*.yaml"' in (ROOT / "pyproject.toml").read_text()


def test_every_check_reads_its_thresholds_and_knockouts_from_the_file():
    p = load()
    for check in CHECKS:
        listed = p.data["thresholds"][check.id]
        assert len(listed) == len(check.thresholds), check.id
        for ko in check.knockouts:
            key = next(k for k in p.data["knockouts"] if k.endswith(f": {ko.switch}"))
            assert ko.overrides == p.data["knockouts"][key]["overrides"], key
    assert [t.value for t in next(c for c in CHECKS if c.id == "P1").thresholds] == [0.9, 0.9]


def test_no_number_threshold_actor_or_scenario_file_is_written_into_the_checks():
    """Thresholds are never literals in the code, nor are the states or scenario files the checks name."""
    for path in CHECKS_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Threshold":
                assert not isinstance(node.args[2], ast.Constant), f"{path.name}:{node.lineno}"
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                assert not text.endswith(".yaml"), f"{path.name}:{node.lineno}: {text}"
                if path.name != "common.py":  # common.py holds the three-letter labels of the figures
                    assert text not in STATES, f"{path.name}:{node.lineno}: {text}"


def test_another_patterns_file_changes_the_checks(tmp_path):
    """BALANCESIM_PATTERNS points the checks at another file: its figures are the ones used."""
    text = DEFAULT.read_text().replace("P1: [0.9, 0.9]", "P1: [0.8, 0.7]")
    assert text != DEFAULT.read_text()
    other = tmp_path / "other.yaml"
    other.write_text(text)
    code = (
        "import json; from balancesim.validation.checks import CHECKS; from balancesim.validation.patterns "
        "import load; p = next(c for c in CHECKS if c.id == 'P1'); "
        "print(json.dumps([[t.value for t in p.thresholds], load().sha256]))"
    )
    env = dict(os.environ, BALANCESIM_PATTERNS=str(other))
    found = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout
    )
    assert found[0] == [0.8, 0.7] and found[1] != load().sha256


def test_a_file_without_a_dated_reason_for_its_version_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFAULT.read_text().replace("version: 2\n", "version: 3\n", 1))
    with pytest.raises(PatternsError, match="history: every version needs a date and a reason"):
        load(bad)
