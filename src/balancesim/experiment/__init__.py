"""Running experiments: many runs of a scenario, and what they leave on disk.

* `batch`: `run` (replicates in chunks, on the engine or the Mesa face), `Results`
  and `summary`;
* `store`: run folders (manifest, Parquet series, summary) written and read back;
* `folders`: output folders: one policy for every command (`output`), one writer
  at a time, nothing half-written;
* `executors`: serial, process-pool and Dask executors, used by sweeps;
* `importance`: which drawn inputs an outcome follows (Spearman).

Nothing here draws a figure or prints; the command line does.
"""
