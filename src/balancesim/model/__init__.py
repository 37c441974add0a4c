"""The model: the state of the world as arrays, the monthly rules and the outcome measures.

* `state`: the model state, replicates on the last axis (`Setup` fixed, `State` moving);
* `rules/`: the behavioural rules, one module per family, each naming its claims;
  `rules.step` runs a month; `ties`: ties, assets and trends;
* `engine`: many replicates stepped at once, noise drawn per replicate up front;
* `metrics`: outcome measures; `outcomes`: measures by name (`share.china[kazakhstan]`);
* `mesa_model`, `agents`: the Mesa face, `BalanceModel` and its agents, the same
  rules with one replicate. Only these two import mesa.
"""
