"""pydantic's validation errors, said in the words of a scenario file.

Validation runs pydantic in strict JSON mode (scenario_files.py); its errors
name a location in the data and an error type. `explain` turns them into one
message per mistake, quoting the value as written (`describe_value`) and
naming the limit, the choices or the closest valid key; the loader then maps
each location back through the merged tree to file and line.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from balancesim.scenario.located import Node, node_at
from balancesim.scenario.schema import Location, Scenario, did_you_mean
from balancesim.scenario.text import describe_value, format_number
from balancesim.scenario.yaml_reader import ID_LISTS

_IDENTIFIER_PATTERN = r"^[a-z][a-z0-9_]*$"

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
class ErrorInfo:
    type: str
    path: Location
    tags: list[tuple[Location, str]]  # union branches the error was found in
    loc: tuple[Any, ...]
    raw: Mapping[str, Any] = field(repr=False)


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
    message = f"{describe_value(value, raw)} is not one of {', '.join(choices)}"
    if isinstance(value, str):
        hint = did_you_mean(value, choices)
        if hint.startswith("did you mean"):
            message += f" ({hint})"
    return message


def explain(errors: list[Any], tree: Node) -> list[tuple[Location, str]]:
    """pydantic errors -> (data path, message), one per mistake."""
    errs = []
    for e in errors:
        path, tags, _ = _split_loc(tuple(e["loc"]))
        errs.append(ErrorInfo(e["type"], path, tags, tuple(e["loc"]), e))
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
            node = node_at(tree, prefix)
            shapes = list(dict.fromkeys(_SHAPES[errs[by_tag[t][0]].type] for t in by_tag))
            got = describe_value(node.value, node.raw) if node else "nothing"
            out.append((prefix, f"expected {' or '.join(shapes)}, got {got}"))
    for i, e in enumerate(errs):
        if i not in dropped:
            out.append(explain_one(e, tree))
    return out


def explain_one(e: ErrorInfo, tree: Node) -> tuple[Location, str]:
    ctx = e.raw.get("ctx") or {}
    node = node_at(tree, e.path)
    value = node.value if node is not None else e.raw.get("input")
    raw = node.raw if node is not None else None
    if e.loc[-1] == "[key]":  # the error is about the key, not the value under it
        value, raw = e.path[-1], None
    shown = describe_value(value, raw)
    t = e.type
    if t in _SHAPES:
        return e.path, f"expected {_SHAPES[t]}, got {shown}"
    if t == "finite_number":
        return e.path, "NaN/infinity is not allowed"
    if t == "less_than_equal":
        return e.path, f"{shown} is above the maximum {format_number(ctx['le'])}"
    if t == "greater_than_equal":
        return e.path, f"{shown} is below the minimum {format_number(ctx['ge'])}"
    if t == "less_than":
        return e.path, f"{shown} must be less than {format_number(ctx['lt'])}"
    if t == "greater_than":
        return e.path, f"{shown} must be greater than {format_number(ctx['gt'])}"
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
        tag_node = node_at(tree, path)
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
