"""Dotted paths into scenario data: `actors.kazakhstan.engagement.russia.security`.

A PATH names a value in a scenario's tree of mappings and lists. Its parts
are joined by '.'; a list item is named by its `id` (`shocks.taiwan_war`) or
by its position (`shocks.0` or `shocks[0]`), so
`shocks.taiwan_war.effects[0].amount` is the amount of the first effect of
the shock with id `taiwan_war`.

This is the one implementation of that addressing: `--set` overrides (the
scenario loader, on its located YAML tree) and sweep parameters (on plain
dict/list data) both use it, so a PATH means the same thing everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

Part = str | int
_SEGMENT = re.compile(r"([^\[\]]+)((?:\[\d+\])*)")


def split_path(dotted: str) -> list[Part] | None:
    """'actors[2].attention' or 'actors.2.attention' -> ['actors', 2, 'attention'] (None if malformed)."""
    parts: list[Part] = []
    for segment in dotted.split("."):
        m = _SEGMENT.fullmatch(segment)
        if not m:
            return None
        parts.append(int(m[1]) if m[1].isdigit() else m[1])
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", m[2]))
    return parts


def plain_id(item: Any) -> str | None:
    """The `id` of a list item in plain data (None if it has none)."""
    if not isinstance(item, dict):
        return None
    ident = item.get("id")
    return ident if isinstance(ident, str) else None


def list_index(items: Sequence[Any], part: Part, id_of: Callable[[Any], str | None] = plain_id) -> int | None:
    """Position of the item a PATH part names in a list: a position, or the item with that `id`.

    `id_of` reads an item's id (items of the loader's located tree wrap
    their values); None when no item matches.
    """
    if isinstance(part, int):
        return part if 0 <= part < len(items) else None
    for i, item in enumerate(items):
        if id_of(item) == part:
            return i
    return None


def key_of(container: Any, part: Part, id_of: Callable[[Any], str | None] = plain_id) -> str | int | None:
    """The key that `part` addresses in a mapping (its text) or a list (see `list_index`).

    None when the part names no item of a list, or the container is neither.
    """
    if isinstance(container, list):
        return list_index(container, part, id_of)
    if isinstance(container, dict):
        return str(part)
    return None


def lookup(data: Any, parts: Sequence[Part]) -> tuple[bool, Any]:
    """(found, value) of a path in plain data."""
    node = data
    for part in parts:
        key = key_of(node, part)
        if key is None or (isinstance(node, dict) and key not in node):
            return False, None
        node = node[key]
    return True, node


def assign(data: dict[str, Any], parts: Sequence[Part], value: Any) -> None:
    """Set a path in plain data, creating missing mappings on the way (as the file loader does).

    Raises KeyError when a list has no item the path names, or a part
    addresses into a value that is neither a mapping nor a list.
    """
    node: Any = data
    for depth, part in enumerate(parts):
        key = key_of(node, part)
        if key is None:
            raise KeyError(part)
        if depth == len(parts) - 1:
            node[key] = value
            return
        if isinstance(node, dict) and not isinstance(node.get(key), dict | list):
            node[key] = {}
        node = node[key]
