"""Outcome measures, computed from the state each month.

Inside the model a measure is named by its actor and a packed name such as
`share.china.security` (`Columns`). Tables for users are tidy: `actor,
partner, domain, measure, value`, where `actor` is a regional state, an
outside power, or "region" for system-wide measures; `partner` is the outside
power or institution the measure is about; `domain` is "security" or
"economy"; both are empty ("") where they do not apply. `measure_parts` is the
one place that splits a packed name. The headline measures (`HEADLINE`) are
those summarised and plotted by default.

Definitions:

* share.<p>: partner p's share of the state's engagement, domains pooled
  (shares over partners sum to one); share.<p>.<domain> within one domain.
* engagement.<p>: the level of engagement with p (domains summed); levels with
  several partners can rise together.
* hedging_index: normalised entropy of the shares (0: all with one partner,
  1: perfectly even).
* balance: (share of a - share of b) / (share of a + share of b) for the
  scenario's balance pair (a, b), e.g. Russia and China: +1 all with a, -1 all
  with b. For the region, computed on the pooled engagement of all states.

The region's measures (actor "region": means, pooled balance, member and
exit-threat counts) and a power's `regional_share` count only the states
inside the region (`in_region`, true unless the scenario says otherwise).
* restructuring: half the sum of absolute changes in shares since step 0
  (0: none, 1: a complete swap of partners).
* third_party_share: the shares of all third parties together.
* unmet_need: external threat not covered by trusted security engagement.
* gains: what a state gains by balancing: the extra offers it accepted this
  month because the great powers compete for it (the competition bonus part
  of their accepted offers, engagement units; region: mean over states).
* stance: position on a UN vote condemning the first of the balance pair:
  +1 for, 0 abstain (or absent), -1 against; a state takes a side only when
  that side holds a majority of its ties in every domain (see `stance`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np

from balancesim.model.rules import domain_shares, effort, security_cover, shares, tool_mix
from balancesim.model.state import ECONOMY, SECURITY, SOFT, Setup, State

REGION = "region"
HEADLINE = (
    "hedging_index",
    "balance",
    "restructuring",
    "third_party_share",
    "tension",
    "coordination",
    "gains",
)

DOMAINS = ("security", "economy")
# Packed names are `<measure>[.<partner>][.<domain>]`; which parts a measure
# has depends on the measure, so a name is split by position, never by
# guessing whether an id looks like a domain (an actor may be called "security").
_WITH_PARTNER = {"share", "engagement", "opinion", "invitation"}  # partner: an outside power
_WITH_INSTITUTION = {"member", "exit_threat", "satisfaction", "salience", "members", "exit_threats"}
_WITH_DOMAIN = {"effort"}


class MeasureParts(NamedTuple):
    """A packed measure name split into tidy columns ("" where a part does not apply)."""

    actor: str | None  # only when the name was given with its actor in front
    partner: str  # outside power or institution
    domain: str  # "security", "economy" or ""
    measure: str


def measure_parts(name: str, with_actor: bool = False) -> MeasureParts:
    """Split a packed measure name into (actor, partner, domain, measure).

    `share.china.security` -> (None, "china", "security", "share");
    `members.csto` -> (None, "csto", "", "members"); `effort.economy` ->
    (None, "", "economy", "effort"); `hedging_index` -> (None, "", "",
    "hedging_index"). With `with_actor`, the first part is the actor:
    `region.hedging_index` -> ("region", "", "", "hedging_index") (the form
    sweeps use). Raises ValueError for a name no measure has.
    """
    parts = name.split(".")
    actor = parts.pop(0) if with_actor and len(parts) > 1 else None
    if with_actor and actor is None:
        raise ValueError(f"{name!r}: expected <actor>.<measure>")
    base, rest = parts[0], parts[1:]
    partner = domain = ""
    if base in _WITH_PARTNER and len(rest) in (1, 2):
        partner = rest[0]
        domain = rest[1] if len(rest) == 2 else ""
    elif base in _WITH_INSTITUTION and len(rest) == 1:
        partner = rest[0]
    elif base in _WITH_DOMAIN and len(rest) == 1:
        domain = rest[0]
    elif rest or not base:
        raise ValueError(f"{name!r} is not a measure name (see balancesim.model.metrics)")
    if domain and domain not in DOMAINS:
        raise ValueError(f"{name!r}: domain {domain!r} is not one of {', '.join(DOMAINS)}")
    return MeasureParts(actor, partner, domain, base)


@dataclass(frozen=True)
class Columns:
    """The (actor, measure) label of each column of a measure matrix."""

    actors: tuple[str, ...]
    measures: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.actors)

    def subset(self, index: np.ndarray) -> Columns:
        return Columns(tuple(self.actors[k] for k in index), tuple(self.measures[k] for k in index))

    @cached_property
    def _lookup(self) -> dict[tuple[str, str], int]:
        return {key: k for k, key in enumerate(zip(self.actors, self.measures, strict=True))}

    def index(self, actor: str, measure: str) -> int:
        try:
            return self._lookup[(actor, measure)]
        except KeyError:
            raise KeyError(f"no measure {measure!r} for actor {actor!r}") from None

    @cached_property
    def parts(self) -> tuple[MeasureParts, ...]:
        """Each column as tidy parts, with its actor."""
        return tuple(
            measure_parts(m)._replace(actor=a) for a, m in zip(self.actors, self.measures, strict=True)
        )


def _state_measure_names(setup: Setup) -> list[str]:
    names = []
    for p in setup.partner_ids:
        names += [
            f"share.{p}",
            f"share.{p}.security",
            f"share.{p}.economy",
            f"engagement.{p}",
            f"opinion.{p}",
        ]
    names += ["hedging_index", "balance", "restructuring", "third_party_share"]
    names += ["elite_control", "threat", "unmet_need", "stance", "gains"]
    for i in setup.institution_ids:
        names += [f"member.{i}", f"exit_threat.{i}", f"satisfaction.{i}", f"salience.{i}"]
    names += [f"invitation.{setup.partner_ids[q]}" for q in setup.third_party_index]
    return names


def _region_measure_names(setup: Setup) -> list[str]:
    names = ["tension", "coordination", "volatility", *HEADLINE[:4], "gains"]
    for i in setup.institution_ids:
        names += [f"members.{i}", f"exit_threats.{i}"]
    return names


POWER_MEASURES = ("attention", "soft_share", "effort.security", "effort.economy", "regional_share")


def columns(setup: Setup) -> Columns:
    actors: list[str] = []
    measures: list[str] = []
    per_state = _state_measure_names(setup)
    for s in setup.regional_ids:
        actors += [s] * len(per_state)
        measures += per_state
    region = _region_measure_names(setup)
    actors += [REGION] * len(region)
    measures += region
    for p in setup.partner_ids:
        actors += [p] * len(POWER_MEASURES)
        measures += list(POWER_MEASURES)
    return Columns(tuple(actors), tuple(measures))


def essential_index(setup: Setup) -> np.ndarray:
    """Column indices of the measures the summary and plots need (for large runs).

    All regional measures; per state its shares with each power, balance,
    hedging, third-party share, stance, memberships and exit threats; per power
    its attention and soft share.
    """
    cols = columns(setup)
    per_state = {f"share.{p}" for p in setup.partner_ids}
    per_state |= {"balance", "hedging_index", "third_party_share", "restructuring", "stance"}
    per_state |= {f"{k}.{i}" for i in setup.institution_ids for k in ("member", "exit_threat")}
    keep = [
        k
        for k, (a, m) in enumerate(zip(cols.actors, cols.measures, strict=True))
        if a == REGION or m in per_state or m in ("attention", "soft_share")
    ]
    return np.array(keep)


def hedging_index(share: np.ndarray, axis: int = 1) -> np.ndarray:
    """Normalised entropy of shares along `axis` (0: one partner, 1: even)."""
    n = share.shape[axis]
    safe = np.clip(share, 1e-300, 1.0)
    return -(share * np.log(safe)).sum(axis=axis) / np.log(n)


def balance(share_a: np.ndarray, share_b: np.ndarray) -> np.ndarray:
    return (share_a - share_b) / np.maximum(share_a + share_b, 1e-12)


def stance(dshare: np.ndarray, setup: Setup) -> np.ndarray:
    """Position on a UN resolution condemning great power a (the first of the balance pair).

    A vote either way costs the state something with the partners on the
    other side; abstaining (or staying away) is the hedger's vote. So a state
    takes a side only when that side holds a majority of its ties in every
    domain, leaving no domain in which it has much to lose:

    * a's side: a's share of the state's ties in domain d;
    * the resolution's side: the shares of the partners a objects to, each
      weighted by how unacceptable it is to a (1 - acceptability), e.g. the
      US and the EU; the other great power and partners a accepts count for
      neither side.

    -1 (against the resolution) when a's side exceeds `stance_threshold` in
    every domain, +1 (for) when the resolution's side does, 0 (abstain)
    otherwise. (C1, C3) `dshare` is (S, M, D, R); returns (S, R).
    """
    a, _ = setup.balance_pair
    objected = 1.0 - setup.acceptability[:, a]  # (M, R): how much a objects to each partner
    objected[a] = 0.0
    with_a = dshare[:, a]  # (S, D, R)
    against_a = (dshare * objected[None, :, None]).sum(axis=1)  # (S, D, R)
    t = setup.p.stance_threshold
    votes_against = (with_a > t).all(axis=1)
    votes_for = (against_a > t).all(axis=1)
    return np.where(votes_against, -1.0, np.where(votes_for, 1.0, 0.0))


def measure_columns(state: State, setup: Setup) -> np.ndarray:
    """All measures of every replicate at this state: (C, R) in `columns(setup)` order."""
    R = state.replicates
    S = setup.n_regional
    share = shares(state.engagement)  # (S, M, R)
    dshare = domain_shares(state.engagement)  # (S, M, D, R)
    level = state.engagement.sum(axis=2)  # (S, M, R)
    a, b = setup.balance_pair
    third = setup.third_party_index
    initial = shares(setup.ties)  # (S, M, R)
    per_partner = np.stack(
        [share, dshare[:, :, SECURITY], dshare[:, :, ECONOMY], level, state.opinion], axis=2
    ).reshape(S, -1, R)
    unmet = np.maximum(state.threat - security_cover(state, setup), 0.0)
    scalars = np.stack(
        [
            hedging_index(share),
            balance(share[:, a], share[:, b]),
            0.5 * np.abs(share - initial).sum(axis=1),
            share[:, third].sum(axis=1),
            state.elite_control,
            state.threat,
            unmet,
            stance(dshare, setup),
            state.gains,
        ],
        axis=1,
    )  # (S, 9, R)
    inst = np.stack([state.member, state.exit_threat, state.satisfaction, state.salience], axis=2).reshape(
        S, -1, R
    )
    per_state = np.concatenate([per_partner, scalars, inst, state.invitation[:, third]], axis=1)

    # The region's measures count only the states inside it (`in_region`): a fellow
    # alliance member elsewhere is simulated but reported under its own name only.
    inside = setup.in_region_only
    pooled = inside(level).sum(axis=0)  # (M, R)
    region_scalars = inside(scalars)
    member, exit_threat = inside(state.member), inside(state.exit_threat)
    region = [
        state.tension,
        state.coordination,
        state.volatility,
        region_scalars[:, 0].mean(axis=0),
        balance(pooled[a], pooled[b]),
        region_scalars[:, 2].mean(axis=0),
        region_scalars[:, 3].mean(axis=0),
        inside(state.gains).mean(axis=0),
    ]
    for i in range(setup.n_institutions):
        region += [member[:, i].sum(axis=0), exit_threat[:, i].sum(axis=0)]

    tools = tool_mix(state.attention, setup)
    work = effort(state, tools, setup)  # (M, D, R)
    power = np.stack(
        [state.attention, tools[:, SOFT], work[:, SECURITY], work[:, ECONOMY], inside(share).mean(axis=0)],
        axis=1,
    )  # (M, 5, R)
    return np.concatenate([per_state.reshape(-1, R), np.stack(region), power.reshape(-1, R)], axis=0)


def measure(state: State, setup: Setup) -> np.ndarray:
    """All measures of every replicate at this state: (R, C) in `columns(setup)` order."""
    return measure_columns(state, setup).T
