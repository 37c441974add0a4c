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
    from .evaluate import evaluate
    from .experiment import Results, run, summary
    from .model import BalanceModel
    from .scenario import Scenario
    from .scenario_files import ScenarioError, load_scenario

# public name -> module that defines it
_LAZY = {
    "BalanceModel": ".model",
    "evaluate": ".evaluate",
    "Results": ".experiment",
    "run": ".experiment",
    "summary": ".experiment",
    "Scenario": ".scenario",
    "ScenarioError": ".scenario_files",
    "load_scenario": ".scenario_files",
}

__all__ = [
    "BalanceModel",
    "Results",
    "Scenario",
    "ScenarioError",
    "evaluate",
    "load_scenario",
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
