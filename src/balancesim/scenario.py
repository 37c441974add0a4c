"""The scenario: what a run simulates, as a validated data structure.

A scenario file (YAML) names the actors (regional states, great powers, third
parties), the institutions they belong to, the model's coefficients and the
shocks that hit the system. This module defines that structure with pydantic,
so that one definition gives validation, defaults, documentation and the JSON
Schema that `balancesim schema` exports. Reading the YAML (line numbers,
`extends:`, precise error messages) lives in `scenario_files.py`.

Every coefficient in `Parameters` names the claims of the source article
(C1..C15, see docs/ODD.md) that it belongs to.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, model_validator

from .distributions import Distribution

MAX_HORIZON = 1200  # months: a century is already far past what the rules mean
MAX_REPLICATES = 10_000_000
MAX_ACTORS = 64
MAX_SHOCKS = 200

DOMAINS = ("security", "economy")
TOOLS = ("hard", "economic", "soft")
AGENDA_ITEMS = ("regime_security", "development", "sovereignty", "territorial_security")

Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]


class Strict(BaseModel):
    """Base for every scenario section: unknown keys and NaN/inf are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)


def param(default: float, lo: float, hi: float, unit: str, claims: str, doc: str) -> Any:
    """A model coefficient with its default, valid range, unit and claim IDs."""
    return Field(
        default,
        ge=lo,
        le=hi,
        description=f"{doc} [{unit}; claims {claims}]",
        json_schema_extra={"unit": unit, "claims": claims},
    )


class Parameters(Strict):
    """Every coefficient of the model. Defaults are the calibrated baseline."""

    # Engagement dynamics
    adjustment_rate: float = param(
        0.08,
        0,
        1,
        "1/month",
        "C1, C12",
        "Fraction of the gap between current and target engagement closed each month "
        "(0.08 gives a half-life of about 8 months: contracts and supply move within a year; what "
        "lasts longer is carried by historical ties and assets)",
    )
    engagement_noise: float = param(
        0.025,
        0,
        0.5,
        "relative s.d./month",
        "C12, C13",
        "Month-to-month noise of engagement, relative to its level (unmodelled events)",
    )
    installed_base: float = param(
        0.65,
        0,
        1,
        "dimensionless",
        "C1, C12",
        "How far installed arms systems hold a state's security ties: security engagement falls "
        "toward its target at (1 - installed_base) of the adjustment rate, and its month-to-month "
        "noise is (1 - installed_base) of trade's (arms in service change through deliveries and "
        "retirements, not with the news); new security ties and all trade move at the full rate "
        "(0: security adjusts like trade)",
    )
    # 3.6 and 1.36 below: the posterior means of the 2021-2023 calibration (docs/validation.md,
    # "Changed after results"), the two coefficients the record moved by more than half a prior
    # s.d.; their priors (scenarios/baseline.yaml) stay as set before the data.
    lock_in: float = param(
        3.6,
        0,
        50,
        "dimensionless",
        "C1, C12",
        "Weight of historical ties (bases, pipelines, trade routes: the calibrated initial "
        "engagement) against current offers in what a partner is worth",
    )
    tie_depreciation: float = param(
        0.03,
        0,
        1,
        "1/month",
        "C1, C12",
        "Fraction of the gap between historical ties and current engagement closed each month: "
        "ties depreciate and are rebuilt by engagement (0.03: a half-life of about 23 months)",
    )
    tie_rebuilding: float = param(
        1.0,
        0,
        1,
        "dimensionless",
        "C1, C12",
        "How far current engagement rebuilds historical ties (1: ties follow engagement; "
        "0: they only depreciate)",
    )
    asset_strength: float = param(
        1.0,
        0,
        1,
        "dimensionless",
        "C1, C6, C12",
        "Scale of the floors that bases, leases and pipelines (scenario `assets`) put under their "
        "owner's engagement until their end date (0: assets switched off)",
    )
    trend_scale: float = param(
        1.0,
        0,
        2,
        "dimensionless",
        "C13, C14",
        "Scale of the powers' capacity and attention trends set in the scenario (0: no trends)",
    )
    hedging_tension: float = param(
        2.0,
        0,
        20,
        "per unit tension",
        "C3, C4",
        "How strongly states flatten their engagement across partners as great-power tension "
        "rises above the scenario's reference level, each partner in proportion to how acceptable "
        "it is to the great powers the state depends on (more tension, more hedging; below the "
        "reference level nothing changes)",
    )
    hedging_reach: float = param(
        0.2,
        0,
        1,
        "dimensionless",
        "C1, C3",
        "Share of the historical ties that hedging under tension can redistribute: hedging "
        "flattens current offers and this part of the ties, the rest of what past engagement "
        "built stays with its partner (1: hedging reaches all ties)",
    )
    bargaining_gain: float = param(
        0.4,
        0,
        5,
        "per unit leverage",
        "C4",
        "How much more the competing great powers offer a non-aligned state per unit of "
        "competition for it (tension x evenness); third parties pay no such bonus",
    )
    domestic_filter: float = param(
        1.0,
        0,
        1,
        "dimensionless",
        "C2",
        "Strength of the domestic filter: 1 lets elite control screen out offers that do not "
        "fit the regime agenda; 0 switches the filter off (every offer passes)",
    )
    sovereignty_weight: float = param(
        3.5,
        0,
        10,
        "per unit share x sovereignty weight",
        "C2",
        "Sovereignty cost of an offer per unit of the partner's dominance of the domain, times the "
        "regime's sovereignty weight, subtracted from the offer's fit with the agenda",
    )
    filter_selectivity: float = param(
        1.36,
        1,
        4,
        "dimensionless",
        "C2",
        "How a firm grip treats offers by fit: an offer of fit f passes at (1 - grip) + grip x "
        "selectivity x f of its strength, so offers fitting better than 1/selectivity pass at "
        "more than full strength and the rest are screened out",
    )
    opinion_weight: float = param(
        0.5,
        0,
        3,
        "dimensionless",
        "C2, C7",
        "How far public opinion of a partner scales the value of engaging with it where the elite "
        "has no grip; the weight falls in proportion to elite control",
    )
    soft_presence: float = param(
        2.0,
        0,
        10,
        "per unit soft effort",
        "C15",
        "Value of engaging added by a partner's soft-power networks (NGOs, media, movements) per "
        "unit of its soft effort, on fully fertile ground (0: soft power acts on opinion only)",
    )
    # Great powers
    coordination_rate: float = param(
        0.04,
        0,
        1,
        "1/month",
        "C5",
        "Growth of great-power coordination per unit of shared interest in regime stability",
    )
    coordination_decay: float = param(
        0.02,
        0,
        1,
        "1/month per unit tension",
        "C5, C6",
        "Erosion of coordination per unit of tension",
    )
    tension_rate: float = param(
        0.15,
        0,
        2,
        "1/month",
        "C6",
        "Growth of tension per unit of great-power overlap in the same domain of the same state "
        "beyond the overlap of the scenario's start (stepping on each other's feet)",
    )
    tension_relaxation: float = param(
        0.03,
        0,
        1,
        "1/month",
        "C6, C12",
        "Fraction of the gap to the scenario's baseline tension closed each month",
    )
    overlap_tolerance: float = param(
        0.0,
        0,
        1,
        "share product",
        "C6",
        "Growth of the overlap of two great powers in one domain of one state, beyond the overlap "
        "of the scenario's start (the status quo both live with), that causes no friction",
    )
    co_ownership: float = param(
        1.0,
        0,
        1,
        "dimensionless",
        "C6",
        "Co-ownership of shared infrastructure (scenario `assets`, `co_owners`): 1 caps the floor "
        "an asset holds under its owner's engagement at the owner's stake and gives each "
        "co-owning outside power its stake of it; 0 lets the owner control the whole asset",
    )
    specialisation: float = param(
        1.0,
        0,
        1,
        "dimensionless",
        "C6",
        "Division of labour by domain: 1 lets each power offer by its capacity in each domain "
        "(Russia in security, China in the economy); 0 spreads its mean capacity evenly over domains",
    )
    deference: float = param(
        1.0,
        0,
        1,
        "dimensionless",
        "C6",
        "Division of labour: how far a coordinating great power holds back its offers where the "
        "other leads in that domain (scaled by coordination)",
    )
    control_support: float = param(
        2.0,
        0,
        10,
        "per unit coordination",
        "C5",
        "How much great-power coordination speeds the recovery of a shaken regime's control "
        "(joint action against unrest): recovery x (1 + control_support x coordination)",
    )
    regime_stability_interest: float = param(
        1.5,
        0,
        5,
        "dimensionless",
        "C5",
        "Weight of regime insecurity (weak elite control) in the great powers' shared interest",
    )
    attention_floor: float = param(
        0.15,
        0,
        1,
        "fraction of initial",
        "C14",
        "Share of its initial attention below which a great power's regional attention does not fall",
    )
    soft_power_shift: float = param(
        0.6,
        0,
        1,
        "dimensionless",
        "C14, C15",
        "How far a power whose attention fades shifts its tool mix toward soft power",
    )
    # Opinion
    opinion_recovery: float = param(
        0.02,
        0,
        1,
        "1/month",
        "C7",
        "Fraction of the gap to the initial opinion closed each month (memory of events fades)",
    )
    soft_power_rate: float = param(
        0.03,
        0,
        1,
        "1/month",
        "C15",
        "Opinion gain per month from a partner's soft-power effort on fully fertile ground",
    )
    footprint_threat: float = param(
        0.03,
        0,
        1,
        "1/month",
        "C7",
        "Opinion loss per month per unit of a partner's economic footprint times its threat perception",
    )
    opinion_noise: float = param(
        0.01, 0, 0.5, "s.d./month", "C7, C12", "Month-to-month noise of public opinion"
    )
    # Security needs and third parties
    cover_weight: float = param(
        0.85,
        0,
        5,
        "dimensionless",
        "C3, C10",
        "Security cover per unit of trusted security engagement",
    )
    invitation_gain: float = param(
        1.5,
        0,
        10,
        "dimensionless",
        "C3",
        "Security offer an invited third party makes per unit of the need it is asked to meet, "
        "at full readiness to answer (0: an invited party offers nothing)",
    )
    invitation_focus: float = param(
        4.0,
        0,
        20,
        "exponent",
        "C3",
        "How sharply the invitation goes to the best-fitting third party (0: spread evenly)",
    )
    provocation: float = param(
        0.3,
        0,
        1,
        "tension per unit invitation",
        "C3, C6",
        "Tension raised per unit of new (or increased) invitation of a third party a great power "
        "dislikes; standing invitations are absorbed",
    )
    # Institutions
    membership_bonus: float = param(
        0.3,
        0,
        2,
        "dimensionless",
        "C8, C11",
        "Extra security offer a security institution's leader makes to its members",
    )
    salience_decay: float = param(
        0.04, 0, 1, "1/month", "C9", "Monthly decay of an institution's public salience"
    )
    satisfaction_recovery: float = param(
        0.02,
        0,
        1,
        "1/month",
        "C8",
        "Fraction of the gap between the elite's satisfaction with an alliance and its initial "
        "level closed each month (the memory of a test fades)",
    )
    failure_penalty: float = param(
        0.6,
        0,
        2,
        "per unit severity",
        "C9",
        "Satisfaction lost when the leader fails to protect a member under attack",
    )
    protection_reward: float = param(
        0.2,
        0,
        2,
        "per unit severity",
        "C9",
        "Satisfaction gained when the leader protects a member under attack",
    )
    exit_threat_rate: float = param(
        0.3,
        0,
        1,
        "probability/month",
        "C10, C11",
        "Monthly probability of an exit threat at full exit pressure",
    )
    exit_rate: float = param(
        0.15,
        0,
        1,
        "probability/month",
        "C11",
        "Monthly probability of leaving at full exit pressure once an exit threat has gone unanswered",
    )
    exit_threshold: float = param(
        0.25,
        0,
        1,
        "exit pressure",
        "C10, C11",
        "Exit pressure below which a member neither threatens nor takes exit",
    )
    patron_response: float = param(
        0.5,
        0,
        1,
        "probability/month",
        "C11",
        "Monthly probability that a fully reliable, attentive leader answers an exit threat with "
        "concessions (scaled by the alliance's reliability and the leader's attention)",
    )
    concession: float = param(
        0.25, 0, 1, "satisfaction", "C11", "Satisfaction a member gains when its threat is answered"
    )
    failure_contagion: float = param(
        0.8,
        0,
        2,
        "dimensionless",
        "C8, C9",
        "Share of the satisfaction a member loses when its leader fails it that every other member "
        "of the alliance loses too (the leader is seen as unreliable by all)",
    )
    exit_tie_decay: float = param(
        0.05,
        0,
        1,
        "1/month",
        "C10, C11",
        "Monthly loss of a former member's security ties with the alliance's leader after exit",
    )
    exit_courting: float = param(
        1.0,
        0,
        10,
        "dimensionless",
        "C10, C11",
        "Extra weight a former member gives its outside options (third parties' security offers) "
        "after leaving an alliance, per alliance left",
    )
    threat_leverage: float = param(
        0.5,
        0,
        1,
        "dimensionless",
        "C11",
        "How far a member weighs an exit threat against the concession it can expect: the chance "
        "of a threat is scaled by (1 - leverage) + leverage x the leader's readiness to answer "
        "(reliability x attention); 0: threats follow dissatisfaction alone",
    )
    threat_deterrence: float = param(
        1.0,
        0,
        2,
        "dimensionless",
        "C10",
        "How much an external threat with no alternative protector holds a member in",
    )
    control_recovery: float = param(
        0.05,
        0,
        1,
        "1/month",
        "C2, C12",
        "Fraction of the gap to its initial level that elite control regains each month",
    )
    threat_relaxation: float = param(
        0.04,
        0,
        1,
        "1/month",
        "C9, C10",
        "Fraction of the gap to its initial level that an external threat loses each month",
    )
    # Shocks
    volatility_decay: float = param(
        0.08, 0, 1, "1/month", "C13", "Monthly decay of shock-induced extra volatility"
    )
    # Observed stance (UN votes)
    stance_threshold: float = param(
        0.5,
        0,
        1,
        "share of ties",
        "C1, C3",
        "Share of a state's ties, in every domain, that one side of a UN vote must hold for the "
        "state to vote with that side rather than abstain (0.5: a majority in every domain)",
    )
    # The world that happened (rules_world.py)
    transit_gain: float = param(
        1.5,
        0,
        5,
        "offer per unit sanctions x ties",
        "C1, C13",
        "Re-routed trade: extra economic offer the unsanctioned partners make a state per unit of a "
        "sanctioned power's `sanctions` times the state's economic ties with it (the state becomes a "
        "route for goods the sanctioned power can no longer buy directly); 0: no re-routing",
    )
    customs_route: float = param(
        1.0,
        0,
        5,
        "x transit role",
        "C1, C13",
        "Re-routed trade: how much more a state carries for a sanctioned power when it is a member "
        "of an economic union that power leads (no customs border between them); 0: membership "
        "makes no difference to the route",
    )
    grievance_courting: float = param(
        2.0,
        0,
        10,
        "per unit lost satisfaction",
        "C9, C10",
        "Extra weight a member gives third parties' security offers per unit of satisfaction with "
        "its security alliance lost below its initial level (courting an outside option without "
        "leaving); 0: only exit opens outside options",
    )
    member_neutrality: float = param(
        1.0,
        0,
        1,
        "probability",
        "C9, C10",
        "Chance that a security alliance stays out of a fight between two of its members (its leader "
        "does not defend the attacked member against the member posing its threat); also how much the "
        "threat from a fellow member holds the attacked member in, whatever its satisfaction (staying "
        "keeps the alliance neutral); 0: such attacks are answered like any other",
    )


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
    """Cross-references the schema alone cannot check: ids, members, targets, months."""
    problems: list[tuple[Location, str]] = []

    def bad(loc: Location, message: str) -> None:
        problems.append((loc, message))

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", s.start):
        bad(("start",), f"'{s.start}' is not a calendar month YYYY-MM")
    ids = [a.id for a in s.actors]
    seen: set[str] = set()
    for i, a in enumerate(ids):
        if a in seen:
            bad(("actors", i, "id"), f"'{a}' is used by two actors")
        seen.add(a)
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
    if s.uncertainty and not problems:  # its paths are only meaningful in a sound scenario
        from .uncertainty import problems as uncertainty_problems

        problems += uncertainty_problems(s)
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


def did_you_mean(word: str, choices: set[str] | list[str]) -> str:
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
