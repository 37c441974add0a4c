"""The random draws one month of the rules consumes (drawn up front by the engine, per replicate)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MonthNoise:
    """The random draws one month consumes, for every replicate."""

    engagement: np.ndarray  # (S, M, D, R) standard normal
    opinion: np.ndarray  # (S, M, R) standard normal
    protect: np.ndarray  # (S, A, R) uniform, A security alliances: is an attacked member defended?
    threaten: np.ndarray  # (S, A, R) uniform: does a member threaten exit?
    leave: np.ndarray  # (S, A, R) uniform: does a threatening member leave?
    respond: np.ndarray  # (S, A, R) uniform: does the leader answer the threat?
    shock: np.ndarray  # (K, R) uniform: does a random shock happen this month?
    severity: np.ndarray  # (K, R) uniform: the severity draw of each shock (per run)
    # (S, A, R) bool, set by rules_world.neutral_alliances: failures that were the
    # alliance staying out of a fight between members (None: none this month)
    neutral: np.ndarray | None = None
