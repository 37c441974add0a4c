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
"""

from .evaluate import evaluate
from .experiment import Results, run, summary
from .model import BalanceModel
from .scenario import Scenario
from .scenario_files import ScenarioError, load_scenario

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
