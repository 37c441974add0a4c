"""What carries a scenario's world forward past its events: its trends, stated as assumptions.

Past the scenario's last shock, and above all past its own end (`until:` or
`run --until`), nothing happens but what the scenario assumes goes on: each
outside power's capacity and attention trends, attention decaying, sanctions
held where they are, bases and leases ending at their dates. `trend_assumptions`
lists them as lines of text, for the console and the report.
"""

from __future__ import annotations

from balancesim.scenario.schema import Scenario


def _pct(rate: float) -> str:
    return f"{rate * 100:+.0f}%/year"


def trend_assumptions(scenario: Scenario) -> list[str]:
    """One line per assumption that moves or holds the world after its events."""
    lines = []
    for p in scenario.partners:
        parts = []
        if p.capacity_trend.security or p.capacity_trend.economy:
            trend = p.capacity_trend
            parts.append(f"capacity {_pct(trend.security)} security, {_pct(trend.economy)} economy")
        if p.attention_trend:
            parts.append(f"attention {_pct(p.attention_trend)}")
        if p.attention_decay:
            parts.append(f"attention decays {p.attention_decay * 100:.1f}%/month")
        if p.sanctions:
            parts.append(f"sanctions held at {p.sanctions:g} of its outside trade")
        if parts:
            lines.append(f"{p.name}: " + "; ".join(parts))
    for asset in scenario.assets:
        if asset.end is not None:
            lines.append(f"{asset.name} ({asset.host}, {asset.owner}) ends {asset.end}")
    if not lines:
        lines.append("no trends: capacities, attention and sanctions stay as they are")
    lines.append("events: only the scenario's shocks (random ones keep their monthly probability)")
    return lines
