"""balancesim: agent-based simulation of small states balancing between great powers.

Notebook API::

    import balancesim
    scenario = balancesim.load_scenario("scenarios/taiwan_shock.yaml")
    model = balancesim.BalanceModel(scenario, rng=7)      # one replicate, Mesa agents
    results = balancesim.run(scenario, replicates=500, seed=7)
    results.series                                          # pandas, long form
    frame = balancesim.evaluate("scenarios/taiwan_shock.yaml",   # many design points at once
                                [{"parameters.lock_in": 2.0}, {"parameters.lock_in": 4.0}],
                                replicates=100, outcomes=["balance", "share.china[kazakhstan]"])

The names are loaded on first use (module `__getattr__`, PEP 562), so that
`import balancesim` and `balancesim --help` do not pay for mesa, scipy and
pandas until a simulation needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and editors; at run time see __getattr__
    from balancesim.experiment.batch import Results, run, summary
    from balancesim.experiment.store import read_series
    from balancesim.model.engine import replicate_seeds
    from balancesim.model.mesa_model import BalanceModel
    from balancesim.scenario.files import ScenarioError, load_scenario
    from balancesim.scenario.schema import Scenario
    from balancesim.sweep.evaluate import evaluate
    from balancesim.sweep.priors import priors

# public name -> module that defines it
_LAZY = {
    "BalanceModel": ".model.mesa_model",
    "evaluate": ".sweep.evaluate",
    "priors": ".sweep.priors",
    "Results": ".experiment.batch",
    "run": ".experiment.batch",
    "summary": ".experiment.batch",
    "Scenario": ".scenario.schema",
    "ScenarioError": ".scenario.files",
    "load_scenario": ".scenario.files",
    "read_series": ".experiment.store",
    "replicate_seeds": ".model.engine",
}

__all__ = [
    "BalanceModel",
    "Results",
    "Scenario",
    "ScenarioError",
    "evaluate",
    "load_scenario",
    "priors",
    "read_series",
    "replicate_seeds",
    "run",
    "summary",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'balancesim' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
