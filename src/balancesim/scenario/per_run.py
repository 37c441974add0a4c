"""Per-run values: scenario values that differ from one replicate to the next.

Any numeric value of a scenario that `--set` and sweeps address by a dotted
PATH (`parameters.lock_in`, `actors.china.attention`,
`actors.kazakhstan.engagement.russia.security`, `relations.tension`,
`institutions.csto.reliability`, `shocks.taiwan_war.severity.low`,
`shocks.taiwan_war.effects.0.amount`, ...) can take one value per replicate
within a single engine call. `Setup.with_values({path: (R,) array})`
(model/state.py) returns a `Setup` in which exactly the affected fields carry
a trailing axis of length R; everything else is shared, so the common case
costs nothing. This module says what each PATH means for the scenario.

The map from PATH to setup field is explicit (`resolve`): it is the one place
that knows how a scenario value becomes an array entry, and a test checks it
against a full rebuild of the scenario for every addressable path. Values are
checked against the field's own bounds, read from the pydantic schema
(`bounds`), all replicates at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args, get_origin

import numpy as np

from balancesim.scenario.parameters import Parameters
from balancesim.scenario.schema import (
    AGENDA_ITEMS,
    DOMAINS,
    TOOLS,
    Agenda,
    Asset,
    DomainTrend,
    DomainValues,
    Effect,
    Institution,
    Partner,
    RegionalState,
    Relations,
    Scenario,
    SeverityRange,
    Shock,
    ThirdParty,
    ToolMix,
    did_you_mean,
)

if TYPE_CHECKING:
    pass

# Top-level settings that fix the shape of a run: never per replicate.
FIXED = (
    "name",
    "description",
    "horizon",
    "start",
    "until",
    "compare_with",
    "seed",
    "replicates",
    "balance",
    "outputs",
    "sweep",
)

_SECTIONS = ["parameters", "actors", "relations", "institutions", "assets", "shocks"]
_INSTITUTION_KEYS = ["reliability", "satisfaction", "salience"]
# Per-actor scalar fields: PATH key -> Setup field.
_REGIONAL = {"elite_control": "elite_control0", "threat": "threat0", "fertility": "fertility"}
_PARTNER = {
    "attention": "attention0",
    "soft_power_effectiveness": "soft_effectiveness",
    "regime_support": "regime_support",
    "threat_perception": "threat_perception",
    "attention_decay": "attention_decay0",
    "attention_trend": "attention_trend",
    "sanctions": "sanctions",
}


class ValuesError(ValueError):
    """Per-run values that do not fit the scenario: a bad path, shape or value."""


@dataclass(frozen=True)
class Target:
    """Where one PATH's value goes in a Setup, and what values it admits.

    `field` is the Setup attribute (or `p.NAME` for a coefficient, `agenda`
    and `tools0` for weights that are checked together, `effect` for a shock
    effect's amount); `index` the actor indices within it.
    """

    path: str
    field: str
    index: tuple[int, ...]
    low: float
    high: float
    integer: bool = False


def _limits(annotation: Any, metadata: list[Any]) -> tuple[float, float]:
    """(ge, le) of a field from its metadata and any Annotated constraints of its type."""
    lo, hi = -np.inf, np.inf
    items = list(metadata)
    for arg in get_args(annotation)[1:] if get_origin(annotation) is not None else ():
        items += list(getattr(arg, "metadata", []))
    for m in items:
        lo = float(getattr(m, "ge", lo)) if getattr(m, "ge", None) is not None else lo
        hi = float(getattr(m, "le", hi)) if getattr(m, "le", None) is not None else hi
    return lo, hi


def _field(cls: Any, name: str) -> tuple[float, float]:
    f = cls.model_fields[name]
    return _limits(f.annotation, f.metadata)


def _dict_value(cls: Any, name: str) -> tuple[float, float]:
    value_type = get_args(cls.model_fields[name].annotation)[1]
    return _limits(value_type, [])


def _pick(items: list[Any], part: str | int, what: str, path: str) -> int:
    """The index of list item `part` (an id or an index), as paths.py addresses lists."""
    from balancesim.scenario.paths import list_index

    index = list_index(items, part, lambda x: getattr(x, "id", None))
    if index is None:
        ids = [getattr(x, "id", str(i)) for i, x in enumerate(items)]
        raise ValuesError(f"{path}: '{part}' is not {what} ({did_you_mean(str(part), ids)})")
    return index


def resolve(scenario: Scenario, path: str) -> Target:
    """Where the value at PATH goes in the scenario's Setup; raises ValuesError if it has no such value."""
    from balancesim.scenario.paths import split_path

    parts = split_path(path)
    if parts is None or len(parts) < 2:
        if parts and str(parts[0]) in FIXED:
            raise ValuesError(f"{path}: '{parts[0]}' fixes the shape of a run; it cannot differ per run")
        raise ValuesError(f"{path}: not a path to a per-run value (names or ids joined by '.')")
    head, rest = str(parts[0]), parts[1:]

    def fail(message: str) -> ValuesError:
        return ValuesError(f"{path}: {message}")

    def leaf(expected: int, choices: list[str]) -> str:
        if len(rest) != expected or not isinstance(rest[-1], str) or rest[-1] not in choices:
            got = str(rest[expected - 1]) if len(rest) >= expected else ""
            return _raise(fail(f"not a per-run value ({did_you_mean(got, choices)})"))
        return rest[-1]

    if head == "parameters":
        name = leaf(1, list(Parameters.model_fields))
        return Target(path, f"p.{name}", (), *_field(Parameters, name))
    if head == "relations":
        name = leaf(1, list(Relations.model_fields))
        return Target(path, f"{name}0", (), *_field(Relations, name))
    if head == "actors":
        return _actor_target(scenario, path, rest, fail)
    if head == "institutions":
        j = _pick(scenario.institutions, rest[0], "an institution", path)
        inst = scenario.institutions[j]
        members = {m: k for k, m in enumerate(a.id for a in scenario.regional)}
        if rest[1:] == ["reliability"]:
            return Target(path, "reliability", (j,), *_field(Institution, "reliability"))
        if len(rest) == 3 and rest[1] in ("satisfaction", "salience"):
            if rest[2] not in inst.members:
                raise fail(
                    f"'{rest[2]}' is not a member of {inst.id} ({did_you_mean(str(rest[2]), inst.members)})"
                )
            field = f"{rest[1]}0"
            return Target(path, field, (members[str(rest[2])], j), *_dict_value(Institution, str(rest[1])))
        raise fail(f"not a per-run value ({did_you_mean(str(rest[-1]), _INSTITUTION_KEYS)})")
    if head == "assets":
        k = _pick(scenario.assets, rest[0], "an asset", path)
        if rest[1:] == ["floor"]:
            return Target(path, "asset_floor", (k,), *_field(Asset, "floor"))
        asset = scenario.assets[k]
        if len(rest) == 3 and rest[1] == "co_owners":
            if rest[2] not in asset.co_owners:
                known = did_you_mean(str(rest[2]), list(asset.co_owners))
                raise fail(f"'{rest[2]}' is not a co-owner of {asset.id} ({known})")
            ids = [a.id for a in scenario.partners]
            who = ids.index(str(rest[2])) if rest[2] in ids else len(ids)
            return Target(path, "asset_stakes", (k, who), *_dict_value(Asset, "co_owners"))
        raise fail(f"not a per-run value of asset {asset.id} (expected floor or co_owners.<id>)")
    if head == "shocks":
        return _shock_target(scenario, path, rest, fail)
    raise fail(f"'{head}' holds no per-run values ({did_you_mean(head, _SECTIONS)})")


def _raise(err: Exception) -> Any:
    raise err


def _actor_target(scenario: Scenario, path: str, rest: list[Any], fail: Any) -> Target:
    i = _pick(scenario.actors, rest[0], "an actor", path)
    actor = scenario.actors[i]
    key = rest[1] if len(rest) > 1 else ""
    partners = [a.id for a in scenario.partners]
    if isinstance(actor, RegionalState):
        s = [a.id for a in scenario.regional].index(actor.id)
        if len(rest) == 2 and key in _REGIONAL:
            return Target(path, _REGIONAL[key], (s,), *_field(RegionalState, key))
        if len(rest) == 3 and key == "agenda" and rest[2] in AGENDA_ITEMS:
            return Target(path, "agenda", (s, AGENDA_ITEMS.index(rest[2])), *_field(Agenda, rest[2]))
        if len(rest) == 3 and key == "opinion" and rest[2] in partners:
            return Target(
                path, "opinion0", (s, partners.index(rest[2])), *_dict_value(RegionalState, "opinion")
            )
        if len(rest) == 4 and key == "engagement" and rest[2] in partners and rest[3] in DOMAINS:
            index: tuple[int, ...] = (s, partners.index(rest[2]), DOMAINS.index(rest[3]))
            return Target(path, "ties", index, *_field(DomainValues, rest[3]))
        choices = [*_REGIONAL, "agenda", "opinion", "engagement"]
    else:
        m = partners.index(actor.id)
        if len(rest) == 2 and key in _PARTNER:
            return Target(path, _PARTNER[key], (m,), *_field(Partner, key))
        if len(rest) == 3 and key == "capacity" and rest[2] in DOMAINS:
            return Target(path, "capacity0", (m, DOMAINS.index(rest[2])), *_field(DomainValues, rest[2]))
        if len(rest) == 3 and key == "capacity_trend" and rest[2] in DOMAINS:
            index = (m, DOMAINS.index(rest[2]))
            return Target(path, "capacity_trend", index, *_field(DomainTrend, rest[2]))
        if len(rest) == 3 and key == "tools" and rest[2] in TOOLS:
            return Target(path, "tools0", (m, TOOLS.index(rest[2])), *_field(ToolMix, rest[2]))
        third = isinstance(actor, ThirdParty)
        if third and len(rest) == 2 and key == "responsiveness":
            return Target(path, "responsiveness", (m,), *_field(ThirdParty, key))
        great = [g.id for g in scenario.great_powers]
        if third and len(rest) == 3 and key == "acceptability" and rest[2] in great:
            index = (m, partners.index(rest[2]))
            return Target(path, "acceptability", index, *_dict_value(ThirdParty, "acceptability"))
        choices = [*_PARTNER, "capacity", "capacity_trend", "tools"] + (
            ["responsiveness", "acceptability"] if third else []
        )
    raise fail(f"not a per-run value of {actor.id} ({did_you_mean(str(rest[-1]), choices)})")


def _shock_target(scenario: Scenario, path: str, rest: list[Any], fail: Any) -> Target:
    k = _pick(scenario.shocks, rest[0], "a shock", path)
    shock = scenario.shocks[k]
    tail = rest[1:]
    if tail == ["month"]:
        if shock.month is None:
            raise fail(f"{shock.id} is a random shock (it has a probability, not a month)")
        return Target(path, "shock_month", (k,), 1.0, float(scenario.horizon), integer=True)
    if tail == ["probability"]:
        if shock.probability is None:
            raise fail(f"{shock.id} is a scheduled shock (it has a month, not a probability)")
        return Target(path, "shock_probability", (k,), *_field(Shock, "probability"))
    if tail == ["severity"]:
        return Target(path, "severity", (k,), *_field(SeverityRange, "low"))
    if len(tail) == 2 and tail[0] == "severity" and tail[1] in ("low", "high"):
        if not isinstance(shock.severity, SeverityRange):
            raise fail(f"{shock.id} has one severity, not a range: use shocks.{shock.id}.severity")
        return Target(path, f"severity_{tail[1]}", (k,), *_field(SeverityRange, str(tail[1])))
    if len(tail) == 3 and tail[0] == "effects" and tail[2] == "amount":
        e = _pick(shock.effects, tail[1], "an effect of this shock", path)
        return Target(path, "effect", (k, e), *_field(Effect, "amount"))
    raise fail(
        f"not a per-run value of shock {shock.id} "
        f"(expected month, probability, severity, severity.low, severity.high or effects.N.amount)"
    )


def paths(scenario: Scenario) -> list[str]:
    """Every PATH of this scenario that can take per-run values, in scenario order."""
    out = [f"parameters.{n}" for n in Parameters.model_fields]
    out += [f"relations.{n}" for n in Relations.model_fields]
    for a in scenario.actors:
        base = f"actors.{a.id}"
        if isinstance(a, RegionalState):
            out += [f"{base}.{k}" for k in _REGIONAL]
            out += [f"{base}.agenda.{k}" for k in AGENDA_ITEMS]
            out += [f"{base}.opinion.{p}" for p in a.opinion]
            out += [f"{base}.engagement.{p}.{d}" for p in a.engagement for d in DOMAINS]
        else:
            out += [f"{base}.{k}" for k in _PARTNER]
            out += [f"{base}.capacity.{d}" for d in DOMAINS] + [f"{base}.tools.{t}" for t in TOOLS]
            out += [f"{base}.capacity_trend.{d}" for d in DOMAINS]
            if isinstance(a, ThirdParty):
                out += [f"{base}.responsiveness"] + [f"{base}.acceptability.{g}" for g in a.acceptability]
    for inst in scenario.institutions:
        base = f"institutions.{inst.id}"
        out += [f"{base}.reliability"] + [
            f"{base}.{k}.{m}" for k in ("satisfaction", "salience") for m in getattr(inst, k)
        ]
    out += [f"assets.{x.id}.floor" for x in scenario.assets]
    out += [f"assets.{x.id}.co_owners.{who}" for x in scenario.assets for who in x.co_owners]
    for shock in scenario.shocks:
        base = f"shocks.{shock.id}"
        out.append(f"{base}.month" if shock.month is not None else f"{base}.probability")
        if isinstance(shock.severity, SeverityRange):
            out += [f"{base}.severity.low", f"{base}.severity.high"]
        else:
            out.append(f"{base}.severity")
        out += [f"{base}.effects.{e}.amount" for e in range(len(shock.effects))]
    return out


def bounds(scenario: Scenario, path: str) -> tuple[float, float]:
    """The admissible range of the value at PATH (from the schema); raises ValuesError."""
    t = resolve(scenario, path)
    return t.low, t.high


def check(target: Target, values: np.ndarray) -> None:
    """Raise ValuesError unless every value is finite, within bounds and (if needed) whole."""
    bad = ~np.isfinite(values) | (values < target.low) | (values > target.high)
    if target.integer:
        bad |= values != np.round(values)
    if bad.any():
        k = int(np.argmax(bad))
        v = float(values[k])
        if not np.isfinite(v):
            why = "is not a finite number"
        elif target.integer and v != round(v):
            why = "is not a whole number"
        elif v < target.low:
            why = f"is below the minimum {target.low:g}"
        else:
            why = f"is above the maximum {target.high:g}"
        raise ValuesError(f"{target.path}: {v:g} (replicate {k}) {why}")
