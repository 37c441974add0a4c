"""The model's coefficients: `Parameters`, the `parameters:` section of a scenario.

Each coefficient is declared with `param(...)`: its calibrated default, its
valid range, its unit and the claims of the source article (C1..C15, see
docs/ODD.md) it belongs to. The same declaration gives validation, the JSON
Schema and the table of docs/scenarios.md (parameters_doc.py).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from balancesim.scenario.schema_base import Strict


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
