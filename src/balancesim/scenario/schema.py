"""The scenario: what a run simulates, as a validated data structure.

A scenario file (YAML) names the actors (regional states, great powers, third
parties), the institutions they belong to, the model's coefficients and the
shocks that hit the system. This module defines that structure with pydantic,
so that one definition gives validation, defaults, documentation and the JSON
Schema that `balancesim schema` exports. Reading the YAML (line numbers,
`extends:`, precise error messages) lives in `scenario_files.py`.

The model's coefficients (`Parameters`, the `parameters:` section) are in
`parameters.py`; every one names the claims of the source article (C1..C15,
see docs/ODD.md) that it belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from balancesim.scenario.distributions import Distribution
from balancesim.scenario.parameters import Parameters
from balancesim.scenario.parameters import param as param  # re-exported: the old place of `param`
from balancesim.scenario.schema_base import Identifier, Strict, Unit

MAX_HORIZON = 1200  # months: a century is already far past what the rules mean
MAX_REPLICATES = 10_000_000
MAX_ACTORS = 64
MAX_SHOCKS = 200

DOMAINS = ("security", "economy")
TOOLS = ("hard", "economic", "soft")
AGENDA_ITEMS = ("regime_security", "development", "sovereignty", "territorial_security")


class DomainValues(Strict):
    """A value for each domain of engagement."""

    security: float = Field(0.0, ge=0, le=10)
    economy: float = Field(0.0, ge=0, le=10)


class DomainTrend(Strict):
    """A growth rate per year for each domain (-0.1: a tenth less each year)."""

    security: float = Field(0.0, ge=-0.5, le=0.5)
    economy: float = Field(0.0, ge=-0.5, le=0.5)


class ToolMix(Strict):
    """Shares of a power's effort by instrument; they must sum to 1."""

    hard: Unit = 0.4
    economic: Unit = 0.4
    soft: Unit = 0.2

    @model_validator(mode="after")
    def _sums_to_one(self) -> ToolMix:
        total = self.hard + self.economic + self.soft
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"hard + economic + soft must be 1, got {total:g}")
        return self


class Agenda(Strict):
    """Weights of the ruling regime's priorities; normalised to sum to 1 (C2)."""

    regime_security: Unit = 0.3
    development: Unit = 0.3
    sovereignty: Unit = 0.25
    territorial_security: Unit = 0.15

    @model_validator(mode="after")
    def _not_all_zero(self) -> Agenda:
        if self.regime_security + self.development + self.sovereignty + self.territorial_security <= 0:
            raise ValueError("at least one agenda weight must be positive")
        return self


class ActorBase(Strict):
    id: Identifier = Field(description="Short identifier used in references, e.g. 'kazakhstan'")
    name: str = Field(min_length=1, max_length=80, description="Display name")


class RegionalState(ActorBase):
    """A small state that balances between outside powers."""

    kind: Literal["regional"]
    elite_control: Unit = Field(
        0.7, description="How firmly the ruling elite controls domestic politics (C2)"
    )
    agenda: Agenda = Field(default_factory=Agenda)
    engagement: dict[Identifier, DomainValues] = Field(
        default_factory=dict,
        description="Initial engagement with each outside power by domain (security: share of "
        "arms and basing; economy: share of trade)",
    )
    opinion: dict[Identifier, Unit] = Field(
        default_factory=dict, description="Initial public approval of each outside power (0..1)"
    )
    threat: Unit = Field(
        0.0, description="External threat to the state (0..1), e.g. a hostile neighbour or border"
    )
    threat_from: Identifier | None = Field(None, description="Actor posing the threat, if modelled")
    fertility: Unit = Field(0.5, description="Receptiveness of society to outside soft power (C15)")
    in_region: bool = Field(
        True,
        description="Part of the region the scenario is about: counted in the regional measures "
        "(actor 'region') and in the great powers' relations over the region. false: a state "
        "outside it that shares its institutions (e.g. a fellow alliance member elsewhere), "
        "simulated with the same rules but reported only under its own name",
    )


class Partner(ActorBase):
    """Fields shared by great powers and third parties: an outside power."""

    capacity: DomainValues = Field(default_factory=lambda: DomainValues(security=0.5, economy=0.5))
    attention: Unit = Field(
        0.5, description="Share of the power's foreign-policy attention given to the region"
    )
    tools: ToolMix = Field(default_factory=ToolMix)
    soft_power_effectiveness: Unit = Field(
        0.3, description="How well its soft power works in the region (C15)"
    )
    regime_support: Unit = Field(
        0.5, description="How much its engagement shores up the ruling regimes (C2, C5)"
    )
    threat_perception: Unit = Field(0.0, description="How threatening the public finds its footprint (C7)")
    attention_decay: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="Monthly decay of regional attention, e.g. a pivot elsewhere (C14)"
    )
    capacity_trend: DomainTrend = Field(
        default_factory=DomainTrend,
        description="Growth (or decline) of the power's capacity per year, by domain (C13, C14)",
    )
    attention_trend: float = Field(
        0.0, ge=-0.5, le=0.5, description="Growth (or decline) of its regional attention per year (C14)"
    )
    sanctions: Unit = Field(
        0.0,
        description="How far the power's trade with the rest of the world is cut by sanctions (0..1); "
        "its trade is re-routed through the regional states that trade with it (C1, C13)",
    )


class GreatPower(Partner):
    kind: Literal["great_power"]


class ThirdParty(Partner):
    kind: Literal["third_party"]
    responsiveness: Unit = Field(0.5, description="Readiness to answer an invitation (C3)")
    acceptability: dict[Identifier, Unit] = Field(
        default_factory=dict,
        description="How acceptable its presence is to each great power (1: no provocation)",
    )


Actor = Annotated[RegionalState | GreatPower | ThirdParty, Field(discriminator="kind")]


class InstitutionKind(StrEnum):
    security = "security"
    economic = "economic"
    political = "political"


class Institution(Strict):
    """An alliance or union with a leading power and members (C8-C11)."""

    id: Identifier
    name: str = Field(min_length=1, max_length=80)
    kind: InstitutionKind = InstitutionKind.security
    leader: Identifier
    members: list[Identifier] = Field(min_length=1)
    reliability: Unit = Field(
        0.6, description="Probability that the leader defends a member under attack (C9)"
    )
    satisfaction: dict[Identifier, Unit] = Field(
        default_factory=dict, description="Initial satisfaction of members (default 0.6)"
    )
    salience: dict[Identifier, Unit] = Field(
        default_factory=dict, description="Initial public salience for members (default 0.1)"
    )


class Asset(Strict):
    """A base, lease or pipeline: a floor under its owner's engagement until its end date (C1, C6, C12).

    While the asset lasts, the host's engagement with the owner in the asset's
    domain does not fall below `floor` (in engagement units: a share of arms
    and basing, or of trade). From `end` on it no longer holds anything.
    """

    id: Identifier
    name: str = Field(min_length=1, max_length=80)
    owner: Identifier = Field(description="The outside power that owns or leases it")
    host: Identifier = Field(description="The regional state it is in")
    domain: Literal["security", "economy"]
    floor: Unit = Field(description="Engagement with the owner it keeps up, in the domain")
    end: str | None = Field(
        None, description="Calendar month YYYY-MM from which it no longer holds (none: open-ended)"
    )
    co_owners: dict[Identifier, Unit] = Field(
        default_factory=dict,
        description="Stakes held by others in shared infrastructure: outside powers or the host "
        "(its national company); the owner holds the rest. The owner's floor is capped by its "
        "stake and each co-owning outside power holds its stake of the floor (C6)",
    )
    source: str = Field("", max_length=300, description="Where the figures come from")


class Change(StrEnum):
    add = "add"
    multiply = "multiply"
    set = "set"


class ShockVariable(StrEnum):
    tension = "tension"
    coordination = "coordination"
    volatility = "volatility"
    attention = "attention"
    attention_decay = "attention_decay"
    capacity = "capacity"
    elite_control = "elite_control"
    threat = "threat"
    opinion = "opinion"
    attack = "attack"


ACTOR_VARIABLES = {
    "attention",
    "attention_decay",
    "capacity",
    "elite_control",
    "threat",
    "opinion",
    "attack",
}
REGIONAL_VARIABLES = {"elite_control", "threat", "opinion", "attack"}


class Effect(Strict):
    """One change a shock makes, scaled by its severity."""

    variable: ShockVariable
    actor: Identifier | None = None
    partner: Identifier | None = Field(None, description="For opinion: the power the opinion is of")
    domain: Literal["security", "economy"] | None = Field(None, description="For capacity")
    change: Change = Change.add
    amount: float = Field(ge=-10, le=10)
    defended: bool | None = Field(
        None,
        description="For an attack that happened (a scheduled shock): whether the target's security "
        "alliances defended it, as recorded; unset: drawn with the alliance's reliability",
    )

    @model_validator(mode="after")
    def _targets(self) -> Effect:
        needs_actor = self.variable.value in ACTOR_VARIABLES
        if needs_actor and self.actor is None:
            raise ValueError(f"variable '{self.variable.value}' needs an 'actor'")
        if not needs_actor and self.actor is not None:
            raise ValueError(f"variable '{self.variable.value}' is system-wide and takes no 'actor'")
        if self.variable is ShockVariable.opinion and self.partner is None:
            raise ValueError("variable 'opinion' needs a 'partner' (whose opinion)")
        if self.variable is ShockVariable.capacity and self.domain is None:
            raise ValueError("variable 'capacity' needs a 'domain' (security or economy)")
        if self.variable is ShockVariable.attack and self.change is not Change.add:
            raise ValueError("an attack is always added: its amount raises the target's threat")
        if self.defended is not None and self.variable is not ShockVariable.attack:
            raise ValueError("'defended' is for an attack only (whether the alliance defended the target)")
        return self


class SeverityRange(Strict):
    low: Unit
    high: Unit

    @model_validator(mode="after")
    def _ordered(self) -> SeverityRange:
        if self.low > self.high:
            raise ValueError(f"low ({self.low:g}) must not exceed high ({self.high:g})")
        return self


class Shock(Strict):
    """An exogenous event: scheduled at a month, or random with a monthly probability (C13)."""

    id: Identifier
    name: str = Field(min_length=1, max_length=80)
    month: int | None = Field(None, ge=1, description="Month at which it happens (scheduled), 1..horizon")
    probability: float | None = Field(
        None, ge=0, le=1, description="Monthly probability (random); at most once per run"
    )
    severity: Unit | SeverityRange = Field(
        1.0, description="Severity in 0..1, or a range {low, high} drawn per replicate"
    )
    effects: list[Effect] = Field(min_length=1)

    @model_validator(mode="after")
    def _timing(self) -> Shock:
        if (self.month is None) == (self.probability is None):
            raise ValueError("give exactly one of 'month' (scheduled) or 'probability' (random)")
        if self.month is None and any(e.defended is not None for e in self.effects):
            raise ValueError("'defended' records what happened: it needs a scheduled shock ('month')")
        return self


class Relations(Strict):
    """Initial relations between the great powers (C5, C6)."""

    tension: Unit = 0.25
    coordination: Unit = 0.4


class Outputs(Strict):
    months: list[Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: [12, 24, 30, 60],
        description="Months reported in summary.csv (those beyond the horizon are dropped)",
    )


class Scenario(Strict):
    """A complete, validated scenario."""

    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    horizon: int = Field(60, ge=1, le=MAX_HORIZON, description="Months to simulate")
    start: str = Field("2022-03", description="Calendar month of step 0, YYYY-MM")
    until: str | None = Field(
        None,
        description="Calendar month YYYY-MM the runs end at (sets `horizon`; `run --until` gives it too). "
        "Past the scenario's own end the world moves on with its trends (capacity and attention "
        "trends, attention decay, sanctions, asset end dates), which are then its assumptions",
    )
    compare_with: str | None = Field(
        None,
        description="Scenario file this one is compared with (relative to this file): `run` runs both "
        "on common random numbers and prints the effect first. Default: the file it `extends`, when "
        "this scenario changes anything that is simulated; `none`: no comparison",
    )
    seed: int = Field(0, ge=0, le=2**63 - 1)
    replicates: int = Field(200, ge=1, le=MAX_REPLICATES)
    actors: list[Actor] = Field(min_length=3, max_length=MAX_ACTORS)
    institutions: list[Institution] = Field(default_factory=list)
    assets: list[Asset] = Field(
        default_factory=list, description="Bases, leases and pipelines with an end date (C1, C12)"
    )
    relations: Relations = Field(default_factory=Relations)
    balance: list[Identifier] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="The two great powers whose regional balance is reported (default: the first two)",
    )
    parameters: Parameters = Field(default_factory=Parameters)
    shocks: list[Shock] = Field(default_factory=list, max_length=MAX_SHOCKS)
    outputs: Outputs = Field(default_factory=Outputs)
    sweep: dict[str, Any] | None = Field(
        None, description="Default sweep design for `balancesim sweep` (see docs/sweeps.md)"
    )
    uncertainty: dict[str, Distribution] = Field(
        default_factory=dict,
        description="Priors: PATH -> the distribution its value is drawn from, once per run "
        "(see docs/scenarios.md, 'Uncertainty')",
    )
    # `uncertainty: {posterior: DIR}` or `--posterior DIR`: a calibration's weighted draws
    # (calibration.posterior.Posterior), read and checked by the loader.
    _posterior: Any = PrivateAttr(default=None)
    # Set by the file loader: the file `extends:` names, and `compare_with` resolved (None: none).
    _extends: Any = PrivateAttr(default=None)
    _compare_file: Any = PrivateAttr(default=None)
    _own_horizon: int | None = PrivateAttr(default=None)

    @property
    def extends(self) -> Any:
        """The path of the file this scenario's file extends (None: none, or not read from a file)."""
        return self._extends

    @property
    def compare_file(self) -> Any:
        """The path of the scenario named by `compare_with` (None: unset or `none`)."""
        return self._compare_file

    def set_sources(self, extends: Any, compare_file: Any) -> None:
        """Record where the scenario came from (the file loader calls this)."""
        self._extends, self._compare_file = extends, compare_file

    @property
    def own_horizon(self) -> int:
        """The horizon the scenario has without `until` (its own end)."""
        return self.horizon if self._own_horizon is None else self._own_horizon

    @property
    def posterior(self) -> Any:
        """The calibration posterior the runs draw from (None: the priors only)."""
        return self._posterior

    def set_posterior(self, posterior: Any) -> None:
        """Use a calibration posterior (checked against this scenario by its reader)."""
        self._posterior = posterior

    @property
    def uncertain(self) -> bool:
        """Whether runs draw per-run values: priors, or a posterior."""
        return bool(self.uncertainty) or self._posterior is not None

    @field_validator("until")
    @classmethod
    def _until_month(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
            raise ValueError(f"'{value}' is not a calendar month YYYY-MM")
        return value

    @model_validator(mode="after")
    def _until(self) -> Scenario:
        # An `until` out of range is reported by `reference_problems`, with its location.
        if self.until is None or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", self.start):
            return self
        months = months_between(self.start, self.until)
        if 1 <= months <= MAX_HORIZON:
            self._own_horizon = self.horizon
            self.horizon = months
        return self

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Scenario:
        # The file loader checks references itself, to point at their lines.
        if not (info.context or {}).get("defer_references"):
            problems = reference_problems(self)
            if problems:
                loc, message = problems[0]
                raise ValueError(f"{format_location(loc)}: {message}")
        return self

    # Convenience views used by the state builder and the reports
    @property
    def regional(self) -> list[RegionalState]:
        return [a for a in self.actors if isinstance(a, RegionalState)]

    @property
    def partners(self) -> list[GreatPower | ThirdParty]:
        return [a for a in self.actors if not isinstance(a, RegionalState)]

    @property
    def great_powers(self) -> list[GreatPower]:
        return [a for a in self.actors if isinstance(a, GreatPower)]

    @property
    def balance_pair(self) -> tuple[str, str]:
        if self.balance is not None:
            return self.balance[0], self.balance[1]
        g = self.great_powers
        return g[0].id, g[1].id


Location = tuple[str | int, ...]


def format_location(loc: Location) -> str:
    """('actors', 2, 'kind') -> 'actors[2].kind'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def reference_problems(s: Scenario) -> list[tuple[Location, str]]:
    """Cross-references the schema alone cannot check: ids, members, targets, months.

    The priors' PATHs and ranges are checked by `uncertainty.scenario_problems`, which adds
    them to these (they need the scenario's values, `per_run`).
    """
    problems: list[tuple[Location, str]] = []

    def bad(loc: Location, message: str) -> None:
        problems.append((loc, message))

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", s.start):
        bad(("start",), f"'{s.start}' is not a calendar month YYYY-MM")
    elif s.until is not None and not 1 <= months_between(s.start, s.until) <= MAX_HORIZON:
        bad(("until",), f"'{s.until}' must lie 1 to {MAX_HORIZON} months after the start ({s.start})")
    ids = [a.id for a in s.actors]
    seen: set[str] = set()
    for i, ident in enumerate(ids):
        if ident in seen:
            bad(("actors", i, "id"), f"'{ident}' is used by two actors")
        seen.add(ident)
    kinds = {a.id: a.kind for a in s.actors}
    partners = {a for a, k in kinds.items() if k != "regional"}
    regional = {a for a, k in kinds.items() if k == "regional"}
    great = {a for a, k in kinds.items() if k == "great_power"}
    if not regional:
        bad(("actors",), "at least one actor must be of kind 'regional'")
    if len(great) < 2:
        bad(("actors",), "at least two actors must be of kind 'great_power'")

    def known(ref: str, loc: Location, allowed: set[str], what: str) -> bool:
        if ref not in allowed:
            bad(loc, f"'{ref}' is not {what} ({did_you_mean(ref, allowed)})")
            return False
        return True

    for i, a in enumerate(s.actors):
        if isinstance(a, RegionalState):
            for p in a.engagement:
                known(p, ("actors", i, "engagement", p), partners, "an outside power")
            for p in a.opinion:
                known(p, ("actors", i, "opinion", p), partners, "an outside power")
            if a.threat_from is not None:
                known(a.threat_from, ("actors", i, "threat_from"), set(ids) - {a.id}, "another actor")
        if isinstance(a, ThirdParty):
            for g in a.acceptability:
                known(g, ("actors", i, "acceptability", g), great, "a great power")
    inst_ids: set[str] = set()
    for j, inst in enumerate(s.institutions):
        if inst.id in inst_ids or inst.id in kinds:
            bad(
                ("institutions", j, "id"),
                f"'{inst.id}' is already used by another actor or institution",
            )
        inst_ids.add(inst.id)
        known(inst.leader, ("institutions", j, "leader"), partners, "an outside power")
        listed: set[str] = set()
        for m, member in enumerate(inst.members):
            known(member, ("institutions", j, "members", m), regional, "a regional state")
            if member in listed:
                bad(("institutions", j, "members", m), f"'{member}' is listed twice")
            listed.add(member)
        for key in ("satisfaction", "salience"):
            for member in getattr(inst, key):
                known(member, ("institutions", j, key, member), listed, "a member of this institution")
    shock_ids: set[str] = set()
    for j, shock in enumerate(s.shocks):
        if shock.id in shock_ids:
            bad(("shocks", j, "id"), f"'{shock.id}' is used by two shocks")
        shock_ids.add(shock.id)
        if shock.month is not None and shock.month > s.horizon:
            bad(
                ("shocks", j, "month"),
                f"{shock.month} is past the horizon (months 1..{s.horizon})",
            )
        for e, eff in enumerate(shock.effects):
            if eff.actor is not None and known(
                eff.actor, ("shocks", j, "effects", e, "actor"), set(ids), "an actor"
            ):
                wants_regional = eff.variable.value in REGIONAL_VARIABLES
                if wants_regional and kinds[eff.actor] != "regional":
                    bad(
                        ("shocks", j, "effects", e, "actor"),
                        f"'{eff.actor}' is not a regional state, as '{eff.variable.value}' needs",
                    )
                if not wants_regional and kinds[eff.actor] == "regional":
                    bad(
                        ("shocks", j, "effects", e, "actor"),
                        f"'{eff.actor}' is not an outside power, as '{eff.variable.value}' needs",
                    )
            if eff.partner is not None:
                known(
                    eff.partner,
                    ("shocks", j, "effects", e, "partner"),
                    partners,
                    "an outside power",
                )
    asset_ids: set[str] = set()
    for j, asset in enumerate(s.assets):
        if asset.id in asset_ids:
            bad(("assets", j, "id"), f"'{asset.id}' is used by two assets")
        asset_ids.add(asset.id)
        known(asset.owner, ("assets", j, "owner"), partners, "an outside power")
        known(asset.host, ("assets", j, "host"), regional, "a regional state")
        if asset.end is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", asset.end):
            bad(("assets", j, "end"), f"'{asset.end}' is not a calendar month YYYY-MM")
        for who in asset.co_owners:
            where = ("assets", j, "co_owners", who)
            if who == asset.owner:
                bad(where, f"'{who}' is the owner; list only the other stakeholders")
            elif who != asset.host:
                known(who, where, partners, "an outside power or the host")
        if sum(asset.co_owners.values()) > 1.0 + 1e-9:
            bad(("assets", j, "co_owners"), "stakes that add up to at most 1 (the owner holds the rest)")
    if s.balance is not None:
        for k, g in enumerate(s.balance):
            known(g, ("balance", k), great, "a great power")
        if s.balance[0] == s.balance[1]:
            bad(("balance",), "name two different great powers")
    if isinstance(s.sweep, dict):
        for key, option in COMMAND_LINE_ONLY.items():
            if key in s.sweep:
                bad(
                    ("sweep", key),
                    f"not allowed in a scenario file: where a sweep runs and where it writes come "
                    f"from the command line only; use {option}",
                )
    return problems


def months_between(start: str, end: str) -> int:
    """Months from calendar month `start` to `end` (both YYYY-MM)."""
    y0, m0 = (int(x) for x in start.split("-"))
    y1, m1 = (int(x) for x in end.split("-"))
    return (y1 - y0) * 12 + (m1 - m0)


# Sweep settings a scenario file may not hold: scenario files are plain data that people share,
# and one must not send work to (and take results from) a Dask scheduler of its author's
# choosing, nor write outside the folder the user names.
COMMAND_LINE_ONLY = {"scheduler": "--scheduler", "out": "--out"}


def did_you_mean(word: str, choices: Collection[str]) -> str:
    """A hint for a misspelt name: the closest choice, or the list of choices."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    shown = sorted(choices)
    listed = ", ".join(shown[:12]) + (", ..." if len(shown) > 12 else "")
    return f"expected one of: {listed}"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files (for editors: completion and checking)."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "balancesim scenario"
    schema.setdefault("properties", {})["extends"] = {
        "type": "string",
        "description": "Path of a scenario this one builds on (relative to this file)",
    }
    return schema
