"""Knock-outs of the mechanisms of the world that happened (rules_world.py).

Each mechanism added so the baseline can reproduce the observed changes of
2022-2023 gets a row in the influence table: the baseline with and without
it, paired replicate by replicate, on the headline outcomes and on the
observed measure it was added for, over the months it acts in (`months`:
the rules of 2022-2023 are measured over those years, where the observed
record is, not at month 60). A row within the noise band says the mechanism
does not change that outcome beyond noise.
"""

from __future__ import annotations

from balancesim.validation.influence import Mechanism

# Model month 0 is March 2022: calendar 2023 is months 10-21; the Kyrgyz-Tajik border
# war is month 6 (September 2022). These rules act in 2022-2023: at month 60 their
# effects have faded, so they are measured over the observed record's months.
YEAR_2023 = (10, 21)
WAR_TO_2023 = (6, 21)

WORLD_MECHANISMS: tuple[Mechanism, ...] = (
    Mechanism(
        "world: re-routed trade under sanctions",
        "C1, C13",
        "rules_world.rerouted_trade",
        {"parameters.transit_gain": 0.0},
        focus=(
            ("kazakhstan", "share.russia.economy"),
            ("kyrgyzstan", "share.russia.economy"),
            ("uzbekistan", "share.china.economy"),
        ),
        why_here="Russia is under sanctions in the baseline",
    ),
    Mechanism(
        "world: re-routed trade through a customs union",
        "C1, C13",
        "rules_world.rerouted_trade",
        {"parameters.customs_route": 0.0},
        focus=(
            ("kyrgyzstan", "share.china.economy"),
            ("kazakhstan", "share.russia.economy"),
        ),
        why_here="Kazakhstan and Kyrgyzstan are in the EAEU, which Russia leads",
    ),
    Mechanism(
        "world: grievance courting",
        "C9, C10",
        "rules_world.world_offers",
        {"parameters.grievance_courting": 0.0},
        focus=(("kyrgyzstan", "share.turkey.security"),),
        why_here="the CSTO stays out of the Kyrgyz-Tajik border war (month 6) in the baseline; "
        "measured over 2023, the year of the observed rise of Turkey's share (target kg_turkey_arms_change)",
        months=YEAR_2023,
    ),
    Mechanism(
        "world: alliances stay out of fights between members",
        "C8, C9, C10",
        "rules_world.neutral_alliances, kept_close",
        {"parameters.member_neutrality": 0.0},
        focus=(
            ("region", "exit_threats.csto"),
            ("region", "members.csto"),
            ("kyrgyzstan", "exit_threat.csto"),
            ("kazakhstan", "satisfaction.csto"),
        ),
        why_here="the border war (month 6) pits two CSTO members against each other; measured from "
        "it to the end of 2023, the period of the observed record (targets csto_exit_threats, "
        "csto_members_2023)",
        months=WAR_TO_2023,
    ),
)
