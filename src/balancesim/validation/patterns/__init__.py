"""The patterns file: every threshold, measure setting, knock-out, actor and scenario of P1-P8.

The checks (`validation.checks`) say what each pattern measures and why;
the figures they test against live in one versioned YAML file, frozen
before results are seen: `central_asia.yaml` for this region (another region
brings its own file, `BALANCESIM_PATTERNS=FILE`). A change is a new
`version` with a dated reason in `history`. `validate` prints the file's
sha256 and writes it into its report, so a result names the exact patterns
it was judged against.

The checks read the file once, when they are imported: `constant(NAME)` (a
measure's setting, an actor or state list), `threshold(CHECK, i)` (the i-th
figure's threshold), `knockout(KEY)` and `knockout_arms(KEY)` (a knock-out's
overrides, for every arm or per arm), `scenario(NAME)` (a scenario file).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DEFAULT = Path(__file__).with_name("central_asia.yaml")


class PatternsError(ValueError):
    """A patterns file that cannot be read, or lacks a figure a check asks for."""


@dataclass(frozen=True)
class Patterns:
    path: Path
    sha256: str
    version: int
    region: str
    data: dict[str, Any]


def _tuples(value: Any) -> Any:
    """YAML lists back to the tuples the checks use (dicts stay dicts)."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


@cache
def load(path: str | Path | None = None) -> Patterns:
    """The patterns file at `path` (default: $BALANCESIM_PATTERNS, else central_asia.yaml)."""
    from ruamel.yaml import YAML

    file = Path(path or os.environ.get("BALANCESIM_PATTERNS") or DEFAULT)
    try:
        raw = file.read_bytes()
    except OSError as e:
        raise PatternsError(f"{file}: cannot read the patterns file ({e.strerror or e})") from None
    data = YAML(typ="safe", pure=True).load(raw)
    for key in ("version", "history", "region", "constants", "thresholds", "knockouts", "scenarios"):
        if not isinstance(data, dict) or key not in data:
            raise PatternsError(f"{file}: {key}: missing (docs/validation.md, 'The patterns file')")
    versions = [h.get("version") for h in data["history"]]
    if data["version"] not in versions or not all(h.get("date") and h.get("reason") for h in data["history"]):
        raise PatternsError(f"{file}: history: every version needs a date and a reason, the current one too")
    return Patterns(file, hashlib.sha256(raw).hexdigest(), int(data["version"]), str(data["region"]), data)


def _get(section: str, key: Any) -> Any:
    p = load()
    try:
        return p.data[section][key]
    except (KeyError, IndexError, TypeError):
        raise PatternsError(f"{p.path}: {section}: no {key!r}") from None


def constant(name: str) -> Any:
    """A measure's setting, or the actors and states a pattern names."""
    return _tuples(_get("constants", name))


def threshold(check: str, index: int) -> float:
    """The threshold of check `check`'s figure number `index` (from 0); a name is a constant's value."""
    try:
        value = _get("thresholds", check)[index]
    except IndexError:
        raise PatternsError(f"{load().path}: thresholds: {check} has no figure {index}") from None
    if isinstance(value, str):
        sign, name = (-1.0, value[1:]) if value.startswith("-") else (1.0, value)
        return sign * float(constant(name))
    return float(value)


def knockout(key: str) -> dict[str, Any]:
    """A knock-out's overrides for every arm."""
    return dict(_get("knockouts", key).get("overrides", {}))


def knockout_arms(key: str) -> dict[str, dict[str, Any]]:
    """A knock-out's overrides per arm name."""
    return dict(_get("knockouts", key).get("arm_overrides", {}))


def scenario(name: str) -> str:
    """The scenario file (in the scenarios folder) a pattern's arm runs."""
    return str(_get("scenarios", name))
