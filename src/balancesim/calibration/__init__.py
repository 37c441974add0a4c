"""Calibration: the scenario's priors conditioned on observed targets (likelihood-free, SMC-ABC).

* `problem`: what is calibrated (the priors, in the standard-normal space of
  their quantiles), the vectorised simulator and the distance;
* `smc`: the ELFI SMC-ABC run, population by population, within a budget;
* `posterior`: posterior folders (weighted draws) read, checked and drawn
  from per replicate; used by `run`, `sweep`, `viz` and scenario files;
* `report`: the output folder (posterior.parquet, manifest.json, report.md
  and figures), written to a hidden partial folder and swapped in;
* `command`: `balancesim calibrate`.

Only `posterior` is imported outside the calibrate command; it does not
import ELFI.
"""
