"""Evidence that can fail: no scenario input copies a target, and no figure after 2023 is used."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from balancesim import load_scenario
from balancesim.analysis.expressions import references
from balancesim.analysis.targets import load_targets

from .conftest import ROOT, SCENARIOS

TARGETS = load_targets(ROOT / "targets" / "central_asia_2021_2023.yaml")
SAME = 0.005  # two figures this close are the same figure (rounding of the record)


def _inputs(scenario, actor: str, measure: str) -> tuple[list[float], list[tuple[str, float]]]:
    """The scenario's initial values of a target's measure, and the shock amounts that move it."""
    parts = measure.split(".")
    initial: list[float] = []
    moves: list[tuple[str, float]] = []
    actors = {a.id: a for a in scenario.actors}
    if parts[0] == "share" and len(parts) == 3 and actor in actors:
        ties = actors[actor].engagement.get(parts[1])
        if ties is not None:
            initial.append(getattr(ties, parts[2]))
    if parts[0] == "opinion" and actor in actors and parts[1] in actors[actor].opinion:
        initial.append(actors[actor].opinion[parts[1]])
    for shock in scenario.shocks:
        for k, e in enumerate(shock.effects):
            if e.actor != actor or e.variable.value != parts[0]:
                continue
            if parts[0] == "opinion" and e.partner != parts[1]:
                continue
            moves.append((f"shocks.{shock.id}.effects.{k}.amount", e.amount))
    return initial, moves


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_no_scenario_input_equals_a_target(path):
    """An initial value, a shock size or an initial value moved by a shock that equals a target's value
    would make the target reproduce an input (e.g. -0.26 from 0.55 is Gallup's 0.29 for Kazakhstan)."""
    scenario = load_scenario(path)
    copies = []
    for ident, t in TARGETS:
        if t.value is None:
            continue
        for ref in references(t.formula):
            initial, moves = _inputs(scenario, ref.actor, ref.measure)
            for name, amount in moves:
                if abs(amount - t.value) <= SAME:  # a shock's size is the observed change
                    copies.append(f"{name} = {amount:g} is target {ident}'s value")
                for v in initial:  # the level after the shock is the observed level
                    if t.since is None and abs(v + amount - t.value) <= SAME:
                        copies.append(f"{name} = {amount:g} from {v:g} gives target {ident}'s value")
            if t.since is None and len(list(references(t.formula))) == 1:
                copies += [
                    f"the initial {ref.measure}[{ref.actor}] = {v:g} is target {ident}'s value"
                    for v in initial
                    if abs(v - t.value) <= SAME and t.period.startswith("2023")
                ]
    assert not copies, "\n".join(copies)


def test_inputs_that_would_copy_targets_are_uncertain():
    """The war's shock to approval of Russia and China's economic trend are estimated, not set."""
    baseline = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    war = next(s for s in baseline.shocks if s.id == "war_opinion")
    opinion_targets = {
        ref.actor for _, t in TARGETS for ref in references(t.formula) if ref.measure == "opinion.russia"
    }
    for k, e in enumerate(war.effects):
        if e.actor in opinion_targets:
            assert f"shocks.war_opinion.effects.{k}.amount" in baseline.uncertainty, e.actor
    assert "actors.china.capacity_trend.economy" in baseline.uncertainty


YEAR = re.compile(r"\b20(2[4-9]|[3-9]\d)\b")
# Every year after 2023 in scenarios/, targets/ and docs/ must be on a line matching one of
# these, with the reason it is not a figure dated after 2023 (data after 2023 are held back).
ALLOWED: list[tuple[str, str, str]] = [
    (
        "docs/validation.md",
        r"^\| \d+ \| 20\d\d-\d\d-\d\d \| ",
        "the date of a version of the patterns file (when it was changed), not an observation",
    ),
    ("scenarios/taiwan_shock.yaml", r"2024", "the hypothetical date of the scenario's shock (month 30)"),
    ("scenarios/baseline.yaml", r"2022-2027", "the simulated span of the scenario, not an observation"),
    ("scenarios/baseline.yaml", r"to 20(32|42)|\"20(33|43)-01\"", "a lease's end, agreed before 2022"),
    ("docs/ODD.md", r"to 20(32|42)|20(32|42)", "a lease's end, agreed before 2022"),
    (
        "docs/ODD.md",
        r"paraphrase of a 2024$",
        "the publication date of the source article (claims, no figures)",
    ),
    ("docs/discover.md", r"2027-03", "a simulated month (month 60) in an example"),
    ("docs/viz.md", r"Month 24 \(2024-03\)", "a simulated month in the browser view"),
    ("docs/targets.md", r"'2030-01' lies outside", "an example of an error message"),
]


def _files() -> list[Path]:
    out = []
    for folder in ("scenarios", "targets", "docs"):
        out += [p for p in sorted((ROOT / folder).rglob("*")) if p.suffix in {".yaml", ".yml", ".md", ".csv"}]
    return out


def test_no_figure_dated_after_2023():
    found = []
    for path in _files():
        rel = path.relative_to(ROOT).as_posix()
        rules = [re.compile(pattern) for file, pattern, _ in ALLOWED if file == rel]
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if YEAR.search(line) and not any(rule.search(line) for rule in rules):
                found.append(f"{rel}:{number}: {line.strip()[:100]}")
    assert not found, "figures dated after 2023 (held back):\n" + "\n".join(found)


def test_the_year_check_can_fail(tmp_path):
    """The check sees a later year in an ordinary line and lets only the allow-listed ones pass."""
    assert YEAR.search("trade in 2024 rose") and YEAR.search("2025-03") and not YEAR.search("2023, 12024")
    rules = [re.compile(p) for f, p, _ in ALLOWED if f == "scenarios/baseline.yaml"]
    assert not any(r.search("# Kyrgyz shares of the 2024 figures") for r in rules)
    assert all(reason for *_, reason in ALLOWED)
