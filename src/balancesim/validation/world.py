"""Knock-outs of the mechanisms of the world that happened (rules_world.py).

Each mechanism added so the baseline can reproduce the observed changes of
2022-2023 gets a row in the influence table: the baseline with and without
it, paired replicate by replicate, on the headline outcomes and on the
observed measure it was added for. A row within the noise band says the
mechanism does not change that outcome beyond noise.
"""

from __future__ import annotations

from .influence import Mechanism

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
        why_here="the CSTO stays out of the Kyrgyz-Tajik border war in the baseline",
    ),
    Mechanism(
        "world: alliances stay out of fights between members",
        "C8, C9",
        "rules_world.neutral_alliances",
        {"parameters.member_neutrality": 0.0},
        focus=(("kyrgyzstan", "share.turkey.security"), ("kazakhstan", "satisfaction.csto")),
        why_here="the border war pits two CSTO members against each other",
    ),
)
