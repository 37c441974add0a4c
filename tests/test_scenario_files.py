"""Reading scenario files: valid files, `extends`, overrides, and precise errors.

Each file in tests/data/broken/ makes one kind of mistake and states the exact
output it must produce in `# expect:` comment lines (file:line: path: message),
so the expectation sits next to the mistake it describes.
"""

from __future__ import annotations

import json
import pickle
import re
import textwrap
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from balancesim.scenario import schema
from balancesim.scenario.files import (
    COMMAND_LINE,
    MAX_PROBLEMS,
    Problem,
    ScenarioError,
    dump_scenario,
    load_scenario,
    parameters_table_markdown,
    parse_overrides,
    replace_parameters_table,
)

DATA = Path(__file__).parent / "data"
BROKEN = DATA / "broken"
MINIMAL = DATA / "minimal.yaml"
DOCS = Path(__file__).parents[1] / "docs" / "scenarios.md"
BROKEN_FILES = sorted(p.name for p in BROKEN.glob("*.yaml"))


def expected_lines(name: str) -> list[str]:
    text = (BROKEN / name).read_text(encoding="utf-8")
    return re.findall(r"^# expect: (.*)$", text, flags=re.MULTILINE)


def problems_of(path: str | Path, **kwargs: object) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, **kwargs)  # type: ignore[arg-type]
    return str(info.value).splitlines()


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ----------------------------------------------------------------- valid files


def test_minimal_scenario_loads() -> None:
    s = load_scenario(MINIMAL)
    assert [a.id for a in s.actors] == ["russia", "china", "turkey", "kazakhstan", "kyrgyzstan"]
    assert [a.kind for a in s.actors] == [
        "great_power",
        "great_power",
        "third_party",
        "regional",
        "regional",
    ]
    assert s.institutions[0].members == ["kazakhstan", "kyrgyzstan"]
    assert s.shocks[0].severity == schema.SeverityRange(low=0.3, high=0.8)
    assert s.parameters.hedging_tension == 2.5
    assert s.start == "2022-03"
    assert schema.reference_problems(s) == []


def test_extends_merges_by_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = write(tmp_path, "base.yaml", MINIMAL.read_text(encoding="utf-8"))
    write(
        tmp_path,
        "child.yaml",
        """\
        extends: base.yaml
        name: Child
        actors:
          - id: china            # override two fields, keep the rest
            attention: 0.3
            tools: {soft: 0.3, economic: 0.6}
          - {id: turkey, remove: true}
          - id: tajikistan       # new: appended
            name: Tajikistan
            kind: regional
            engagement: {russia: {security: 0.8}}
          - id: kazakhstan
            agenda: {development: 0.5}
            engagement: {china: {economy: 0.5}}
        institutions:
          - id: csto
            members: [kyrgyzstan, tajikistan]   # other lists are replaced whole
          - {id: sco, name: SCO, kind: political, leader: china, members: [kazakhstan]}
        shocks:
          - id: border_clash
            month: 9
        parameters: {opinion_weight: 0.3}
        outputs: {months: [6]}
        """,
    )
    (tmp_path / "sub").mkdir()
    grandchild = write(tmp_path, "sub/grandchild.yaml", "extends: ../child.yaml\nreplicates: 2\n")

    monkeypatch.chdir(tmp_path)  # ../child.yaml is outside sub/, but under the current folder
    s = load_scenario(grandchild)
    assert s.name == "Child" and s.replicates == 2 and s.horizon == 36
    assert [a.id for a in s.actors] == ["russia", "china", "kazakhstan", "kyrgyzstan", "tajikistan"]
    china = s.actors[1]
    assert isinstance(china, schema.GreatPower)
    assert china.attention == 0.3
    assert china.threat_perception == 0.3  # inherited from the base
    assert (china.tools.hard, china.tools.economic, china.tools.soft) == (0.1, 0.6, 0.3)
    kaz = s.actors[2]
    assert isinstance(kaz, schema.RegionalState)
    assert kaz.agenda.development == 0.5 and kaz.agenda.regime_security == 0.3
    assert kaz.engagement["china"].economy == 0.5
    assert kaz.engagement["china"].security == 0.1  # nested mapping merged key by key
    assert kaz.engagement["russia"].security == 0.6
    assert [i.id for i in s.institutions] == ["csto", "sco"]
    assert s.institutions[0].members == ["kyrgyzstan", "tajikistan"]
    assert s.institutions[0].satisfaction == {"kyrgyzstan": 0.4}
    assert s.shocks[0].month == 9 and len(s.shocks[0].effects) == 2
    assert s.parameters.opinion_weight == 0.3 and s.parameters.hedging_tension == 2.5
    assert s.outputs.months == [6]
    assert load_scenario(base).name == "Minimal test scenario"  # the base is not changed


def test_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "anchors.yaml",
        """\
        name: Anchors
        actors:
          - &gp {id: russia, name: Russia, kind: great_power, attention: 0.7}
          - {<<: *gp, id: china, name: China}
          - {id: kazakhstan, name: Kazakhstan, kind: regional}
        """,
    )
    s = load_scenario(path)
    assert [(a.id, a.attention) for a in s.partners] == [("russia", 0.7), ("china", 0.7)]


def test_extends_accepts_absolute_paths(tmp_path: Path) -> None:
    path = write(tmp_path, "abs.yaml", f"extends: {MINIMAL.resolve()}\nreplicates: 3\n")
    assert load_scenario(path).replicates == 3


def test_timestamps_stay_text(tmp_path: Path) -> None:
    # `2022-03-01` is a YAML timestamp; scenarios hold dates as text, so it stays
    # text and the reference check (YYYY-MM) reports it, rather than a type error.
    path = write(tmp_path, "date.yaml", f"extends: {MINIMAL.resolve()}\nstart: 2022-03-01\n")
    assert problems_of(path) == [f"{path}:2: start: '2022-03-01' is not a calendar month YYYY-MM"]


# ---------------------------------------------------------------- broken files


def test_there_are_enough_broken_files() -> None:
    assert len(BROKEN_FILES) >= 20
    for name in BROKEN_FILES:
        assert expected_lines(name), f"{name} has no '# expect:' line"


@pytest.mark.parametrize("name", BROKEN_FILES)
def test_broken_file(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BROKEN)  # file names in messages are the paths as given
    assert problems_of(name) == expected_lines(name)


def test_problems_are_structured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BROKEN)
    with pytest.raises(ScenarioError) as info:
        load_scenario("wrong_kind.yaml")
    assert info.value.problems == [
        Problem(
            "wrong_kind.yaml",
            9,
            "actors[2].kind",
            "'superpower' is not one of regional, great_power, third_party",
        )
    ]
    again = pickle.loads(pickle.dumps(info.value))  # e.g. across worker processes
    assert again.problems == info.value.problems and str(again) == str(info.value)


def test_paths_are_shown_as_given() -> None:
    lines = problems_of(BROKEN / "base_error.yaml")
    assert lines[1].startswith(f"{BROKEN / 'base' / 'bad_base.yaml'}:5: ")


def test_many_problems_are_capped(tmp_path: Path) -> None:
    keys = "\n".join(f"  unknown_{i}: 1" for i in range(MAX_PROBLEMS + 30))
    path = write(tmp_path, "many.yaml", f"extends: {MINIMAL.resolve()}\nparameters:\n{keys}\n")
    lines = problems_of(path)
    assert len(lines) == MAX_PROBLEMS + 1
    assert lines[0].startswith(f"{path}:3: parameters.unknown_0: unknown key 'unknown_0'")
    assert lines[-1] == "... and 30 more problem(s)"


def test_file_level_problems(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("name: x\ndescription: " + "a" * (1 << 20) + "\n", encoding="utf-8")
    limit = "it is larger than 1 MiB, the limit for this file"
    assert problems_of(big) == [f"{big}: cannot read the file: {limit}"]
    missing = tmp_path / "missing.yaml"
    assert problems_of(missing) == [f"{missing}: cannot read the file: no such file"]
    directory = "it is a directory, not a regular file"
    assert problems_of(tmp_path) == [f"{tmp_path}: cannot read the file: {directory}"]
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("name: x\ndescription: Türkiye\n".encode("latin-1"))
    assert problems_of(latin) == [f"{latin}:2: not UTF-8 text (byte 0xfc)"]
    tagged = write(tmp_path, "tagged.yaml", "name: x\nhorizon: !!int abc\n")
    assert problems_of(tagged) == [f"{tagged}:2: horizon: 'abc' is not a valid !!int"]
    two = write(tmp_path, "two.yaml", "name: a\n---\nname: b\n")
    assert problems_of(two) == [
        f"{two}:2: syntax error: but found another document "
        "(expected a single document in the stream on line 1)"
    ]


def test_alias_bombs_and_recursive_aliases_are_refused(tmp_path: Path) -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        levels.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")
    bomb = write(tmp_path, "bomb.yaml", "\n".join(levels) + "\n")
    assert problems_of(bomb) == [f"{bomb}: more than 100000 values after expanding YAML aliases"]
    loop = write(tmp_path, "loop.yaml", "name: x\ndescription: &d [*d]\n")
    assert problems_of(loop) == [f"{loop}:2: description[0]: a YAML alias refers to a value that contains it"]


# ------------------------------------------------------------------ overrides


def test_overrides_are_applied_after_merging() -> None:
    s = load_scenario(
        MINIMAL,
        overrides={
            "replicates": 10,
            "parameters.hedging_tension": 0.0,
            "actors.china.attention": 0.3,
            "actors[3].threat": 0.2,
            "relations": {"tension": 0.5},  # a mapping merges into the existing one
            "balance": ["china", "russia"],
        },
    )
    assert s.replicates == 10
    assert s.parameters.hedging_tension == 0.0
    assert s.parameters.engagement_noise == schema.Parameters().engagement_noise
    assert s.actors[1].attention == 0.3
    assert s.actors[3].id == "kazakhstan" and s.actors[3].threat == 0.2  # type: ignore[union-attr]
    assert (s.relations.tension, s.relations.coordination) == (0.5, 0.4)
    assert s.balance_pair == ("china", "russia")


def test_override_problems_name_the_command_line() -> None:
    lines = problems_of(
        MINIMAL,
        overrides={
            "replicates": True,
            "parameters.adjustment_rate": 2,
            "parameters.adjustment_rat": 0.1,
            "actors.uzbekistan.attention": 0.5,
            "seed": float("nan"),
        },
    )
    assert lines == [  # problems in the paths or values stop before validation
        f"{COMMAND_LINE}: actors: 'uzbekistan' is neither an id nor an index in this list "
        "(expected one of: china, kazakhstan, kyrgyzstan, russia, turkey)",
        f"{COMMAND_LINE}: seed: NaN/infinity is not allowed (got nan)",
    ]
    lines = problems_of(
        MINIMAL,
        overrides={
            "replicates": True,
            "parameters.adjustment_rate": 2,
            "parameters.adjustment_rat": 0.1,
        },
    )
    assert lines == [
        f"{COMMAND_LINE}: replicates: expected a whole number, got true (a boolean)",
        f"{COMMAND_LINE}: parameters.adjustment_rate: 2 is above the maximum 1",
        f"{COMMAND_LINE}: parameters.adjustment_rat: unknown key 'adjustment_rat' "
        "(did you mean 'adjustment_rate'?)",
    ]


def test_parse_overrides() -> None:
    assert parse_overrides(
        [
            "replicates=10",
            "parameters.hedging_tension=0.5",
            "description=a b c",
            "balance=[china, russia]",
            "sweep=",
            "name='Taiwan: the long crisis'",
        ]
    ) == {
        "replicates": 10,
        "parameters.hedging_tension": 0.5,
        "description": "a b c",
        "balance": ["china", "russia"],
        "sweep": None,
        "name": "Taiwan: the long crisis",
    }
    with pytest.raises(ScenarioError) as info:
        parse_overrides(["replicates", "seed=.inf", "x=!!python/name:os.system", "balance=[a, .nan]"])
    assert str(info.value).splitlines() == [
        f"{COMMAND_LINE}: 'replicates': expected PATH=VALUE",
        f"{COMMAND_LINE}: seed: NaN/infinity is not allowed (got .inf)",
        f"{COMMAND_LINE}: x: YAML tag '!!python/name:os.system' is not allowed: "
        "scenario files hold plain data only",
        f"{COMMAND_LINE}: balance[1]: NaN/infinity is not allowed (got .nan)",
    ]


# ---------------------------------------------------------------------- dumping


def test_dump_round_trips(tmp_path: Path) -> None:
    s = load_scenario(MINIMAL, overrides={"actors.turkey.name": "yes"})
    text = dump_scenario(s)
    data = YAML(typ="safe", pure=True).load(text)
    json.dumps(data, allow_nan=False)  # plain, JSON-compatible data
    assert "name: 'yes'" in text  # quoted, so YAML 1.1 readers keep it text
    assert list(data)[:3] == ["name", "description", "horizon"]  # the schema's order
    path = tmp_path / "resolved.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_scenario(path) == s


# ------------------------------------------------------------------------- docs


def test_docs_parameters_table_is_current() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert replace_parameters_table(text) == text, (
        "docs/scenarios.md is out of date; regenerate it with: .venv/bin/python -c "
        '"from balancesim.scenario.parameters_doc import update_parameters_doc; update_parameters_doc()"'
    )
    assert parameters_table_markdown() in text
    for name, f in schema.Parameters.model_fields.items():
        assert f"| `{name}` | {f.default:g} |" in text


@pytest.mark.parametrize(
    "model",
    [
        schema.Scenario,
        schema.Relations,
        schema.Outputs,
        schema.RegionalState,
        schema.Agenda,
        schema.DomainValues,
        schema.GreatPower,
        schema.ThirdParty,
        schema.ToolMix,
        schema.Institution,
        schema.Shock,
        schema.SeverityRange,
        schema.Effect,
    ],
    ids=lambda m: m.__name__,
)
def test_docs_mention_every_key(model: type[schema.Strict]) -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [name for name in model.model_fields if f"`{name}`" not in text]
    assert not missing, f"docs/scenarios.md does not describe {model.__name__} keys {missing}"


def test_docs_mention_every_enum_value() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for enum in (schema.ShockVariable, schema.Change, schema.InstitutionKind):
        for member in enum:
            assert f"`{member.value}`" in text, f"docs/scenarios.md lacks {enum.__name__} {member}"


def test_docs_example_is_valid(tmp_path: Path) -> None:
    text = DOCS.read_text(encoding="utf-8")
    example = text.split("## A small example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    s = load_scenario(write(tmp_path, "example.yaml", example))
    assert [a.id for a in s.actors] == ["russia", "china", "kazakhstan"]


def test_parsed_files_are_reused_without_sharing_changes(tmp_path: Path) -> None:
    from balancesim.scenario import yaml_reader as scenario_yaml

    path = write(tmp_path, "s.yaml", f"extends: {MINIMAL.resolve()}\nparameters: {{lock_in: 2}}\n")
    changed = load_scenario(path, {"parameters.hedging_tension": 1.0, "actors.china.attention": 0.3})
    assert (str(path), path.read_text()) in scenario_yaml._PARSED  # the next load skips the parser
    again = load_scenario(path)
    assert changed.parameters.hedging_tension == 1.0 and again.parameters.hedging_tension == 2.5
    assert again.actors[1].attention == 0.5 and again.parameters.lock_in == 2
    path.write_text(f"extends: {MINIMAL.resolve()}\nparameters: {{lock_in: 4}}\n")
    assert load_scenario(path).parameters.lock_in == 4


# ----------------------------------------------------- what `extends:` may name


def _extends(tmp_path: Path, target: str | Path) -> Path:
    return write(tmp_path, "child.yaml", f"extends: '{target}'\nname: x\n")


def test_extends_never_waits_on_a_fifo_a_device_or_stdin(tmp_path: Path) -> None:
    """A FIFO without a writer, /dev/stdin or a device would block or stream: refused before opening."""
    import os

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    cases = {
        str(fifo): "it is a named pipe (FIFO), not a regular file",
        "/dev/zero": "it is outside the scenario's folder",  # refused before it is looked at
        str(tmp_path): "it is a directory, not a regular file",
    }
    if Path("/dev/stdin").exists():
        cases["/dev/stdin"] = "it is outside the scenario's folder"
    for target, reason in cases.items():
        child = _extends(tmp_path, target)
        (line,) = problems_of(child)
        assert line.startswith(f"{child}:1: extends: cannot read '{target}': ") and reason in line


def test_extends_through_a_symlink_loop_is_one_clean_problem(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    child = _extends(tmp_path, "a.yaml")
    assert problems_of(child) == [
        f"{child}:1: extends: cannot read 'a.yaml': too many levels of symbolic links (a symlink loop?)"
    ]


def test_errors_about_a_file_named_by_extends_quote_only_an_excerpt(tmp_path: Path) -> None:
    """A base that is someone else's text (/etc/passwd, a log): the message shows 80 characters at most."""
    secret = "\n".join(f"user{i}:x:{i}:{i}:secret-{i}:/home/user{i}:/bin/sh" for i in range(200))
    base = write(tmp_path, "passwd", secret + "\n")
    child = _extends(tmp_path, base)
    (line,) = problems_of(child)
    assert "user0:x:0:0" in line and "secret-2" not in line
    assert len(line) < len(str(base)) + 200
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x7fELF" + bytes(range(256)) * 10)
    (line,) = problems_of(_extends(tmp_path, binary))
    assert len(line) < 200 and "not UTF-8" in line
    huge = write(tmp_path, "huge.yaml", "name: " + "a" * (2 << 20) + "\n")
    (line,) = problems_of(_extends(tmp_path, huge))
    assert line.endswith("it is larger than 1 MiB, the limit for this file")
    long_key = write(tmp_path, "keys.yaml", f"{'k' * 5000}: 1\n{'k' * 5000}: 2\n")
    lines = problems_of(long_key)
    assert all(len(x) < 400 for x in lines)


# ------------------------------------------------------ text that is not text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"a\\ud800b"', "contains a lone surrogate U+D800"),
        ('"\\udfff"', "contains a lone surrogate U+DFFF"),
        ('"a\\x1b]8;;file:///etc/passwd\\x1b\\\\b"', "contains the control character U+001B"),
        ('"bell\\a"', "contains the control character U+0007"),
    ],
)
def test_lone_surrogates_and_control_characters_are_located_problems(
    tmp_path: Path, value: str, message: str
) -> None:
    path = write(tmp_path, "s.yaml", f"extends: {MINIMAL}\ndescription: ok\nname: {value}\n")
    (line,) = problems_of(path)
    assert line.startswith(f"{path}:3: name: {message}")
    key = write(tmp_path, "k.yaml", f"extends: {MINIMAL}\nparameters:\n  {value}: 1\n")
    (line,) = problems_of(key)
    assert line.startswith(f"{key}:3: parameters: a key {message}")


def test_surrogates_from_the_command_line_are_problems() -> None:
    """A byte that is not UTF-8 on the command line arrives as a surrogate escape."""
    with pytest.raises(ScenarioError) as info:
        parse_overrides(["name=caf\udce9"])
    assert "lone surrogate U+DCE9" in str(info.value)
    with pytest.raises(ScenarioError) as info:
        load_scenario(MINIMAL, {"name": "x\udce9"})
    assert str(info.value).startswith(f"{COMMAND_LINE}: name: contains a lone surrogate U+DCE9")


def test_invalid_utf8_anywhere_is_located(tmp_path: Path) -> None:
    for i, bad in enumerate([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]):
        path = tmp_path / f"b{i}.yaml"
        path.write_bytes(b"name: x\nhorizon: 12\ndescription: a" + bad + b"b\n")
        (line,) = problems_of(path)
        assert line.startswith(f"{path}:3: not UTF-8 text (byte 0x")


def test_defended_is_for_attacks_that_happened(tmp_path: Path) -> None:
    """An attack's recorded answer (`defended`) needs an attack of a scheduled shock: one line each."""
    write(tmp_path, "base.yaml", MINIMAL.read_text(encoding="utf-8"))
    random = write(
        tmp_path,
        "random.yaml",
        """\
        extends: base.yaml
        shocks:
          - id: raid
            name: Raid
            probability: 0.1
            effects: [{variable: attack, actor: kyrgyzstan, amount: 0.3, defended: false}]
        """,
    )
    (problem,) = problems_of(random)
    assert "random.yaml:3: shocks[1]" in problem and "needs a scheduled shock" in problem
    threat = write(
        tmp_path,
        "threat.yaml",
        """\
        extends: base.yaml
        shocks:
          - id: raid
            name: Raid
            month: 3
            effects: [{variable: threat, actor: kyrgyzstan, amount: 0.3, defended: false}]
        """,
    )
    (problem,) = problems_of(threat)
    assert "threat.yaml:" in problem and "'defended' is for an attack only" in problem
    ok = write(tmp_path, "ok.yaml", threat.read_text().replace("variable: threat", "variable: attack"))
    assert load_scenario(ok).shocks[-1].effects[0].defended is False
