"""Analysis of results already on disk: scenario discovery and the hindcast against observed data.

Experiments run elsewhere (`run`, `sweep`); this package reads what they
wrote, or the engine's arrays, and answers questions about them:

* `expressions`: the small language of outcome expressions
  (`balance[kazakhstan]@60 < 0`) and measure formulas, parsed without `eval`;
* `results_data`: run and sweep folders as one table of inputs per run and
  outcome values on demand;
* `discover`: PRIM boxes and a CART tree of the inputs in which an outcome
  happens (`balancesim discover`);
* `targets`: observed figures as data (a YAML target file) and each target's
  modelled statistic per replicate, for hindcasts and calibration;
* `hindcast`: observed next to modelled for every target, pass/fail and a
  score (`balancesim hindcast`).
"""
