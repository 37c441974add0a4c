"""Scenario data that remembers where it was written, and problems located in files.

The loader (scenario_yaml.py) turns YAML into trees of `Node`s, each carrying
the file and line (`Src`) it was written on. Merging `extends:` keeps every
value's origin, so any later problem (a schema error, a bad reference) is
reported at the line a person has to change, as a `Problem`:

    taiwan_shock.yaml:14: actors[2].kind: 'superpower' is not one of regional, ...

`ScenarioError` carries every problem found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from balancesim.scenario.schema import Location

MAX_PROBLEMS = 50  # beyond this the list stops helping
COMMAND_LINE = "<command line>"  # the file name given to problems in `overrides`


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario, located in the file that caused it.

    `file` is the path as given (bases: relative to the extending file's path,
    `COMMAND_LINE` for overrides); `line` is 1-based, or None when the problem
    is about the whole file; `path` is the location in the scenario, e.g.
    `actors[2].kind` ("" when the problem has none, e.g. a syntax error).
    """

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(Exception):
    """A scenario could not be loaded; `problems` lists every problem found.

    `str(err)` gives one line per problem (`file:line: path: message`), ready
    for stderr. At most `MAX_PROBLEMS` are kept; `omitted` counts the rest.
    """

    def __init__(self, problems: list[Problem], omitted: int = 0) -> None:
        super().__init__(problems, omitted)  # keeps the exception picklable
        self.problems = list(problems)
        self.omitted = omitted

    def __str__(self) -> str:
        lines = [str(p) for p in self.problems]
        if self.omitted:
            lines.append(f"... and {self.omitted} more problem(s)")
        return "\n".join(lines)


# ------------------------------------------------------------------ located values


@dataclass(frozen=True, slots=True)
class Src:
    file: str
    line: int | None


@dataclass(slots=True)
class Node:
    """A YAML value with where it came from.

    `value` is a dict of `Node`s, a list of `Node`s or a plain scalar. `src`
    is where the value starts; `key_src` where its key is (None for list
    items). `raw` is the scalar's text as written, so messages can quote it.
    """

    value: Any
    src: Src
    key_src: Src | None = None
    raw: str | None = None

    @property
    def where(self) -> Src:
        # The key's line is what a reader looks for, also for block values
        # whose first line is below the key.
        return self.key_src or self.src


def plain(node: Node) -> Any:
    """The plain data (dicts, lists, scalars) of a located tree."""
    if isinstance(node.value, dict):
        return {k: plain(v) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [plain(v) for v in node.value]
    return node.value


def _child(node: Node, part: str | int) -> Node | None:
    if isinstance(node.value, dict) and isinstance(part, str):
        return node.value.get(part)
    if isinstance(node.value, list) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]
    return None


def locate(tree: Node, loc: Location) -> Src:
    """Where the value at `loc` was written; its nearest ancestor if it is missing."""
    node = tree
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
    return node.where


def node_at(tree: Node, loc: Location) -> Node | None:
    node: Node | None = tree
    for part in loc:
        node = _child(node, part) if node is not None else None
    return node
