"""Reading scenario YAML into located trees: line numbers, `extends:`, merging, limits.

* The YAML is *composed* (not constructed) with ruamel.yaml's pure safe loader,
  so every value keeps its line and no YAML tag can build a Python object. The
  node tree is converted by hand into `Node`s carrying (file, line): that is
  where duplicate keys, tags, NaN/infinity and alias bombs are caught.
* `extends: base.yaml` loads the base first and deep-merges the file over it;
  every value keeps the file it came from, so an error in an inherited value
  points into the base file.
* Overrides (`--set PATH=VALUE`, `load_scenario(path, overrides)`) are merged
  into the tree like one more file, `COMMAND_LINE`.

`Loader` collects every problem it meets as a located `Problem`; turning the
tree into a `Scenario` is scenario_files.py's job (target files reuse the
loader with their own schema: analysis/targets.py).
"""

from __future__ import annotations

import math
import numbers
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.nodes import Node as YamlNode
from ruamel.yaml.reader import ReaderError

from balancesim.scenario.located import COMMAND_LINE, MAX_PROBLEMS, Node, Problem, ScenarioError, Src
from balancesim.scenario.paths import key_of, split_path
from balancesim.scenario.schema import Location, did_you_mean, format_location
from balancesim.scenario.text import (
    MAX_FILE_BYTES,
    describe_value,
    excerpt,
    key_problem,
    os_reason,
    read_bounded,
    scenario_folders,
    text_problem,
)

MAX_VALUES = 100_000  # values per file after alias expansion (stops "billion laughs")
MAX_EXTENDS_DEPTH = 16
ID_LISTS = ("actors", "institutions", "assets", "shocks")  # top-level lists merged by `id`

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null")}
_TIMESTAMP = f"{_CORE}timestamp"  # kept as its text: scenario dates are strings
_MERGE = f"{_CORE}merge"


class Loader:
    """Collects problems while reading, merging and validating one scenario.

    Validation (scenario_files.py) adds its problems here too, so all are
    sorted by file and line in one `ScenarioError`.
    """

    def __init__(self, within: tuple[Path, ...] | None = None) -> None:
        self.within = within  # the folders `extends:` may name files in (None: anywhere)
        self.problems: list[Problem] = []
        self.files: list[str] = []  # in the order met, to sort problems by file
        self.values = 0
        self.extends: str | None = None  # the file the top-level file extends, as displayed

    def add(self, src: Src, path: Location | str, message: str) -> None:
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

    def read(self, display: str, real: Path, referrer: tuple[Node, str] | None) -> str | None:
        """The file's text, or None after adding a problem (at `referrer`, if a base)."""
        if display not in self.files:
            self.files.append(display)
        try:
            data = read_bounded(real, MAX_FILE_BYTES, self.within if referrer is not None else None)
        except OSError as e:
            reason = os_reason(e)
            if referrer is None:
                self.add(Src(display, None), "", f"cannot read the file: {reason}")
            else:
                node, name = referrer
                self.add(node.where, ("extends",), f"cannot read '{excerpt(name)}': {reason}")
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            self.add(Src(display, line), "", f"not UTF-8 text (byte 0x{data[e.start]:02x})")
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
            self.add(Src(display, mark.line + 1 if mark else None), "", message)
            return None
        except ReaderError as e:  # a character YAML does not allow, e.g. a control character
            line = text[: e.position].count("\n") + 1 if isinstance(e.position, int) else None
            code = e.character if isinstance(e.character, int) else ord(str(e.character)[:1] or "?")
            self.add(
                Src(display, line), "", f"the character U+{code:04X} is not allowed in YAML ({e.reason})"
            )
            return None
        except YAMLError as e:
            self.add(Src(display, None), "", f"syntax error: {excerpt(str(e))}")
            return None
        except RecursionError:
            self.add(Src(display, None), "", "the YAML is nested too deeply")
            return None
        if root is None:
            self.add(Src(display, None), "", "the file is empty: expected a scenario mapping")
        return root

    def convert(self, node: YamlNode, display: str) -> Node | None:
        """The located tree of one file; None if it is too big or deep to hold."""
        self.values = 0
        constructor = YAML(typ="safe", pure=True).constructor
        try:
            return self._convert(node, display, (), constructor, set())
        except _TooMany:
            self.add(
                Src(display, None),
                "",
                f"more than {MAX_VALUES} values after expanding YAML aliases",
            )
        except RecursionError:
            self.add(Src(display, None), "", "the YAML is nested too deeply")
        return None

    def _convert(
        self, node: YamlNode, display: str, path: Location, constructor: Any, active: set[int]
    ) -> Node:
        self.values += 1
        if self.values > MAX_VALUES:
            raise _TooMany
        src = Src(display, node.start_mark.line + 1)
        tag = str(node.tag)
        if isinstance(node, ScalarNode):
            if tag == _TIMESTAMP:
                return Node(node.value, src, raw=node.value)
            if tag not in _SCALAR_TAGS:
                self.add(src, path, _tag_message(tag))
                return Node(None, src)
            try:
                value = node.value if tag == f"{_CORE}str" else constructor.construct_object(node)
            except (YAMLError, ValueError, LookupError, TypeError):  # e.g. `!!int abc`
                self.add(src, path, f"'{excerpt(node.value)}' is not a valid {tag.replace(_CORE, '!!')}")
                return Node(None, src)
            problem = text_problem(value) if isinstance(value, str) else None
            if problem is not None:
                self.add(src, path, problem)
                return Node(None, src)
            if isinstance(value, float) and not math.isfinite(value):
                self.add(src, path, f"NaN/infinity is not allowed (got {node.value})")
                return Node(None, src)
            return Node(value, src, raw=node.value)
        if id(node) in active:  # an alias inside its own anchor: `a: &x [*x]`
            self.add(src, path, "a YAML alias refers to a value that contains it")
            return Node(None, src)
        active = active | {id(node)}
        if isinstance(node, SequenceNode):
            if tag != f"{_CORE}seq":
                self.add(src, path, _tag_message(tag))
                return Node(None, src)
            items = [
                self._convert(item, display, (*path, i), constructor, active)
                for i, item in enumerate(node.value)
            ]
            return Node(items, src)
        if isinstance(node, MappingNode):
            if tag != f"{_CORE}map":
                self.add(src, path, _tag_message(tag))
                return Node(None, src)
            return self._convert_mapping(node, display, path, constructor, active, src)
        self.add(src, path, "unsupported YAML node")  # pragma: no cover - ruamel has 3 kinds
        return Node(None, src)

    def _convert_mapping(
        self,
        node: MappingNode,
        display: str,
        path: Location,
        constructor: Any,
        active: set[int],
        src: Src,
    ) -> Node:
        entries: dict[str, Node] = {}
        merged: list[dict[str, Node]] = []  # from YAML merge keys `<<: *defaults`
        for key_node, value_node in node.value:
            key_src = Src(display, key_node.start_mark.line + 1)
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
        return Node(entries, src)

    # -- files and `extends`

    def load_root(self, path: str | Path) -> Node | None:
        """The located tree of the file named on the command line, its bases merged in.

        `extends:` may then name files only in that file's folder or the
        current folder (`scenario_folders`); a symlink loop is a problem of the
        file, never an exception.
        """
        display = str(path)
        real = Path(path)
        if self.within is None:
            self.within = scenario_folders(real)
        return self.load_tree(display, real, [(display, Path(os.path.realpath(real)))])

    def load_tree(
        self,
        display: str,
        real: Path,
        chain: list[tuple[str, Path]],
        referrer: tuple[Node, str] | None = None,
    ) -> Node | None:
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
                f"expected the path of a scenario file, got {describe_value(ext.value, ext.raw)}",
            )
            return tree
        name = ext.value
        base_real = real.parent / name
        base_display = os.path.normpath(os.path.join(os.path.dirname(display), name))
        if len(chain) == 1:
            self.extends = base_display
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

    def parse(self, display: str, text: str) -> Node | None:
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
                Src(display, root.start_mark.line + 1),
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

    def merge(self, base: Node, over: Node, path: Location) -> Node:
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
            return Node(entries, over.src, over.key_src)
        if (
            len(path) == 1
            and path[0] in ID_LISTS
            and isinstance(base.value, list)
            and isinstance(over.value, list)
        ):
            return self._merge_by_id(base, over, path)
        return over

    def _merge_by_id(self, base: Node, over: Node, path: Location) -> Node:
        items: list[Node | None] = list(base.value)
        position = {ident: i for i, ident in enumerate(map(item_id, items)) if ident is not None}
        seen: dict[str, Node] = {}
        for item in over.value:
            ident = item_id(item)
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
                        f"expected true or false, got {describe_value(remove.value, remove.raw)}",
                    )
                    continue
                if remove.value:
                    self._remove(items, position, item, ident, path)
                    continue
                item = Node(
                    {k: v for k, v in item.value.items() if k != "remove"},
                    item.src,
                    item.key_src,
                )
            earlier = items[position[ident]] if ident in position else None
            if earlier is not None:
                i = position[ident]
                items[i] = self.merge(earlier, item, (*path, i))
            else:
                position[ident] = len(items)
                items.append(item)
        return Node([i for i in items if i is not None], over.src, over.key_src)

    def _remove(
        self,
        items: list[Node | None],
        position: dict[str, int],
        item: Node,
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

    def apply_override(self, tree: Node, dotted: str, value: Any) -> None:
        """Set one dotted path (`parameters.hedging_tension`, `actors.china.attention`)."""
        src = Src(COMMAND_LINE, None)
        parts = split_path(dotted)
        if parts is None:
            self.add(src, dotted, "not a valid setting path (use names joined by '.')")
            return
        new = self.from_python(value, src, tuple(parts))
        if new is None:
            return
        new.key_src = src
        node = tree
        path: Location = ()
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            key = key_of(node.value, part, item_id)
            if key is None and isinstance(node.value, list):
                ids = [i for i in map(item_id, node.value) if i is not None]
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
                    f"{describe_value(node.value, node.raw)}, not a mapping or list",
                )
                return
            path = (*path, key)
            child = node.value.get(key) if isinstance(node.value, dict) else node.value[key]
            if last:
                if (
                    len(path) == 1
                    and path[0] in ID_LISTS
                    and new.value == []
                    and child is not None
                    and child.value
                ):  # merged by id, an empty list would silently change nothing
                    self.add(
                        src,
                        dotted,
                        "an empty list changes nothing: lists of items with ids are merged by id "
                        "(to remove one, write a scenario that extends this one with "
                        "'- {id: ID, remove: true}')",
                    )
                    return
                merged = new if child is None else self.merge(child, new, path)
                node.value[key] = merged
                return
            if child is None or not isinstance(child.value, dict | list):
                if child is not None:  # a scalar: descending would drop its value
                    self.add(
                        src,
                        dotted,
                        f"cannot set it: {format_location(path)} is "
                        f"{describe_value(child.value, child.raw)}, not a mapping or list",
                    )
                    return
                child = Node({}, src, src)
                node.value[key] = child
            node = child

    def from_python(self, value: Any, src: Src, path: Location) -> Node | None:
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
            return Node(entries, src)
        if isinstance(value, list | tuple):
            items = [self.from_python(v, src, (*path, i)) for i, v in enumerate(value)]
            if any(i is None for i in items):
                return None
            return Node(items, src)
        if type(value) not in (bool, int, float) and isinstance(value, numbers.Real):
            # numpy scalars (numpy.int64, numpy.float64), as exploratory-modelling tools pass them
            value = int(value) if isinstance(value, numbers.Integral) else float(value)
        if isinstance(value, float) and not math.isfinite(value):
            self.add(src, path, f"NaN/infinity is not allowed (got {value})")
            return None
        if isinstance(value, str) and (problem := text_problem(value)) is not None:
            self.add(src, path, problem)
            return None
        if value is None or isinstance(value, str | int | float):
            return Node(value, src)
        self.add(src, path, f"expected plain data, got a {type(value).__name__}")
        return None


class _TooMany(Exception):
    pass


_PARSED: OrderedDict[tuple[str, str], Node] = OrderedDict()  # see `Loader.parse`
_PARSED_FILES = 64


def _copy_tree(node: Node) -> Node:
    """A copy of a located tree whose mappings and lists can be changed freely."""
    value = node.value
    if isinstance(value, dict):
        value = {k: _copy_tree(v) for k, v in value.items()}
    elif isinstance(value, list):
        value = [_copy_tree(v) for v in value]
    return Node(value, node.src, node.key_src, node.raw)


def _tag_message(tag: str) -> str:
    shown = excerpt(tag.replace(_CORE, "!!"))
    return f"YAML tag '{shown}' is not allowed: scenario files hold plain data only"


def item_id(item: Node | None) -> str | None:
    """The `id` of an item of a list merged by id (`ID_LISTS`), if it has one."""
    if item is None or not isinstance(item.value, dict):
        return None
    ident = item.value.get("id")
    return ident.value if ident is not None and isinstance(ident.value, str) else None
