"""Scenario input: what a scenario is, and reading it from files with located errors.

* `schema`: the scenario as pydantic models (actors, institutions, assets,
  shocks, parameters) and its JSON Schema; `parameters`: the model's
  coefficients with their units, ranges and claims; `schema_base`, `text`:
  shared pieces of both;
* `files`: the public reader (`load_scenario`, `parse_overrides`), with
  `yaml_reader` (YAML with line numbers, `extends:` and merging), `located`
  and `messages` (errors at file:line) and `paths` (dotted PATHs);
* `distributions`, `uncertainty`: priors (`uncertainty:`) and their draws;
  `per_run`: which scenario value a PATH names and its bounds;
  `posterior`: a calibration's posterior folder, read as an input that runs
  draw from;
* `verified`: files the tool wrote, read back verified (the folders' marker,
  sha256 and Parquet page checksums); at the bottom so posteriors can use it;
* `parameters_doc`: the generated table of coefficients in docs/scenarios.md.

Nothing here imports the model, the experiments or the command line.
"""
