"""Reading scenario files: the public API (`load_scenario`, `parse_overrides`, `dump_scenario`).

`scenario.py` says what a valid scenario is; this module turns a file a person
wrote into a `Scenario` and, when that fails, says exactly where and why:

    taiwan_shock.yaml:14: actors[2].kind: 'superpower' is not one of regional, ...

How it works, and where:

* scenario_yaml.py reads the YAML into a tree of located values (located.py),
  with `extends:` merged and overrides applied; every value keeps its file and
  line, and unsafe or oversized YAML is refused there.
* Validation (here) runs pydantic in strict JSON mode: like YAML, JSON has no
  enums, so strings are accepted for enums, but `true` or `'0.5'` are *not*
  numbers (lax mode would quietly turn `yes` into 1.0). pydantic's errors are
  explained by schema_messages.py and mapped back through the merged tree to
  file and line.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.representer import SafeRepresenter

from balancesim.scenario.located import (
    COMMAND_LINE,
    MAX_PROBLEMS,
    Node,
    Problem,
    ScenarioError,
    Src,
    locate,
    plain,
)
from balancesim.scenario.messages import explain
from balancesim.scenario.parameters_doc import (
    DOCS_PATH,
    parameters_table_markdown,
    replace_parameters_table,
    update_parameters_doc,
)
from balancesim.scenario.paths import split_path
from balancesim.scenario.schema import Location, Scenario
from balancesim.scenario.text import MAX_FILE_BYTES, describe_value, excerpt, text_problem
from balancesim.scenario.uncertainty import scenario_problems
from balancesim.scenario.yaml_reader import Loader

__all__ = [
    "COMMAND_LINE",
    "DOCS_PATH",
    "MAX_FILE_BYTES",
    "MAX_PROBLEMS",
    "Problem",
    "ScenarioError",
    "compared_with",
    "dump_scenario",
    "load_scenario",
    "parameters_table_markdown",
    "parse_overrides",
    "replace_parameters_table",
    "update_parameters_doc",
]


# ------------------------------------------------------------------------ public API


def load_scenario(
    path: str | Path, overrides: dict[str, Any] | None = None, within: tuple[Path, ...] | None = None
) -> Scenario:
    """Read, merge (`extends:`), override and validate a scenario file.

    `overrides` maps dotted paths to values, e.g. `{"replicates": 10,
    "parameters.hedging_tension": 0.0, "actors.china.attention": 0.3}`; they are
    applied after merging and checked like file values (problems name the file
    `COMMAND_LINE`). An override fixes its value: a prior of that PATH (in
    `uncertainty:`) is dropped. `within` are the folders `extends:` may name
    files in (default: `scenario_folders(path)`, the file's folder and the
    current one). Raises `ScenarioError` listing every problem found.
    """
    loader = Loader(within)
    tree = loader.load_root(path)
    loader.fail_if_any()
    assert tree is not None  # no problems means a tree
    for dotted, value in (overrides or {}).items():
        loader.apply_override(tree, dotted, value)
        _drop_priors(tree, dotted)
    loader.fail_if_any()
    compare = tree.value.get("compare_with") if isinstance(tree.value, dict) else None
    scenario = _validate(loader, tree)
    scenario.set_sources(loader.extends, _compare_file(compare))
    if scenario.posterior is not None and overrides:  # an override fixes its value, as for priors
        scenario.set_posterior(scenario.posterior.without(list(overrides)))
    return scenario


def _compare_file(node: Node | None) -> str | None:
    """`compare_with: FILE` as a path relative to the file that says it (None: unset or `none`)."""
    if node is None or not isinstance(node.value, str) or node.value.strip().lower() == "none":
        return None
    if Path(node.value).is_absolute() or node.src.file == COMMAND_LINE:
        return node.value
    return os.path.normpath(os.path.join(os.path.dirname(node.src.file), node.value))


# What a scenario may change without being a different world: its label, run size and reports.
PRESENTATION = ("name", "description", "seed", "replicates", "outputs", "sweep", "compare_with", "until")


def compared_with(scenario: Scenario) -> str | None:
    """The scenario file `scenario` is compared with by default, or None.

    `compare_with: FILE` names it; `compare_with: none` asks for none; unset,
    it is the file the scenario `extends`, when the scenario changes anything
    that is simulated (its actors, shocks, parameters, priors...), not only
    its name or run size. Raises ScenarioError when that file does not load.
    """
    if scenario.compare_file is not None:
        return str(scenario.compare_file)
    if scenario.compare_with is not None or scenario.extends is None:
        return None
    base = load_scenario(scenario.extends)
    mine = scenario.model_dump(mode="json", exclude=set(PRESENTATION) | {"horizon"})
    theirs = base.model_dump(mode="json", exclude=set(PRESENTATION) | {"horizon"})
    return None if mine == theirs else str(scenario.extends)


def _drop_priors(tree: Node, dotted: str) -> None:
    """An override fixes its value: it removes the priors of that PATH and of the values under it."""
    priors = tree.value.get("uncertainty") if isinstance(tree.value, dict) else None
    parts = split_path(dotted)
    if priors is None or not isinstance(priors.value, dict) or parts is None:
        return
    for key in list(priors.value):
        prior_parts = split_path(key)
        if prior_parts is not None and prior_parts[: len(parts)] == parts:
            del priors.value[key]


def _validate(loader: Loader, tree: Node) -> Scenario:
    """The Scenario, or raise with every schema and reference problem located."""
    priors = tree.value.get("uncertainty") if isinstance(tree.value, dict) else None
    posterior = None
    if priors is not None and isinstance(priors.value, dict):
        # `PATH: null` removes a prior inherited through `extends:`.
        priors.value = {k: v for k, v in priors.value.items() if v.value is not None}
        # `posterior: DIR` is not a prior: a calibration's weighted draws (calibration/posterior.py).
        posterior = priors.value.pop("posterior", None)
    data = plain(tree)
    try:
        scenario = Scenario.model_validate_json(
            json.dumps(data, allow_nan=False),
            strict=True,
            context={"defer_references": True},
        )
    except ValidationError as e:
        for loc, message in explain(e.errors(include_url=False), tree):
            loader.add(locate(tree, loc), loc, message)
        raise loader.error() from None
    for loc, message in scenario_problems(scenario):
        loader.add(locate(tree, loc), loc, message)
    loader.fail_if_any()
    if posterior is not None:
        _attach_posterior(loader, scenario, posterior)
    return scenario


def _attach_posterior(loader: Loader, scenario: Scenario, node: Node) -> None:
    """Read `uncertainty: {posterior: DIR}` (DIR relative to the file that says it) and check it."""
    from balancesim.scenario.posterior import PosteriorError, read_posterior

    loc: Location = ("uncertainty", "posterior")
    if not isinstance(node.value, str) or not node.value.strip():
        loader.add(node.src, loc, f"expected a folder (text), got {describe_value(node.value, node.raw)}")
        loader.fail_if_any()
    folder = Path(node.value)
    if not folder.is_absolute():
        folder = Path(node.src.file).parent / folder
    try:
        scenario.set_posterior(read_posterior(folder, scenario))
    except PosteriorError as e:
        for line in str(e).splitlines():
            loader.add(node.src, loc, line)
        loader.fail_if_any()


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """`["replicates=10", "parameters.hedging_tension=0.5"]` -> an overrides dict.

    Values are read as YAML flow values (`0.5`, `true`, `[a, b]`, `{x: 1}`, text),
    so the command line follows the same rules as files (for a `PATH=VALUE` option).
    """
    loader = Loader()
    result: dict[str, Any] = {}
    for item in items:
        dotted, sep, text = item.partition("=")
        dotted = dotted.strip()
        if not sep or not dotted:
            loader.add(Src(COMMAND_LINE, None), "", f"'{excerpt(item)}': expected PATH=VALUE")
            continue
        problem = text_problem(dotted, allowed="") or text_problem(text)
        if problem is not None:
            loader.add(Src(COMMAND_LINE, None), excerpt(dotted), problem)
            continue
        if not text.strip():
            result[dotted] = None
            continue
        before = len(loader.problems)
        root = loader.compose(COMMAND_LINE, text)
        node = loader.convert(root, COMMAND_LINE) if root is not None else None
        if node is not None and len(loader.problems) == before:
            result[dotted] = plain(node)
        # A "line" of the value text means nothing here: name the setting instead.
        loader.problems[before:] = [
            Problem(COMMAND_LINE, None, _join_path(dotted, p.path), p.message)
            for p in loader.problems[before:]
        ]
    loader.fail_if_any()
    return result


def _join_path(dotted: str, sub: str) -> str:
    if not sub:
        return dotted
    return dotted + sub if sub.startswith("[") else f"{dotted}.{sub}"


class _DumpRepresenter(SafeRepresenter):
    """Quotes strings that a YAML 1.1 reader (PyYAML) would take for booleans."""

    _YAML11_SPECIAL = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"})

    def represent_str(self, data: str) -> Any:
        if data.lower() in self._YAML11_SPECIAL:
            return self.represent_scalar("tag:yaml.org,2002:str", data, style="'")
        return super().represent_str(data)


_DumpRepresenter.add_representer(str, _DumpRepresenter.represent_str)


def dump_scenario(scenario: Scenario) -> str:
    """The resolved scenario as YAML text: plain, JSON-compatible data with every
    default filled in and `extends` already applied, so a run's manifest records
    exactly what was simulated and `load_scenario` can read it back unchanged."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Representer = _DumpRepresenter
    yaml.default_flow_style = False
    # keep the schema's order; ruamel.yaml declares the attribute as None, not bool
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.width = 100
    out = io.StringIO()
    yaml.dump(scenario.model_dump(mode="json"), out)
    return out.getvalue()
