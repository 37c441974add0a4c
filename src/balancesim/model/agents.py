"""Mesa agents: the actors of a scenario, as views over the model state.

The rules act on the state arrays all at once (synchronous update, see
rules.py), so an agent holds no copy of its variables: each property reads
the current value from `model.state` (its only replicate). That keeps one
implementation of the dynamics while giving users the agent-level view they
expect from Mesa: `model.agents_by_type[RegionalState]`, reporters, the
browser view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from balancesim.model.rules import shares, tool_mix
from balancesim.model.state import SOFT
from balancesim.model.trace import decision_rows

if TYPE_CHECKING:
    from balancesim.model.mesa_model import BalanceModel


class Actor(mesa.Agent):
    """An actor of the scenario: its id, display name, kind (`regional`, `great_power` or
    `third_party`, as in scenario files), whether the regional measures count it
    (`in_region`: false for a regional state outside the region, such as Armenia in the
    baseline, and for every outside power) and its index in the state arrays."""

    model: BalanceModel
    kind: str = ""

    def __init__(
        self, model: BalanceModel, actor_id: str, name: str, index: int, in_region: bool = False
    ) -> None:
        super().__init__(model)
        self.actor_id = actor_id
        self.name = name
        self.index = index
        self.in_region = in_region

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.actor_id!r})"


class RegionalState(Actor):
    """A small state that hedges between the outside powers (C1-C4, C7-C11)."""

    kind = "regional"

    @property
    def engagement(self) -> dict[str, dict[str, float]]:
        """Current engagement with each outside power, by domain."""
        e = self.model.state.engagement[self.index, :, :, 0]
        return {
            p: {"security": float(e[k, 0]), "economy": float(e[k, 1])}
            for k, p in enumerate(self.model.setup.partner_ids)
        }

    @property
    def engagement_shares(self) -> dict[str, float]:
        """Each outside power's share of this state's engagement (sums to one)."""
        s = shares(self.model.state.engagement)[self.index, :, 0]
        return dict(zip(self.model.setup.partner_ids, map(float, s), strict=True))

    @property
    def opinion(self) -> dict[str, float]:
        o = self.model.state.opinion[self.index, :, 0]
        return dict(zip(self.model.setup.partner_ids, map(float, o), strict=True))

    @property
    def elite_control(self) -> float:
        return float(self.model.state.elite_control[self.index, 0])

    @property
    def threat(self) -> float:
        return float(self.model.state.threat[self.index, 0])

    @property
    def hedging_index(self) -> float:
        return self.model.measure(self.actor_id, "hedging_index")

    @property
    def balance(self) -> float:
        return self.model.measure(self.actor_id, "balance")

    @property
    def decision(self) -> dict[str, list] | None:
        """Why this state moved last month, by mechanism (trace.py): columns of
        `trace.DECISION_COLUMNS`; None unless the model runs with `trace=True`
        and has stepped."""
        if self.model.decision is None:
            return None
        return decision_rows(self.model.decision, self.model.setup, state=self.index)

    @property
    def gains(self) -> float:
        """What the state gains by balancing this month (metrics.py)."""
        return self.model.measure(self.actor_id, "gains")

    @property
    def memberships(self) -> dict[str, str]:
        """Status in each institution: 'member', 'threatening exit', 'left' or 'not a member'."""
        st, setup = self.model.state, self.model.setup
        out = {}
        for j, inst in enumerate(setup.institution_ids):
            if st.member[self.index, j, 0] > 0:
                out[inst] = "threatening exit" if st.exit_threat[self.index, j, 0] > 0 else "member"
            elif setup.member0[self.index, j, 0] > 0:
                out[inst] = "left"
            else:
                out[inst] = "not a member"
        return out


class OutsidePower(Actor):
    """An outside power: its capacity, regional attention and tool mix."""

    @property
    def attention(self) -> float:
        return float(self.model.state.attention[self.index, 0])

    @property
    def capacity(self) -> dict[str, float]:
        c = self.model.state.capacity[self.index, :, 0]
        return {"security": float(c[0]), "economy": float(c[1])}

    @property
    def tools(self) -> dict[str, float]:
        t = tool_mix(self.model.state.attention, self.model.setup)[self.index, :, 0]
        return {"hard": float(t[0]), "economic": float(t[1]), "soft": float(t[SOFT])}

    @property
    def regional_share(self) -> float:
        """Mean share of this power in the regional states' engagement."""
        return float(np.mean(shares(self.model.state.engagement)[:, self.index, 0]))


class GreatPower(OutsidePower):
    """Russia, China: offer security and trade, coordinate or compete (C4-C6, C14, C15)."""

    kind = "great_power"


class ThirdParty(OutsidePower):
    """India, Turkey, the EU, the US: invited when a security need is unmet (C3, C10, C11)."""

    kind = "third_party"

    @property
    def invitations(self) -> dict[str, float]:
        """How strongly each regional state is inviting this party now."""
        inv = self.model.state.invitation[:, self.index, 0]
        return dict(zip(self.model.setup.regional_ids, map(float, inv), strict=True))
