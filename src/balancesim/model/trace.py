"""The decision trace: why each state moved, mechanism by mechanism.

When asked for (`Tracer.step` instead of `rules.step`), each month records,
for every regional state, partner, domain and replicate, how much each
mechanism contributed to the change in engagement, and for every state and
partner the same for public opinion. The contributions are an accounting
identity: they sum to the month's change (to rounding, far below 1e-9).

The rules are not additive (powers, normalisation, a partial adjustment,
floors), so the split is defined as a telescoping sum: the month's
engagement is computed from the same snapshot and the same random draws
with the mechanisms switched on one at a time, in the order the rules
compute them (offers, the domestic filter, the target, the adjustment), and
each mechanism's contribution is what switching it on changed. "Off" is the
mechanism's coefficient at 0, so a mechanism whose coefficient is 0 adds
exactly nothing, in every month. What the split gives a mechanism includes
its interactions with the mechanisms before it in the order (never with
those after it); docs/ODD.md ("Decision trace") says why this split and not
Shapley values.

Terms (ENGAGEMENT_TERMS, OPINION_TERMS) carry the mechanism names of the
influence table (docs/validation.md) and their claims. The first engagement
term, "ties and effort", is what the month's partial adjustment does with
every mechanism off: engagement moves `adjustment_rate` of the way toward the
value of the historical ties and the powers' base effort. The remainder
terms say what is not a claim: noise, the asset floors, the shocks of the
month (the change they made, through every mechanism, to the snapshot the
rules read) and, for opinion, the bounds [0, 1].

The trace never changes what the engine computes: `Tracer.step` returns the
state `rules.step` returns, and recomputes the counterfactual months beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np

from balancesim.model import rules
from balancesim.model.rules import MonthNoise
from balancesim.model.rules.alliances import alliance_politics
from balancesim.model.rules.shocks import apply_shocks
from balancesim.model.rules.world import neutral_alliances, recorded_answers
from balancesim.model.state import Setup, State
from balancesim.model.ties import asset_floor

if TYPE_CHECKING:
    import pandas as pd

# pandas is imported only by the functions that build frames: the engine imports this
# module, and importing pandas sets a context variable (decimal's) that makes every
# numpy operation after it slower (numpy looks its error state up in the context),
# which cost the untraced engine 1.4% of its instructions (benchmarks/trace.py).


@dataclass(frozen=True)
class Term:
    """One term of the split: a mechanism (switched off by `parameter` = 0) or a remainder."""

    name: str
    claims: str
    rule: str
    parameter: str | None = None  # None: not a mechanism with a coefficient (base or remainder)
    remainder: bool = False  # noise, floors, shocks, bounds: not a claim's mechanism


SHOCKS = Term("shocks this month", "C13", "apply_shocks", remainder=True)
# In the order they are switched on (the order the rules compute them).
ENGAGEMENT_TERMS: tuple[Term, ...] = (
    Term("ties and effort", "C1, C12, C14, C15", "engagement_target, effort, adjust_engagement"),
    Term("bargaining", "C4", "offers", "bargaining_gain"),
    Term("deference", "C5, C6", "offers", "deference"),
    Term("membership bonus", "C8, C11", "offers", "membership_bonus"),
    Term("third-party invitations", "C3, C10", "invitations, offers", "invitation_gain"),
    Term("courting after exit", "C10, C11", "offers", "exit_courting"),
    Term("re-routed trade under sanctions", "C1, C13", "rules_world.rerouted_trade", "transit_gain"),
    Term("grievance courting", "C9, C10", "rules_world.world_offers", "grievance_courting"),
    Term("domestic filter", "C2", "domestic_filter", "domestic_filter"),
    Term("public approval", "C2, C7", "engagement_target", "opinion_weight"),
    Term("soft-power networks", "C15", "engagement_target", "soft_presence"),
    Term("partner-aware hedging", "C3, C4", "engagement_target", "hedging_tension"),
    Term("installed arms systems", "C1, C12", "adjust_engagement", "installed_base"),
    Term("noise", "C12, C13", "adjust_engagement", "engagement_noise", remainder=True),
    Term("assets (bases, leases, pipelines)", "C1, C6, C12", "asset_floor", "asset_strength", remainder=True),
    SHOCKS,
)
OPINION_TERMS: tuple[Term, ...] = (
    SHOCKS,
    Term("opinion recovery", "C7", "public_opinion", "opinion_recovery"),
    Term("soft power on opinion", "C15", "public_opinion", "soft_power_rate"),
    Term("threatening footprint", "C7", "public_opinion", "footprint_threat"),
    Term("failure to protect", "C8, C9", "alliance_politics", "failure_penalty"),
    Term("noise", "C7", "public_opinion", "opinion_noise", remainder=True),
    Term("bounds", "", "public_opinion", remainder=True),
)
VARIABLES = ("engagement", "opinion")
_OFFER_STAGES = 8  # base offer, then terms 1..7 (offers, then rules_world.world_offers)


@dataclass
class Decision:
    """One month's split for every replicate: the contributions of each term."""

    month: int  # the month reached (the change is from month - 1)
    engagement: np.ndarray  # (K, S, M, D, R), K = len(ENGAGEMENT_TERMS)
    opinion: np.ndarray  # (K2, S, M, R), K2 = len(OPINION_TERMS)


@dataclass
class Trace:
    """A run's decisions: index t holds the change from month t to t + 1."""

    engagement: np.ndarray  # (T, K, S, M, D, R)
    opinion: np.ndarray  # (T, K2, S, M, R)

    @classmethod
    def empty(cls, setup: Setup, replicates: int) -> Trace:
        S, M, T = setup.n_regional, setup.n_partners, setup.horizon
        return cls(
            engagement=np.zeros((T, len(ENGAGEMENT_TERMS), S, M, 2, replicates)),
            opinion=np.zeros((T, len(OPINION_TERMS), S, M, replicates)),
        )

    @property
    def replicates(self) -> int:
        return self.engagement.shape[-1]

    def part(self, first: int, count: int) -> Trace:
        """A view of replicates first..first+count-1 (written through)."""
        cut = slice(first, first + count)
        return Trace(self.engagement[..., cut], self.opinion[..., cut])

    def record(self, decision: Decision) -> None:
        """Store a month's decision (its first `replicates` replicates)."""
        n, t = self.replicates, decision.month - 1
        self.engagement[t] = decision.engagement[..., :n]
        self.opinion[t] = decision.opinion[..., :n]


def _off(value: object) -> bool:
    """Whether a coefficient (float or per-run array) is 0 in every replicate."""
    return bool(np.all(np.asarray(value) == 0.0))


class Tracer:
    """Steps a setup's replicates as `rules.step` does, and splits each month's change."""

    def __init__(self, setup: Setup) -> None:
        p = vars(setup.p)
        self.setup = setup
        # The adjustment with installed arms, noise (and floors, passed apart) off; then with noise off.
        self._bare = replace(
            setup, p=SimpleNamespace(**{**p, "installed_base": 0.0, "engagement_noise": 0.0})
        )
        self._quiet = replace(setup, p=SimpleNamespace(**{**p, "engagement_noise": 0.0}))
        self._on = [t.parameter is not None and not _off(p[t.parameter]) for t in ENGAGEMENT_TERMS]
        self._no_hedging = np.asarray(p["hedging_tension"]) == 0.0  # scalar or (R,)

    def step(self, state: State, noise: MonthNoise, before: State | None = None) -> tuple[State, Decision]:
        """The next state (exactly `rules.step`'s) and the month's decision.

        `before`: the state before shocks fired by hand this month (the
        browser view), whose effect then counts as this month's shocks.
        """
        setup = self.setup
        new = rules.step(state, setup, noise)
        month = state.month + 1
        x = apply_shocks(state, setup, month, noise)  # the snapshot the rules read
        pre = state if before is None else before
        shocked = x is not state or before is not None
        chain = self._chain(pre, noise, month)
        eng = np.empty((len(ENGAGEMENT_TERMS), *new.engagement.shape))
        last = pre.engagement
        for k, level in enumerate(chain):
            eng[k] = level - last
            last = level
        eng[-1] = new.engagement - last if shocked else 0.0
        return new, Decision(month=month, engagement=eng, opinion=self._opinion(pre, x, new, noise, month))

    def _chain(self, s: State, noise: MonthNoise, month: int) -> list[np.ndarray]:
        """Engagement after the month with terms 0..k on, for each engagement term but the shocks."""
        setup, on = self.setup, self._on
        p = setup.p
        dshare = rules.domain_shares(s.engagement)
        share = rules.shares(s.engagement)
        tools = rules.tool_mix(s.attention, setup)
        stages: list[np.ndarray] = []
        offer = rules.offers(s, setup, share, dshare, rules.invitations(s, setup, dshare), stages)
        offer = rules.world_offers(offer, s, setup, stages)
        assert len(stages) == _OFFER_STAGES
        held = p.lock_in * s.ties

        def plain(accepted: np.ndarray, factor: np.ndarray | None = None) -> np.ndarray:
            # The target without hedging: value spread as it is (engagement_target, gamma = 1).
            value = accepted if factor is None else accepted * factor[:, :, None]
            return (held + value) / (1.0 + p.lock_in)

        def adjust(target: np.ndarray, with_setup: Setup, floor: np.ndarray | float = 0.0) -> np.ndarray:
            return rules.adjust_engagement(s, target, with_setup, noise.engagement, floor)

        levels = [adjust(plain(stages[0]), self._bare)]
        for k in range(1, _OFFER_STAGES):
            levels.append(adjust(plain(stages[k]), self._bare) if on[k] else levels[-1])
        accepted = rules.domestic_filter(offer, s, setup, dshare) if on[8] else offer
        levels.append(adjust(plain(accepted), self._bare) if on[8] else levels[-1])
        approval, presence = rules.approval_and_presence(s, setup, tools)
        levels.append(adjust(plain(accepted, approval), self._bare) if on[9] else levels[-1])
        target = plain(accepted, approval * presence)
        levels.append(adjust(target, self._bare) if on[10] else levels[-1])
        if on[11]:
            hedged = rules.engagement_target(accepted, s, setup, share, tools)
            target = np.where(self._no_hedging, target, hedged) if self._no_hedging.any() else hedged
            levels.append(adjust(target, self._bare))
        else:
            levels.append(levels[-1])
        levels.append(adjust(target, self._quiet) if on[12] else levels[-1])
        levels.append(adjust(target, setup) if on[13] else levels[-1])
        floor = asset_floor(setup, month)
        levels.append(adjust(target, setup, floor) if on[14] and floor.any() else levels[-1])
        return levels

    def _opinion(self, pre: State, x: State, new: State, noise: MonthNoise, month: int) -> np.ndarray:
        """The opinion terms: as `public_opinion` adds them, then alliance failures and bounds."""
        setup = self.setup
        tools = rules.tool_mix(x.attention, setup)
        dshare = rules.domain_shares(x.engagement)
        recovery, soft, footprint, news = rules.opinion_terms(x, setup, tools, dshare, noise.opinion)
        if x.attack.any():
            answers = neutral_alliances(recorded_answers(noise, x, setup, month), x, setup)
            hit = alliance_politics(x, setup, answers)[4]
        else:
            hit = np.zeros_like(x.opinion)
        unbounded = x.opinion + recovery + soft - footprint + news + hit  # as rules.step sums it
        shocks = x.opinion - pre.opinion
        return np.stack([shocks, recovery, soft, -footprint, hit, news, new.opinion - unbounded])


DECISION_COLUMNS = ("step", "actor", "partner", "domain", "variable", "mechanism", "value")


def decision_rows(
    decision: Decision, setup: Setup, replicate: int = 0, state: int | None = None
) -> dict[str, list]:
    """One replicate's decision as columns (DECISION_COLUMNS): every state, or only `state`.

    Rows run state by state, engagement then opinion, term, partner, domain.
    """
    states = range(setup.n_regional) if state is None else [state]
    out: dict[str, list] = {c: [] for c in DECISION_COLUMNS}
    domains = ("security", "economy")
    for s in states:
        for variable, terms, values in (
            ("engagement", ENGAGEMENT_TERMS, decision.engagement[:, s, ..., replicate]),
            ("opinion", OPINION_TERMS, decision.opinion[:, s, :, None, replicate]),
        ):
            for k, term in enumerate(terms):
                for m, partner in enumerate(setup.partner_ids):
                    for d in range(values.shape[2]):
                        out["step"].append(decision.month)
                        out["actor"].append(setup.regional_ids[s])
                        out["partner"].append(partner)
                        out["domain"].append(domains[d] if variable == "engagement" else "")
                        out["variable"].append(variable)
                        out["mechanism"].append(term.name)
                        out["value"].append(float(values[k, m, d]))
    return out


# --------------------------------------------------------------------------
# Reading a trace: contributions over a window, with bands over runs

DOMAINS = ("security", "economy")
TRACE_KEYS = ("replicate", "step", "actor", "partner", "domain", "variable")
BANDS = (0.05, 0.5, 0.95)


def to_frame(trace: Trace, setup: Setup) -> pd.DataFrame:
    """A trace as a wide table: TRACE_KEYS, then one column per term (NaN where a term does not apply).

    `step` is the month reached: the row says how the state moved from step - 1 to step.
    """
    import pandas as pd

    T, R, S, M = setup.horizon, trace.replicates, setup.n_regional, setup.n_partners
    names = _term_names()
    parts = []
    for variable, terms, values in (
        ("engagement", ENGAGEMENT_TERMS, trace.engagement),  # (T, K, S, M, D, R)
        ("opinion", OPINION_TERMS, trace.opinion[:, :, :, :, None]),
    ):
        D = values.shape[4]
        cube = values.transpose(5, 0, 2, 3, 4, 1).reshape(-1, len(terms))  # rows R, T, S, M, D
        rows = R * T * S * M * D
        grid = np.indices((R, T, S, M, D)).reshape(5, -1)
        frame = {
            "replicate": grid[0].astype(np.int32),
            "step": (grid[1] + 1).astype(np.int32),
            "actor": pd.Categorical.from_codes(grid[2], pd.Index(setup.regional_ids)),
            "partner": pd.Categorical.from_codes(grid[3], pd.Index(setup.partner_ids)),
            "domain": pd.Categorical.from_codes(grid[4], pd.Index(DOMAINS if D == 2 else ("",))),
            "variable": pd.Categorical([variable] * rows),
        }
        by_name = {t.name: cube[:, k] for k, t in enumerate(terms)}
        for name in names:
            frame[name] = by_name.get(name, np.full(rows, np.nan))
        parts.append(pd.DataFrame(frame))
    out = pd.concat(parts, ignore_index=True)
    for key in ("actor", "partner", "domain", "variable"):
        out[key] = out[key].astype(str).astype("category")
    return out


def from_frame(frame: pd.DataFrame, setup: Setup) -> Trace:
    """The Trace a `to_frame` table holds (its replicates in order)."""
    R = int(frame["replicate"].max()) + 1
    trace = Trace.empty(setup, R)
    for variable, terms, target in (
        ("engagement", ENGAGEMENT_TERMS, trace.engagement),
        ("opinion", OPINION_TERMS, trace.opinion[:, :, :, :, None]),
    ):
        part = frame[frame["variable"] == variable]
        r = part["replicate"].to_numpy()
        t = part["step"].to_numpy() - 1
        s = _codes(part["actor"], setup.regional_ids)
        m = _codes(part["partner"], setup.partner_ids)
        d = _codes(part["domain"], DOMAINS) if variable == "engagement" else np.zeros(len(part), dtype=int)
        for k, term in enumerate(terms):
            target[t, k, s, m, d, r] = part[term.name].to_numpy()
    return trace


def _codes(column: pd.Series, labels: tuple[str, ...]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    return column.astype(str).map(index).to_numpy(dtype=int)


def _term_names() -> list[str]:
    names = [t.name for t in ENGAGEMENT_TERMS]
    return names + [t.name for t in OPINION_TERMS if t.name not in names]


def explain(
    trace: Trace,
    setup: Setup,
    actor: str,
    start: int = 0,
    end: int | None = None,
    partner: str | None = None,
    domain: str | None = None,
    baseline: Trace | None = None,
) -> pd.DataFrame:
    """Each term's contribution to a state's change from month `start` to `end`, with bands over runs.

    One row per variable (engagement, opinion), partner, domain and term, plus
    a row "total change" per variable, partner and domain: the 5%, 50% and
    95% quantiles and the mean over runs of the sum of the monthly
    contributions. With `baseline` (the trace of the same runs of the
    baseline scenario, paired by replicate), the contributions are the
    paired differences: what the scenario's difference did, mechanism by
    mechanism. Rows are sorted by the size of the median, largest first.
    """
    end = setup.horizon if end is None else end
    if actor not in setup.regional_ids:
        raise KeyError(f"no regional state {actor!r} (states: {', '.join(setup.regional_ids)})")
    if not 0 <= start < end <= setup.horizon:
        raise ValueError(f"the window must lie in months 0..{setup.horizon} and end after it starts")
    s = setup.regional_ids.index(actor)
    rows = []
    for variable, terms, values, base in (
        ("engagement", ENGAGEMENT_TERMS, trace.engagement, None if baseline is None else baseline.engagement),
        (
            "opinion",
            OPINION_TERMS,
            trace.opinion[..., None, :],
            None if baseline is None else baseline.opinion[..., None, :],
        ),
    ):
        window = values[start:end, :, s].sum(axis=0)  # (K, M, D, R)
        if base is not None:
            window = window - base[start:end, :, s].sum(axis=0)
        for m, p in enumerate(setup.partner_ids):
            if partner is not None and p != partner:
                continue
            for d in range(window.shape[2]):
                dom = DOMAINS[d] if variable == "engagement" else ""
                if domain is not None and variable == "engagement" and dom != domain:
                    continue
                cells = [(term.name, term.claims, window[k, m, d]) for k, term in enumerate(terms)]
                cells.append(("total change", "", window[:, m, d].sum(axis=0)))
                for name, claims, v in cells:
                    low, median, high = np.quantile(v, BANDS)
                    rows.append(
                        {
                            "variable": variable,
                            "partner": p,
                            "domain": dom,
                            "mechanism": name,
                            "claims": claims,
                            "median": median,
                            "low": low,
                            "high": high,
                            "mean": float(np.mean(v)),
                        }
                    )
    import pandas as pd

    frame = pd.DataFrame(rows)
    order = frame["median"].abs().sort_values(ascending=False, kind="stable").index
    return frame.loc[order].reset_index(drop=True)
