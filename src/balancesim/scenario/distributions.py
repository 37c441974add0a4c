"""Priors of the `uncertainty:` section: what a scenario does not know, as distributions.

Each entry maps a PATH (any per-run value, see per_run.py) to a distribution
that its value is drawn from, one draw per replicate:

    uncertainty:
      parameters.lock_in: {distribution: uniform, low: 2, high: 4.5}
      parameters.adjustment_rate: {distribution: log_uniform, low: 0.02, high: 0.08}
      actors.china.attention: {distribution: triangular, low: 0.45, mode: 0.6, high: 0.75}
      relations.tension: {distribution: normal, mean: 0.25, sd: 0.05, low: 0.1, high: 0.4}
      institutions.csto.reliability: {distribution: beta, a: 4, b: 3, low: 0.2, high: 0.8}
      shocks.taiwan_war.month: {distribution: choice, values: [24, 30, 36]}

This module holds only the schema (pydantic, no scipy), so that scenario.py
can include it; drawing is uncertainty.py's job. Checks that need the
scenario (the PATH exists, the range lies within the value's own bounds) are
in `uncertainty.problems`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, model_validator

from balancesim.scenario.schema_base import Strict

MAX_CHOICES = 1000


class Prior(Strict):
    """Fields shared by the distributions with a range."""

    def support(self) -> tuple[float, float]:
        """The smallest and largest value a draw can take."""
        # low and high are fields of the subclasses (Normal's may be None until resolved
        # against the value's bounds, and Choice overrides this)
        return self.low, self.high  # type: ignore[attr-defined]


class Uniform(Prior):
    """Every value between low and high equally likely."""

    distribution: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        return self


class LogUniform(Prior):
    """Uniform on a log scale: each factor of ten between low and high equally likely (rates)."""

    distribution: Literal["log_uniform"]
    low: PositiveFloat
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> LogUniform:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        return self


class Triangular(Prior):
    """Most likely at mode, falling linearly to zero at low and high."""

    distribution: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError(
                "expected low <= mode <= high with low < high, "
                f"got {self.low:g}, {self.mode:g}, {self.high:g}"
            )
        return self


class Normal(Prior):
    """A normal distribution truncated to [low, high] (default: the value's own bounds)."""

    distribution: Literal["normal"]
    mean: float
    sd: PositiveFloat
    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Normal:
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        return self


class Beta(Prior):
    """A beta(a, b) distribution scaled to [low, high]: a > b leans high, a < b low."""

    distribution: Literal["beta"]
    a: PositiveFloat
    b: PositiveFloat
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Beta:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        return self


class Choice(Strict):
    """One of a few values, equally likely or with the given weights."""

    distribution: Literal["choice"]
    values: list[float] = Field(min_length=1, max_length=MAX_CHOICES)
    weights: list[Annotated[float, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _weights(self) -> Choice:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(f"{len(self.weights)} weights for {len(self.values)} values")
            if sum(self.weights) <= 0:
                raise ValueError("at least one weight must be positive")
        return self

    def support(self) -> tuple[float, float]:
        return min(self.values), max(self.values)


Distribution = Annotated[
    Uniform | LogUniform | Triangular | Normal | Beta | Choice, Field(discriminator="distribution")
]
KINDS = ("uniform", "log_uniform", "triangular", "normal", "beta", "choice")
