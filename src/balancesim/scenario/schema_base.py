"""What every section of a scenario file shares: no unknown keys, no NaN, checked defaults.

`Strict` is the base of every pydantic model of the scenario schema
(scenario.py, parameters.py, distributions.py); `Unit` and `Identifier` are
the field types most sections use.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]


class Strict(BaseModel):
    """Base for every scenario section: unknown keys and NaN/inf are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)
