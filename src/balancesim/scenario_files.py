"""Reading scenario files: YAML with line numbers, `extends:` and precise errors.

`scenario.py` says what a valid scenario is; this module turns a file a person
wrote into a `Scenario` and, when that fails, says exactly where and why:

    taiwan_shock.yaml:14: actors[2].kind: 'superpower' is not one of regional, ...

How it works, and why:

* The YAML is *composed* (not constructed) with ruamel.yaml's pure safe loader,
  so every value keeps its line and no YAML tag can build a Python object. The
  node tree is converted by hand into `_Node`s carrying (file, line): that is
  where duplicate keys, tags, NaN/infinity and alias bombs are caught.
* `extends: base.yaml` loads the base first and deep-merges the file over it;
  every value keeps the file it came from, so an error in an inherited value
  points into the base file.
* Validation runs pydantic in strict JSON mode: like YAML, JSON has no enums, so
  strings are accepted for enums, but `true` or `'0.5'` are *not* numbers (lax
  mode would quietly turn `yes` into 1.0). pydantic's error locations are then
  mapped back through the merged tree to file and line.
"""

from __future__ import annotations

import io
import json
import math
import numbers
import os
import re
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.nodes import Node as YamlNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.representer import SafeRepresenter

from balancesim.paths import key_of, split_path
from balancesim.scenario import (
    Location,
    Parameters,
    Scenario,
    did_you_mean,
    format_location,
    reference_problems,
)
from balancesim.scenario_text import (
    MAX_FILE_BYTES,
    excerpt,
    key_problem,
    os_reason,
    read_capped,
    text_problem,
)

__all__ = [
    "COMMAND_LINE",
    "MAX_FILE_BYTES",
    "MAX_PROBLEMS",
    "Problem",
    "ScenarioError",
    "dump_scenario",
    "load_scenario",
    "parameters_table_markdown",
    "parse_overrides",
    "replace_parameters_table",
    "update_parameters_doc",
]

MAX_PROBLEMS = 50  # beyond this the list stops helping
MAX_VALUES = 100_000  # values per file after alias expansion (stops "billion laughs")
MAX_EXTENDS_DEPTH = 16
ID_LISTS = ("actors", "institutions", "assets", "shocks")  # top-level lists merged by `id`
COMMAND_LINE = "<command line>"  # the file name given to problems in `overrides`

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null")}
_TIMESTAMP = f"{_CORE}timestamp"  # kept as its text: scenario dates are strings
_MERGE = f"{_CORE}merge"
_IDENTIFIER_PATTERN = r"^[a-z][a-z0-9_]*$"


# --------------------------------------------------------------------------- errors


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
class _Src:
    file: str
    line: int | None


@dataclass(slots=True)
class _Node:
    """A YAML value with where it came from.

    `value` is a dict of `_Node`s, a list of `_Node`s or a plain scalar. `src`
    is where the value starts; `key_src` where its key is (None for list
    items). `raw` is the scalar's text as written, so messages can quote it.
    """

    value: Any
    src: _Src
    key_src: _Src | None = None
    raw: str | None = None

    @property
    def where(self) -> _Src:
        # The key's line is what a reader looks for, also for block values
        # whose first line is below the key.
        return self.key_src or self.src


def _plain(node: _Node) -> Any:
    if isinstance(node.value, dict):
        return {k: _plain(v) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [_plain(v) for v in node.value]
    return node.value


def _describe(value: Any, raw: str | None = None) -> str:
    """How a value is quoted in messages: 'text', 0.3, true (a boolean), a mapping."""
    if isinstance(value, bool):
        return f"{raw or str(value).lower()} (a boolean)"
    if value is None:
        return raw if raw not in (None, "") else "null"
    if isinstance(value, str):
        return f"'{excerpt(value, 40)}'"
    if isinstance(value, int | float):
        return raw if raw is not None else _number(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _number(x: float) -> str:
    """A limit or value as people write it: 1 not 1.0, 0.25, 10000000."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return str(x) if isinstance(x, int) else repr(x)


# ------------------------------------------------------------------------- loading


class _Loader:
    """Collects problems while reading, merging and validating one scenario."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.files: list[str] = []  # in the order met, to sort problems by file
        self.values = 0

    def add(self, src: _Src, path: Location | str, message: str) -> None:
        text = path if isinstance(path, str) else (format_location(path) if path else "")
        self.problems.append(Problem(src.file, src.line, text, message))

    def fail_if_any(self) -> None:
        if self.problems:
            raise self.error()

    def error(self) -> ScenarioError:
        rank = {f: i for i, f in enumerate([*self.files, COMMAND_LINE])}
        unique = list(dict.fromkeys(self.problems))
        unique.sort(key=lambda p: (rank.get(p.file, len(rank)), p.line or 0))
        return ScenarioError(unique[:MAX_PROBLEMS], max(0, len(unique) - MAX_PROBLEMS))

    # -- reading and parsing one file

    def read(self, display: str, real: Path, referrer: tuple[_Node, str] | None) -> str | None:
        """The file's text, or None after adding a problem (at `referrer`, if a base)."""
        if display not in self.files:
            self.files.append(display)
        try:
            data = read_capped(real, regular_only=referrer is not None)
        except OSError as e:
            reason = os_reason(e)
            if referrer is None:
                self.add(_Src(display, None), "", f"cannot read the file: {reason}")
            else:
                node, name = referrer
                self.add(node.where, ("extends",), f"cannot read '{excerpt(name)}': {reason}")
            return None
        if len(data) > MAX_FILE_BYTES:
            self.add(_Src(display, None), "", "the file is larger than 1 MiB, the limit for scenarios")
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            self.add(_Src(display, line), "", f"not UTF-8 text (byte 0x{data[e.start]:02x})")
            return None

    def compose(self, display: str, text: str) -> YamlNode | None:
        """The YAML node tree (no Python objects built), or None after a problem."""
        yaml = YAML(typ="safe", pure=True)
        try:
            root = yaml.compose(text)
        except MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            message = f"syntax error: {e.problem or e.context}"
            if e.context and e.problem and e.context_mark is not None:
                message += f" ({e.context} on line {e.context_mark.line + 1})"
            self.add(_Src(display, mark.line + 1 if mark else None), "", message)
            return None
        except ReaderError as e:  # a character YAML does not allow, e.g. a control character
            line = text[: e.position].count("\n") + 1 if isinstance(e.position, int) else None
            code = e.character if isinstance(e.character, int) else ord(str(e.character)[:1] or "?")
            self.add(
                _Src(display, line), "", f"the character U+{code:04X} is not allowed in YAML ({e.reason})"
            )
            return None
        except YAMLError as e:
            self.add(_Src(display, None), "", f"syntax error: {excerpt(str(e))}")
            return None
        except RecursionError:
            self.add(_Src(display, None), "", "the YAML is nested too deeply")
            return None
        if root is None:
            self.add(_Src(display, None), "", "the file is empty: expected a scenario mapping")
        return root

    def convert(self, node: YamlNode, display: str) -> _Node | None:
        """The located tree of one file; None if it is too big or deep to hold."""
        self.values = 0
        constructor = YAML(typ="safe", pure=True).constructor
        try:
            return self._convert(node, display, (), constructor, set())
        except _TooMany:
            self.add(
                _Src(display, None),
                "",
                f"more than {MAX_VALUES} values after expanding YAML aliases",
            )
        except RecursionError:
            self.add(_Src(display, None), "", "the YAML is nested too deeply")
        return None

    def _convert(
        self, node: YamlNode, display: str, path: Location, constructor: Any, active: set[int]
    ) -> _Node:
        self.values += 1
        if self.values > MAX_VALUES:
            raise _TooMany
        src = _Src(display, node.start_mark.line + 1)
        tag = str(node.tag)
        if isinstance(node, ScalarNode):
            if tag == _TIMESTAMP:
                return _Node(node.value, src, raw=node.value)
            if tag not in _SCALAR_TAGS:
                self.add(src, path, _tag_message(tag))
                return _Node(None, src)
            try:
                value = node.value if tag == f"{_CORE}str" else constructor.construct_object(node)
            except (YAMLError, ValueError, LookupError, TypeError):  # e.g. `!!int abc`
                self.add(src, path, f"'{excerpt(node.value)}' is not a valid {tag.replace(_CORE, '!!')}")
                return _Node(None, src)
            problem = text_problem(value) if isinstance(value, str) else None
            if problem is not None:
                self.add(src, path, problem)
                return _Node(None, src)
            if isinstance(value, float) and not math.isfinite(value):
                self.add(src, path, f"NaN/infinity is not allowed (got {node.value})")
                return _Node(None, src)
            return _Node(value, src, raw=node.value)
        if id(node) in active:  # an alias inside its own anchor: `a: &x [*x]`
            self.add(src, path, "a YAML alias refers to a value that contains it")
            return _Node(None, src)
        active = active | {id(node)}
        if isinstance(node, SequenceNode):
            if tag != f"{_CORE}seq":
                self.add(src, path, _tag_message(tag))
                return _Node(None, src)
            items = [
                self._convert(item, display, (*path, i), constructor, active)
                for i, item in enumerate(node.value)
            ]
            return _Node(items, src)
        if isinstance(node, MappingNode):
            if tag != f"{_CORE}map":
                self.add(src, path, _tag_message(tag))
                return _Node(None, src)
            return self._convert_mapping(node, display, path, constructor, active, src)
        self.add(src, path, "unsupported YAML node")  # pragma: no cover - ruamel has 3 kinds
        return _Node(None, src)

    def _convert_mapping(
        self,
        node: MappingNode,
        display: str,
        path: Location,
        constructor: Any,
        active: set[int],
        src: _Src,
    ) -> _Node:
        entries: dict[str, _Node] = {}
        merged: list[dict[str, _Node]] = []  # from YAML merge keys `<<: *defaults`
        for key_node, value_node in node.value:
            key_src = _Src(display, key_node.start_mark.line + 1)
            if str(key_node.tag) == _MERGE:
                value = self._convert(value_node, display, path, constructor, active)
                sources = value.value if isinstance(value.value, list) else [value]
                for s in sources:
                    if isinstance(s.value, dict):
                        merged.append(s.value)
                    else:
                        self.add(key_src, path, "a merge key '<<' needs a mapping or mappings")
                continue
            if not isinstance(key_node, ScalarNode):
                self.add(key_src, path, "keys must be plain names, not lists or mappings")
                continue
            if str(key_node.tag) not in _SCALAR_TAGS:
                self.add(key_src, path, _tag_message(str(key_node.tag)))
                continue
            key = key_node.value
            problem = key_problem(key) if isinstance(key, str) else None
            if problem is not None:
                self.add(key_src, path, problem)
                continue
            if key in entries:
                first = entries[key].key_src
                self.add(
                    key_src,
                    (*path, key),
                    f"duplicate key '{excerpt(key)}' (first on line {first.line if first else '?'})",
                )
                continue
            child = self._convert(value_node, display, (*path, key), constructor, active)
            child.key_src = key_src
            entries[key] = child
        # Earlier merge sources win over later ones; explicit keys win over all.
        for source in merged:
            for key, child in source.items():
                entries.setdefault(key, child)
        return _Node(entries, src)

    # -- files and `extends`

    def load_tree(
        self,
        display: str,
        real: Path,
        chain: list[tuple[str, Path]],
        referrer: tuple[_Node, str] | None = None,
    ) -> _Node | None:
        """The file's located tree with its bases merged in, or None after a problem."""
        text = self.read(display, real, referrer)
        if text is None:
            return None
        tree = self.parse(display, text)
        if tree is None:
            return None
        ext = tree.value.pop("extends", None)
        if ext is None:
            return tree
        if not isinstance(ext.value, str) or not ext.value.strip():
            self.add(
                ext.where,
                ("extends",),
                f"expected the path of a scenario file, got {_describe(ext.value, ext.raw)}",
            )
            return tree
        name = ext.value
        base_real = real.parent / name
        base_display = os.path.normpath(os.path.join(os.path.dirname(display), name))
        resolved = Path(os.path.realpath(base_real))  # never raises: a symlink loop fails on reading
        if any(resolved == seen for _, seen in chain):
            names = " -> ".join([*(d for d, _ in chain), base_display])
            self.add(ext.where, ("extends",), f"extends cycle: {names}")
            return None
        if len(chain) >= MAX_EXTENDS_DEPTH:
            self.add(ext.where, ("extends",), f"more than {MAX_EXTENDS_DEPTH} files extend each other")
            return None
        base = self.load_tree(base_display, base_real, [*chain, (base_display, resolved)], (ext, name))
        if base is None:
            return None
        if not isinstance(base.value, dict):  # pragma: no cover - load_tree checks
            return tree
        return self.merge(base, tree, ())

    def parse(self, display: str, text: str) -> _Node | None:
        """The located tree of one file's text (a fresh copy: callers change it).

        Parsing is by far the slowest step of loading (a pure-Python YAML
        parser), and programs load the same files many times (validation,
        sweeps), so trees of files that parsed cleanly are kept by their
        name and text.
        """
        key = (display, text)
        cached = _PARSED.get(key)
        if cached is not None:
            _PARSED.move_to_end(key)
            return _copy_tree(cached)
        before = len(self.problems)
        root = self.compose(display, text)
        if root is None:
            return None
        if not isinstance(root, MappingNode):
            what = "a list" if isinstance(root, SequenceNode) else f"'{excerpt(str(root.value))}'"
            self.add(
                _Src(display, root.start_mark.line + 1),
                "",
                f"the top level must be a mapping (name: ..., actors: ...), not {what}",
            )
            return None
        tree = self.convert(root, display)
        if tree is not None and len(self.problems) == before:
            _PARSED[key] = _copy_tree(tree)
            while len(_PARSED) > _PARSED_FILES:
                _PARSED.popitem(last=False)
        return tree

    def merge(self, base: _Node, over: _Node, path: Location) -> _Node:
        """`over` deep-merged onto `base`: mappings by key, `ID_LISTS` by id, else replaced.

        A prior in `uncertainty:` is replaced as a whole: a file that changes a
        prior's distribution must not inherit the base's other fields.
        """
        if len(path) == 2 and path[0] == "uncertainty":
            return over
        if isinstance(base.value, dict) and isinstance(over.value, dict):
            entries = dict(base.value)
            for key, child in over.value.items():
                entries[key] = self.merge(entries[key], child, (*path, key)) if key in entries else child
            return _Node(entries, over.src, over.key_src)
        if (
            len(path) == 1
            and path[0] in ID_LISTS
            and isinstance(base.value, list)
            and isinstance(over.value, list)
        ):
            return self._merge_by_id(base, over, path)
        return over

    def _merge_by_id(self, base: _Node, over: _Node, path: Location) -> _Node:
        items: list[_Node | None] = list(base.value)
        position = {_item_id(item): i for i, item in enumerate(items) if _item_id(item) is not None}
        seen: dict[str, _Node] = {}
        for item in over.value:
            ident = _item_id(item)
            if ident is None:  # validation will say what is missing
                items.append(item)
                continue
            if ident in seen:
                first = seen[ident].where.line
                self.add(
                    item.where,
                    (path[0],),
                    f"'{excerpt(ident)}' appears twice in this list (first on line {first})",
                )
                continue
            seen[ident] = item
            remove = item.value.get("remove")
            if remove is not None:
                if not isinstance(remove.value, bool):
                    self.add(
                        remove.where,
                        (path[0],),
                        f"expected true or false, got {_describe(remove.value, remove.raw)}",
                    )
                    continue
                if remove.value:
                    self._remove(items, position, item, ident, path)
                    continue
                item = _Node(
                    {k: v for k, v in item.value.items() if k != "remove"},
                    item.src,
                    item.key_src,
                )
            if ident in position and items[position[ident]] is not None:
                i = position[ident]
                items[i] = self.merge(items[i], item, (*path, i))  # type: ignore[arg-type]
            else:
                position[ident] = len(items)
                items.append(item)
        return _Node([i for i in items if i is not None], over.src, over.key_src)

    def _remove(
        self,
        items: list[_Node | None],
        position: dict[str, int],
        item: _Node,
        ident: str,
        path: Location,
    ) -> None:
        extra = sorted(set(item.value) - {"id", "remove"})
        if extra:
            self.add(
                item.where,
                (path[0],),
                f"an item with 'remove: true' takes only 'id', not '{extra[0]}'",
            )
        elif ident not in position or items[position[ident]] is None:
            known = [k for k, i in position.items() if items[i] is not None]
            self.add(
                item.where,
                (path[0],),
                f"cannot remove '{excerpt(ident)}': the base scenario has no such id "
                f"({did_you_mean(excerpt(ident), known)})",
            )
        else:
            items[position[ident]] = None

    # -- overrides

    def apply_override(self, tree: _Node, dotted: str, value: Any) -> None:
        """Set one dotted path (`parameters.hedging_tension`, `actors.china.attention`)."""
        src = _Src(COMMAND_LINE, None)
        parts = split_path(dotted)
        if parts is None:
            self.add(src, dotted, "not a valid setting path (use names joined by '.')")
            return
        new = self.from_python(value, src, tuple(parts))
        if new is None:
            return
        new.key_src = src
        node, path = tree, ()
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            key = key_of(node.value, part, _item_id)
            if key is None and isinstance(node.value, list):
                ids = [i for i in map(_item_id, node.value) if i is not None]
                self.add(
                    src,
                    format_location(path),
                    f"'{excerpt(str(part))}' is neither an id nor an index in this list "
                    f"({did_you_mean(str(part), ids)})",
                )
                return
            if key is None:
                self.add(
                    src,
                    dotted,
                    f"cannot set it: {format_location(path)} is "
                    f"{_describe(node.value, node.raw)}, not a mapping or list",
                )
                return
            path = (*path, key)
            child = node.value.get(key) if isinstance(node.value, dict) else node.value[key]
            if last:
                merged = new if child is None else self.merge(child, new, path)
                node.value[key] = merged
            elif child is None or not isinstance(child.value, dict | list):
                if child is not None:  # a scalar: descending would drop its value
                    self.add(
                        src,
                        dotted,
                        f"cannot set it: {format_location(path)} is "
                        f"{_describe(child.value, child.raw)}, not a mapping or list",
                    )
                    return
                child = _Node({}, src, src)
                node.value[key] = child
            node = child  # type: ignore[assignment]

    def from_python(self, value: Any, src: _Src, path: Location) -> _Node | None:
        """A located tree from plain Python data (an override), checked like YAML."""
        if isinstance(value, dict):
            entries = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    self.add(src, path, f"keys must be text, got {k!r}")
                    return None
                child = self.from_python(v, src, (*path, k))
                if child is None:
                    return None
                child.key_src = src
                entries[k] = child
            return _Node(entries, src)
        if isinstance(value, list | tuple):
            items = [self.from_python(v, src, (*path, i)) for i, v in enumerate(value)]
            if any(i is None for i in items):
                return None
            return _Node(items, src)
        if isinstance(value, numbers.Real) and type(value) not in (bool, int, float):
            # numpy scalars (numpy.int64, numpy.float64), as exploratory-modelling tools pass them
            value = int(value) if isinstance(value, numbers.Integral) else float(value)
        if isinstance(value, float) and not math.isfinite(value):
            self.add(src, path, f"NaN/infinity is not allowed (got {value})")
            return None
        if isinstance(value, str) and (problem := text_problem(value)) is not None:
            self.add(src, path, problem)
            return None
        if value is None or isinstance(value, str | int | float):
            return _Node(value, src)
        self.add(src, path, f"expected plain data, got a {type(value).__name__}")
        return None

    # -- validation

    def validate(self, tree: _Node) -> Scenario:
        """The Scenario, or raise with every schema and reference problem located."""
        priors = tree.value.get("uncertainty") if isinstance(tree.value, dict) else None
        posterior = None
        if priors is not None and isinstance(priors.value, dict):
            # `PATH: null` removes a prior inherited through `extends:`.
            priors.value = {k: v for k, v in priors.value.items() if v.value is not None}
            # `posterior: DIR` is not a prior: a calibration's weighted draws (calibration/posterior.py).
            posterior = priors.value.pop("posterior", None)
        data = _plain(tree)
        try:
            scenario = Scenario.model_validate_json(
                json.dumps(data, allow_nan=False),
                strict=True,
                context={"defer_references": True},
            )
        except ValidationError as e:
            for loc, message in _explain(e.errors(include_url=False), tree):
                self.add(_locate(tree, loc), loc, message)
            raise self.error() from None
        for loc, message in reference_problems(scenario):
            self.add(_locate(tree, loc), loc, message)
        self.fail_if_any()
        if posterior is not None:
            self._attach_posterior(scenario, posterior)
        return scenario

    def _attach_posterior(self, scenario: Scenario, node: _Node) -> None:
        """Read `uncertainty: {posterior: DIR}` (DIR relative to the file that says it) and check it."""
        from .calibration.posterior import PosteriorError, read_posterior

        loc: Location = ("uncertainty", "posterior")
        if not isinstance(node.value, str) or not node.value.strip():
            self.add(node.src, loc, f"expected a folder (text), got {_describe(node.value, node.raw)}")
            self.fail_if_any()
        folder = Path(node.value)
        if not folder.is_absolute():
            folder = Path(node.src.file).parent / folder
        try:
            scenario.set_posterior(read_posterior(folder, scenario))
        except PosteriorError as e:
            for line in str(e).splitlines():
                self.add(node.src, loc, line)
            self.fail_if_any()


class _TooMany(Exception):
    pass


_PARSED: OrderedDict[tuple[str, str], _Node] = OrderedDict()  # see `_Loader.parse`
_PARSED_FILES = 64


def _copy_tree(node: _Node) -> _Node:
    """A copy of a located tree whose mappings and lists can be changed freely."""
    value = node.value
    if isinstance(value, dict):
        value = {k: _copy_tree(v) for k, v in value.items()}
    elif isinstance(value, list):
        value = [_copy_tree(v) for v in value]
    return _Node(value, node.src, node.key_src, node.raw)


def _tag_message(tag: str) -> str:
    shown = excerpt(tag.replace(_CORE, "!!"))
    return f"YAML tag '{shown}' is not allowed: scenario files hold plain data only"


def _item_id(item: _Node | None) -> str | None:
    if item is None or not isinstance(item.value, dict):
        return None
    ident = item.value.get("id")
    return ident.value if ident is not None and isinstance(ident.value, str) else None


def _child(node: _Node, part: str | int) -> _Node | None:
    if isinstance(node.value, dict) and isinstance(part, str):
        return node.value.get(part)
    if isinstance(node.value, list) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]
    return None


def _locate(tree: _Node, loc: Location) -> _Src:
    """Where the value at `loc` was written; its nearest ancestor if it is missing."""
    node = tree
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
    return node.where


def _node_at(tree: _Node, loc: Location) -> _Node | None:
    node: _Node | None = tree
    for part in loc:
        node = _child(node, part) if node is not None else None
    return node


# ------------------------------------------------------- pydantic errors -> messages

# Errors that mean "this value has the wrong shape for this type".
_SHAPES = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "none_required": "null",
}


@dataclass
class _Err:
    type: str
    path: Location
    tags: list[tuple[Location, str]]  # union branches the error was found in
    loc: tuple[Any, ...]
    raw: dict[str, Any] = field(repr=False)


def _unwrap(tp: Any) -> Any:
    """Strip Annotated[...] and Optional[...] down to the type that matters."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, UnionType):
            members = [a for a in get_args(tp) if a is not NoneType]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, UnionType)


def _branch(union: Any, tag: str) -> Any:
    """The member of a union that pydantic's loc tag (e.g. 'regional') names."""
    fallback = None
    for member in get_args(union):
        m = _unwrap(member)
        if m is NoneType:
            continue
        if _is_model(m):
            # The discriminator ('kind' of actors, 'distribution' of priors) names the member.
            for key in ("kind", "distribution"):
                f = m.model_fields.get(key)
                if f is not None and tag in get_args(f.annotation):
                    return m
            if re.search(rf"\b{m.__name__}\b", tag):
                return m
        else:
            fallback = m
    return fallback


def _child_type(tp: Any, part: Any) -> Any:
    if _is_model(tp):
        f = tp.model_fields.get(part)
        return f.annotation if f is not None else None
    origin = get_origin(tp)
    if origin is list:
        return get_args(tp)[0]
    if origin is dict:
        return get_args(tp)[1]
    return None


def _split_loc(loc: tuple[Any, ...]) -> tuple[Location, list[tuple[Location, str]], Any]:
    """pydantic loc -> (data path, union branch tags, the type at the end)."""
    tp: Any = Scenario
    path: list[str | int] = []
    tags: list[tuple[Location, str]] = []
    for part in loc:
        u = _unwrap(tp) if tp is not None else None
        if u is not None and _is_union(u):
            tags.append((tuple(path), str(part)))
            tp = _branch(u, str(part))
            continue
        if part == "[key]":  # an error in a dict key: the path already ends at it
            continue
        path.append(part)
        tp = _child_type(u, part) if u is not None else None
    return tuple(path), tags, tp


def _choices(expected: str) -> list[str]:
    return re.findall(r"'([^']*)'", expected)


def _not_one_of(value: Any, raw: str | None, choices: list[str]) -> str:
    message = f"{_describe(value, raw)} is not one of {', '.join(choices)}"
    if isinstance(value, str):
        hint = did_you_mean(value, choices)
        if hint.startswith("did you mean"):
            message += f" ({hint})"
    return message


def _explain(errors: list[Any], tree: _Node) -> list[tuple[Location, str]]:
    """pydantic errors -> (data path, message), one per mistake."""
    errs = []
    for e in errors:
        path, tags, _ = _split_loc(tuple(e["loc"]))
        errs.append(_Err(e["type"], path, tags, tuple(e["loc"]), e))
    out: list[tuple[Location, str]] = []
    # A value that fits no member of a plain union (`severity: 0.5` or
    # `{low, high}`) fails once per member; keep the member that matches its
    # shape, or say what shapes would do.
    branches: dict[Location, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, e in enumerate(errs):
        for prefix, tag in e.tags:
            branches[prefix][tag].append(i)
    dropped: set[int] = set()
    for prefix, by_tag in branches.items():
        if len(by_tag) < 2:
            continue
        wrong_shape = {
            tag
            for tag, idx in by_tag.items()
            if all(errs[j].path == prefix and errs[j].type in _SHAPES for j in idx)
        }
        for tag in wrong_shape:
            dropped.update(by_tag[tag])
        if wrong_shape == set(by_tag):
            node = _node_at(tree, prefix)
            shapes = list(dict.fromkeys(_SHAPES[errs[by_tag[t][0]].type] for t in by_tag))
            got = _describe(node.value, node.raw) if node else "nothing"
            out.append((prefix, f"expected {' or '.join(shapes)}, got {got}"))
    for i, e in enumerate(errs):
        if i not in dropped:
            out.append(_explain_one(e, tree))
    return out


def _explain_one(e: _Err, tree: _Node) -> tuple[Location, str]:
    ctx = e.raw.get("ctx") or {}
    node = _node_at(tree, e.path)
    value = node.value if node is not None else e.raw.get("input")
    raw = node.raw if node is not None else None
    if e.loc[-1] == "[key]":  # the error is about the key, not the value under it
        value, raw = e.path[-1], None
    shown = _describe(value, raw)
    t = e.type
    if t in _SHAPES:
        return e.path, f"expected {_SHAPES[t]}, got {shown}"
    if t == "finite_number":
        return e.path, "NaN/infinity is not allowed"
    if t == "less_than_equal":
        return e.path, f"{shown} is above the maximum {_number(ctx['le'])}"
    if t == "greater_than_equal":
        return e.path, f"{shown} is below the minimum {_number(ctx['ge'])}"
    if t == "less_than":
        return e.path, f"{shown} must be less than {_number(ctx['lt'])}"
    if t == "greater_than":
        return e.path, f"{shown} must be greater than {_number(ctx['gt'])}"
    if t == "too_short":
        return e.path, (f"needs at least {ctx.get('min_length')} item(s), has {ctx.get('actual_length')}")
    if t == "too_long":
        return e.path, (
            f"has {ctx.get('actual_length')} items, more than the maximum {ctx.get('max_length')}"
        )
    if t == "string_too_short":
        n = ctx.get("min_length", 1)
        return e.path, "must not be empty" if n == 1 else f"must be at least {n} characters long"
    if t == "string_too_long":
        return e.path, (
            f"is {len(str(value))} characters long, more than the maximum {ctx.get('max_length')}"
        )
    if t == "string_pattern_mismatch":
        if ctx.get("pattern") == _IDENTIFIER_PATTERN:
            return e.path, (
                f"{shown} is not a valid id (lowercase letters, digits and _, starting with a letter)"
            )
        return e.path, f"{shown} does not match the pattern {ctx.get('pattern')}"
    if t in ("enum", "literal_error"):
        return e.path, _not_one_of(value, raw, _choices(ctx.get("expected", "")))
    if t in ("union_tag_invalid", "union_tag_not_found"):
        key = ctx.get("discriminator", "'kind'").strip("'")
        path = (*e.path, key)
        _, _, union = _split_loc(e.loc)
        choices = [
            str(get_args(m.model_fields[key].annotation)[0])
            for m in map(_unwrap, get_args(_unwrap(union)))
            if _is_model(m) and key in m.model_fields
        ]
        if t == "union_tag_not_found":
            return path, f"required key is missing (one of {', '.join(choices)})"
        tag_node = _node_at(tree, path)
        tag, tag_raw = (tag_node.value, tag_node.raw) if tag_node else (ctx.get("tag"), None)
        return path, _not_one_of(tag, tag_raw, _choices(ctx["expected_tags"]))
    if t == "missing":
        return e.path, "required key is missing"
    if t == "extra_forbidden":
        key = str(e.path[-1])
        _, _, model = _split_loc(e.loc[:-1])
        model = _unwrap(model)
        allowed = list(model.model_fields) if _is_model(model) else []
        if model is Scenario:
            allowed.append("extends")
        if key == "remove" and len(e.path) == 3 and e.path[0] in ID_LISTS:
            return e.path, "unknown key 'remove' ('remove: true' works only with 'extends')"
        hint = did_you_mean(key, allowed) if allowed else "not allowed here"
        return e.path, f"unknown key '{key}' ({hint})"
    message = str(e.raw.get("msg", t))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return e.path, message


# ------------------------------------------------------------------------ public API


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read, merge (`extends:`), override and validate a scenario file.

    `overrides` maps dotted paths to values, e.g. `{"replicates": 10,
    "parameters.hedging_tension": 0.0, "actors.china.attention": 0.3}`; they are
    applied after merging and checked like file values (problems name the file
    `COMMAND_LINE`). An override fixes its value: a prior of that PATH (in
    `uncertainty:`) is dropped. Raises `ScenarioError` listing every problem found.
    """
    loader = _Loader()
    display = str(path)
    real = Path(path)
    tree = loader.load_tree(display, real, [(display, real.resolve())])
    loader.fail_if_any()
    assert tree is not None  # no problems means a tree
    for dotted, value in (overrides or {}).items():
        loader.apply_override(tree, dotted, value)
        _drop_priors(tree, dotted)
    loader.fail_if_any()
    scenario = loader.validate(tree)
    if scenario.posterior is not None and overrides:  # an override fixes its value, as for priors
        scenario.set_posterior(scenario.posterior.without(list(overrides)))
    return scenario


def _drop_priors(tree: _Node, dotted: str) -> None:
    """An override fixes its value: it removes the priors of that PATH and of the values under it."""
    priors = tree.value.get("uncertainty") if isinstance(tree.value, dict) else None
    parts = split_path(dotted)
    if priors is None or not isinstance(priors.value, dict) or parts is None:
        return
    for key in list(priors.value):
        prior_parts = split_path(key)
        if prior_parts is not None and prior_parts[: len(parts)] == parts:
            del priors.value[key]


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """`["replicates=10", "parameters.hedging_tension=0.5"]` -> an overrides dict.

    Values are read as YAML flow values (`0.5`, `true`, `[a, b]`, `{x: 1}`, text),
    so the command line follows the same rules as files (for a `PATH=VALUE` option).
    """
    loader = _Loader()
    result: dict[str, Any] = {}
    for item in items:
        dotted, sep, text = item.partition("=")
        dotted = dotted.strip()
        if not sep or not dotted:
            loader.add(_Src(COMMAND_LINE, None), "", f"'{excerpt(item)}': expected PATH=VALUE")
            continue
        problem = text_problem(dotted, allowed="") or text_problem(text)
        if problem is not None:
            loader.add(_Src(COMMAND_LINE, None), excerpt(dotted), problem)
            continue
        if not text.strip():
            result[dotted] = None
            continue
        before = len(loader.problems)
        root = loader.compose(COMMAND_LINE, text)
        node = loader.convert(root, COMMAND_LINE) if root is not None else None
        if node is not None and len(loader.problems) == before:
            result[dotted] = _plain(node)
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
    yaml.sort_base_mapping_type_on_output = False  # keep the schema's order
    yaml.width = 100
    out = io.StringIO()
    yaml.dump(scenario.model_dump(mode="json"), out)
    return out.getvalue()


def parameters_table_markdown() -> str:
    """The Markdown table of `Parameters` for docs/scenarios.md.

    Generated from the model so the documentation cannot drift from the code;
    a test checks that docs/scenarios.md contains exactly this table.
    """
    lines = [
        "| Parameter | Default | Unit | Range | Claims | Meaning |",
        "|---|---|---|---|---|---|",
    ]
    for name, f in Parameters.model_fields.items():
        extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
        lo = next((m.ge for m in f.metadata if hasattr(m, "ge")), None)
        hi = next((m.le for m in f.metadata if hasattr(m, "le")), None)
        meaning = (f.description or "").rsplit(" [", 1)[0].replace("|", "\\|")
        lines.append(
            f"| `{name}` | {_number(f.default)} | {extra.get('unit', '')} | "
            f"{_number(lo)}..{_number(hi)} | {extra.get('claims', '')} | {meaning} |"
        )
    return "\n".join(lines) + "\n"


_TABLE_BEGIN = "<!-- BEGIN parameters table: generated, do not edit by hand -->"
_TABLE_END = "<!-- END parameters table -->"
DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"


def replace_parameters_table(text: str) -> str:
    """`text` (docs/scenarios.md) with the generated table between its markers."""
    start, end = text.index(_TABLE_BEGIN), text.index(_TABLE_END)
    return text[: start + len(_TABLE_BEGIN)] + "\n" + parameters_table_markdown() + text[end:]


def update_parameters_doc(path: str | Path = DOCS_PATH) -> bool:
    """Regenerate the parameters table in docs/scenarios.md; True if it changed."""
    doc = Path(path)
    old = doc.read_text(encoding="utf-8")
    new = replace_parameters_table(old)
    if new != old:
        doc.write_text(new, encoding="utf-8")
    return new != old
