"""The checks: patterns P1-P8 of the claims list, and the observed UN votes.

Each check names its claims, says in words what it runs, and fixes its
thresholds, each with a one-line reason, before any result is computed. The
measure functions only read model outputs.

One module per concept: `stability` (P1 inertia, P2 Russia–China coordination
and division of labour), `hedging` (P3 tension, P4 invitations), `alliances`
(P5 exit from the CSTO), `shocks` (P6 Taiwan war, P7 Russian pivot),
`elite_control` (P8) and `un_votes` (the observed UN votes); `common` holds
what they share. This module gathers them into `CHECKS`, in the report's
order, and keeps their names importable from `balancesim.validation.checks`.
"""

from __future__ import annotations

from balancesim.validation.checks.alliances import (
    P5_ATTACK_MONTH,
    P5_DISCONTENT,
    P5_HOLD,
    P5_LOOSE,
    P5_STATE,
    P5A,
    P5B,
)
from balancesim.validation.checks.common import (
    BASELINE,
    CHINA,
    CSTO_MEMBERS,
    KO_C,
    MIN_INDEX_EFFECT,
    MODEL_C,
    OTHER_C,
    REGION,
    RUSSIA,
    SHORT,
    STATES,
    THIRD_PARTIES,
)
from balancesim.validation.checks.elite_control import (
    P8,
    P8_CONTROL,
    P8_MONTH,
    P8_PRESSURE,
    P8_SCREEN,
    P8_STATE,
)
from balancesim.validation.checks.hedging import (
    P3,
    P3_MONTH,
    P3_SHOCK,
    P4,
    P4_MET_THREAT,
    P4_MONTH,
    P4_PARTNER,
    P4_STATE,
)
from balancesim.validation.checks.shocks import (
    P6,
    P6_FROM,
    P6_SEVERITY,
    P6_TO,
    P6_WIDER,
    P7_MONTH,
    P7A,
    P7B,
    P7C,
)
from balancesim.validation.checks.stability import (
    P1,
    P1_BALANCE,
    P1_CONFLICT,
    P1_KEEP,
    P1_LATE_MONTH,
    P1_MONTH,
    P1_RECORD_SWINGS,
    P1_RESTRUCTURING,
    P1_ROLE,
    P2_MONTH,
    P2A,
    P2A_START,
    P2B,
    P2B_MONTHS,
)
from balancesim.validation.checks.un_votes import OBSERVED, PARTNERS, VOTES, VOTES_CHECK
from balancesim.validation.core import Check

CHECKS: tuple[Check, ...] = (P1, P2A, P2B, P3, P4, P5A, P5B, P6, P7A, P7B, P7C, P8, VOTES_CHECK)

__all__ = [
    "BASELINE",
    "CHECKS",
    "CHINA",
    "CSTO_MEMBERS",
    "KO_C",
    "MIN_INDEX_EFFECT",
    "MODEL_C",
    "OBSERVED",
    "OTHER_C",
    "P1",
    "P1_BALANCE",
    "P1_CONFLICT",
    "P1_KEEP",
    "P1_LATE_MONTH",
    "P1_MONTH",
    "P1_RECORD_SWINGS",
    "P1_RESTRUCTURING",
    "P1_ROLE",
    "P2A",
    "P2A_START",
    "P2B",
    "P2B_MONTHS",
    "P2_MONTH",
    "P3",
    "P3_MONTH",
    "P3_SHOCK",
    "P4",
    "P4_MET_THREAT",
    "P4_MONTH",
    "P4_PARTNER",
    "P4_STATE",
    "P5A",
    "P5B",
    "P5_ATTACK_MONTH",
    "P5_DISCONTENT",
    "P5_HOLD",
    "P5_LOOSE",
    "P5_STATE",
    "P6",
    "P6_FROM",
    "P6_SEVERITY",
    "P6_TO",
    "P6_WIDER",
    "P7A",
    "P7B",
    "P7C",
    "P7_MONTH",
    "P8",
    "P8_CONTROL",
    "P8_MONTH",
    "P8_PRESSURE",
    "P8_SCREEN",
    "P8_STATE",
    "PARTNERS",
    "REGION",
    "RUSSIA",
    "SHORT",
    "STATES",
    "THIRD_PARTIES",
    "VOTES",
    "VOTES_CHECK",
]
