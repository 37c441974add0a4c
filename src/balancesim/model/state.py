"""The model state as arrays, built from a scenario.

Two kinds of data:

* `Setup`: what does not change during a run (who is who, agendas, calibrated
  ties, institution leaders, shock definitions, coefficients). Structure
  (who is a great power, which institution is an alliance, who leads it) is
  shared by all replicates. Every per-actor value array carries a trailing
  replicate axis of its own: length 1 when one value holds for every
  replicate (a scenario value), length R when the value differs from one
  replicate to the next (drawn or designed per run). Scalar values (initial
  tension and coordination, the coefficients in `Setup.p`, shock effect
  amounts) are floats, or (R,) arrays when they differ per replicate. Rules
  therefore never add a replicate axis to setup arrays: they broadcast
  against the state as they are, and a value that does not vary costs
  nothing extra.
* `State`: what the rules update each month. Every array has a trailing
  replicate axis R, so the same rule functions step one replicate (the Mesa
  model, R = 1) or thousands at once (the engine). The replicate axis is last
  because the rules sum and compare over small axes (partners, domains): with
  replicates innermost, numpy does that as a few contiguous vector operations
  instead of thousands of tiny strided ones (60-100x faster).

Axis names used throughout: S regional states, M outside powers (great powers
and third parties, in scenario order), D domains (security, economy), I
institutions, K shocks, R replicates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from functools import cached_property
from types import SimpleNamespace
from typing import Any

import numpy as np

from balancesim.scenario.per_run import Target, ValuesError, check, resolve
from balancesim.scenario.schema import (
    AGENDA_ITEMS,
    DOMAINS,
    TOOLS,
    GreatPower,
    Scenario,
    SeverityRange,
    ThirdParty,
    months_between,
)

SECURITY, ECONOMY = 0, 1
HARD, ECONOMIC, SOFT = 0, 1, 2
REGIME_SECURITY, DEVELOPMENT, SOVEREIGNTY, TERRITORIAL = 0, 1, 2, 3

# Engagement never falls below this, so shares stay defined (a relationship
# can wither to nothing but the arithmetic needs no special case).
ENGAGEMENT_FLOOR = 1e-4
DEFAULT_SATISFACTION = 0.6
DEFAULT_SALIENCE = 0.1
DEFAULT_OPINION = 0.4


@dataclass(frozen=True)
class CompiledEffect:
    """One effect of a shock, with names resolved to array indices."""

    variable: str
    change: str
    amount: float | np.ndarray  # a float or (R,)
    actor: int = -1  # index among regional states or outside powers, by variable
    partner: int = -1
    domain: int = -1
    defended: bool | None = None  # an attack's recorded answer (None: drawn)


@dataclass(frozen=True)
class Setup:
    """The fixed part of a run: structure, calibration and coefficients."""

    scenario: Scenario
    horizon: int
    regional_ids: tuple[str, ...]
    partner_ids: tuple[str, ...]
    institution_ids: tuple[str, ...]
    # Structure: the same in every replicate, no replicate axis.
    is_great_power: np.ndarray  # (M,) bool
    in_region: np.ndarray  # (S,) bool: counted in the regional measures and relations
    balance_pair: tuple[int, int]  # partner indices of the reported balance
    institution_security: np.ndarray  # (I,) bool: a security alliance
    institution_economic: np.ndarray  # (I,) bool: an economic union
    leader_index: np.ndarray  # (I,) partner index of each institution's leader
    # Values: a trailing replicate axis of length 1 (one value for all
    # replicates) or R (a value per replicate, see `with_values`).
    agenda: np.ndarray  # (S, 4, R) rows sum to 1
    fertility: np.ndarray  # (S, R)
    ties: np.ndarray  # (S, M, D, R) calibrated engagement at step 0 (historical ties)
    opinion0: np.ndarray  # (S, M, R)
    elite_control0: np.ndarray  # (S, R)
    threat0: np.ndarray  # (S, R)
    attention0: np.ndarray  # (M, R)
    capacity0: np.ndarray  # (M, D, R)
    tools0: np.ndarray  # (M, 3, R)
    soft_effectiveness: np.ndarray  # (M, R)
    regime_support: np.ndarray  # (M, R)
    threat_perception: np.ndarray  # (M, R)
    attention_decay0: np.ndarray  # (M, R)
    responsiveness: np.ndarray  # (M, R) zero for great powers
    acceptability: np.ndarray  # (M, M, R): acceptability[q, g] of partner q to great power g
    reliability: np.ndarray  # (I, R)
    member0: np.ndarray  # (S, I, R)
    satisfaction0: np.ndarray  # (S, I, R)
    salience0: np.ndarray  # (S, I, R)
    tension0: float | np.ndarray  # a float or (R,)
    coordination0: float | np.ndarray  # a float or (R,)
    shock_month: np.ndarray  # (K, R) month, or -1 for random shocks
    shock_probability: np.ndarray  # (K, R) 0 for scheduled shocks
    severity_low: np.ndarray  # (K, R)
    severity_high: np.ndarray  # (K, R)
    shock_effects: tuple[tuple[CompiledEffect, ...], ...]
    # Trends (C13, C14): growth per year, as in the scenario.
    capacity_trend: np.ndarray  # (M, D, R)
    attention_trend: np.ndarray  # (M, R)
    sanctions: np.ndarray  # (M, R): how far each power's outside trade is cut (rules_world.py)
    # Assets (C1, C6, C12): bases, leases and pipelines.
    asset_host: np.ndarray  # (N,) regional index
    asset_owner: np.ndarray  # (N,) partner index
    asset_domain: np.ndarray  # (N,) domain index
    asset_end: np.ndarray  # (N,) first month at which the asset no longer holds
    asset_floor: np.ndarray  # (N, R) engagement it keeps up
    asset_stakes: np.ndarray  # (N, M + 1, R) co-owners' stakes: each outside power, then the host (C6)
    p: SimpleNamespace  # the coefficients (Parameters): each a float or (R,)

    @property
    def n_regional(self) -> int:
        return len(self.regional_ids)

    @property
    def region_ids(self) -> tuple[str, ...]:
        """The regional states inside the region (`in_region`): those the regional measures count."""
        return tuple(s for s, inside in zip(self.regional_ids, self.in_region, strict=True) if inside)

    def in_region_only(self, x: np.ndarray) -> np.ndarray:
        """`x` (states on the first axis) restricted to the states inside the region.

        The array itself when every state is inside (the same object: sums and means
        over it keep their exact rounding).
        """
        return x if self.in_region.all() else x[self.in_region]

    @property
    def n_partners(self) -> int:
        return len(self.partner_ids)

    @property
    def n_institutions(self) -> int:
        return len(self.institution_ids)

    @property
    def n_shocks(self) -> int:
        return len(self.shock_month)

    def with_values(self, values: Mapping[str, np.ndarray]) -> Setup:
        """This setup with values that differ per replicate: PATH -> (R,) array (see `with_values`)."""
        return with_values(self, values)

    @cached_property
    def security_index(self) -> np.ndarray:
        """Institutions that are security alliances (the only ones with exit dynamics)."""
        return np.flatnonzero(self.institution_security)

    @cached_property
    def great_power_index(self) -> np.ndarray:
        return np.flatnonzero(self.is_great_power)

    @cached_property
    def third_party_index(self) -> np.ndarray:
        return np.flatnonzero(~self.is_great_power)


@dataclass
class State:
    """What the rules update: one entry per replicate on the leading axis."""

    engagement: np.ndarray  # (S, M, D, R) intensity of ties, by partner and domain
    opinion: np.ndarray  # (S, M, R) public approval of each outside power, 0..1
    elite_control: np.ndarray  # (S, R) 0..1
    threat: np.ndarray  # (S, R) external threat, 0..1
    attention: np.ndarray  # (M, R) share of a power's attention given to the region
    attention_decay: np.ndarray  # (M, R) monthly decay of that attention
    capacity: np.ndarray  # (M, D, R)
    tension: np.ndarray  # (R,) between the great powers
    coordination: np.ndarray  # (R,) between the great powers
    volatility: np.ndarray  # (R,) extra noise after shocks
    member: np.ndarray  # (S, I, R) 1 while a member
    exit_threat: np.ndarray  # (S, I, R) 1 while threatening to leave
    satisfaction: np.ndarray  # (S, I, R) the elite's view of the alliance's record
    salience: np.ndarray  # (S, I, R) public attention to the alliance
    attack: np.ndarray  # (S, R) severity of an attack this month (0: none)
    shock_fired: np.ndarray  # (K, R) 1 once a shock has happened
    invitation: np.ndarray  # (S, M, R) how strongly each partner is invited (third parties)
    ties: np.ndarray  # (S, M, D, R) historical ties: depreciate, rebuilt by engagement (C1, C12)
    gains: np.ndarray  # (S, R) extra accepted offers obtained through competition this month (C4)
    month: int = 0

    @property
    def replicates(self) -> int:
        return self.engagement.shape[-1]

    def copy(self) -> State:
        return replace(self, **{f.name: getattr(self, f.name).copy() for f in _array_fields()})


def _array_fields() -> list:
    return [f for f in fields(State) if f.name != "month"]


def build_setup(scenario: Scenario) -> Setup:
    """Resolve a validated scenario into index-based arrays."""
    regional = scenario.regional
    partners = scenario.partners
    s_ids = tuple(a.id for a in regional)
    m_ids = tuple(a.id for a in partners)
    pidx = {p: k for k, p in enumerate(m_ids)}
    sidx = {s: k for k, s in enumerate(s_ids)}
    S, M, n_inst = len(s_ids), len(m_ids), len(scenario.institutions)

    agenda = np.array([[getattr(a.agenda, k) for k in AGENDA_ITEMS] for a in regional])
    agenda = agenda / agenda.sum(axis=1, keepdims=True)
    ties = np.full((S, M, len(DOMAINS)), ENGAGEMENT_FLOOR)
    opinion0 = np.full((S, M), DEFAULT_OPINION)
    for i, a in enumerate(regional):
        for p, dv in a.engagement.items():
            ties[i, pidx[p]] = np.maximum([dv.security, dv.economy], ENGAGEMENT_FLOOR)
        for p, v in a.opinion.items():
            opinion0[i, pidx[p]] = v

    acceptability = np.ones((M, M))
    responsiveness = np.zeros(M)
    for q, power in enumerate(partners):
        if isinstance(power, ThirdParty):
            responsiveness[q] = power.responsiveness
            for g, v in power.acceptability.items():
                acceptability[q, pidx[g]] = v

    member0 = np.zeros((S, n_inst))
    satisfaction0 = np.full((S, n_inst), DEFAULT_SATISFACTION)
    salience0 = np.full((S, n_inst), DEFAULT_SALIENCE)
    leader = np.zeros(n_inst, dtype=np.int64)
    for j, inst in enumerate(scenario.institutions):
        leader[j] = pidx[inst.leader]
        for m in inst.members:
            member0[sidx[m], j] = 1.0
        for m, v in inst.satisfaction.items():
            satisfaction0[sidx[m], j] = v
        for m, v in inst.salience.items():
            salience0[sidx[m], j] = v

    shock_month, shock_prob, sev_lo, sev_hi, effects = [], [], [], [], []
    for shock in scenario.shocks:
        shock_month.append(-1 if shock.month is None else shock.month)
        shock_prob.append(0.0 if shock.probability is None else shock.probability)
        if isinstance(shock.severity, SeverityRange):
            sev_lo.append(shock.severity.low)
            sev_hi.append(shock.severity.high)
        else:
            sev_lo.append(shock.severity)
            sev_hi.append(shock.severity)
        compiled = []
        for e in shock.effects:
            var = e.variable.value
            actor = -1
            if e.actor is not None:
                actor = sidx[e.actor] if e.actor in sidx else pidx[e.actor]
            compiled.append(
                CompiledEffect(
                    variable=var,
                    change=e.change.value,
                    amount=e.amount,
                    actor=actor,
                    partner=pidx[e.partner] if e.partner is not None else -1,
                    domain=DOMAINS.index(e.domain) if e.domain is not None else -1,
                    defended=e.defended,
                )
            )
        effects.append(tuple(compiled))

    capacity_trend = np.array([[a.capacity_trend.security, a.capacity_trend.economy] for a in partners])
    attention_trend = np.array([a.attention_trend for a in partners])
    never = scenario.horizon + 1
    asset_end = [
        never if x.end is None else max(months_between(scenario.start, x.end), 0) for x in scenario.assets
    ]

    # Co-owners' stakes in shared infrastructure (C6): outside powers by index, the host last.
    asset_stakes = np.zeros((len(scenario.assets), len(partners) + 1))
    for k, x in enumerate(scenario.assets):
        for who, stake in x.co_owners.items():
            asset_stakes[k, pidx[who] if who in pidx else len(partners)] = stake

    a_id, b_id = scenario.balance_pair
    return Setup(
        scenario=scenario,
        horizon=scenario.horizon,
        regional_ids=s_ids,
        partner_ids=m_ids,
        institution_ids=tuple(i.id for i in scenario.institutions),
        is_great_power=np.array([isinstance(a, GreatPower) for a in partners]),
        in_region=np.array([a.in_region for a in regional], dtype=bool),
        balance_pair=(pidx[a_id], pidx[b_id]),
        agenda=_per_run(agenda),
        fertility=_per_run(np.array([a.fertility for a in regional])),
        ties=_per_run(ties),
        opinion0=_per_run(opinion0),
        elite_control0=_per_run(np.array([a.elite_control for a in regional])),
        threat0=_per_run(np.array([a.threat for a in regional])),
        attention0=_per_run(np.array([a.attention for a in partners])),
        capacity0=_per_run(np.array([[a.capacity.security, a.capacity.economy] for a in partners])),
        tools0=_per_run(np.array([[getattr(a.tools, t) for t in TOOLS] for a in partners])),
        soft_effectiveness=_per_run(np.array([a.soft_power_effectiveness for a in partners])),
        regime_support=_per_run(np.array([a.regime_support for a in partners])),
        threat_perception=_per_run(np.array([a.threat_perception for a in partners])),
        attention_decay0=_per_run(np.array([a.attention_decay for a in partners])),
        responsiveness=_per_run(responsiveness),
        acceptability=_per_run(acceptability),
        institution_security=np.array(
            [inst.kind.value == "security" for inst in scenario.institutions], dtype=bool
        ),
        institution_economic=np.array(
            [inst.kind.value == "economic" for inst in scenario.institutions], dtype=bool
        ),
        leader_index=leader,
        reliability=_per_run(np.array([inst.reliability for inst in scenario.institutions])),
        member0=_per_run(member0),
        satisfaction0=_per_run(satisfaction0),
        salience0=_per_run(salience0),
        tension0=scenario.relations.tension,
        coordination0=scenario.relations.coordination,
        shock_month=np.array(shock_month, dtype=np.int64)[:, None],
        shock_probability=_per_run(np.array(shock_prob)),
        severity_low=_per_run(np.array(sev_lo)),
        severity_high=_per_run(np.array(sev_hi)),
        shock_effects=tuple(effects),
        capacity_trend=_per_run(capacity_trend),
        attention_trend=_per_run(attention_trend),
        sanctions=_per_run(np.array([a.sanctions for a in partners])),
        asset_host=np.array([sidx[x.host] for x in scenario.assets], dtype=np.int64),
        asset_owner=np.array([pidx[x.owner] for x in scenario.assets], dtype=np.int64),
        asset_domain=np.array([DOMAINS.index(x.domain) for x in scenario.assets], dtype=np.int64),
        asset_end=np.array(asset_end, dtype=np.int64),
        asset_floor=_per_run(np.array([x.floor for x in scenario.assets])).reshape(len(scenario.assets), 1),
        asset_stakes=_per_run(asset_stakes),
        p=SimpleNamespace(**scenario.parameters.model_dump()),
    )


def _per_run(a: np.ndarray) -> np.ndarray:
    """A value array with a trailing replicate axis of length 1: one value for every replicate."""
    return np.asarray(a, dtype=float)[..., None]


def initial_state(setup: Setup, replicates: int) -> State:
    """Step 0 of a run: the calibrated initial conditions, one copy per replicate."""
    R = replicates

    def rep(a: np.ndarray | float) -> np.ndarray:
        # Setup values carry a trailing replicate axis of length 1 or R (or none, for scalars).
        a = np.asarray(a, dtype=float)
        return np.array(np.broadcast_to(a, (*a.shape[:-1], R) if a.ndim else (R,)))

    S, M, n_inst, K = setup.n_regional, setup.n_partners, setup.n_institutions, setup.n_shocks
    return State(
        engagement=rep(setup.ties),
        opinion=rep(setup.opinion0),
        elite_control=rep(setup.elite_control0),
        threat=rep(setup.threat0),
        attention=rep(setup.attention0),
        attention_decay=rep(setup.attention_decay0),
        capacity=rep(setup.capacity0),
        tension=rep(setup.tension0),
        coordination=rep(setup.coordination0),
        volatility=np.zeros(R),
        member=rep(setup.member0),
        exit_threat=np.zeros((S, n_inst, R)),
        satisfaction=rep(setup.satisfaction0),
        salience=rep(setup.salience0),
        attack=np.zeros((S, R)),
        shock_fired=np.zeros((K, R)),
        invitation=np.zeros((S, M, R)),
        ties=rep(setup.ties),
        gains=np.zeros((S, R)),
        month=0,
    )


# ---------------------------------------------------------------- per-run values


def with_values(setup: Setup, values: Mapping[str, Any]) -> Setup:
    """`setup` with the given values per replicate: PATH -> (R,) array, all of one length R.

    Fields that no PATH touches are shared unchanged; each touched field gets
    a trailing axis of length R. Raises ValuesError for an unknown path, a
    length mismatch or a value outside its bounds.
    """
    if not values:
        return setup
    scenario = setup.scenario
    arrays = {p: np.atleast_1d(np.asarray(v, dtype=float)) for p, v in values.items()}
    lengths = {a.shape for a in arrays.values()}
    if len(lengths) != 1 or len(next(iter(lengths))) != 1:
        shown = ", ".join(f"{p}: {a.shape}" for p, a in arrays.items())
        raise ValuesError(f"per-run values must be 1-d arrays of one length, got {shown}")
    R = len(next(iter(arrays.values())))
    by_field: dict[str, list[tuple[Target, np.ndarray]]] = defaultdict(list)
    for p, a in arrays.items():
        t = resolve(scenario, p)
        check(t, a)
        by_field[t.field].append((t, a))

    changes: dict[str, Any] = {}
    coefficients = vars(setup.p).copy()
    effects = [list(e) for e in setup.shock_effects]
    for field, items in by_field.items():
        if field.startswith("p."):
            coefficients[field[2:]] = items[0][1]
        elif field in ("tension0", "coordination0"):
            changes[field] = items[0][1]
        elif field == "effect":
            for t, a in items:
                k, e = t.index
                effects[k][e] = replace(effects[k][e], amount=a)
        elif field == "agenda":
            raw = np.array([[getattr(a.agenda, k) for k in AGENDA_ITEMS] for a in scenario.regional])
            weights = _widen(raw[..., None], R, items)
            total = weights.sum(axis=1, keepdims=True)
            if (total <= 0).any():
                s, _, r = np.argwhere(total <= 0)[0]
                raise ValuesError(
                    f"actors.{setup.regional_ids[s]}.agenda: all weights are zero (replicate {r})"
                )
            changes["agenda"] = weights / total
        elif field == "tools0":
            tools = _widen(setup.tools0, R, items)
            total = tools.sum(axis=1)
            off = np.abs(total - 1.0) > 1e-6
            if off.any():
                m, r = np.argwhere(off)[0]
                raise ValuesError(
                    f"actors.{setup.partner_ids[m]}.tools: hard + economic + soft must be 1, "
                    f"got {total[m, r]:g} (replicate {r})"
                )
            changes["tools0"] = tools
        elif field == "severity":
            for name in ("severity_low", "severity_high"):
                changes[name] = _widen(changes.get(name, getattr(setup, name)), R, items)
        elif field == "ties":
            changes["ties"] = _widen(setup.ties, R, [(t, np.maximum(a, ENGAGEMENT_FLOOR)) for t, a in items])
        elif field == "shock_month":
            changes[field] = _widen(setup.shock_month, R, items).astype(np.int64)
        else:
            changes[field] = _widen(changes.get(field, getattr(setup, field)), R, items)
    if "severity_low" in changes or "severity_high" in changes:
        low = changes.get("severity_low", setup.severity_low)
        high = changes.get("severity_high", setup.severity_high)
        bad = low > high
        if bad.any():
            k, r = np.argwhere(bad)[0]
            raise ValuesError(
                f"shocks.{scenario.shocks[k].id}.severity: low ({low[k, r % low.shape[1]]:g}) "
                f"must not exceed high ({high[k, r % high.shape[1]]:g}) (replicate {r})"
            )
    if any(f.startswith("p.") for f in by_field):
        changes["p"] = SimpleNamespace(**coefficients)
    if "effect" in by_field:
        changes["shock_effects"] = tuple(tuple(e) for e in effects)
    return replace(setup, **changes)


def _widen(current: np.ndarray, R: int, items: list[tuple[Target, np.ndarray]]) -> np.ndarray:
    """`current` with a trailing axis of length R, and each target's entries set."""
    out = np.array(np.broadcast_to(current, (*current.shape[:-1], R)), dtype=current.dtype)
    if out.dtype.kind == "i":
        out = out.astype(float)
    for t, a in items:
        out[t.index] = a
    return out
