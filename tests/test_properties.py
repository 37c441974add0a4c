"""Property-based tests: whatever a file or an option holds, the answer is a scenario or a clean error.

Hypothesis mutates a valid scenario file (its bytes, its text, its keys,
values, types and nesting) and the `--set PATH=VALUE` and sweep `--param
PATH=SPEC` strings. The loader must return a `Scenario` or raise
`ScenarioError` whose every line is a located message; the command line must
exit 0 or 2 with no traceback. Nothing else (no other exception, no exit 1, no
hang) is allowed.

The number of examples is bounded so the suite stays quick; set
BALANCESIM_HYPOTHESIS_EXAMPLES=1000 for a longer search.
"""

from __future__ import annotations

import copy
import io
import os
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from balancesim.cli.main import main
from balancesim.scenario.files import COMMAND_LINE, ScenarioError, load_scenario, parse_overrides
from balancesim.scenario.schema import Scenario

from .conftest import ROOT

MINIMAL = ROOT / "tests" / "data" / "minimal.yaml"
TEXT = MINIMAL.read_text(encoding="utf-8")
TREE = YAML(typ="safe", pure=True).load(TEXT)
EXAMPLES = int(os.environ.get("BALANCESIM_HYPOTHESIS_EXAMPLES", "60"))

# No example database (nothing written into the checkout), no deadline (the
# machine is shared), and tmp_path reused across examples on purpose.
quick = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
few = settings(quick, max_examples=max(10, EXAMPLES // 3))

# Any character at all, lone surrogates and control characters included.
ANY_CHAR = st.characters(codec=None, exclude_categories=())
texts = st.text(ANY_CHAR, max_size=30) | st.sampled_from(
    [
        "",
        "0.5",
        "true",
        "yes",
        "~",
        "null",
        "[",
        "{a: 1",
        "1e999",
        ".nan",
        "-0",
        "actors",
        "$x^$",
        "[/]",
        "\ud800",
    ]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | texts
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)

LOCATED = re.compile(r"^(?:.+?)(?::\d+)?: .+$|^\.\.\. and \d+ more problem\(s\)$")


def assert_clean(error: ScenarioError) -> None:
    lines = str(error).splitlines()
    assert lines, "an error without a message"
    for line in lines:
        assert LOCATED.match(line), line
        assert len(line) < 600, line  # quotes an excerpt, never a whole value or file
        assert "Traceback" not in line


def load_or_clean_error(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario | None:
    try:
        return load_scenario(path, overrides)
    except ScenarioError as e:
        assert_clean(e)
        return None


# ------------------------------------------------------------ mutating the tree


def _containers(node: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, dict | list):
                found += _containers(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            if isinstance(v, dict | list):
                found += _containers(v, (*path, i))
    return found


def _at(tree: Any, path: tuple) -> Any:
    for part in path:
        tree = tree[part]
    return tree


@st.composite
def mutated_trees(draw: st.DrawFn) -> Any:
    """The minimal scenario with 1-4 random edits: replace, delete, add or wrap a value."""
    tree = copy.deepcopy(TREE)
    for _ in range(draw(st.integers(1, 4))):
        places = _containers(tree)
        container = _at(tree, draw(st.sampled_from(places)))
        keys = list(container) if isinstance(container, dict) else list(range(len(container)))
        op = draw(st.sampled_from(["replace", "delete", "add", "wrap", "retype"]))
        if op == "add" or not keys:
            if isinstance(container, dict):
                container[draw(texts)] = draw(values)
            else:
                container.append(draw(values))
            continue
        key = draw(st.sampled_from(keys))
        if op == "replace":
            container[key] = draw(values)
        elif op == "delete":
            del container[key]
        elif op == "wrap":
            container[key] = draw(st.sampled_from([[container[key]], {"x": container[key]}]))
        else:  # the same value as another type
            old = container[key]
            container[key] = draw(st.sampled_from([str(old), [old], None, 1, 0.5, True]))
    return tree


def _dump(tree: Any) -> str | None:
    yaml = YAML(typ="safe", pure=True)
    out = io.StringIO()
    try:
        yaml.dump(tree, out)
    except Exception:  # a value YAML cannot write (e.g. some surrogates): not a file anyone has
        return None
    return out.getvalue()


@quick
@given(tree=mutated_trees())
def test_any_mutated_tree_loads_or_fails_cleanly(tmp_path: Path, tree: Any) -> None:
    text = _dump(tree)
    assume(text is not None)
    path = tmp_path / "mutated.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    load_or_clean_error(path)


# ------------------------------------------------------------ mutating the bytes


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    """The minimal file's bytes with random bytes or text inserted, deleted or overwritten."""
    data = bytearray(TEXT.encode())
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert-bytes", "insert-text", "delete", "flip"]))
        if op == "insert-bytes":
            data[at:at] = draw(st.binary(max_size=12))
        elif op == "insert-text":
            data[at:at] = draw(texts).encode("utf-8", "surrogatepass")
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
    return bytes(data)


@quick
@given(data=mutated_bytes())
def test_any_mutated_file_loads_or_fails_cleanly(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bytes.yaml"
    path.write_bytes(data)
    load_or_clean_error(path)


@few
@given(data=st.binary(max_size=300))
def test_random_bytes_fail_cleanly(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "random.yaml"
    path.write_bytes(data)
    assert load_or_clean_error(path) is None


# -------------------------------------------------------------- --set and --param

PATHS = st.sampled_from(
    [
        "horizon",
        "replicates",
        "seed",
        "name",
        "parameters.hedging_tension",
        "parameters",
        "actors.china.attention",
        "actors[1].capacity.security",
        "actors.0",
        "actors",
        "institutions.csto.members",
        "shocks.border_clash.severity",
        "shocks.border_clash.month",
        "relations.tension",
        "outputs.months",
        "a..b",
        "actors[99].x",
        "",
    ]
) | st.text(ANY_CHAR, max_size=20)
SETTINGS = st.builds(lambda p, sep, v: f"{p}{sep}{v}", PATHS, st.sampled_from(["=", "", "=="]), texts)


@quick
@given(items=st.lists(SETTINGS, min_size=1, max_size=3))
def test_any_set_strings_give_a_scenario_or_a_clean_error(items: list[str]) -> None:
    try:
        overrides = parse_overrides(items)
    except ScenarioError as e:
        assert_clean(e)
        assert all(p.file == COMMAND_LINE for p in e.problems)
        return
    load_or_clean_error(MINIMAL, overrides)


SPECS = st.one_of(
    texts,
    st.builds(lambda a, b: f"{a}:{b}", texts, texts),
    st.builds(lambda a, b, c: f"{a}:{b}:{c}", texts, texts, texts),
    st.builds(lambda *v: ",".join(map(str, v)), st.floats(), st.integers(), st.floats()),
    st.builds(lambda a, b, n: f"{a}:{b}:{n}", st.floats(), st.floats(), st.integers(-5, 10**9)),
)
PARAMS = st.builds(lambda p, s: f"{p}={s}", PATHS, SPECS) | texts


@quick
@given(
    params=st.lists(PARAMS, min_size=1, max_size=2), design=st.sampled_from([None, "grid", "lhs", "sobol"])
)
def test_any_param_strings_give_a_plan_or_a_clean_error(params: list[str], design: str | None) -> None:
    from balancesim import sweep as sw

    try:
        given_options = sw.SweepOptions(
            params=tuple(sw.parse_param(p) for p in params), design=design, samples=4, replicates=1
        )
        sw.plan_sweep(str(MINIMAL), given_options, {})
    except ScenarioError as e:
        assert_clean(e)
    except sw.SweepError as e:
        message = str(e)
        assert message and "Traceback" not in message


# ------------------------------------------------------------- the command line


def assert_clean_exit(result: Any, allowed: tuple[int, ...] = (0, 2)) -> None:
    assert result.exit_code in allowed, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


@few
@given(tree=mutated_trees())
def test_check_command_on_mutated_files(tmp_path: Path, tree: Any) -> None:
    text = _dump(tree)
    assume(text is not None)
    path = tmp_path / "cli.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    assert_clean_exit(CliRunner().invoke(main, ["check", str(path)]))


@few
@given(items=st.lists(SETTINGS, min_size=1, max_size=2))
def test_run_command_with_any_set_strings(tmp_path: Path, items: list[str]) -> None:
    args = ["run", str(MINIMAL), "-n", "1", "--no-plots", "--out", str(tmp_path / "out")]
    for item in items:
        args += ["--set", item]
    args += ["--set", "horizon=3", "--set", "replicates=1"]  # keep any valid run tiny
    assert_clean_exit(CliRunner().invoke(main, args))


@few
@given(param=PARAMS)
def test_sweep_command_with_any_param_string(tmp_path: Path, param: str) -> None:
    out = tmp_path / "sweep"
    args = ["sweep", str(MINIMAL), "-p", param, "-n", "1", "--executor", "serial", "--no-plots"]
    args += ["--design", "lhs", "--samples", "2", "--set", "horizon=3", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert_clean_exit(result)
    if out.exists():  # each example starts afresh
        import shutil

        shutil.rmtree(out)
